"""Shared fixtures. Tests talk to real servers on 127.0.0.1 (pytest-httpserver, the
demo sites), which they start themselves; nothing leaves the machine."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def need(condition: bool, reason: str) -> None:
    """Skip when a service is missing; in CI (CI=true) a missing service is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def opensearch_url() -> Iterator[str]:
    """A real OpenSearch node: NEWSWIRE_TEST_OPENSEARCH_URL, else one started with
    `scripts/opensearch start` for the session (and stopped after it)."""
    given = os.environ.get("NEWSWIRE_TEST_OPENSEARCH_URL")
    if given:
        yield given
        return
    script = ROOT / "scripts" / "opensearch"
    already = subprocess.run([script, "url"], capture_output=True, text=True).stdout.strip()
    started = subprocess.run([script, "start"], capture_output=True, text=True, timeout=900)
    need(started.returncode == 0, f"could not start OpenSearch: {started.stderr.strip()[-500:]}")
    yield started.stdout.strip().splitlines()[-1]
    if not already:
        subprocess.run([script, "stop"], capture_output=True, timeout=120)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for tests: a fresh database, loopback allowed, no politeness delay."""
    return Settings(
        db=tmp_path / "newswire.db",
        allow_private_hosts=True,
        per_host_delay=0.0,
        http_timeout=3.0,
        claims_file=tmp_path / "no-claims.yaml",
        feeds_file=tmp_path / "no-feeds.yaml",
        min_body_chars=200,
        max_attempts=2,
    )


@pytest.fixture(scope="session")
def nlp():  # type: ignore[no-untyped-def]
    from pipeline.nlp import load_model

    return load_model()


@pytest.fixture
def shared_data() -> Iterator[Path]:
    """The public corpora beside the checkout. They are data, not a service: tests
    that read them run whenever they are there (they are in CI) and skip otherwise."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared corpora not found at {SHARED_DATA}")
    yield SHARED_DATA


def newswire(*args: str, db: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the `newswire` command in a subprocess against ``db`` (loopback allowed)."""
    full_env = {
        **os.environ,
        "NEWSWIRE_DB": str(db),
        "NEWSWIRE_CLAIMS_FILE": str(db.parent / "none.yaml"),
        "NEWSWIRE_ALLOW_PRIVATE_HOSTS": "true",
        "NEWSWIRE_PER_HOST_DELAY": "0",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=600,
        cwd=db.parent,
    )


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Debian's redis-server on a free port for the session (tests empty it as they need)."""
    need(
        shutil.which("redis-server") is not None,
        "redis-server not installed (apt-get install redis-server)",
    )
    from bench.services import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()
