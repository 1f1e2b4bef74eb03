"""schemathesis against the OpenAPI document of the live server: generated requests
(valid and invalid) never get a 5xx, and every response matches the documented schema.

The schema is built in-process to parametrize the tests at collection time; the first
test checks it is exactly what the live server serves, and every call goes to that
server over HTTP."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from pipeline.api import create_app
from pipeline.settings import Settings
from tests.integration.api_server import API_KEY, ApiServer

pytestmark = pytest.mark.integration

OPENAPI = create_app(Settings()).openapi()
schema = schemathesis.openapi.from_dict(OPENAPI)


@pytest.fixture(scope="module")
def api(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """A server of its own: generated requests add and remove feeds."""
    tmp = tmp_path_factory.mktemp("schema")
    shutil.copy(demo_db, tmp / "demo.db")
    server = ApiServer(tmp / "demo.db", tmp / "api.log", NEWSWIRE_API_KEY=API_KEY)
    yield server
    server.stop()


def test_the_schema_is_the_served_one(api: ApiServer) -> None:
    assert httpx.get(f"{api.url}/openapi.json").json() == OPENAPI


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_schema_conformance(case: schemathesis.Case, api: ApiServer) -> None:
    # With the key, so generated state changes get past authentication and are exercised.
    case.call_and_validate(
        base_url=api.url,
        headers={"X-API-Key": API_KEY},
        checks=[not_a_server_error, response_schema_conformance],
        timeout=30,
    )
