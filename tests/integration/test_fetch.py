"""The polite client against a real local HTTP server, including hostile answers
(an integration test: it starts a server; its few pure cases ride along)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from pipeline.errors import (
    BlockedHostError,
    BodyTooLargeError,
    ClientError,
    InputError,
    NetworkError,
    RobotsDisallowedError,
    ServerError,
    TooManyRedirectsError,
)
from pipeline.fetch import Fetcher, check_host_allowed, parse_retry_after
from pipeline.netguard import parse_networks
from pipeline.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def fetcher(settings: Settings) -> Iterator[Fetcher]:
    with Fetcher(settings.model_copy(update={"max_body_bytes": 10_000})) as f:
        yield f


@pytest.fixture(autouse=True)
def robots(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/robots.txt").respond_with_data(
        "User-agent: *\nDisallow: /private/\n", content_type="text/plain"
    )


def test_ok_records_final_url_and_headers(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/a").respond_with_data("", status=302, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data("<p>hi</p>", content_type="text/html")
    resp = fetcher.get(httpserver.url_for("/a"))
    assert resp.status == 200 and resp.content == b"<p>hi</p>"
    assert resp.final_url == httpserver.url_for("/b") and resp.permanent_url is None
    assert resp.headers["content-type"].startswith("text/html")


def test_declared_oversize_body_is_refused(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/big").respond_with_data(b"x" * 50_000)
    with pytest.raises(BodyTooLargeError, match="exceeds the 10000-byte cap"):
        fetcher.get(httpserver.url_for("/big"))


def test_streamed_oversize_body_stops_reading(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    sent = []

    def endless(_: Request) -> Response:
        def chunks() -> Iterator[bytes]:
            for _ in range(10_000):  # 10 MB if nobody stops us
                sent.append(1)
                yield b"y" * 1024

        return Response(chunks(), content_type="text/html")  # chunked, no Content-Length

    httpserver.expect_request("/stream").respond_with_handler(endless)
    with pytest.raises(BodyTooLargeError, match="stopped reading"):
        fetcher.get(httpserver.url_for("/stream"))
    assert len(sent) < 10_000


def test_gzip_bomb_is_capped_after_decoding(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    import gzip

    bomb = gzip.compress(b"\0" * 5_000_000)  # ~5 KB on the wire, 5 MB inflated
    httpserver.expect_request("/bomb").respond_with_data(
        bomb, headers={"Content-Encoding": "gzip", "Content-Type": "text/html"}
    )
    with pytest.raises(BodyTooLargeError):
        fetcher.get(httpserver.url_for("/bomb"))


def test_redirect_loop_hits_the_limit(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/loop").respond_with_data(
        "", status=302, headers={"Location": "/loop"}
    )
    with pytest.raises(TooManyRedirectsError):
        fetcher.get(httpserver.url_for("/loop"))


def test_robots_disallow(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/private/x").respond_with_data("secret")
    with pytest.raises(RobotsDisallowedError):
        fetcher.get(httpserver.url_for("/private/x"))
    assert fetcher.get(httpserver.url_for("/private/x"), check_robots=False).content == b"secret"


@pytest.mark.parametrize(
    ("status", "error", "retry_after"),
    [
        (404, ClientError, None),
        (403, ClientError, None),
        (500, ServerError, 120.0),
        (503, ServerError, 120.0),
        (429, ServerError, 120.0),
    ],
)
def test_status_errors(
    httpserver: HTTPServer,
    fetcher: Fetcher,
    status: int,
    error: type[Exception],
    retry_after: float | None,
) -> None:
    httpserver.expect_request("/s").respond_with_data(
        "no", status=status, headers={"Retry-After": "120"}
    )
    with pytest.raises(error) as info:
        fetcher.get(httpserver.url_for("/s"))
    assert getattr(info.value, "retry_after", None) == retry_after
    assert info.value.transient is (error is ServerError)  # type: ignore[attr-defined]


def test_slow_server_times_out(httpserver: HTTPServer, settings: Settings) -> None:
    def slow(_: Request) -> Response:
        time.sleep(1.5)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    with (
        Fetcher(settings.model_copy(update={"http_timeout": 0.5})) as f,
        pytest.raises(NetworkError, match="timed out"),
    ):
        f.get(httpserver.url_for("/slow"))


def test_connection_refused_is_transient(settings: Settings) -> None:
    with Fetcher(settings) as f, pytest.raises(NetworkError) as info:
        f.get("http://127.0.0.1:9/x", check_robots=False)
    assert info.value.transient


def test_per_host_concurrency_is_bounded(httpserver: HTTPServer, settings: Settings) -> None:
    active, peak, lock = [0], [0], threading.Lock()

    def counted(_: Request) -> Response:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        return Response("ok")

    httpserver.expect_request("/c").respond_with_handler(counted)
    with Fetcher(settings.model_copy(update={"per_host_concurrency": 1})) as f:
        threads = [
            threading.Thread(target=f.get, args=(httpserver.url_for("/c"),)) for _ in range(6)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert peak[0] == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "http://localhost/x",
        "http://10.1.2.3/x",
        "http://192.168.0.1/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
        "http://0.0.0.0/x",
    ],
)
def test_private_targets_refused_by_default(url: str) -> None:
    with pytest.raises(BlockedHostError, match="non-public"):
        check_host_allowed(url, allow_private=False)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "gopher://x/"])
def test_non_http_schemes_refused(url: str) -> None:
    with pytest.raises(BlockedHostError, match="scheme"):
        check_host_allowed(url, allow_private=True)


def test_redirect_to_link_local_is_refused(httpserver: HTTPServer, settings: Settings) -> None:
    # Loopback is allowed for the first hop; the link-local second hop is not.
    httpserver.expect_request("/hop").respond_with_data(
        "", status=302, headers={"Location": "http://169.254.10.10/latest"}
    )
    loopback = settings.model_copy(update={"allow_private_hosts": parse_networks("127.0.0.0/8")})
    with Fetcher(loopback) as f, pytest.raises(BlockedHostError, match=r"169\.254\.10\.10"):
        f.get(httpserver.url_for("/hop"), check_robots=False)
    assert [req.path for req, _ in httpserver.log] == ["/hop"]


def test_slow_dns_is_bounded_by_the_budget(settings: Settings) -> None:
    def hanging(host: str, port: int) -> list[str]:
        time.sleep(5)
        return ["127.0.0.1"]

    started = time.monotonic()
    with (
        Fetcher(settings.model_copy(update={"http_timeout": 0.3}), resolver=hanging) as f,
        pytest.raises(NetworkError, match=r"timed out resolving slow-dns\.test"),
    ):
        f.get("http://slow-dns.test/x", check_robots=False)
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://127.0.0.1:99999/", InputError),
        ("http://[::1/", InputError),
        ("http://xn--a.test/", InputError),
        ("javascript:alert(1)", BlockedHostError),
        ("127.0.0.1/x", BlockedHostError),
    ],
)
def test_unfetchable_urls_are_permanent(
    settings: Settings, url: str, error: type[Exception]
) -> None:
    with Fetcher(settings) as f, pytest.raises(error):
        f.get(url)


def test_hostile_cookies_do_not_break_the_fetch(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    cookies = [
        ("Set-Cookie", "a=1; Expires=Wed, 99 Foo 99999999 99:99:99 GMT"),
        ("Set-Cookie", "b=2; Max-Age=999999999999999999999999"),
        ("Set-Cookie", "c=3; Domain=..; Path=" + "/x" * 2000),
        ("Set-Cookie", "=; ; ; ="),
    ]
    httpserver.expect_request("/c").respond_with_data("ok", headers=cookies)
    for _ in range(2):  # the second request sends back whatever the jar kept
        assert fetcher.get(httpserver.url_for("/c")).content == b"ok"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("120", 120.0), (None, None), ("soon", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected
