"""Real services for the benchmarks and the distributed tests, started natively:
Debian's redis-server, the Celery processes docker-compose.yml runs (the very commands,
read from the file), and a private OpenSearch node that may be stopped and started
again. Tests import this module; it imports nothing from ``tests``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.25) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def proc_peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a live process; 0 if it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    hwm = next((line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")), "0")
    return round(int(hwm) / 1024, 1)


def proc_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a live process so far; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class RedisServer:
    """redis-server on a free port with AOF on (fsync always: a restart loses nothing)."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ],
            stdout=(self.dir / "redis.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        wait_until(self._ping, 10, f"redis-server on port {self.port}", every=0.05)

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)  # a clean shutdown flushes the AOF
            self.proc.wait(timeout=30)
            self.proc = None

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()


def compose_command(service: str) -> list[str]:
    """The command docker-compose.yml gives ``service``, with the executable from this venv."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    command = list(compose["services"][service]["command"])
    return [str(BIN / command[0]), *command[1:]]


class Service:
    """One compose service's command run as a process group (so kill -9 takes its children)."""

    def __init__(self, name: str, env: Mapping[str, str], log_dir: Path, suffix: str = "") -> None:
        self.name = name + suffix
        self.log = log_dir / f"{self.name}.log"
        command = compose_command(name)
        if "-n" in command:  # a unique node name, so two copies can run side by side
            i = command.index("-n") + 1
            command[i] = command[i].replace("%h", f"{self.name}-{os.getpid()}")
        if name == "beat":
            i = command.index("--schedule") + 1
            command[i] = str(log_dir / "celerybeat-schedule")
        self.proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL to the whole group: the worker and its pool processes die mid-task."""
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def _group(self) -> list[int]:
        """The live processes of the group, main first."""
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                if int(stat.read_text().rsplit(")", 1)[1].split()[2]) == self.proc.pid:
                    pids.append(int(stat.parent.name))
            except (OSError, IndexError, ValueError):
                continue
        return sorted(pids, key=lambda pid: pid != self.proc.pid)

    def peak_rss_mb(self) -> list[float]:
        """Peak resident memory (VmHWM) of each live process of the group, main first."""
        return [proc_peak_rss_mb(pid) for pid in self._group()]

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the live processes of the group."""
        return round(sum(proc_cpu_seconds(pid) for pid in self._group()), 2)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


class OpenSearchNode:
    """A private OpenSearch node (jars built by scripts/opensearch) whose data survives
    a stop and start on the same port."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        cache = Path(os.environ.get("NEWSWIRE_OPENSEARCH_CACHE", ROOT / ".cache" / "opensearch"))
        self.classpath = f"{cache / 'classes'}:{cache / 'lib'}/*"

    def start(self) -> None:
        import httpx

        self.proc = subprocess.Popen(
            [
                "java",
                "-Xms256m",
                "-Xmx512m",
                "-XX:+UseSerialGC",
                "-Dlog4j2.level=WARN",
                "-cp",
                self.classpath,
                "TestNode",
                str(self.home),
                str(self.port),
            ],
            stdout=(self.home.parent / "opensearch.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def healthy() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError("OpenSearch node exited; see opensearch.log")
            try:
                r = httpx.get(f"{self.url}/_cluster/health?wait_for_status=yellow&timeout=1s")
                return r.status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, 180, "the OpenSearch node", every=0.5)

    def stop(self) -> None:
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=60)
            self.proc = None
