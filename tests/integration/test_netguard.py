"""The address policy, pinned connections and the body decoder.

No test here connects anywhere but loopback: the ``loopback_only`` fixture replaces
the socket class with one that refuses (and records) any other address, and names
are answered by a simulated resolver.
"""

from __future__ import annotations

import contextlib
import http.server
import ipaddress
import os
import shutil
import socket
import ssl
import subprocess
import threading
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

from pipeline.errors import (
    BadResponseError,
    BlockedHostError,
    BodyTooLargeError,
    InputError,
    NetworkError,
    NewswireError,
)
from pipeline.fetch import Fetcher, check_host_allowed
from pipeline.inflate import PIECE, iter_decoded, read_body
from pipeline.netguard import PRIVATE_NETWORKS, parse_networks
from pipeline.settings import Settings
from tests.conftest import need

PUBLIC = "93.184.216.34"  # a public address: checked, never connected to


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every address a socket tries to connect to; only loopback ones are reached."""
    attempts: list[str] = []

    class LoopbackOnlySocket(socket.socket):
        def connect(self, address: Any) -> None:
            host = str(address[0]).split("%")[0]
            attempts.append(host)
            if not ipaddress.ip_address(host).is_loopback:
                raise ConnectionRefusedError(f"the test network does not reach {host}")
            super().connect(address)

        def connect_ex(self, address: Any) -> int:
            try:
                self.connect(address)
            except OSError as exc:
                return exc.errno or 111
            return 0

    monkeypatch.setattr(socket, "socket", LoopbackOnlySocket)
    return attempts


# DNS rebinding --------------------------------------------------------------------


def test_rebinding_name_is_resolved_once_and_never_reaches_loopback(
    httpserver: HTTPServer,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    loopback_only: list[str],
) -> None:
    # The system resolver answers public first and loopback afterwards: a client
    # that checks one answer and connects by another lookup reaches loopback.
    real = socket.getaddrinfo
    asked: list[str] = []

    def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "rebind.test":
            return real(host, port, *args, **kwargs)
        answer = PUBLIC if not asked else "127.0.0.1"
        asked.append(answer)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer, port or 0))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    httpserver.expect_request("/secret").respond_with_data("internal")
    closed = settings.model_copy(update={"allow_private_hosts": (), "respect_robots": False})
    with Fetcher(closed) as f, pytest.raises(NetworkError):
        f.get(f"http://rebind.test:{httpserver.port}/secret")
    assert httpserver.log == [], "the rebound name reached the loopback server"
    assert asked == [PUBLIC]
    assert loopback_only == [PUBLIC]  # the connect went to the checked address


def test_injected_resolver_pins_the_checked_address(
    httpserver: HTTPServer, settings: Settings, loopback_only: list[str]
) -> None:
    answers = iter([[PUBLIC], ["127.0.0.1"]])
    calls: list[str] = []

    def resolver(host: str, port: int) -> Sequence[str]:
        calls.append(host)
        return next(answers)

    httpserver.expect_request("/secret").respond_with_data("internal")
    closed = settings.model_copy(update={"allow_private_hosts": (), "respect_robots": False})
    with Fetcher(closed, resolver=resolver) as f, pytest.raises(NetworkError, match=PUBLIC):
        f.get(f"http://rebind.test:{httpserver.port}/secret")
    assert calls == ["rebind.test"] and loopback_only == [PUBLIC]
    assert httpserver.log == []


def test_pinned_connection_keeps_the_host_name(
    httpserver: HTTPServer, settings: Settings, loopback_only: list[str]
) -> None:
    calls: list[str] = []

    def resolver(host: str, port: int) -> Sequence[str]:
        calls.append(host)
        return ["127.0.0.1"] if len(calls) == 1 else [PUBLIC]

    httpserver.expect_request("/page").respond_with_data("hello")
    loopback = settings.model_copy(
        update={"allow_private_hosts": parse_networks("127.0.0.0/8"), "respect_robots": False}
    )
    with Fetcher(loopback, resolver=resolver) as f:
        assert f.get(f"http://news.test:{httpserver.port}/page").content == b"hello"
    assert calls == ["news.test"] and loopback_only == ["127.0.0.1"]
    assert all(req.headers["Host"] == f"news.test:{httpserver.port}" for req, _ in httpserver.log)


def test_one_refused_address_blocks_the_name(settings: Settings, loopback_only: list[str]) -> None:
    closed = settings.model_copy(update={"allow_private_hosts": (), "respect_robots": False})
    with (
        Fetcher(closed, resolver=lambda host, port: [PUBLIC, "127.0.0.1"]) as f,
        pytest.raises(BlockedHostError, match=r"non-public address 127\.0\.0\.1"),
    ):
        f.get("http://mixed.test/x")
    assert loopback_only == []  # refused before any connect


def test_redirect_to_metadata_is_refused_even_with_loopback_allowed(
    httpserver: HTTPServer, settings: Settings, loopback_only: list[str]
) -> None:
    httpserver.expect_request("/hop").respond_with_data(
        "", status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}
    )
    allowed = settings.model_copy(
        update={"allow_private_hosts": parse_networks("true"), "respect_robots": False}
    )
    with Fetcher(allowed) as f, pytest.raises(BlockedHostError, match="metadata"):
        f.get(httpserver.url_for("/hop"))
    assert loopback_only == ["127.0.0.1"] or set(loopback_only) <= {"127.0.0.1", "::1"}


@pytest.fixture
def tls_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """An HTTPS server on 127.0.0.1 with a certificate for ``pinned.test`` only, which
    the client trusts (SSL_CERT_FILE). Yields its port."""
    need(shutil.which("openssl") is not None, "openssl not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=pinned.test"),
            *("-addext", "subjectAltName=DNS:pinned.test"),
        ],
        check=True,
        capture_output=True,
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"hello {self.headers['Host']}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_tls_verifies_the_host_name_on_the_pinned_address(
    tls_site: int, settings: Settings, loopback_only: list[str]
) -> None:
    loopback = settings.model_copy(
        update={"allow_private_hosts": parse_networks("127.0.0.0/8"), "respect_robots": False}
    )
    with Fetcher(loopback, resolver=lambda host, port: ["127.0.0.1"]) as f:
        # SNI and verification use the name, the socket the pinned address.
        page = f.get(f"https://pinned.test:{tls_site}/")
        assert page.content == f"hello pinned.test:{tls_site}".encode()
        # The same server by address: its certificate does not name 127.0.0.1.
        with pytest.raises(NetworkError, match="CERTIFICATE_VERIFY_FAILED"):
            f.get(f"https://127.0.0.1:{tls_site}/")
    assert set(loopback_only) == {"127.0.0.1"}


# The address policy ---------------------------------------------------------------

LOOPBACK_FORMS = [
    "http://127.0.0.1/",
    "http://127.1/",
    "http://127.0.1/",
    "http://2130706433/",  # decimal
    "http://0x7f000001/",  # hex
    "http://017700000001/",  # octal
    "http://0x7f.0.0.1/",
    "http://0x7f.1/",
    "http://localhost/",
    "http://LocalHost/",
    "http://[::1]/",
    "http://[0:0:0:0:0:0:0:1]/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped
    "http://[::ffff:7f00:1]/",
    "http://[2002:7f00:1::]/",  # 6to4 around 127.0.0.1
    "http://user:pass@127.0.0.1:8080/",
]
NEVER_FORMS = [
    "http://0.0.0.0/",
    "http://0/",
    "http://[::]/",
    "http://169.254.169.254/",  # link-local metadata
    "http://[::ffff:169.254.169.254]/",
    "http://[fe80::1]/",
    "http://100.100.100.200/",  # Alibaba metadata, shared address space
    "http://[fd00:ec2::254]/",  # AWS metadata over IPv6, inside the ULA range
    "http://224.0.0.1/",
    "http://255.255.255.255/",
    "http://100.64.0.1/",
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 around 169.254.169.254
]
UNPARSEABLE_FORMS = ["http://127.000.000.001/", "http://0177.0.0.1/", "http://256.0.0.1/"]
PRIVATE_FORMS = [
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://[fc00::1]/",
    "http://[64:ff9b::a00:1]/",  # NAT64 around 10.0.0.1
]


@pytest.mark.parametrize("url", LOOPBACK_FORMS + NEVER_FORMS + PRIVATE_FORMS + UNPARSEABLE_FORMS)
def test_every_form_of_a_private_address_is_refused_by_default(url: str) -> None:
    with pytest.raises((BlockedHostError, InputError)):
        check_host_allowed(url, allow_private=False)


@pytest.mark.parametrize("url", LOOPBACK_FORMS + PRIVATE_FORMS)
def test_true_allows_loopback_and_private_networks(url: str) -> None:
    check_host_allowed(url, allow_private=True)


@pytest.mark.parametrize("url", NEVER_FORMS)
def test_true_never_allows_link_local_metadata_or_unspecified(url: str) -> None:
    with pytest.raises(BlockedHostError, match="non-public"):
        check_host_allowed(url, allow_private=True)


def test_an_allowlist_allows_only_its_networks() -> None:
    check_host_allowed("http://127.0.0.1/", allow_private="127.0.0.0/8,::1/128")
    check_host_allowed("http://[::1]/", allow_private="127.0.0.0/8,::1/128")
    with pytest.raises(BlockedHostError, match=r"10\.0\.0\.1"):
        check_host_allowed("http://10.0.0.1/", allow_private="127.0.0.0/8,::1/128")
    with pytest.raises(BlockedHostError, match="metadata"):
        check_host_allowed("http://169.254.169.254/", allow_private="169.254.0.0/16")


def test_public_addresses_pass_without_any_allowlist() -> None:
    check_host_allowed(f"http://{PUBLIC}/", allow_private=False)
    check_host_allowed("http://[2606:4700::1111]/", allow_private=False)


@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.text(),
        st.builds(lambda h, p: f"http://{h}/{p}", st.text(), st.text()),
        st.builds(lambda s, h: f"{s}://{h}", st.sampled_from(["http", "https", "ftp"]), st.text()),
    )
)
def test_check_host_allowed_only_raises_its_own_errors(url: str) -> None:
    # Every name resolves to a private address, so nothing ever passes but public literals.
    with contextlib.suppress(BlockedHostError, InputError):
        check_host_allowed(url, allow_private=False, resolver=lambda host, port: ["10.1.1.1"])


@hsettings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    st.one_of(
        st.text(),
        st.builds(lambda h, p: f"http://{h}/{p}", st.text(), st.text()),
        st.builds(
            lambda h, port: f"https://{h}:{port}/",
            st.from_regex(r"[a-z0-9.\-\[\]:%]{0,20}", fullmatch=True),
            st.integers(-5, 70000),
        ),
    )
)
def test_fetcher_raises_only_newswire_errors_on_any_url(
    loopback_only: list[str], settings: Settings, url: str
) -> None:
    # Names resolve to a private address, so only public literals get as far as a
    # connect, which the test network refuses.
    closed = settings.model_copy(update={"allow_private_hosts": (), "respect_robots": False})
    with (
        Fetcher(closed, resolver=lambda host, port: ["10.1.1.1"]) as f,
        contextlib.suppress(NewswireError),
    ):
        f.get(url)
    assert all(not ipaddress.ip_address(a).is_private for a in loopback_only)


# The setting ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ("127.0.0.0/8,::1/128", ("127.0.0.0/8", "::1/128")),
        (" 10.0.0.0/8 , ", ("10.0.0.0/8",)),
        ("true", tuple(str(n) for n in PRIVATE_NETWORKS)),
        ("TRUE", tuple(str(n) for n in PRIVATE_NETWORKS)),
        ("false", ()),
        ("", ()),
    ],
)
def test_allow_private_hosts_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, env: str, expected: tuple[str, ...]
) -> None:
    monkeypatch.setenv("NEWSWIRE_ALLOW_PRIVATE_HOSTS", env)
    assert tuple(str(n) for n in Settings().allow_private_hosts) == expected


def test_true_means_no_link_local() -> None:
    link_local = ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10")
    assert not any(
        n.overlaps(ll) for n in PRIVATE_NETWORKS for ll in link_local if n.version == ll.version
    )


def test_a_bad_network_fails_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSWIRE_ALLOW_PRIVATE_HOSTS", "127.0.0.0/8,loopback")
    with pytest.raises(ValueError, match="loopback"):
        Settings()


# The body decoder ----------------------------------------------------------------


def _encode(data: bytes, codings: Sequence[str]) -> bytes:
    for coding in codings:
        data = zlib.compress(data, wbits=31 if coding == "gzip" else 15)
    return data


def _chunks(data: bytes, sizes: Sequence[int]) -> list[bytes]:
    out, at = [], 0
    for size in sizes:
        out.append(data[at : at + size])
        at += size
    out.append(data[at:])
    return [c for c in out if c]


@hsettings(max_examples=150, deadline=None)
@given(
    data=st.one_of(st.binary(max_size=3000), st.integers(0, 300_000).map(bytes)),
    codings=st.lists(st.sampled_from(["gzip", "deflate"]), max_size=2),
    sizes=st.lists(st.integers(1, 5000), max_size=20),
    cap=st.integers(1025, 200_000),  # max_body_bytes is more than 1024
)
def test_decoder_returns_the_body_or_stops_at_the_cap(
    data: bytes, codings: list[str], sizes: list[int], cap: int
) -> None:
    wire = _encode(data, codings)
    if codings:  # however much a chunk inflates, it comes out in bounded pieces
        assert all(len(p) <= PIECE for p in iter_decoded(_chunks(wire, sizes), codings))
    if len(data) <= cap:
        assert read_body(_chunks(wire, sizes), codings, cap, url="u") == data
    else:
        with pytest.raises(BodyTooLargeError):
            read_body(_chunks(wire, sizes), codings, cap, url="u")


def test_nested_bomb_inflates_no_more_than_the_cap() -> None:
    bomb = _encode(bytes(50_000_000), ["gzip", "gzip"])  # 50 MB behind a few KB
    pulled = []

    def wire() -> Any:
        for chunk in _chunks(bomb, [64] * (len(bomb) // 64)):
            pulled.append(len(chunk))
            yield chunk

    with pytest.raises(BodyTooLargeError, match="once decoded"):
        read_body(wire(), ["gzip", "gzip"], 100_000, url="u")
    assert sum(pulled) < len(bomb)  # stopped before the wire ran out


def test_multi_member_gzip_and_trailing_padding() -> None:
    body = zlib.compress(b"one ", wbits=31) + zlib.compress(b"two", wbits=31) + b"\0\0"
    assert read_body([body], ["gzip"], 1000, url="u") == b"one two"


@pytest.mark.parametrize("garbage", [b"\xff\xff\xff", os.urandom(64)])
def test_corrupt_deflate_is_a_bad_response(garbage: bytes) -> None:
    with pytest.raises(BadResponseError):
        read_body([b"\x78\x9c" + garbage], ["deflate"], 1000, url="u")
