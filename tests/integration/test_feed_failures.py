"""Broken feeds and pages are recorded with their reasons while the rest carries on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from bench.services import wait_until
from pipeline.runner import Runner
from pipeline.settings import Settings
from tests.conftest import FIXTURES

pytestmark = pytest.mark.integration

PARAGRAPHS = [
    "The regional water board said on Tuesday that reservoir levels had fallen to their lowest point in "
    "twenty years after a dry summer and an unusually warm autumn across the valley.",
    "“We are asking every household to cut its use by a tenth until the rains return,” said the "
    "board's chair, Helena Marsh, at a briefing in the town hall.",
    "Farmers' groups said the restrictions came too late. Their spokesman, Owen Pryce, said that the "
    "board had ignored warnings from growers since June.",
    "The board will review the restrictions at the end of the month, according to its published schedule.",
]


def rss(base: str, items: list[tuple[str, str, str]]) -> str:
    body = "".join(
        f"<item><title>{t}</title><link>{base}{path}</link><guid>{path}</guid>"
        f"<pubDate>Tue, 03 Nov 2026 0{i}:00:00 GMT</pubDate><description>{d}</description></item>"
        for i, (t, path, d) in enumerate(items)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Valley News</title>{body}</channel></rss>'


def page(title: str) -> str:
    paragraphs = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return f"<html lang='en'><head><title>{title}</title></head><body><article><h1>{title}</h1>{paragraphs}</article></body></html>"


@pytest.fixture
def site(httpserver: HTTPServer) -> HTTPServer:
    base = (
        httpserver.url_for("")[:-1]
        if httpserver.url_for("").endswith("/")
        else httpserver.url_for("")
    )
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    httpserver.expect_request("/good.xml").respond_with_data(
        rss(
            base,
            [
                ("Water restrictions announced", "/water", "Short summary."),
                (
                    "Board under fire",
                    "/oversize",
                    "The board was criticised by farmers on Tuesday.",
                ),
                ("Flaky page", "/flaky", ""),
            ],
        ),
        content_type="application/rss+xml",
    )
    httpserver.expect_request("/water").respond_with_data(
        page("Water restrictions announced"), content_type="text/html"
    )
    httpserver.expect_request("/oversize").respond_with_data(
        b"x" * 200_000, content_type="text/html"
    )
    httpserver.expect_request("/flaky").respond_with_data("try later", status=503)
    httpserver.expect_request("/gone.xml").respond_with_data("gone", status=404)
    httpserver.expect_request("/broken.xml").respond_with_data("oops", status=500)
    httpserver.expect_request("/garbage.xml").respond_with_data(
        (FIXTURES / "feeds" / "garbage.bin").read_bytes()
    )
    return httpserver


def test_broken_feeds_and_pages_are_recorded(site: HTTPServer, settings: Settings) -> None:
    runner = Runner(settings.model_copy(update={"max_body_bytes": 100_000}))
    for name in ("good", "gone", "broken", "garbage"):
        runner.store.add_feed(site.url_for(f"/{name}.xml"), name, interval=600)
    report = runner.run_once()

    reasons = {runner.store.feed(fid).name: r for fid, r in report.feed_errors.items()}  # type: ignore[union-attr]
    assert reasons["gone"] == "HTTP 404"
    assert reasons["broken"] == "HTTP 500"
    assert reasons["garbage"].startswith("not a feed")
    assert "good" not in reasons

    # the readable page and the oversize one (from the feed's summary) are indexed
    assert report.indexed == 2 and runner.index.count() == 2
    # the 503 page has no feed text to fall back on: it waits for a retry
    assert report.retrying == 1
    [waiting] = runner.store.pending(now=datetime.max.replace(tzinfo=UTC))
    assert waiting.entry.url.endswith("/flaky") and waiting.attempts == 1

    states = {f.name: f.state for f in runner.store.feeds()}
    assert (
        states["broken"].error_count == 1
        and states["broken"].next_check_at > states["broken"].last_checked_at
    )  # type: ignore[operator]
    assert not states["gone"].retired, "404 may be temporary; only 410 retires a feed"
    runner.close()

    env = {**os.environ, "NEWSWIRE_DB": str(settings.db)}
    status = subprocess.run(
        [sys.executable, "-m", "pipeline", "feeds", "status", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    rows = {r["name"]: r for r in json.loads(status.stdout)}
    assert rows["broken"]["state"] == "failing" and rows["broken"]["last_error"] == "HTTP 500"
    assert rows["good"]["state"] == "ok" and rows["good"]["entries"] == {"done": 2, "pending": 1}


def test_dead_letter_after_last_attempt(site: HTTPServer, settings: Settings) -> None:
    # max_attempts=2 in test settings; no wait between attempts
    runner = Runner(settings.model_copy(update={"retry_backoff_base": 0.0}))
    runner.store.add_feed(site.url_for("/good.xml"), "good", interval=600)
    assert runner.run_once().retrying == 1
    report = runner.process_pending()
    assert report.dead == 1
    [dead] = runner.store.records("dead")
    assert dead.url.endswith("/flaky") and dead.last_error == "HTTP 503"
    runner.close()


def test_a_feed_that_crashes_the_poll_is_recorded_and_the_run_goes_on(
    site: HTTPServer, settings: Settings
) -> None:
    """An item whose link has port 99999 made URL normalisation raise ValueError out of
    the parser, and the whole run with it. Now any exception of one feed's poll is that
    feed's outcome: its state is saved, the other feeds are processed."""
    site.expect_request("/hostile.xml").respond_with_data(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>H</title>'
        "<item><title>Bad port</title><link>http://h.example:99999/a</link></item>"
        "</channel></rss>",
        content_type="application/rss+xml",
    )
    runner = Runner(settings.model_copy(update={"max_body_bytes": 100_000}))
    for name in ("hostile", "good"):
        runner.store.add_feed(site.url_for(f"/{name}.xml"), name, interval=600)
    report = runner.run_once()
    assert report.feeds_polled == 2 and report.indexed == 2
    states = {f.name: f.state for f in runner.store.feeds()}
    assert states["hostile"].last_checked_at is not None, "its poll was recorded"
    assert states["hostile"].next_check_at > states["hostile"].last_checked_at
    if states["hostile"].error_count:  # (a parser that skips the bad item is fine too)
        hostile_id = states["hostile"].feed_id
        assert report.feed_errors[hostile_id].startswith("unexpected ValueError")
        assert states["hostile"].last_error == report.feed_errors[hostile_id]
    runner.close()


_RUNNER = """
import sys, time
from pathlib import Path
from pipeline.runner import Runner
from pipeline.settings import Settings

tmp = Path(sys.argv[1])
runner = Runner(Settings(db=tmp / "r.db", claims_file=tmp / "none.yaml", analysis_processes=2))
runner.analyzer.warm_up()
print(" ".join(str(pid) for pid in runner.analyzer._pool._processes), flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited


def test_analysis_processes_exit_when_the_runner_is_killed(tmp_path: Path) -> None:
    """kill -9 of the runner runs no clean-up; its analysis processes (each holding a
    model, hundreds of MB) must not live on as orphans."""
    runner = subprocess.Popen(
        [sys.executable, "-c", _RUNNER, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "NEWSWIRE_CONFIG": str(tmp_path / "none.yaml")},
    )
    try:
        assert runner.stdout is not None
        children = [int(pid) for pid in runner.stdout.readline().split()]
        assert len(children) == 2 and all(_alive(pid) for pid in children)
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=30)
        wait_until(lambda: not any(_alive(pid) for pid in children), 15, "orphans gone")
    finally:
        runner.kill()
        for pid in children if "children" in locals() else []:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
