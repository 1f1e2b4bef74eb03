"""A real HTTP server on 127.0.0.1 that misbehaves at the byte level, for attack tests.

Each route is a function that gets the connection and writes whatever bytes it likes:
a status line and then nothing, headers one byte at a time, a body that never ends,
a gzip bomb, a redirect to ``javascript:``. Every connection serves one request and
is then closed.

Use it::

    with HostileServer() as server:
        fetcher.get(server.url("/gzip-bomb"))
        server.requests            # [(path, headers)] of what reached the server

Add a route for one test, or for everyone (in this module)::

    server.routes["/mine"] = lambda conn: conn.respond(200, b"hello")

    @route("/feed-with-a-bomb")
    def _feed_bomb(conn: Conn) -> None: ...

A handler gets a ``Conn``: ``conn.path``, ``conn.query``, ``conn.headers`` (lower-case
names), ``conn.send(data)``, ``conn.respond(status, body, headers)`` and
``conn.trickle(data, every)``, which sends one byte per ``every`` seconds and returns
when the client hangs up or the server stops. Unknown paths answer 404.

A fixed answer needs no function: add its bytes to ``RAW_ANSWERS``. ``RawServer``
hands over the socket before any HTTP (attacks on TLS). The bombs are built in
milliseconds whatever their size (``deflate_zeros``).

Feed-level routes (wrong types, script links, 100k items, a canonical claim) and a good
outlet beside them live in ``hostile_feeds.py``; importing it registers its routes.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import socketserver
import struct
import threading
import zlib
from collections.abc import Callable, Iterable

Handler = Callable[["Conn"], None]
ROUTES: dict[str, Handler] = {}
TRICKLE_EVERY = 0.1  # seconds between two bytes of a trickled answer
HUGE_LINE_BYTES = 4_900_000  # just under the default 5 MB body cap
# Redirect targets a client must refuse cleanly, by name: /redirect/<name>.
BAD_LOCATIONS = {
    "port-too-big": "http://127.0.0.1:99999/x",
    "port-not-a-number": "http://127.0.0.1:http/x",
    "port-zero": "http://127.0.0.1:0/x",
    "port-negative": "http://127.0.0.1:-1/x",
    "ipv6-unclosed": "http://[::1/x",
    "ipv4-out-of-range": "http://256.1.1.1/x",
    "ipv4-octal": "http://0177.0.0.1/x",
    "empty-host": "http://:80/x",
    "space-in-host": "http://exa mple.test/x",
    "percent-in-host": "http://%31%32%37.0.0.1/x",
    "empty-label": "http://a..test/x",
    "label-too-long": f"http://{'a' * 64}.test/x",
    "bad-punycode": "http://xn--a.test/x",
    "javascript": "javascript:alert(document.cookie)",
    "data": "data:text/html,<script>alert(1)</script>",
    "file": "file:///etc/passwd",
    "ftp": "ftp://127.0.0.1/x",
    "gopher": "gopher://127.0.0.1:6379/_INFO",
    "metadata": "http://169.254.169.254/latest/meta-data/",
}


def route(path: str) -> Callable[[Handler], Handler]:
    """Register ``handler`` for ``path`` on every server started after this."""

    def register(handler: Handler) -> Handler:
        ROUTES[path] = handler
        return handler

    return register


class Conn:
    """One client connection, its request already read."""

    def __init__(self, sock: socket.socket, head: bytes, stop: threading.Event) -> None:
        self.sock = sock
        self.stop = stop
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        target = parts[1] if len(parts) > 1 else "/"
        self.path, _, self.query = target.partition("?")
        self.headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                self.headers[name.strip().lower()] = value.strip()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def respond(
        self, status: int, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> None:
        """A well-formed answer (unless the headers say otherwise)."""
        fields = {"Content-Length": str(len(body)), "Connection": "close", **(headers or {})}
        head = f"HTTP/1.1 {status} X\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
        self.send(head.encode("latin-1") + b"\r\n" + body)

    def trickle(self, data: Iterable[int], every: float = TRICKLE_EVERY) -> None:
        """Send ``data`` one byte per ``every`` seconds, until it ends, the client
        hangs up or the server stops."""
        for byte in data:
            if self.stop.wait(every):
                return
            try:
                self.send(bytes([byte]))
            except OSError:
                return


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(10)
        head = b""
        try:
            while b"\r\n\r\n" not in head and len(head) < 65536:
                data = sock.recv(4096)
                if not data:
                    return
                head += data
        except OSError:
            return
        conn = Conn(sock, head.split(b"\r\n\r\n", 1)[0], self.server.stop)
        self.server.requests.append((conn.path, conn.headers))
        handler = self.server.routes.get(conn.path, _not_found)
        with contextlib.suppress(OSError):  # the client hung up, as it should under attack
            handler(conn)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, Handler] = dict(ROUTES)
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.stop = threading.Event()


class HostileServer:
    """The server, started on a free port for the life of the ``with`` block."""

    def __init__(self) -> None:
        self._server = _Server()
        self.port: int = self._server.server_address[1]
        self.routes = self._server.routes
        self.requests = self._server.requests
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop.set()  # trickling handlers return and close their sockets
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class RawServer:
    """A TCP server on 127.0.0.1 whose ``handler(sock, stop)`` gets each connection
    before any HTTP is read: for attacks on TLS (``https://127.0.0.1:{port}/``)."""

    def __init__(self, handler: Callable[[socket.socket, threading.Event], None]) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._handler = handler
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        self._listener.settimeout(0.1)  # closing a socket does not wake a blocked accept()
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(None)
            threading.Thread(target=self._handle, args=(sock,), daemon=True).start()

    def _handle(self, sock: socket.socket) -> None:
        with sock, contextlib.suppress(OSError):
            self._handler(sock, self._stop)

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()


def trickled_tls_hello(sock: socket.socket, stop: threading.Event) -> None:
    """Answer a TLS ClientHello with a ServerHello record one byte at a time."""
    sock.recv(4096)
    for byte in b"\x16\x03\x03\x10\x00" + b"\x02" * 4096:
        if stop.wait(TRICKLE_EVERY):
            return
        sock.send(bytes([byte]))


# The payloads -----------------------------------------------------------------------


@functools.cache
def deflate_zeros(mib: int) -> bytes:
    """Raw deflate data for ``mib`` MiB of zero bytes, in milliseconds at any size.

    Once the window is full of zeros every further MiB compresses (with a sync flush)
    to the same bytes, so they are repeated instead of compressed again.
    """
    zeros = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_SYNC_FLUSH)
    steady = compressor.compress(zeros) + compressor.flush(zlib.Z_SYNC_FLUSH)
    again = compressor.compress(zeros) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert steady == again, "the compressor did not reach a steady state"
    return first + steady * (mib - 1) + compressor.flush()


@functools.cache
def gzip_zeros(mib: int) -> bytes:
    """A gzip member of ``mib`` MiB of zeros. Its CRC is left at 0 (computing it would
    cost seconds): a client that reads a bomb to its end has failed already."""
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + deflate_zeros(mib) + struct.pack("<II", 0, (mib << 20) & 0xFFFFFFFF)


@functools.cache
def huge_line_page() -> bytes:
    """An HTML page whose text is one line of about 4.9 MB."""
    words = b"lorem ipsum dolor sit amet consectetur "
    head, tail = b"<html><head><title>One line</title></head><body><p>", b"</p></body></html>"
    count = (HUGE_LINE_BYTES - len(head) - len(tail)) // len(words)
    return head + words * count + tail


def _not_found(conn: Conn) -> None:
    conn.respond(404, b"not here")


def _chunked(pieces: Iterable[bytes]) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


@route("/ok")
def _ok(conn: Conn) -> None:
    conn.respond(200, b"<html><body><p>fine</p></body></html>", {"Content-Type": "text/html"})


@route("/ok-gzip")
def _ok_gzip(conn: Conn) -> None:
    body = zlib.compress(b"<p>fine</p>" * 100, wbits=31)
    conn.respond(200, body, {"Content-Type": "text/html", "Content-Encoding": "gzip"})


@route("/robots.txt")
def _robots(conn: Conn) -> None:
    conn.respond(200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"})


@route("/slow-headers")
def _slow_headers(conn: Conn) -> None:
    conn.send(b"HTTP/1.1 200 OK\r\n")
    conn.trickle(b"X-Drip: " + b"a" * 10_000)


@route("/slow-status")
def _slow_status(conn: Conn) -> None:
    conn.trickle(b"HTTP/1.1 200 OK" + b" " * 10_000)


@route("/slow-body")
def _slow_body(conn: Conn) -> None:
    conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nContent-Type: text/html\r\n\r\n")
    conn.trickle(b"x" * 100_000)


@route("/endless")
def _endless(conn: Conn) -> None:
    conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/html\r\n\r\n")
    piece = b"%x\r\n%s\r\n" % (65536, b"y" * 65536)
    while not conn.stop.is_set():
        conn.send(piece)


@route("/silent")
def _silent(conn: Conn) -> None:
    conn.stop.wait(60)  # accept, read the request, never answer


@route("/gzip-bomb")
def _gzip_bomb(conn: Conn) -> None:
    conn.respond(200, gzip_zeros(1024), {"Content-Encoding": "gzip", "Content-Type": "text/html"})


@route("/gzip-gzip-bomb")
def _gzip_gzip_bomb(conn: Conn) -> None:
    body = zlib.compress(gzip_zeros(4096), 9, wbits=31)  # 4 GiB behind a few KB
    conn.respond(200, body, {"Content-Encoding": "gzip, gzip", "Content-Type": "text/html"})


@route("/deflate-bomb")
def _deflate_bomb(conn: Conn) -> None:
    # zlib-wrapped as HTTP's deflate should be (no Adler-32: nobody should get there)
    body = b"\x78\xda" + deflate_zeros(1024)
    conn.respond(200, body, {"Content-Encoding": "deflate", "Content-Type": "text/html"})


@route("/raw-deflate")
def _raw_deflate(conn: Conn) -> None:
    body = zlib.compress(b"<p>raw</p>" * 50, wbits=-zlib.MAX_WBITS)  # what some servers send
    conn.respond(200, body, {"Content-Encoding": "deflate", "Content-Type": "text/html"})


@route("/unknown-encoding")
def _unknown_encoding(conn: Conn) -> None:
    conn.respond(200, b"\x00\x01garbage", {"Content-Encoding": "x-evil"})


@route("/brotli")
def _brotli(conn: Conn) -> None:
    conn.respond(200, b"\x1b\x03\x00\xf8\xa5", {"Content-Encoding": "br"})  # we never ask for br


@route("/stacked-encodings")
def _stacked(conn: Conn) -> None:
    body = b"<p>deep</p>"
    for _ in range(3):
        body = zlib.compress(body, wbits=31)
    conn.respond(200, body, {"Content-Encoding": "gzip, gzip, gzip"})


@route("/corrupt-gzip")
def _corrupt_gzip(conn: Conn) -> None:
    body = bytearray(zlib.compress(b"<p>text</p>" * 100, wbits=31))
    body[10] = 0xFF  # the first deflate block claims the reserved block type
    conn.respond(200, bytes(body), {"Content-Encoding": "gzip"})


@route("/truncated-gzip")
def _truncated_gzip(conn: Conn) -> None:
    body = zlib.compress(bytes(range(256)) * 100, wbits=31)
    conn.respond(200, body[: len(body) // 2], {"Content-Encoding": "gzip"})


@route("/huge-line")
def _huge_line(conn: Conn) -> None:
    conn.respond(200, huge_line_page(), {"Content-Type": "text/html; charset=utf-8"})


for _name, _location in BAD_LOCATIONS.items():
    ROUTES[f"/redirect/{_name}"] = functools.partial(
        lambda conn, location: conn.send(
            b"HTTP/1.1 302 Found\r\nLocation: "
            + location.encode("latin-1")
            + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
        location=_location,
    )


@route("/redirect-loop")
def _redirect_loop(conn: Conn) -> None:
    conn.respond(302, headers={"Location": "/redirect-loop"})


_OK = b"HTTP/1.1 200 OK\r\n"
# Answers sent as they are, byte for byte, whatever was asked.
RAW_ANSWERS = {
    "/short-body": _OK + b"Content-Length: 1000\r\n\r\nonly ten b",
    "/long-body": _OK + b"Content-Length: 5\r\n\r\nfirst" + b"HTTP/1.1 200 smuggled" * 50,
    "/bad-chunked": _OK + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nnot a chunk\r\n",
    "/chunk-size-overflow": _OK + b"Transfer-Encoding: chunked\r\n\r\n" + b"f" * 40 + b"\r\nx",
    "/bad-header-bytes": _OK + b"X-Evil\x00Name: 1\r\nContent-Length: 2\r\n\r\nhi",
    "/bad-status-line": b"HTTP/1.1 two-hundred OK\r\nContent-Length: 2\r\n\r\nhi",
    "/not-http": b"SSH-2.0-OpenSSH_9.2\r\n",
    "/huge-headers": _OK + b"X-Big: " + b"b" * 200_000 + b"\r\n\r\n",
    "/many-headers": _OK + b"X-A: 1\r\n" * 200_000 + b"Content-Length: 0\r\n\r\n",
    "/two-lengths": _OK + b"Content-Length: 2\r\nContent-Length: 9\r\n\r\nhi",
    # An ETag in Latin-1 bytes: a client that echoes it back must not choke.
    "/non-ascii-etag": _OK + b'ETag: "caf\xe9"\r\nContent-Length: 2\r\n\r\nhi',
    "/retry-after-odd": "HTTP/1.1 503 X\r\nRetry-After: ²\r\nContent-Length: 0\r\n\r\n".encode(),
}
for _path, _answer in RAW_ANSWERS.items():
    ROUTES[_path] = functools.partial(lambda conn, answer: conn.send(answer), answer=_answer)


@route("/close")
def _close(conn: Conn) -> None:
    conn.sock.close()  # read the request, hang up without a word


def robots_with_charset(
    charset: str, rules: str = "User-agent: *\nDisallow: /private/\n"
) -> Handler:
    """A robots.txt route served with ``charset`` in its Content-Type."""

    def handler(conn: Conn) -> None:
        conn.respond(200, rules.encode(), {"Content-Type": f"text/plain; charset={charset}"})

    return handler
