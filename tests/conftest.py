"""Shared fixtures. Tests talk to real servers on 127.0.0.1 (pytest-httpserver, the
demo sites), which they start themselves; nothing leaves the machine."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures"
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


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
