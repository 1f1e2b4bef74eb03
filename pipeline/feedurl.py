"""Is this a URL a feed can live at? One check for every way a feed comes in (the
command line, the API, ``config/feeds.yaml``)."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from pipeline.errors import InputError

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")  # after IDNA; "_" is seen in the wild


def check_feed_url(url: str) -> str:
    """``url`` (surrounding blanks removed) when it is an http(s) URL with a real host
    (an IP address, or a name whose labels encode to IDNA) and a valid port.

    Raises ``InputError`` with a one-line reason otherwise.
    """
    url = url.strip()
    shown = url if len(url) <= 200 else url[:200] + "…"
    if not url or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise InputError(f"not a feed URL (blanks or control characters): {shown!r}")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises for a port that is not a number in 0..65535
        host = parts.hostname or ""
    except ValueError as exc:
        raise InputError(f"not a feed URL ({exc}): {shown!r}") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise InputError(f"not an http(s) URL: {shown!r}")
    if not host:
        raise InputError(f"not a feed URL (no host): {shown!r}")
    if port == 0:
        raise InputError(f"not a feed URL (port 0): {shown!r}")
    if not _is_ip(host) and not _is_host_name(host):
        raise InputError(f"not a feed URL (bad host name {host!r}): {shown!r}")
    return url


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_host_name(host: str) -> bool:
    try:
        ascii_host = host.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:  # an empty or over-long label, or characters IDNA refuses
        return False
    labels = ascii_host.lower().split(".")
    return len(ascii_host) <= 253 and all(_LABEL.match(label) for label in labels)
