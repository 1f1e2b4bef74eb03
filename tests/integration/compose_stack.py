"""A compose project of the README's stack, driven as a deployer would (tests/integration/
test_deploy.py): the README's commands, the API through its published port, and
``docker`` for what a deployer does by hand (kill, restart, inspect, logs)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from tests.conftest import ROOT


def readme_command(fragment: str) -> list[str]:
    """The README's command line (Distributed mode) that contains ``fragment``, as argv."""
    section = (ROOT / "README.md").read_text().split("## Distributed mode", 1)[1]
    for line in section.splitlines():
        command = line.split("#", 1)[0].strip()
        if command.startswith("docker compose ") and fragment in command:
            return command.split()
    raise AssertionError(f"the README runs no `docker compose ... {fragment}`")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until(check: Callable[[], bool], timeout: float, what: str, every: float = 1.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    raise AssertionError(f"not within {timeout:.0f}s: {what}")


class Stack:
    """One compose project of the README's stack, reached through its published API port."""

    def __init__(self) -> None:
        compose_v2 = subprocess.run(["docker", "compose", "version"], capture_output=True)
        self.compose = ["docker", "compose"] if compose_v2.returncode == 0 else ["docker-compose"]
        self.project = f"newswire-deploy-{os.getpid()}"
        self.api = f"http://127.0.0.1:{free_port()}"
        version = subprocess.run([*self.compose, "version", "--short"], capture_output=True)
        self.report: dict[str, Any] = {"compose": version.stdout.decode().strip()}
        self.env = {
            **os.environ,
            "COMPOSE_PROJECT_NAME": self.project,
            "COMPOSE_FILE": "docker-compose.yml:docker-compose.opensearch.yml",
            "COMPOSE_PROFILES": "demo",
            "NEWSWIRE_API_PORT": self.api.rsplit(":", 1)[1],
            "NEWSWIRE_SEARCH_PORT": str(free_port()),
            # Only the demo sites are polled: no traffic leaves the machine.
            "NEWSWIRE_FEEDS_FILE": "config/demo-feeds.yaml",
            # A test's pace: quick ticks and retries; a killed worker's unacknowledged
            # tasks go back to the queue after 30 s instead of two hours.
            "NEWSWIRE_PER_HOST_DELAY": "0",
            "NEWSWIRE_BEAT_INTERVAL": "2",
            "NEWSWIRE_RETRY_BACKOFF_BASE": "1",
            "NEWSWIRE_RETRY_BACKOFF_CAP": "5",
            "NEWSWIRE_BROKER_VISIBILITY_TIMEOUT": "30",
        }

    def run(self, argv: list[str], timeout: float = 600) -> str:
        """A README command (``docker compose ...``) with this machine's compose."""
        if argv[:2] == ["docker", "compose"]:
            argv = self.compose + argv[2:]
        done = subprocess.run(
            argv, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        assert done.returncode == 0, f"{' '.join(argv)}: {done.stderr[-3000:]}"
        return done.stdout

    def containers(self, service: str) -> list[str]:
        return self.run(["docker", "compose", "ps", "-q", service]).split()

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.api + path, timeout=10) as answer:
            return json.loads(answer.read())

    def healthy(self) -> bool:
        try:
            return bool(self.get("/health")["status"] == "ok")
        except OSError:
            return False

    def stories(self) -> list[str]:
        try:
            hits = self.get("/api/search?limit=100&collapse=false")["hits"]
        except OSError:
            return []
        return [h["id"] for h in hits]

    def entries(self) -> dict[str, int]:
        """Entries by outcome over every feed (done, pending, failed, dead)."""
        out: dict[str, int] = {}
        for feed in self.get("/api/feeds"):
            for outcome, n in feed["entries"].items():
                out[outcome] = out.get(outcome, 0) + n
        return out

    def analysed_by(self, container: str) -> int:
        logs = docker("logs", container, stderr=True)
        return len(re.findall(r"newswire\.analyze_article\[[^\]]+\] succeeded", logs))

    def health(self, container: str) -> str:
        """healthy, starting or unhealthy; or the state of a container without a check."""
        status = "{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}"
        return docker("inspect", "-f", status, container).strip()

    def redis_cli(self, *args: str) -> str:
        return docker("exec", self.containers("redis")[0], "redis-cli", *args).strip()

    def redis_sh(self, script: str, timeout: float = 120) -> str:
        """A shell script run inside the Redis container (redis-cli at hand, no round
        trips through compose while it runs)."""
        return docker("exec", self.containers("redis")[0], "sh", "-c", script, timeout=timeout)

    def leftovers(self) -> list[str]:
        label = f"label=com.docker.compose.project={self.project}"
        return [
            *docker("ps", "-aq", "--filter", label).split(),
            *docker("network", "ls", "-q", "--filter", label).split(),
        ]

    def down(self) -> None:
        """Stop, then remove containers, networks and volumes, two operations at a time:
        Debian's dockerd 20.10 once deadlocked (libnetwork) under a parallel removal on a
        loaded machine."""
        env = {**self.env, "COMPOSE_PARALLEL_LIMIT": "2"}
        for args in (["stop", "--timeout", "10"], ["down", "--volumes", "--remove-orphans"]):
            subprocess.run(
                [*self.compose, *args], cwd=ROOT, env=env, capture_output=True, timeout=300
            )


def docker(*args: str, stderr: bool = False, timeout: float = 120) -> str:
    """A docker command's output (stdout, or stderr too); a hung engine fails the test
    (TimeoutExpired) instead of hanging it."""
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    return done.stdout + (done.stderr if stderr else "")
