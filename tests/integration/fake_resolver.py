"""The ``newswire`` command under a fake resolver and a connect guard, for hostile runs.

    python -m tests.integration.fake_resolver GUARD_LOG [newswire arguments...]

Names the fake resolver answers itself (every other name goes to the system):

- ``rebind.test``: 127.0.0.1 the first time it is asked, 169.254.169.254 (the cloud
  metadata address) every time after: DNS rebinding.
- ``split.test``: 127.0.0.1 and 10.1.2.3 at once: one allowed address beside a refused one.

The connect guard refuses any connection to an address outside 127.0.0.0/8 and ::1
before it is made, and writes the address to GUARD_LOG (one line each): a test that
finds the log empty knows nothing in the run tried to leave the machine, whatever
its resolver answered.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
import threading
from pathlib import Path
from typing import Any

_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect
_asked: dict[str, int] = {}
_lock = threading.Lock()
REBIND_AFTER_FIRST = "169.254.169.254"
FAKE_NAMES = ("rebind.test", "split.test")


def _answer(addresses: list[str], port: Any) -> list[Any]:
    return [
        (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (a, int(port or 0)))
        for a in addresses
    ]


def fake_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
    name = host.decode() if isinstance(host, bytes) else str(host)
    if name == "rebind.test":
        with _lock:
            _asked[name] = _asked.get(name, 0) + 1
            first = _asked[name] == 1
        return _answer(["127.0.0.1" if first else REBIND_AFTER_FIRST], port)
    if name == "split.test":
        return _answer(["127.0.0.1", "10.1.2.3"], port)
    return _real_getaddrinfo(host, port, *args, **kwargs)


def install(guard_log: Path) -> None:
    """Patch this process's resolver and every socket's connect."""

    def guarded_connect(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            addr = ipaddress.ip_address(str(address[0]).split("%")[0])
            if not addr.is_loopback:
                with _lock, guard_log.open("a") as log:
                    log.write(f"{addr} port {address[1]}\n")
                raise ConnectionRefusedError(f"test guard: no connection to {addr}")
        _real_connect(sock, address)

    socket.getaddrinfo = fake_getaddrinfo
    socket.socket.connect = guarded_connect  # type: ignore[method-assign]


if __name__ == "__main__":
    install(Path(sys.argv[1]))
    sys.argv = ["newswire", *sys.argv[2:]]
    from pipeline.cli import main

    main()
