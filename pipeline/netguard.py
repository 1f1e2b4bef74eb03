"""Where the HTTP client may connect, and for how long.

Two guards live below the HTTP layer, in the one place every connection passes
through (an httpcore network backend):

* **Address policy.** A host name is resolved once; every address it resolves to
  is checked against the policy (public addresses pass, other networks only when
  allow-listed, cloud metadata endpoints never); the socket then connects to one of
  those checked addresses. No second lookup happens, so a name that answers a
  public address to the check and a private one to the connect (DNS rebinding)
  cannot slip through. TLS still verifies the host name: httpcore passes it as the
  server name when it upgrades the stream.
* **Request budget.** One budget of seconds per request covers the lookup, the
  connect, the TLS handshake, sending, the response headers and the body of every
  redirect hop. Each socket operation's timeout is the smaller of its own timeout
  and what is left of the budget, so a server that drips one byte at a time is cut
  off when the budget runs out rather than when a single read stalls.
"""

from __future__ import annotations

import contextvars
import ipaddress
import queue
import select
import socket
import ssl
import threading
import time
import typing
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import httpcore

from pipeline.errors import BlockedHostError, InputError, NetworkError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]
"""``(host, port) -> addresses``: the lookup the guard checks and the socket uses."""

# What `allow_private_hosts = true` means: loopback, RFC 1918 and unique-local IPv6.
# Link-local (169.254.0.0/16, fe80::/10) is left out on purpose: cloud metadata lives there.
PRIVATE_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(n)
    for n in ("127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)
# Instance metadata services (AWS, GCP, Azure, ECS, Alibaba, AWS over IPv6): refused
# even when their network is allow-listed, since they hand out credentials.
_METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0", ""}


def parse_networks(value: object) -> tuple[IPNetwork, ...]:
    """Networks from a setting: ``True``/"true" (loopback, RFC 1918, ULA), ``False``,
    "false" or "" (none), a comma-separated string of CIDRs, or an iterable of CIDRs or
    networks. Raises ``ValueError`` for anything else (pydantic reports it at start-up).
    """
    if isinstance(value, bool):
        return PRIVATE_NETWORKS if value else ()
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return PRIVATE_NETWORKS
        if word in _FALSE:
            return ()
        value = value.split(",")
    if not isinstance(value, Iterable):
        raise ValueError(f"not a list of networks: {value!r}")
    networks: list[IPNetwork] = []
    for item in value:
        if isinstance(item, ipaddress.IPv4Network | ipaddress.IPv6Network):
            networks.append(item)
        elif isinstance(item, str) and item.strip():
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        elif not (isinstance(item, str) and not item.strip()):
            raise ValueError(f"not a network: {item!r}")
    return tuple(networks)


def _embedded_ipv4(addr: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address carried inside an IPv6 one (mapped, 6to4, Teredo, NAT64)."""
    if isinstance(addr, ipaddress.IPv4Address):
        return None
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr.teredo is not None:
        return addr.teredo[1]
    if addr in _NAT64:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return None


def address_refusal(addr: IPAddress, allowed: Sequence[IPNetwork]) -> str | None:
    """Why ``addr`` may not be connected to, or None when it may.

    Public unicast addresses pass; any other address passes only inside an allowed
    network; metadata endpoints never pass. An IPv6 address that carries an IPv4 one
    must pass for both.
    """
    plain = ipaddress.ip_address(str(addr).split("%", 1)[0])  # drop an IPv6 zone
    if plain in _METADATA:
        return f"non-public address {plain} (a cloud metadata endpoint)"
    inner = _embedded_ipv4(plain)
    if inner is not None:
        reason = address_refusal(inner, allowed)
        if reason:
            return f"{plain} carries {inner}: {reason}"
        if isinstance(plain, ipaddress.IPv6Address) and plain.ipv4_mapped is not None:
            return None  # the socket goes to the IPv4 address itself
    if any(plain.version == net.version and plain in net for net in allowed):
        return None
    if plain.is_global and not plain.is_multicast:
        return None
    return f"non-public address {plain} (allow its network in NEWSWIRE_ALLOW_PRIVATE_HOSTS)"


def parse_address(host: str) -> IPAddress | None:
    """``host`` as an IP address when it is a literal one (brackets allowed), else None."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's lookup: every address ``host`` has, in its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def resolve_checked(
    host: str,
    port: int,
    allowed: Sequence[IPNetwork],
    resolver: Resolver | None = None,
    timeout: float | None = None,
    *,
    url: str | None = None,
) -> list[IPAddress]:
    """Resolve ``host`` once and check every address it has.

    Returns the addresses, all allowed. Raises ``BlockedHostError`` when any of them
    is refused, ``NetworkError`` when the lookup fails or outlasts ``timeout`` seconds,
    ``InputError`` when the name cannot even be looked up (bad IDNA, too long).
    """
    literal = parse_address(host)
    if literal is not None:
        found: Sequence[str] = [str(literal)]
    else:
        found = _lookup(host, port, resolver or system_resolver, timeout, url)
    addresses: list[IPAddress] = []
    for text in found:
        try:
            addr = ipaddress.ip_address(text)
        except ValueError as exc:
            raise NetworkError(f"{host} resolves to a non-address {text!r}", url=url) from exc
        reason = address_refusal(addr, allowed)
        if reason:
            raise BlockedHostError(f"{host} resolves to {reason}", url=url)
        addresses.append(addr)
    if not addresses:
        raise NetworkError(f"cannot resolve {host}: no address", url=url)
    return addresses


def _lookup(
    host: str, port: int, resolver: Resolver, timeout: float | None, url: str | None
) -> Sequence[str]:
    # getaddrinfo has no timeout of its own: it runs in a daemon thread that we stop
    # waiting for when the budget runs out (the thread ends when the OS gives up).
    answer: queue.SimpleQueue[Sequence[str] | BaseException] = queue.SimpleQueue()

    def run() -> None:
        try:
            answer.put(resolver(host, port))
        except BaseException as exc:  # handed to the caller's thread
            answer.put(exc)

    threading.Thread(target=run, name=f"resolve {host}", daemon=True).start()
    try:
        result = answer.get(timeout=timeout)
    except queue.Empty:
        raise NetworkError(f"timed out resolving {host} after {timeout:.1f}s", url=url) from None
    if isinstance(result, UnicodeError):
        raise InputError(f"host name {host!r} cannot be looked up: {result}", url=url)
    if isinstance(result, socket.gaierror):
        raise NetworkError(f"cannot resolve {host}: {result.strerror}", url=url) from result
    if isinstance(result, OSError):
        raise NetworkError(f"cannot resolve {host}: {result}", url=url) from result
    if isinstance(result, BaseException):
        raise result
    return result


# The request budget --------------------------------------------------------------


@dataclass
class Budget:
    """Seconds of network time left for one request and what it is doing now.

    The clock runs only inside ``running()`` (while a request holds its host slot), so
    waiting for politeness does not eat the budget.
    """

    total: float
    remaining: float
    phase: str = "starting"
    deadline: float | None = None

    @contextmanager
    def running(self, url: str) -> Iterator[None]:
        """Run the clock; raise ``NetworkError`` if nothing is left to start with."""
        if self.remaining <= 0:
            raise NetworkError(self.exhausted(), url=url)
        self.deadline = time.monotonic() + self.remaining
        try:
            yield
        finally:
            self.remaining = self.deadline - time.monotonic()
            self.deadline = None

    def timeout(self, own: float | None) -> float | None:
        """The timeout for the next socket operation: ``own`` cut to what is left."""
        if self.deadline is None:
            return own
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise NetworkError(self.exhausted())
        return left if own is None else min(own, left)

    @property
    def spent(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def exhausted(self) -> str:
        return f"timed out: the request's {self.total:g}s budget ran out while {self.phase}"


CURRENT_BUDGET: contextvars.ContextVar[Budget | None] = contextvars.ContextVar(
    "newswire_request_budget", default=None
)


def _budget_timeout(own: float | None) -> float | None:
    budget = CURRENT_BUDGET.get()
    return own if budget is None else budget.timeout(own)


def _set_phase(phase: str) -> None:
    budget = CURRENT_BUDGET.get()
    if budget is not None:
        budget.phase = phase


def _timed_out(exc: Exception) -> Exception:
    """A socket timeout as httpcore's, or as the budget's end when that was the cause."""
    budget = CURRENT_BUDGET.get()
    if budget is not None and budget.spent:
        return NetworkError(budget.exhausted())
    return exc


class GuardedStream(httpcore.NetworkStream):
    """A socket whose every operation is bounded by the current request's budget."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            self._sock.settimeout(_budget_timeout(timeout))
            return self._sock.recv(max_bytes)
        except TimeoutError as exc:
            raise _timed_out(httpcore.ReadTimeout(str(exc) or "read timed out")) from exc
        except OSError as exc:
            raise httpcore.ReadError(str(exc)) from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        try:
            while buffer:
                self._sock.settimeout(_budget_timeout(timeout))
                sent = self._sock.send(buffer)
                buffer = buffer[sent:]
        except TimeoutError as exc:
            raise _timed_out(httpcore.WriteTimeout(str(exc) or "write timed out")) from exc
        except OSError as exc:
            raise httpcore.WriteError(str(exc)) from exc

    def close(self) -> None:
        self._sock.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        # The handshake verifies server_hostname (the URL's host), not the address we
        # pinned; CPython bounds the whole handshake by the socket timeout.
        _set_phase(f"in the TLS handshake with {server_hostname}")
        try:
            self._sock.settimeout(_budget_timeout(timeout))
            tls = ssl_context.wrap_socket(self._sock, server_hostname=server_hostname)
        except TimeoutError as exc:
            self._sock.close()
            raise _timed_out(httpcore.ConnectTimeout("TLS handshake timed out")) from exc
        except (OSError, ValueError) as exc:  # SSLError is an OSError; a bad SNI a ValueError
            self._sock.close()
            raise httpcore.ConnectError(f"TLS handshake failed: {exc}") from exc
        _set_phase("waiting for the response headers")
        return GuardedStream(tls)

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "ssl_object" and isinstance(self._sock, ssl.SSLSocket):
            return self._sock._sslobj  # type: ignore[attr-defined]  # what httpcore reads
        if info == "client_addr":
            return self._sock.getsockname()
        if info == "server_addr":
            return self._sock.getpeername()
        if info == "socket":
            return self._sock
        if info == "is_readable":
            return _is_readable(self._sock)
        return None


def _is_readable(sock: socket.socket) -> bool:
    # httpcore asks this of an idle pooled connection: readable means the server
    # closed it (or sent junk), so it must not be reused.
    if sock.fileno() < 0:
        return True
    poller = select.poll()  # not select(): file descriptors above 1023 are common in workers
    poller.register(sock.fileno(), select.POLLIN)
    return bool(poller.poll(0))


class PinnedBackend(httpcore.NetworkBackend):
    """httpcore's network backend with the address policy and the request budget.

    ``allowed`` is called at each connect so that a changed setting takes effect.
    """

    def __init__(
        self, allowed: Callable[[], Sequence[IPNetwork]], resolver: Resolver | None = None
    ) -> None:
        self._allowed = allowed
        self._resolver = resolver

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        _set_phase(f"resolving {host}")
        addresses = resolve_checked(
            host, port, self._allowed(), self._resolver, _budget_timeout(timeout)
        )
        failures: list[str] = []
        timed_out: TimeoutError | None = None
        for addr in addresses:
            _set_phase(f"connecting to {addr} port {port}")
            family = socket.AF_INET6 if addr.version == 6 else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                for option in socket_options or ():
                    sock.setsockopt(*option)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if local_address:
                    sock.bind((local_address, 0))
                sock.settimeout(_budget_timeout(timeout))
                sock.connect((str(addr), port))
            except TimeoutError as exc:  # try the next address while the budget lasts
                sock.close()
                failures.append(f"{addr}: timed out")
                timed_out = exc
                continue
            except OSError as exc:
                sock.close()
                failures.append(f"{addr}: {exc.strerror or exc}")
                continue
            _set_phase("waiting for the response headers")
            return GuardedStream(sock)
        reason = f"cannot connect to {host} ({'; '.join(failures)})"
        if timed_out is not None:
            raise _timed_out(httpcore.ConnectTimeout(reason)) from timed_out
        raise httpcore.ConnectError(reason)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not fetched")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
