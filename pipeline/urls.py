"""URL normalization and the deterministic ids derived from it."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import courlan

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
MAX_URL = 4096  # longer "links" are payloads, not addresses
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Longer GUIDs are hashed into the key, so a key stays small whatever a feed sends.
_MAX_GUID = 512


def _is_tracking(name: str) -> bool:
    low = name.lower()
    return low in _TRACKING_NAMES or low.startswith(_TRACKING_PREFIXES)


def _hash(text: str, digits: int) -> str:
    # surrogatepass: a lone surrogate from a hostile feed still hashes, deterministically
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:digits]


def normalize_url(url: str) -> str:
    """Canonical form of ``url`` for dedup and ids; never raises.

    Lower-cases scheme and host, drops default ports, the fragment, tracking
    parameters and empty query values, sorts the remaining parameters, and removes
    a trailing slash except at the root. Non-HTTP strings, and HTTP ones whose host or
    port cannot be read, come back stripped only.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a broken IPv6 literal, a port out of range
        return url
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return url
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = parts.path.rstrip() or "/"  # "/ ?x": the space was only outer once the query went
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    query = sorted(
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=False) if not _is_tracking(k)
    )
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def article_id(url: str) -> str:
    """Deterministic article id: a 20-hex-digit hash of the normalized canonical URL."""
    return _hash(normalize_url(url), 20)


def feed_id(url: str) -> str:
    """Deterministic feed id from the feed's URL as first configured."""
    return _hash(normalize_url(url), 12)


def host_of(url: str) -> str:
    """The host name of ``url``, lower-cased, without ``www.``."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""
    return host.removeprefix("www.")


def http_url(url: str) -> str:
    """``url`` stripped, when it is an absolute http(s) URL with a valid host and port.

    Raises ``ValueError`` saying why otherwise: another scheme (``javascript:``,
    ``data:``, ``file:``...), a relative URL, no host or a malformed one (a space, an
    empty or over-long label, a bad IP literal), a port outside 1..65535, credentials,
    control characters, or more than ``MAX_URL`` characters.
    """
    url = url.strip()
    if len(url) > MAX_URL:
        raise ValueError(f"URL too long ({len(url)} characters)")
    if _CONTROL.search(url):
        raise ValueError("URL with control characters")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ValueError(f"unreadable URL host (IPv6 literal?): {exc}") from None
    if parts.scheme.lower() not in _DEFAULT_PORTS:
        raise ValueError(f"not an http(s) URL: scheme {parts.scheme or 'missing'!r}")
    if "@" in parts.netloc:
        raise ValueError("URL with credentials")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"bad port in URL: {parts.netloc!r}") from None
    if port == 0:
        raise ValueError("bad port in URL: 0")
    host = parts.hostname
    if not host:
        raise ValueError("URL without a host")
    if not _valid_host(host, bracketed=parts.netloc.startswith("[")):
        raise ValueError(f"bad host in URL: {host!r}")
    return url


def _valid_host(host: str, *, bracketed: bool) -> bool:
    if bracketed or ":" in host:
        try:
            return ipaddress.ip_address(host).version == 6
        except ValueError:
            return False
    if re.fullmatch(r"[\d.]+", host):  # all digits: an IPv4 address or nothing
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return False
        return True
    try:
        ascii_host = host.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:  # an empty label, a label over 63 characters
        return False
    return len(ascii_host) <= 253 and all(_LABEL.fullmatch(x) for x in ascii_host.split("."))


def _site(url: str) -> str | None:
    # The registrable domain when the public-suffix list knows the name (bbc.co.uk for
    # www.bbc.co.uk, foo.blogspot.com for itself); else the host itself without "www."
    # (IP addresses, localhost, names under unknown or reserved suffixes like .example).
    try:
        host = host_of(http_url(url))
        domain = courlan.extract_domain(url)
    except ValueError:
        return None
    return domain.lower() if domain else host or None


def same_site(claimed: str, fetched: str) -> bool:
    """Whether ``claimed`` (a page's canonical URL) is on the site ``fetched`` came from:
    the same host, or the same registrable domain (``www.example.com`` and
    ``example.com``, ``m.example.co.uk`` and ``example.co.uk``, but never two blogs of
    ``blogspot.com``). Both must be http(s) URLs; never raises."""
    if host_of(claimed) and host_of(claimed) == host_of(fetched):
        return _site(fetched) is not None
    site = _site(claimed)
    return site is not None and site == _site(fetched)


def entry_key(guid: str | None, link: str | None, title: str, date: str | None) -> str:
    """Dedup key of a feed entry: its GUID, else its normalized link, else a hash of title+date."""
    if guid and guid.strip():
        guid = guid.strip()
        return "guid:" + guid if len(guid) <= _MAX_GUID else "guid-sha:" + _hash(guid, 24)
    if link and link.strip():
        link = normalize_url(link)
        return "link:" + link if len(link) <= MAX_URL else "link-sha:" + _hash(link, 24)
    return "hash:" + _hash(f"{title.strip()}\x00{date or ''}", 24)
