"""Fixtures shared by the API, schema and browser tests: one demo corpus and one real
`newswire serve` for the session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.api_server import API_KEY, ApiServer, ingest_demo


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ingest_demo(tmp_path_factory.mktemp("api-demo"))


@pytest.fixture(scope="session")
def api(demo_db: Path) -> Iterator[ApiServer]:
    """The API over the demo corpus; state changes need API_KEY."""
    server = ApiServer(demo_db, demo_db.parent / "api.log", NEWSWIRE_API_KEY=API_KEY)
    yield server
    server.stop()
