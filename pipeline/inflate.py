"""Response bodies decoded under a size cap.

Content codings are undone as a stream, layer by layer, in pieces of at most
64 KiB, and reading stops as soon as the decoded (or the raw) size passes the cap:
a few kilobytes of nested gzip cannot inflate to gigabytes before the cap is seen.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Sequence

from pipeline.errors import BadResponseError, BodyTooLargeError

PIECE = 64 * 1024  # the most one decoding step may inflate at once
_MAX_CODINGS = 2  # content codings stacked on one body (real servers use one)
_CODINGS = {"gzip": "gzip", "x-gzip": "gzip", "deflate": "deflate"}


def content_codings(header: str, *, url: str | None = None) -> list[str]:
    """The codings a ``Content-Encoding`` header lists, in the order they were applied.

    Raises ``BadResponseError`` for a coding we cannot decode, or more than two.
    """
    codings = [c.strip().lower() for c in header.split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if len(codings) > _MAX_CODINGS:
        raise BadResponseError(f"{len(codings)} stacked content encodings ({header})", url=url)
    for coding in codings:
        if coding not in _CODINGS:
            raise BadResponseError(f"unknown content encoding {coding!r}", url=url)
    return [_CODINGS[c] for c in codings]


def iter_decoded(chunks: Iterable[bytes], codings: Sequence[str]) -> Iterator[bytes]:
    """The decoded body, in pieces of at most 64 KiB however much a chunk inflates.

    Layers are decoded lazily, so a consumer that stops early stops every layer.
    Raises ``BadResponseError`` for corrupt or truncated compressed data.
    """
    stream: Iterator[bytes] = iter(chunks)
    for coding in reversed(codings):
        stream = _inflate(stream, coding)
    return stream


def _inflate(chunks: Iterator[bytes], coding: str) -> Iterator[bytes]:
    decoder: zlib._Decompress | None = None
    data = b""
    finished = False  # the stream ended and what follows is not a new gzip member
    for chunk in chunks:
        data += chunk
        while data and not finished:
            if decoder is None:
                if coding == "deflate":
                    if len(data) < 2:
                        break  # need both header bytes to tell zlib from raw deflate
                    zlib_header = data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
                    decoder = zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)
                else:
                    decoder = zlib.decompressobj(zlib.MAX_WBITS | 16)
            try:
                while True:
                    out = decoder.decompress(data, PIECE)
                    if out:
                        yield out
                    data = decoder.unconsumed_tail
                    if decoder.eof or (not data and len(out) < PIECE):
                        break
            except zlib.error as exc:
                raise BadResponseError(f"corrupt {coding} body: {exc}") from exc
            if decoder.eof:
                data = decoder.unused_data
                # Another gzip member may follow; anything else is padding we ignore.
                finished = coding == "deflate" or not b"\x1f\x8b".startswith(data[:2])
                decoder = None
        if finished:
            data = b""
    if data or decoder is not None:
        raise BadResponseError(f"{coding} body ends early")


def wire_cap(cap: int, codings: Sequence[str]) -> int:
    """The most bytes read from the wire for a body decoded under ``cap``."""
    return 2 * cap if codings else cap


def read_body(raw: Iterable[bytes], codings: Sequence[str], cap: int, *, url: str) -> bytes:
    """The decoded body of ``raw`` chunks, at most ``cap`` bytes.

    Reading stops as soon as the decoded size passes ``cap``, or the size on the wire
    passes it (twice ``cap`` for a compressed body: room for incompressible data, no
    room for an endless stream that decodes to nothing): ``BodyTooLargeError``.
    Raises ``BadResponseError`` for corrupt compressed data.
    """
    limit = wire_cap(cap, codings)

    def wire() -> Iterator[bytes]:
        size = 0
        for chunk in raw:
            size += len(chunk)
            if size > limit:
                raise BodyTooLargeError(
                    f"body exceeds the {limit}-byte cap on the wire (stopped reading)", url=url
                )
            yield chunk

    parts: list[bytes] = []
    size = 0
    for piece in iter_decoded(wire(), codings):
        size += len(piece)
        if size > cap:
            raise BodyTooLargeError(
                f"body exceeds the {cap}-byte cap once decoded (stopped reading)", url=url
            )
        parts.append(piece)
    return b"".join(parts)
