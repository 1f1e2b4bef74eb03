"""A real `newswire serve` (uvicorn) on 127.0.0.1 over the demo corpus, for the API,
schemathesis and browser tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from bench.services import free_port, wait_until
from pipeline.demo.server import DemoServer
from pipeline.runner import Runner
from pipeline.settings import Settings
from tests.conftest import ROOT

API_KEY = "test-key-4d1f"


def ingest_demo(tmp: Path) -> Path:
    """The demo corpus in a fresh SQLite file (state and index), via the embedded runner."""
    db = tmp / "demo.db"
    settings = Settings(
        db=db, per_host_delay=0.0, claims_file=tmp / "none.yaml", feeds_file=tmp / "none.yaml"
    )
    with DemoServer() as server:
        runner = Runner(settings, fetcher=server.fetcher(settings))
        server.add_feeds(runner.store)
        runner.run_once()
        runner.close()
    return db


class ApiServer:
    """`python -m pipeline serve` as a subprocess; ``url`` once /health answers."""

    def __init__(self, db: Path, log: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env={
                **os.environ,
                "NEWSWIRE_CONFIG": str(db.parent / "no-config.yaml"),
                "NEWSWIRE_DB": str(db),
                "NEWSWIRE_BACKEND": "sqlite",
                "NEWSWIRE_STORE": "sqlite",
                **env,
            },
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )

        def up() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"newswire serve exited: {log.read_text()[-2000:]}")
            try:
                return httpx.get(f"{self.url}/health", timeout=2).status_code in (200, 503)
            except httpx.HTTPError:
                return False

        wait_until(up, 60, "newswire serve")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
