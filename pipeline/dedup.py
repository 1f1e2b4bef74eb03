"""Content fingerprints of extracted bodies: MinHash signatures over word shingles and
their LSH band keys. Pure: text in, numbers out; the band index lives in the store.

Two fingerprints per story, one estimator:

- ``text_signature``: word ``SHINGLE``-grams of the whole body. Two copies of one story
  share most of them whatever boilerplate, headline or paragraph was added, cut or moved
  (only the shingles across a changed seam differ), so their estimated Jaccard stays
  high; two different stories share almost none. ``text_bands`` cuts it into
  ``BANDS`` keys of ``ROWS`` values: copies above about (1/BANDS)^(1/ROWS) similarity
  share a key with high probability, so candidates come from key lookups, never from
  comparing a story with every other one.
- ``event_signature``: content words and pairs of content words (stop words dropped)
  of the headline and body. Two outlets' reports of one event share names, places
  and phrases but not sentences; this looser signature and its looser bands
  (``EVENT_BANDS`` of ``EVENT_ROWS``) find those candidates for ``pipeline.clusters``.

Layouts and thresholds were chosen by measurement (``bench/dedup.py``, README).
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from spacy.lang.en.stop_words import STOP_WORDS

Signature = npt.NDArray[np.uint32]

SHINGLE = 4  # words per shingle of the near-duplicate signature (3 to 5 measure alike)
# near-duplicate LSH layout, 128 values: a copy with Jaccard 0.3 (a short story with a
# site's boilerplate and an added paragraph) shares a band with probability 0.998; on the
# test set 64x2 finds 99.95% of copy pairs as candidates, 32x4 98%, 16x8 81%
BANDS, ROWS = 64, 2
EVENT_BANDS, EVENT_ROWS = 24, 2  # event LSH layout: 48 values
SEED = 18  # fixed: signatures must agree across processes, runs and releases

_MASK32 = np.uint64(0xFFFFFFFF)
_WORD = re.compile(r"[^\W_]+")
_STOP = frozenset(STOP_WORDS) | {"s", "t", "said", "says", "mr", "ms", "mrs"}
# per position in a shingle, an odd multiplier (uint64 arithmetic wraps: that is the hash)
_MIX = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5,
     0x85EBCA77C2B2AE63, 0xFF51AFD7ED558CCD],
    dtype=np.uint64,
)  # fmt: skip


def _permutations(n: int, seed: int) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """``n`` hash functions of a 32-bit ``x``: the high half of ``a * x + b`` in 64-bit
    arithmetic, ``a`` odd (multiply-shift, a universal family: two shingles collide or
    swap order independently of the others, so minima are fair samples)."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 1 << 63, size=n, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    b = rng.integers(0, 1 << 63, size=n, dtype=np.uint64)
    return a, b


_TEXT_PERMS = _permutations(BANDS * ROWS, SEED)
_EVENT_PERMS = _permutations(EVENT_BANDS * EVENT_ROWS, SEED + 1)


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters and digits; punctuation and case never matter)."""
    return _WORD.findall(text.lower())


def _token_hashes(tokens: Sequence[str]) -> npt.NDArray[np.uint64]:
    return np.fromiter((zlib.crc32(t.encode()) for t in tokens), dtype=np.uint64, count=len(tokens))


def shingle_hashes(tokens: Sequence[str], size: int) -> npt.NDArray[np.uint64]:
    """32-bit hashes (in uint64) of the distinct ``size``-word shingles of ``tokens``; a
    text shorter than ``size`` is one shingle. Empty for no tokens."""
    if not tokens:
        return np.zeros(0, dtype=np.uint64)
    h = _token_hashes(tokens)
    size = min(size, len(tokens), len(_MIX))
    n = len(tokens) - size + 1
    acc = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(size):
            acc += h[j : j + n] * _MIX[j]
    folded = (acc >> np.uint64(32)) ^ (acc & _MASK32)
    return np.unique(folded)


def minhash(
    shingles: npt.NDArray[np.uint64], perms: tuple[npt.NDArray[np.uint64], ...]
) -> Signature | None:
    """The MinHash signature of a shingle set (one minimum per hash function); None for
    an empty set, which has no fingerprint."""
    if shingles.size == 0:
        return None
    a, b = perms
    with np.errstate(over="ignore"):
        values = (shingles[:, None] * a[None, :] + b[None, :]) >> np.uint64(32)
    signature: Signature = values.min(axis=0).astype(np.uint32)
    return signature


def text_signature(body: str) -> Signature | None:
    """The near-duplicate signature of a body (None when it has no words)."""
    return minhash(shingle_hashes(words(body), SHINGLE), _TEXT_PERMS)


def event_tokens(text: str) -> list[str]:
    """The content words of ``text`` (stop words and one-letter words dropped)."""
    return [w for w in words(text) if w not in _STOP and len(w) > 1]


def event_signature(text: str) -> Signature | None:
    """The event signature: content words and adjacent pairs of them (None when none)."""
    tokens = event_tokens(text)
    shingles = np.union1d(shingle_hashes(tokens, 1), shingle_hashes(tokens, 2))
    return minhash(shingles, _EVENT_PERMS)


def similarity(a: Signature, b: Signature) -> float:
    """Estimated Jaccard similarity of the two shingle sets (share of equal minima)."""
    return float(np.count_nonzero(a == b)) / len(a)


def band_keys(sig: Signature, rows: int, tag: str) -> list[str]:
    """One key per band of ``rows`` values, ``tag`` first (so that layouts and kinds of
    signature never share keys): two signatures sharing a key agree on a whole band."""
    out = []
    for i in range(len(sig) // rows):
        digest = hashlib.blake2b(sig[i * rows : (i + 1) * rows].tobytes(), digest_size=8)
        out.append(f"{tag}{i}:{digest.hexdigest()}")
    return out


def text_bands(sig: Signature) -> list[str]:
    """The near-duplicate band keys of a text signature."""
    return band_keys(sig, ROWS, "d")


def event_bands(sig: Signature) -> list[str]:
    """The event band keys of an event signature."""
    return band_keys(sig, EVENT_ROWS, "e")


def to_bytes(sig: Signature | None) -> bytes:
    """A signature as the store keeps it (empty for none)."""
    return b"" if sig is None else sig.astype("<u4").tobytes()


def from_bytes(raw: bytes) -> Signature | None:
    """The inverse of ``to_bytes``."""
    if not raw:
        return None
    signature: Signature = np.frombuffer(raw, dtype="<u4").astype(np.uint32)
    return signature
