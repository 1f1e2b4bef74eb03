"""The one polite HTTP client, for feeds and pages alike.

Per-host concurrency and delay, robots.txt for pages, timeouts and an overall
deadline, a body-size cap enforced while streaming, a redirect limit checked hop
by hop, and a guard that refuses private, loopback and link-local targets unless
``allow_private_hosts`` is set.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from pipeline.errors import (
    BlockedHostError,
    BodyTooLargeError,
    ClientError,
    NetworkError,
    RobotsDisallowedError,
    ServerError,
    TooManyRedirectsError,
)
from pipeline.hostgate import HostGate, LocalHostGate
from pipeline.settings import Settings

log = logging.getLogger(__name__)

_REDIRECTS = {301, 302, 303, 307, 308}
_PERMANENT = {301, 308}
_ROBOTS_TTL = 3600.0


@dataclass(frozen=True)
class Response:
    """A completed fetch. ``permanent_url`` is where 301/308 hops from the start lead."""

    url: str
    final_url: str
    status: int
    headers: Mapping[str, str]
    content: bytes
    permanent_url: str | None = None
    elapsed: float = 0.0

    @property
    def text(self) -> str:
        charset = _charset(self.headers.get("content-type", "")) or "utf-8"
        try:
            return self.content.decode(charset, errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip("\"' ")
    return None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def check_host_allowed(url: str, allow_private: bool) -> None:
    """Raise ``BlockedHostError`` if ``url`` names or resolves to a non-public address.

    Raises ``NetworkError`` when the name does not resolve.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise BlockedHostError(f"scheme {parts.scheme or '(none)'!r} is not fetched", url=url)
    host = parts.hostname
    if not host:
        raise BlockedHostError("no host in URL", url=url)
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(host, parts.port or 0, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise NetworkError(f"cannot resolve {host}: {exc.strerror}", url=url) from exc
    for info in infos:
        addr = ipaddress.ip_address(info[4][0])
        if not addr.is_global or addr.is_multicast:
            raise BlockedHostError(
                f"{host} resolves to non-public address {addr}"
                " (set NEWSWIRE_ALLOW_PRIVATE_HOSTS=true to allow)",
                url=url,
            )


@dataclass
class _Robots:
    parser: RobotFileParser
    loaded_at: float


class Fetcher:
    """Thread-safe polite client. Use one per process; close it when done."""

    def __init__(
        self,
        settings: Settings,
        transport: httpx.BaseTransport | None = None,
        gate: HostGate | None = None,
    ) -> None:
        """``gate`` shares politeness beyond this process (the distributed mode passes
        a Redis-backed one); by default it is local."""
        self.settings = settings
        self._gate = gate or LocalHostGate(settings.per_host_concurrency, settings.per_host_delay)
        self._client = httpx.Client(
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
            timeout=httpx.Timeout(settings.http_timeout),
            follow_redirects=False,
            transport=transport,
        )
        self._robots: dict[str, _Robots] = {}

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # public --------------------------------------------------------------

    def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        check_robots: bool = True,
    ) -> Response:
        """GET ``url`` politely and return the whole (capped) body.

        A 304 answer is returned, not raised. Raises ``ClientError`` for other 4xx,
        ``ServerError`` for 5xx and 429 (with ``retry_after``), ``NetworkError`` for
        connection trouble and timeouts, and the permanent guards' errors.
        """
        started = time.monotonic()
        current = url
        permanent: str | None = None
        still_permanent = True
        for _ in range(self.settings.max_redirects + 1):
            check_host_allowed(current, self.settings.allow_private_hosts)
            if check_robots and self.settings.respect_robots:
                self._check_robots(current)
            status, resp_headers, body = self._request(current, headers or {})
            if status in _REDIRECTS:
                location = resp_headers.get("location")
                if not location:
                    raise ClientError(status, url=current)
                target = urljoin(current, location)
                still_permanent = still_permanent and status in _PERMANENT
                if still_permanent:
                    permanent = target
                log.debug("redirect %s -> %s (%d)", current, target, status)
                current = target
                continue
            if status == 304 or 200 <= status < 300:
                return Response(
                    url=url,
                    final_url=current,
                    status=status,
                    headers=resp_headers,
                    content=body,
                    permanent_url=permanent,
                    elapsed=time.monotonic() - started,
                )
            if status == 429 or status >= 500:
                raise ServerError(
                    status,
                    url=current,
                    retry_after=parse_retry_after(resp_headers.get("retry-after")),
                )
            raise ClientError(status, url=current)
        raise TooManyRedirectsError(f"more than {self.settings.max_redirects} redirects", url=url)

    # internals -----------------------------------------------------------

    def _request(self, url: str, headers: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        with self._gate.slot(urlsplit(url).netloc.lower()):
            return self._stream(url, headers)

    def _stream(self, url: str, headers: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        cap = self.settings.max_body_bytes
        # A server that drips bytes slowly never trips the per-read timeout;
        # the overall deadline catches it.
        deadline = time.monotonic() + 3 * self.settings.http_timeout
        try:
            with self._client.stream("GET", url, headers=dict(headers)) as resp:
                resp_headers = {k.lower(): v for k, v in resp.headers.items()}
                if resp.status_code in _REDIRECTS or resp.status_code == 304:
                    return resp.status_code, resp_headers, b""
                declared = resp_headers.get("content-length", "")
                if declared.isdigit() and int(declared) > cap:
                    raise BodyTooLargeError(
                        f"body of {int(declared)} bytes exceeds the {cap}-byte cap", url=url
                    )
                chunks: list[bytes] = []
                size = 0
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > cap:
                        raise BodyTooLargeError(
                            f"body exceeds the {cap}-byte cap (stopped reading)", url=url
                        )
                    if time.monotonic() > deadline:
                        raise NetworkError(
                            f"download took longer than {3 * self.settings.http_timeout:.0f}s",
                            url=url,
                        )
                    chunks.append(chunk)
                return resp.status_code, resp_headers, b"".join(chunks)
        except httpx.TimeoutException as exc:
            raise NetworkError(f"timed out ({type(exc).__name__})", url=url) from exc
        except httpx.DecodingError as exc:
            raise NetworkError(f"undecodable body: {exc}", url=url) from exc
        except httpx.TransportError as exc:
            raise NetworkError(f"{type(exc).__name__}: {exc}", url=url) from exc

    def _check_robots(self, url: str) -> None:
        host = urlsplit(url).netloc.lower()
        now = time.monotonic()
        robots = self._robots.get(host)
        if robots is None or now - robots.loaded_at > _ROBOTS_TTL:
            robots = self._robots[host] = _Robots(self._load_robots(url), now)
        if not robots.parser.can_fetch(self.settings.user_agent, url):
            raise RobotsDisallowedError("robots.txt disallows this page", url=url)

    def _load_robots(self, url: str) -> RobotFileParser:
        parts = urlsplit(url)
        robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
        parser = RobotFileParser(robots_url)
        try:
            resp = self.get(robots_url, check_robots=False)
        except ClientError:
            parser.parse([])  # no robots.txt (4xx): everything is allowed
            return parser
        # 5xx and network errors propagate as transient: RFC 9309 says to hold off.
        parser.parse(resp.text.splitlines())
        return parser
