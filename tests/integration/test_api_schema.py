"""schemathesis against the OpenAPI document of the live server: generated requests
(valid and invalid) never get a 5xx, and every response matches the documented schema;
then a stateful run follows the document's links (add a feed, read it, remove it) with
the API key, under the same checks.

The schema is built in-process to parametrize the tests at collection time; the first
test checks it is exactly what the live server serves, and every call goes to that
server over HTTP."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.core.transport import Response

from pipeline.api import create_app
from pipeline.settings import Settings
from tests.integration.api_server import API_KEY, ApiServer

pytestmark = pytest.mark.integration

OPENAPI = create_app(Settings()).openapi()
schema = schemathesis.openapi.from_dict(OPENAPI)
# Cases per operation (12 operations; was 40): with the stateful run, the file takes about
# a minute (61 s on a 2-core machine shared with other jobs).
EXAMPLES = 400
CHECKS = [not_a_server_error, response_schema_conformance]


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
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_schema_conformance(case: schemathesis.Case, api: ApiServer) -> None:
    # With the key, so generated state changes get past authentication and are exercised.
    case.call_and_validate(
        base_url=api.url,
        headers={"X-API-Key": API_KEY},
        checks=CHECKS,
        timeout=30,
    )


def test_stateful_runs_follow_the_links(api: ApiServer) -> None:
    """Sequences of calls chained by the OpenAPI links (POST /api/feeds gives the id
    that GET and DELETE /api/feeds/{feed_id} take): no 5xx, every answer as documented,
    and the chains really happen (a feed added, then read and removed by its id)."""
    seen: Counter[tuple[str, str, int]] = Counter()

    key = {"X-API-Key": API_KEY}
    feeds = schema.include(path_regex="^/api/feeds")

    class Links(feeds.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            # Every scenario starts with no feeds: a replayed scenario must see the
            # answers it saw the first time, or hypothesis reports flaky data.
            for feed in httpx.get(f"{api.url}/api/feeds", timeout=30).json():
                httpx.delete(f"{api.url}/api/feeds/{feed['feed_id']}", headers=key, timeout=30)

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"base_url": api.url, "headers": key, "timeout": 30}

        def after_call(self, response: Response, case: schemathesis.Case) -> None:
            super().after_call(response, case)
            seen[(case.method.upper(), case.operation.path, response.status_code)] += 1

        def validate_response(
            self, response: Response, case: schemathesis.Case, **kwargs: Any
        ) -> None:
            case.validate_response(response, checks=CHECKS)

    Links.run(
        settings=settings(
            max_examples=150,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    assert seen[("POST", "/api/feeds", 201)] > 0
    assert seen[("GET", "/api/feeds/{feed_id}", 200)] > 0, seen
    assert seen[("DELETE", "/api/feeds/{feed_id}", 204)] > 0, seen
    assert not [call for call in seen if call[2] >= 500]
