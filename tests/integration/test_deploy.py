"""The compose deployment.

The first tests read docker-compose.yml statically (Debian's docker-compose config, no
engine). The rest run the stack for real in Docker; scripts/deploy-test builds the images
and runs them with NEWSWIRE_DEPLOY_TEST=1 (elsewhere they skip). They run in file order
against one stack: the README's commands, the OpenSearch override and the demo profile.
Measurements go to .cache/deploy/report.json.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.demo.server import corpus, site_host
from pipeline.settings import Settings
from tests.conftest import ROOT, need
from tests.integration.compose_stack import Stack, docker, readme_command, wait_until

ARTICLES = len(corpus()[1])
REPORT = ROOT / ".cache" / "deploy" / "report.json"


def compose_config(cwd: Path, *args: str) -> dict[str, Any]:
    need(
        shutil.which("docker-compose") is not None,
        "docker-compose not installed (apt-get install docker-compose)",
    )
    check = subprocess.run(
        ["docker-compose", *args, "config"], capture_output=True, text=True, cwd=cwd
    )
    assert check.returncode == 0, check.stderr
    services: dict[str, Any] = yaml.safe_load(check.stdout)["services"]
    return services


def deployer_dir(tmp_path: Path, env: str | None) -> Path:
    """The compose files as a deployer has them, with ``env`` as .env (None: no .env)."""
    for name in ("docker-compose.yml", "docker-compose.opensearch.yml", "Dockerfile"):
        shutil.copy(ROOT / name, tmp_path / name)
    if env is not None:
        (tmp_path / ".env").write_text(env)
    return tmp_path


def test_compose_file_needs_no_env_file(tmp_path: Path) -> None:
    services = compose_config(deployer_dir(tmp_path, None), "--profile", "ops")
    assert set(services) == {
        "redis",
        "elasticsearch",
        "api",
        "worker-io",
        "worker-nlp",
        "beat",
        "flower",
        "kibana",
        "demo",
        "demo-feeds",
    }
    for name, profile in (("flower", "ops"), ("kibana", "ops"), ("demo", "demo")):
        assert services[name]["profiles"] == [profile]
    assert "--appendonly" in services["redis"]["command"]
    for name in ("api", "worker-io", "worker-nlp", "beat"):
        svc = services[name]
        assert svc["build"]["context"] == str(tmp_path), "one Dockerfile for every Python service"
        env = svc["environment"]
        assert env["NEWSWIRE_STORE"] == "redis"
        assert env["NEWSWIRE_BROKER_URL"] == "redis://redis:6379/0"
        assert env["NEWSWIRE_BACKEND"] == "elasticsearch"
        # unset: the container gets the default of pipeline/settings.py
        assert env["NEWSWIRE_BEAT_INTERVAL"] is None
        assert env["NEWSWIRE_API_KEY"] is None
    assert services["worker-nlp"]["command"][:6] == [
        "celery",
        "-A",
        "workers.app",
        "worker",
        "-Q",
        "nlp",
    ]
    for name in ("api", "worker-io", "worker-nlp"):
        assert "healthcheck" in services[name], name


def test_env_file_overrides_reach_the_containers(tmp_path: Path) -> None:
    env = "NEWSWIRE_BEAT_INTERVAL=7\nNEWSWIRE_API_KEY=s3cret\nNEWSWIRE_BACKEND=opensearch\n"
    services = compose_config(deployer_dir(tmp_path, env))
    for name in ("api", "worker-io", "worker-nlp", "beat"):
        env_of = services[name]["environment"]
        assert env_of["NEWSWIRE_BEAT_INTERVAL"] == "7"
        assert env_of["NEWSWIRE_API_KEY"] == "s3cret"
        assert env_of["NEWSWIRE_BACKEND"] == "opensearch"


def test_compose_passes_every_setting() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    passed = set(compose["x-newswire"]["environment"])
    assert {f"NEWSWIRE_{name.upper()}" for name in Settings.model_fields} <= passed


def test_opensearch_override_and_demo_profile(tmp_path: Path) -> None:
    cwd = deployer_dir(tmp_path, None)
    files = ("-f", "docker-compose.yml", "-f", "docker-compose.opensearch.yml")
    services = compose_config(cwd, *files, "--profile", "demo")
    assert "opensearch" in services["elasticsearch"]["image"]
    for name in ("api", "worker-io", "worker-nlp", "beat", "demo-feeds"):
        assert services[name]["environment"]["NEWSWIRE_BACKEND"] == "opensearch"
        assert services[name]["environment"]["NEWSWIRE_OPENSEARCH_URL"] == (
            "http://elasticsearch:9200"
        )
    # The demo sites live alone on the one private network fetches may reach.
    assert set(services["demo"]["networks"]) == {"demo"}
    assert set(services["worker-io"]["networks"]) == {"default", "demo"}
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    [subnet] = [c["subnet"] for c in compose["networks"]["demo"]["ipam"]["config"]]
    assert services["worker-io"]["environment"]["NEWSWIRE_ALLOW_PRIVATE_HOSTS"] == subnet
    demo_feeds = yaml.safe_load((ROOT / "config" / "demo-feeds.yaml").read_text())["feeds"]
    assert {f["url"] for f in demo_feeds} == {
        f"http://{site_host(f)}:8080/{f.slug}/feed.xml" for f in corpus()[0]
    }


def test_env_example_lists_every_setting() -> None:
    listed = set(re.findall(r"^#? ?(NEWSWIRE_[A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    expected = {f"NEWSWIRE_{name.upper()}" for name in Settings.model_fields}
    assert expected == listed


def test_compose_elasticsearch_matches_the_client() -> None:
    es = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["elasticsearch"]
    assert "healthcheck" in es and any("esdata" in v for v in es["volumes"])
    image = re.fullmatch(r"\$\{ELASTICSEARCH_IMAGE:-(.+)\}", es["image"])
    assert image is not None
    server_major = image[1].rsplit(":", 1)[1].split(".")[0]
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    [client_pin] = extras["elasticsearch"]
    assert f"<{int(server_major) + 1}" in client_pin, (
        "the client major matches the compose server's"
    )


# The stack, for real -------------------------------------------------------------------

live = pytest.mark.skipif(
    os.environ.get("NEWSWIRE_DEPLOY_TEST") != "1",
    reason="runs in scripts/deploy-test, which builds the images first",
)


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    made = Stack()
    try:
        yield made
    finally:
        made.down()
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        REPORT.write_text(json.dumps(made.report, indent=2))


@live
def test_image_is_non_root_with_models_inside_and_no_tests(stack: Stack) -> None:
    image = os.environ.get("NEWSWIRE_IMAGE", "newswire:latest")
    # No network at all: the models load from the image, nothing is downloaded.
    script = (
        "import os, pathlib, sysconfig; from pipeline.nlp import load_model; "
        "from pipeline.sentiment_model import __file__ as f; load_model(''); "
        "print(os.getuid(), sorted(p.name for p in pathlib.Path('/app').iterdir())); "
        "site = pathlib.Path(sysconfig.get_paths()['purelib']); "
        "sizes = {p.name: sum(q.stat().st_size for q in p.rglob('*') if q.is_file()) "
        "for p in site.iterdir() if p.is_dir()}; "
        "print(sorted(sizes.items(), key=lambda kv: -kv[1])[:12])"
    )
    done = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", image, "python", "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    who, largest = done.stdout.strip().splitlines()[-2:]
    uid, listing = who.split(" ", 1)
    assert uid != "0", "the image runs as root"
    kept_out = {"tests", ".venv", ".cache", ".git", "bench", "docs", "scripts", "docker"}
    assert not kept_out & set(ast.literal_eval(listing)), listing
    assert {"pipeline", "workers", "config"} <= set(ast.literal_eval(listing))
    size = int(docker("image", "inspect", "-f", "{{.Size}}", image))
    stack.report["image"] = {
        "name": image,
        "bytes": size,
        "build_seconds": os.environ.get("NEWSWIRE_DEPLOY_BUILD_SECONDS"),
        "largest_packages_bytes": largest,
    }


@live
def test_demo_stories_become_searchable_through_the_api(stack: Stack) -> None:
    start = time.monotonic()
    stack.run([*readme_command("--profile demo up -d"), "--scale", "worker-nlp=2"])
    wait_until(stack.healthy, 300, "the api healthy (index and store answer)")
    stack.report["up_to_healthy_seconds"] = round(time.monotonic() - start, 1)
    wait_until(lambda: len(stack.stories()) >= 1, 600, "the first demo story searchable")
    stack.report["up_to_first_story_seconds"] = round(time.monotonic() - start, 1)
    wait_until(lambda: len(stack.stories()) >= ARTICLES, 600, "every demo story searchable")
    stack.report["up_to_all_stories_seconds"] = round(time.monotonic() - start, 1)
    ids = stack.stories()
    assert len(ids) == len(set(ids)) == ARTICLES
    wait_until(lambda: stack.entries() == {"done": ARTICLES}, 60, "every entry done")
    html = urllib.request.urlopen(stack.api + "/?q=harbor", timeout=10).read().decode()
    assert "Harbor" in html, "the web page shows the demo stories"
    # Each outlet answers under its own name, so the canonical-host rule keeps its name.
    found = json.loads(urllib.request.urlopen(stack.api + "/api/search?limit=1", timeout=10).read())
    assert {s["value"] for s in found["facets"]["sources"]} == {f.domain for f in corpus()[0]}


@live
def test_two_nlp_workers_share_the_work(stack: Stack) -> None:
    workers = stack.containers("worker-nlp")
    assert len(workers) == 2
    analysed = {w[:12]: stack.analysed_by(w) for w in workers}
    stack.report["analyses_per_nlp_container"] = analysed
    assert all(n >= 1 for n in analysed.values()), analysed
    assert sum(analysed.values()) == ARTICLES


@live
def test_status_lists_queues_and_live_workers(stack: Stack) -> None:
    argv = readme_command("exec api newswire status")
    out = stack.run([*argv[:3], "-T", *argv[3:], "--json"])
    report = json.loads(out)
    assert set(report["queues"]) == {"poll", "fetch", "nlp", "index"}
    names = [name.split("@")[0] for name in report["workers"]]
    assert names.count("io") >= 1 and names.count("nlp") >= 2, report["workers"]
    assert report["feeds"] == 3 and report["dead_letters"] == 0
    # A setting left unset reaches no container (an empty API key would be a key).
    env = stack.run(["docker", "compose", "exec", "-T", "api", "env"])
    assert "NEWSWIRE_API_KEY" not in env and "NEWSWIRE_BEAT_INTERVAL=2" in env
    for service in ("api", "worker-io", "worker-nlp"):
        for container in stack.containers(service):
            wait_until(
                lambda c=container: stack.health(c) == "healthy",  # type: ignore[misc]
                180,
                f"{service} healthy",
                every=3,
            )


def redis_state(stack: Stack) -> list[str]:
    """The store's keys (feeds, schedule, seen entries, counts), not the broker's."""
    keys = stack.redis_cli("--scan", "--pattern", "nw:*").split()
    return sorted(k for k in keys if not k.startswith(("nw:w:", "nw:lease", "nw:host")))


@live
def test_down_then_up_keeps_stories_feeds_and_seen_entries(stack: Stack) -> None:
    ids = sorted(stack.stories())
    feeds = {f["feed_id"]: (f["url"], f["last_checked_at"]) for f in stack.get("/api/feeds")}
    seen = [k for k in redis_state(stack) if k.startswith("nw:e:")]
    assert len(seen) >= ARTICLES
    stack.run(readme_command("down"))
    assert stack.leftovers() == []
    stack.run(readme_command("--profile demo up -d"))
    wait_until(stack.healthy, 300, "the api healthy again")
    wait_until(lambda: len(stack.stories()) >= ARTICLES, 120, "the stories back")
    assert sorted(stack.stories()) == ids
    after = {f["feed_id"]: (f["url"], f["last_checked_at"]) for f in stack.get("/api/feeds")}
    assert after == feeds
    assert [k for k in redis_state(stack) if k.startswith("nw:e:")] == seen
    assert stack.entries() == {"done": ARTICLES}
    stack.report["after_down_up"] = {"stories": len(ids), "feeds": len(after), "seen": len(seen)}


@live
def test_killed_worker_and_redis_restart_mid_ingest_index_each_story_once(stack: Stack) -> None:
    # A fresh stack with no analysis worker: every demo story waits in the nlp queue.
    stack.down()
    stack.run([*readme_command("--profile demo up -d"), "--scale", "worker-nlp=0"])
    wait_until(lambda: stack.redis_cli("llen", "nlp") == str(ARTICLES), 600, "stories queued")
    # One worker takes tasks; it is killed outright while it holds some unacknowledged.
    scale = readme_command("up -d --scale")[:-1]
    stack.run([*scale, "worker-nlp=1"])
    [victim] = stack.containers("worker-nlp")
    # Only analysis tasks count (the io worker holds its own now and then), and the kill
    # follows the first at once: the worker is fast once its models are loaded, so one
    # loop inside the Redis container watches, with no compose lookups in between.
    held_tasks = "redis-cli hvals unacked | grep -c newswire.analyze_article"
    watch = f'for _ in $(seq 20000); do [ "$({held_tasks})" -gt 0 ] && break; sleep 0.01; done'
    stack.redis_sh(watch, timeout=600)
    docker("kill", "-s", "KILL", victim)
    held = int(stack.redis_sh(held_tasks))
    at_kill = stack.entries().get("done", 0)
    assert held >= 1 and at_kill < ARTICLES
    time.sleep(3)
    docker_restarted = docker("inspect", "-f", "{{.State.Running}}", victim).strip()
    # Two workers (the killed one again and a new one); the held tasks come back after
    # the visibility timeout (30 s here). Meanwhile Redis restarts, mid-ingest.
    stack.run([*scale, "worker-nlp=2"])
    at_restart = stack.entries().get("done", 0)
    assert at_restart < ARTICLES, "the ingest finished before Redis could be restarted"
    stack.run(["docker", "restart", stack.containers("redis")[0]])
    wait_until(lambda: len(stack.stories()) >= ARTICLES, 600, "every story indexed")
    wait_until(lambda: stack.entries() == {"done": ARTICLES}, 120, "every entry done")
    ids = stack.stories()
    analyses = sum(stack.analysed_by(w) for w in stack.containers("worker-nlp"))
    stack.report["kill_and_restart"] = {
        "tasks_held_by_the_killed_worker": held,
        "entries_done_at_kill": at_kill,
        "docker_restarted_the_killed_worker_itself": docker_restarted == "true",
        "entries_done_at_redis_restart": at_restart,
        "stories_at_end": len(ids),
        "distinct_ids": len(set(ids)),
        "entries_at_end": stack.entries(),
        "analyses_logged": analyses,
    }
    assert len(ids) == len(set(ids)) == ARTICLES


@live
def test_down_removes_containers_and_networks(stack: Stack) -> None:
    stack.down()
    assert stack.leftovers() == []
