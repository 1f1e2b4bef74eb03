"""The client against a server that attacks it byte by byte (``hostile_server.py``).

Every attack must end in a ``NewswireError`` (transient or permanent, with a reason),
within the request's budget plus a little slack, and without the memory a bomb asks for.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.errors import (
    BlockedHostError,
    BodyTooLargeError,
    NetworkError,
    NewswireError,
    PermanentError,
    RobotsDisallowedError,
    ServerError,
)
from pipeline.fetch import Fetcher, Response
from pipeline.settings import Settings
from tests.integration.hostile_server import (
    BAD_LOCATIONS,
    HUGE_LINE_BYTES,
    Conn,
    HostileServer,
    RawServer,
    huge_line_page,
    robots_with_charset,
    trickled_tls_hello,
)

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 0.5  # http_timeout of these tests: each request's budget is 3 x this
BUDGET = 3 * TIMEOUT
SLACK = 1.0  # seconds beyond the budget a failing request may take, on a busy machine
CAP = 1_000_000


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    with HostileServer() as s:
        yield s


@pytest.fixture
def hostile_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"http_timeout": TIMEOUT, "max_body_bytes": CAP, "respect_robots": False}
    )


@pytest.fixture
def fetcher(hostile_settings: Settings) -> Iterator[Fetcher]:
    with Fetcher(hostile_settings) as f:
        yield f


def timed_get(
    fetcher: Fetcher, url: str, limit: float, **kwargs: object
) -> tuple[Response | BaseException, float]:
    """``fetcher.get(url)`` in a thread: what it returned or raised, and how long it took.
    Fails the test when it is still running after ``limit`` seconds."""
    outcome: list[Response | BaseException] = []

    def run() -> None:
        try:
            outcome.append(fetcher.get(url, **kwargs))  # type: ignore[arg-type]
        except BaseException as exc:
            outcome.append(exc)

    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    elapsed = time.monotonic() - started
    assert not thread.is_alive(), f"{url} still running after {limit:.1f}s"
    return outcome[0], elapsed


def failure(fetcher: Fetcher, url: str, limit: float = BUDGET + SLACK) -> NewswireError:
    outcome, _ = timed_get(fetcher, url, limit)
    assert isinstance(outcome, NewswireError), f"expected a NewswireError, got {outcome!r}"
    assert outcome.reason and outcome.url
    return outcome


# Time: one budget per request -------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "phase"),
    [
        ("/slow-headers", "waiting for the response headers"),
        ("/slow-status", "waiting for the response headers"),
        ("/slow-body", "reading the body"),
    ],
)
def test_trickled_answer_ends_with_the_budget(
    server: HostileServer, fetcher: Fetcher, path: str, phase: str
) -> None:
    # One byte every 0.1 s never trips the 0.5 s read timeout; only the budget can.
    outcome, elapsed = timed_get(fetcher, server.url(path), BUDGET + SLACK)
    assert isinstance(outcome, NetworkError) and outcome.transient
    assert f"{BUDGET:g}s budget ran out while {phase}" in outcome.reason
    assert BUDGET - 0.1 <= elapsed <= BUDGET + SLACK


def test_redirect_hops_share_one_budget(server: HostileServer, fetcher: Fetcher) -> None:
    def slow_hop(conn: Conn) -> None:
        time.sleep(0.4)  # under the read timeout, so only a shared budget stops the chain
        conn.respond(302, headers={"Location": "/slow-hop"})

    server.routes["/slow-hop"] = slow_hop
    outcome, elapsed = timed_get(fetcher, server.url("/slow-hop"), BUDGET + SLACK)
    assert isinstance(outcome, NetworkError), outcome
    assert "budget ran out" in outcome.reason
    assert elapsed <= BUDGET + SLACK


def test_trickled_tls_handshake_is_bounded(fetcher: Fetcher) -> None:
    with RawServer(trickled_tls_hello) as raw:
        outcome, elapsed = timed_get(fetcher, f"https://127.0.0.1:{raw.port}/", BUDGET + SLACK)
    assert isinstance(outcome, NetworkError), outcome
    assert "TLS handshake with 127.0.0.1" in outcome.reason
    assert elapsed <= TIMEOUT + SLACK


def test_silent_server_trips_the_read_timeout(server: HostileServer, fetcher: Fetcher) -> None:
    outcome, elapsed = timed_get(fetcher, server.url("/silent"), BUDGET + SLACK)
    assert isinstance(outcome, NetworkError)
    assert outcome.reason.startswith("timed out (ReadTimeout) while waiting for the response")
    assert elapsed <= TIMEOUT + SLACK


# Size: the cap on decoded bytes -----------------------------------------------------


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/gzip-bomb", "once decoded"),
        ("/gzip-gzip-bomb", "once decoded"),
        ("/deflate-bomb", "once decoded"),
        ("/endless", "stopped reading"),
    ],
)
def test_bombs_stop_at_the_cap(
    server: HostileServer, fetcher: Fetcher, path: str, reason: str
) -> None:
    error = failure(fetcher, server.url(path))
    assert isinstance(error, BodyTooLargeError), error
    assert f"{CAP}-byte cap" in error.reason and reason in error.reason


PROBE = """
import json, resource, sys, time
from pipeline.fetch import Fetcher
from pipeline.settings import Settings

def peak_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

# A safety net: the unfixed client inflated bombs whole; fail, not swap the machine.
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
warm, url, cap = sys.argv[1], sys.argv[2], int(sys.argv[3])
settings = Settings(allow_private_hosts=True, per_host_delay=0, respect_robots=False,
                    max_body_bytes=cap, http_timeout=5)
with Fetcher(settings) as f:
    f.get(warm)  # every code path of a decoded fetch, before the baseline
    before = peak_kib()
    started = time.monotonic()
    try:
        f.get(url)
        outcome = "ok"
    except BaseException as exc:
        outcome = f"{type(exc).__name__}: {exc}"
    print(json.dumps({"grew_kib": peak_kib() - before, "seconds": time.monotonic() - started,
                      "outcome": outcome}))
"""


@pytest.mark.parametrize("path", ["/gzip-bomb", "/gzip-gzip-bomb", "/deflate-bomb", "/endless"])
def test_bombs_cost_no_more_memory_than_twice_the_cap(server: HostileServer, path: str) -> None:
    # A fresh process, so that its peak RSS is this fetch's and nothing else's.
    cap = 2_000_000
    run = subprocess.run(
        [sys.executable, "-c", PROBE, server.url("/ok-gzip"), server.url(path), str(cap)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["outcome"].startswith("BodyTooLargeError"), result
    assert result["grew_kib"] * 1024 <= 2 * cap, result
    assert result["seconds"] < 5, result


def test_huge_single_line_page_is_read_whole(server: HostileServer, settings: Settings) -> None:
    roomy = settings.model_copy(update={"respect_robots": False, "http_timeout": 5.0})
    with Fetcher(roomy) as f:
        outcome, _ = timed_get(f, server.url("/huge-line"), 15)
    assert isinstance(outcome, Response), outcome
    assert outcome.content == huge_line_page() and len(outcome.content) <= HUGE_LINE_BYTES
    assert outcome.text.count("\n") == 0


# Encodings the client cannot read ---------------------------------------------------


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/unknown-encoding", "unknown content encoding 'x-evil'"),
        ("/brotli", "unknown content encoding 'br'"),
        ("/stacked-encodings", "3 stacked content encodings"),
        ("/corrupt-gzip", "corrupt gzip body"),
        ("/truncated-gzip", "gzip body ends early"),
    ],
)
def test_unreadable_encodings_are_permanent(
    server: HostileServer, fetcher: Fetcher, path: str, reason: str
) -> None:
    error = failure(fetcher, server.url(path))
    assert isinstance(error, PermanentError) and reason in error.reason, error


@pytest.mark.parametrize(("path", "text"), [("/ok-gzip", b"<p>fine</p>"), ("/raw-deflate", b"raw")])
def test_real_encodings_decode(
    server: HostileServer, fetcher: Fetcher, path: str, text: bytes
) -> None:
    outcome, _ = timed_get(fetcher, server.url(path), BUDGET + SLACK)
    assert isinstance(outcome, Response) and text in outcome.content


# Redirects that lead nowhere fetchable -----------------------------------------------

_REFUSED_SCHEMES = {"javascript", "data", "file", "ftp", "gopher"}


@pytest.mark.parametrize("name", sorted(BAD_LOCATIONS))
def test_bad_redirect_locations_are_permanent(
    server: HostileServer, fetcher: Fetcher, name: str
) -> None:
    error = failure(fetcher, server.url(f"/redirect/{name}"))
    assert isinstance(error, PermanentError), error
    if name in _REFUSED_SCHEMES:
        assert isinstance(error, BlockedHostError) and "scheme" in error.reason
    elif name == "metadata":
        assert isinstance(error, BlockedHostError) and "metadata" in error.reason
    else:
        assert error.reason.startswith(f"redirect from {server.url(f'/redirect/{name}')} to")


# HTTP broken on the wire -----------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/short-body",
        "/bad-chunked",
        "/chunk-size-overflow",
        "/bad-header-bytes",
        "/bad-status-line",
        "/not-http",
        "/huge-headers",
        "/many-headers",
        "/two-lengths",
        "/close",
    ],
)
def test_broken_http_is_a_transient_network_error(
    server: HostileServer, fetcher: Fetcher, path: str
) -> None:
    error = failure(fetcher, server.url(path))
    assert isinstance(error, NetworkError), error


def test_extra_bytes_after_the_declared_length_are_ignored(
    server: HostileServer, fetcher: Fetcher
) -> None:
    outcome, _ = timed_get(fetcher, server.url("/long-body"), BUDGET + SLACK)
    assert isinstance(outcome, Response) and outcome.content == b"first"


def test_a_hostile_etag_can_be_sent_back(server: HostileServer, fetcher: Fetcher) -> None:
    first, _ = timed_get(fetcher, server.url("/non-ascii-etag"), BUDGET + SLACK)
    assert isinstance(first, Response)
    again, _ = timed_get(
        fetcher,
        server.url("/ok"),
        BUDGET + SLACK,
        headers={"If-None-Match": first.headers["etag"], "X-Bad": "a\r\nInjected: 1"},
    )
    assert isinstance(again, Response) and again.status == 200
    assert "injected" not in server.requests[-1][1]


def test_a_kept_alive_connection_the_server_closes_on_reuse_is_asked_again(
    server: HostileServer, fetcher: Fetcher
) -> None:
    """A server may close an idle kept-alive connection just as we reuse it (it read our
    request, or not, and hung up). A GET is safe to repeat: it goes again on a new
    connection, once, and the story is fetched now rather than on the next retry."""

    def answer_then_hang_up(conn: Conn) -> None:
        conn.respond(200, b"first", {"Connection": "keep-alive"})
        next_request = b""
        while b"\r\n\r\n" not in next_request:  # the reuse: read it, answer nothing
            data = conn.sock.recv(4096)
            if not data:
                return
            next_request += data
        conn.sock.close()

    server.routes["/answer-then-hang-up"] = answer_then_hang_up
    first, _ = timed_get(fetcher, server.url("/answer-then-hang-up"), BUDGET + SLACK)
    assert isinstance(first, Response) and first.content == b"first"
    again, _ = timed_get(fetcher, server.url("/ok"), BUDGET + SLACK)
    assert isinstance(again, Response) and again.status == 200
    assert server.requests[-1][0] == "/ok"  # the second connection's request


def test_a_server_that_hangs_up_on_a_new_connection_is_asked_once(
    server: HostileServer, fetcher: Fetcher
) -> None:
    asked = [path for path, _ in server.requests].count("/close")
    error = failure(fetcher, server.url("/close"))
    assert isinstance(error, NetworkError)
    assert [path for path, _ in server.requests].count("/close") == asked + 1


def test_odd_retry_after_is_ignored(server: HostileServer, fetcher: Fetcher) -> None:
    error = failure(fetcher, server.url("/retry-after-odd"))
    assert isinstance(error, ServerError) and error.retry_after is None


# robots.txt ------------------------------------------------------------------------


@pytest.mark.parametrize("charset", ["undefined", "idna", "punycode", "x-unknown", "rot13"])
def test_robots_with_an_unusable_charset_still_applies(
    hostile_settings: Settings, charset: str
) -> None:
    with (
        HostileServer() as own,
        Fetcher(hostile_settings.model_copy(update={"respect_robots": True})) as f,
    ):
        own.routes["/robots.txt"] = robots_with_charset(charset)
        page, _ = timed_get(f, own.url("/ok"), BUDGET + SLACK)
        assert isinstance(page, Response) and page.status == 200
        private, _ = timed_get(f, own.url("/private/x"), BUDGET + SLACK)
        assert isinstance(private, RobotsDisallowedError)


def test_unreadable_robots_counts_as_absent(hostile_settings: Settings) -> None:
    with (
        HostileServer() as own,
        Fetcher(hostile_settings.model_copy(update={"respect_robots": True})) as f,
    ):
        own.routes["/robots.txt"] = own.routes["/unknown-encoding"]
        page, _ = timed_get(f, own.url("/ok"), BUDGET + SLACK)
        assert isinstance(page, Response) and page.status == 200
