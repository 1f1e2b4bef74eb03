"""URL normalization and the deterministic ids derived from it."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Parameters that identify a campaign or a click, never the document.
_TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "piwik_", "hsa_", "oly_", "__hs", "_hs")
_TRACKING_NAMES = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gclsrc",
        "msclkid",
        "yclid",
        "twclid",
        "igshid",
        "mkt_tok",
        "ocid",
        "cmpid",
        "cmp",
        "ito",
        "ns_mchannel",
        "ns_source",
        "ns_campaign",
        "ns_linkname",
        "ns_fee",
        "ref",
        "ref_src",
        "ref_url",
        "smid",
        "smtyp",
        "sr_share",
        "at_medium",
        "at_campaign",
        "s_cid",
        "spm",
        "_ga",
        "guccounter",
    }
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(name: str) -> bool:
    low = name.lower()
    return low in _TRACKING_NAMES or low.startswith(_TRACKING_PREFIXES)


def normalize_url(url: str) -> str:
    """Canonical form of ``url`` for dedup and ids.

    Lower-cases scheme and host, drops default ports, the fragment, tracking
    parameters and empty query values, sorts the remaining parameters, and removes
    a trailing slash except at the root. Non-HTTP strings come back stripped only.
    """
    url = url.strip()
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return url
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = parts.path or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    query = sorted(
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=False) if not _is_tracking(k)
    )
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def article_id(url: str) -> str:
    """Deterministic article id: a 20-hex-digit hash of the normalized canonical URL."""
    return hashlib.sha256(normalize_url(url).encode()).hexdigest()[:20]


def feed_id(url: str) -> str:
    """Deterministic feed id from the feed's URL as first configured."""
    return hashlib.sha256(normalize_url(url).encode()).hexdigest()[:12]


def host_of(url: str) -> str:
    """The host name of ``url``, lower-cased, without ``www.``."""
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


def entry_key(guid: str | None, link: str | None, title: str, date: str | None) -> str:
    """Dedup key of a feed entry: its GUID, else its normalized link, else a hash of title+date."""
    if guid and guid.strip():
        return "guid:" + guid.strip()
    if link and link.strip():
        return "link:" + normalize_url(link)
    digest = hashlib.sha256(f"{title.strip()}\x00{date or ''}".encode()).hexdigest()[:24]
    return "hash:" + digest
