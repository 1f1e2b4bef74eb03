"""The one polite HTTP client, for feeds and pages alike.

Per-host concurrency and delay, robots.txt for pages, one time budget per request
(``pipeline.netguard``), a body-size cap enforced on decoded bytes while streaming,
a redirect limit checked hop by hop, URLs validated before each hop, and an address
policy checked on the very address each connection goes to (``pipeline.netguard``):
public addresses, plus the networks listed in ``allow_private_hosts``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpcore
import httpx

from pipeline.errors import (
    BadResponseError,
    BlockedHostError,
    BodyTooLargeError,
    ClientError,
    InputError,
    NetworkError,
    NewswireError,
    PermanentError,
    RobotsDisallowedError,
    ServerError,
    TooManyRedirectsError,
)
from pipeline.hostgate import HostGate, LocalHostGate
from pipeline.inflate import content_codings, read_body, wire_cap
from pipeline.netguard import (
    CURRENT_BUDGET,
    Budget,
    IPNetwork,
    PinnedBackend,
    Resolver,
    parse_address,
    parse_networks,
    resolve_checked,
)
from pipeline.settings import Settings

log = logging.getLogger(__name__)

_REDIRECTS = {301, 302, 303, 307, 308}
_PERMANENT = {301, 308}
_ROBOTS_TTL = 3600.0
_BUDGET_TIMEOUTS = 3  # a request's whole budget is this many times http_timeout
_HOST_NAME = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?:\.(?!-)[A-Za-z0-9_-]{1,63})*\.?")
_SCHEME = re.compile(r"\s*([A-Za-z][A-Za-z0-9+.-]*):")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")
_HUNG_UP = "Server disconnected without sending a response"  # httpcore's words for it


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
        return decode_text(self.content, self.headers.get("content-type", ""))


def decode_text(content: bytes, content_type: str) -> str:
    """``content`` as text in the charset ``content_type`` names, never failing: bad
    bytes become U+FFFD and a charset Python cannot decode with (unknown, not a text
    codec, or one like "idna" that refuses replacement) falls back to UTF-8."""
    charset = _charset(content_type) or "utf-8"
    try:
        return content.decode(charset, errors="replace")
    except (LookupError, ValueError):  # UnicodeError is a ValueError
        return content.decode("utf-8", errors="replace")


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
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def checked_url(url: str, *, redirected_from: str | None = None) -> tuple[str, int]:
    """The host and port ``url`` would connect to, once it is known to be fetchable.

    Raises ``BlockedHostError`` for a scheme other than http(s), and for a URL that
    does not parse (bad host or port, IDNA error) ``InputError``, or
    ``BadResponseError`` when it came from the redirect of ``redirected_from``.
    """
    where = f"redirect from {redirected_from} to" if redirected_from else "URL"
    bad = BadResponseError if redirected_from else InputError
    shown = repr(url if len(url) <= 200 else url[:200] + "…")
    scheme = _SCHEME.match(url)
    if not scheme or scheme.group(1).lower() not in ("http", "https"):
        name = scheme.group(1).lower() if scheme else "(none)"
        raise BlockedHostError(f"{where} scheme {name!r} is not fetched", url=url)
    try:
        parsed = httpx.URL(url)
        host = parsed.raw_host.decode("ascii")
        parsed.host  # noqa: B018  # decodes IDNA labels, which httpx does lazily and may refuse
    except (httpx.InvalidURL, ValueError) as exc:  # UnicodeError (IDNA) is a ValueError
        raise bad(f"{where} {shown} does not parse: {_brief(exc)}", url=url) from exc
    if parsed.scheme not in ("http", "https"):
        raise BlockedHostError(
            f"{where} scheme {parsed.scheme or '(none)'!r} is not fetched", url=url
        )
    if not host:
        raise bad(f"{where} {shown} has no host", url=url)
    if (parse_address(host) is None and not _HOST_NAME.fullmatch(host)) or len(host) > 253:
        raise bad(f"{where} {shown}: {host!r} is not a host name", url=url)
    port = parsed.port if parsed.port is not None else 443 if parsed.scheme == "https" else 80
    if not 0 < port < 65536:
        raise bad(f"{where} {shown}: port {port} is out of range", url=url)
    return host, port


def check_host_allowed(
    url: str, allow_private: object = False, resolver: Resolver | None = None
) -> None:
    """Raise ``BlockedHostError`` if ``url`` names or resolves to a refused address.

    ``allow_private`` is the ``allow_private_hosts`` setting (a bool, CIDR text or
    networks: see ``netguard.parse_networks``). Raises ``InputError`` when the URL
    does not parse and ``NetworkError`` when the name does not resolve. ``Fetcher``
    applies the same check at connect time, to the address it connects to.
    """
    host, port = checked_url(url)
    resolve_checked(host, port, parse_networks(allow_private), resolver, url=url)


def _sendable(headers: Mapping[str, str]) -> dict[str, str]:
    # Request headers often echo what a server sent (ETag, Last-Modified): a value with
    # control or non-ASCII characters would make httpx or h11 raise, so it is left out.
    kept = {}
    for name, value in headers.items():
        if _HEADER_VALUE.fullmatch(value) and re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
            kept[name] = value
        else:
            log.debug("request header %r dropped: not sendable", name)
    return kept


@dataclass
class _Robots:
    parser: RobotFileParser
    loaded_at: float


class _PinnedTransport(httpx.HTTPTransport):
    """httpx's transport on our network backend (httpx has no argument for it)."""

    def __init__(self, backend: PinnedBackend) -> None:
        ssl_context = httpx.create_ssl_context()
        super().__init__(verify=ssl_context)
        limits = httpx.Limits()  # httpx's defaults, not httpcore's (10 connections, no expiry)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )


class Fetcher:
    """Thread-safe polite client. Use one per process; close it when done."""

    def __init__(
        self, settings: Settings, gate: HostGate | None = None, *, resolver: Resolver | None = None
    ) -> None:
        """``gate`` shares politeness beyond this process (the distributed mode passes
        a Redis-backed one); by default it is local. ``resolver`` replaces the system's
        name lookup (tests simulate DNS with it)."""
        self.settings = settings
        self._gate = gate or LocalHostGate(settings.per_host_concurrency, settings.per_host_delay)
        # The transport without httpx.Client: the client parses every redirect Location
        # itself (raising on hostile ones before we see them) and would route through
        # proxies from the environment, which would see the target instead of our guard.
        self._transport = _PinnedTransport(PinnedBackend(self._allowed_networks, resolver))
        self._cookies = httpx.Cookies()
        self._robots: dict[str, _Robots] = {}

    @property
    def _headers(self) -> dict[str, str]:
        return {
            "User-Agent": self.settings.user_agent,
            "Accept": "*/*",
            "Accept-Encoding": "gzip, deflate",
        }

    def _allowed_networks(self) -> tuple[IPNetwork, ...]:
        return parse_networks(self.settings.allow_private_hosts)

    def close(self) -> None:
        self._transport.close()

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
        """GET ``url`` politely and return the whole (capped, decoded) body.

        A 304 answer is returned, not raised. Raises ``ClientError`` for other 4xx,
        ``ServerError`` for 5xx and 429 (with ``retry_after``), ``NetworkError`` for
        connection trouble, protocol violations and timeouts (the request's budget of
        3 x ``http_timeout`` covers every hop, robots.txt included), and the permanent
        guards' errors: ``BlockedHostError``, ``InputError`` (URL), ``BadResponseError``
        (redirect Location, content encoding), ``BodyTooLargeError``,
        ``TooManyRedirectsError``, ``RobotsDisallowedError``.
        """
        budget = CURRENT_BUDGET.get()
        if budget is None:  # a robots.txt fetched for a page spends the page's budget
            total = _BUDGET_TIMEOUTS * self.settings.http_timeout
            budget = Budget(total=total, remaining=total)
        token = CURRENT_BUDGET.set(budget)
        try:
            return self._get(url, headers or {}, check_robots, budget)
        finally:
            CURRENT_BUDGET.reset(token)

    # internals -----------------------------------------------------------

    def _get(
        self, url: str, headers: Mapping[str, str], check_robots: bool, budget: Budget
    ) -> Response:
        started = time.monotonic()
        current = url
        checked_url(current)
        permanent: str | None = None
        still_permanent = True
        for _ in range(self.settings.max_redirects + 1):
            if check_robots and self.settings.respect_robots:
                self._check_robots(current)
            with self._gate.slot(urlsplit(current).netloc.lower()), budget.running(current):
                status, resp_headers, body = self._stream(current, _sendable(headers), budget)
            if status in _REDIRECTS:
                location = resp_headers.get("location")
                if not location:
                    raise ClientError(status, url=current)
                try:
                    target = urljoin(current, location.strip())
                except ValueError as exc:
                    raise BadResponseError(
                        f"redirect from {current} to {location!r} does not parse: {exc}",
                        url=current,
                    ) from exc
                checked_url(target, redirected_from=current)
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

    def _stream(
        self, url: str, headers: Mapping[str, str], budget: Budget
    ) -> tuple[int, dict[str, str], bytes]:
        """One request: status, headers and, for a 2xx answer only, the decoded body."""
        cap = self.settings.max_body_bytes
        budget.phase = "waiting for the response headers"
        try:
            # Waiting for a pooled connection counts too: no timeout beyond the budget.
            timeout = _timeouts(budget, self.settings.http_timeout)
            merged = httpx.Headers(self._headers)
            merged.update(headers)
            request = httpx.Request("GET", url, headers=merged, extensions={"timeout": timeout})
            self._cookies.set_cookie_header(request)
            resp = self._send(request, budget)
            resp.request = request
            try:
                self._cookies.extract_cookies(resp)
                resp_headers = {k.lower(): v for k, v in resp.headers.items()}
                if not 200 <= resp.status_code < 300:
                    return resp.status_code, resp_headers, b""
                codings = content_codings(resp_headers.get("content-encoding", ""), url=url)
                declared, limit = resp_headers.get("content-length", ""), wire_cap(cap, codings)
                if declared.isascii() and declared.isdigit() and int(declared) > limit:
                    raise BodyTooLargeError(
                        f"body of {int(declared)} bytes exceeds the {limit}-byte cap", url=url
                    )
                budget.phase = "reading the body"
                body = read_body(resp.iter_raw(), codings, cap, url=url)
                return resp.status_code, resp_headers, body
            finally:
                resp.close()
        except NewswireError as exc:  # raised by our guards, here or in the backend
            exc.url = exc.url or url
            raise
        except httpx.TimeoutException as exc:
            reason = budget.exhausted() if budget.spent else f"timed out ({type(exc).__name__})"
            raise NetworkError(f"{reason} while {budget.phase}", url=url) from exc
        except httpx.RemoteProtocolError as exc:  # h11: bad status line, headers, chunks
            raise NetworkError(f"broken HTTP while {budget.phase}: {_brief(exc)}", url=url) from exc
        except (httpx.InvalidURL, ValueError) as exc:  # IDNA and header encoding errors
            raise InputError(f"cannot request this URL: {_brief(exc)}", url=url) from exc
        except httpx.HTTPError as exc:  # connect, read and write errors, and the rest
            raise NetworkError(
                f"{type(exc).__name__} while {budget.phase}: {_brief(exc)}", url=url
            ) from exc

    def _send(self, request: httpx.Request, budget: Budget) -> httpx.Response:
        """Send ``request``; once more, on a new connection, when the pooled connection it
        reused was closed by the server before any answer. No pool check can rule that
        race out (the server may hang up between the check and our write), and a GET is
        safe to repeat; like Go's net/http, only a reused connection is retried, so a
        server that hangs up on a new one is asked once."""
        connected: list[str] = []
        request.extensions["trace"] = lambda name, _: connected.append(name)
        try:
            return self._transport.handle_request(request)
        except httpx.RemoteProtocolError as exc:
            reused = "connection.connect_tcp.started" not in connected
            if not (reused and str(exc).startswith(_HUNG_UP)):
                raise
        request.extensions["timeout"] = _timeouts(budget, self.settings.http_timeout)
        return self._transport.handle_request(request)

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
        try:
            resp = self.get(robots_url, check_robots=False)
        except BlockedHostError:
            raise  # the pages of a refused host are refused too
        except PermanentError as exc:
            # 4xx, too large, bad encoding, endless redirects: RFC 9309 reads these as
            # "unavailable", which allows everything. 5xx and network errors propagate
            # as transient ones: the RFC says to hold off.
            log.info("robots.txt unavailable url=%s: %s", robots_url, exc.reason)
            return _robots_parser(robots_url, [])
        # RFC 9309: robots.txt is UTF-8, whatever charset the server names.
        text = resp.content.decode("utf-8", errors="replace").removeprefix("\ufeff")
        return _robots_parser(robots_url, text.splitlines())


def _timeouts(budget: Budget, own: float | None) -> dict[str, float | None]:
    """httpcore's per-operation timeouts: ``own`` cut to what is left of ``budget``."""
    return httpx.Timeout(budget.timeout(own)).as_dict()


def _brief(exc: BaseException) -> str:
    # h11 quotes the offending bytes, which a hostile server can make 100 KB long;
    # reasons end up in logs, feed state and dead letters.
    text = str(exc)
    return text if len(text) <= 300 else text[:300] + "…"


def _robots_parser(robots_url: str, lines: list[str]) -> RobotFileParser:
    parser = RobotFileParser(robots_url)
    try:
        parser.parse(lines)
    except Exception:  # the stdlib parser trips on odd values (Crawl-delay: ², …)
        log.info("robots.txt partly unreadable, keeping its rules only url=%s", robots_url)
        parser = RobotFileParser(robots_url)
        rules = ("user-agent", "allow", "disallow")
        parser.parse([line for line in lines if line.split(":", 1)[0].strip().lower() in rules])
    return parser
