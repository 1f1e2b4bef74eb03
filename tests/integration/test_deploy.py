"""docker-compose.yml, validated statically (no Docker engine runs here)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import yaml

from pipeline.settings import Settings
from tests.conftest import ROOT, need


def test_compose_file_is_valid_with_the_example_env(tmp_path: Path) -> None:
    need(
        shutil.which("docker-compose") is not None,
        "docker-compose not installed (apt-get install docker-compose)",
    )
    # As a deployer would: the compose file beside a .env copied from .env.example.
    for name in ("docker-compose.yml", "Dockerfile"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    check = subprocess.run(
        ["docker-compose", "--profile", "ops", "config"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert check.returncode == 0, check.stderr
    services = yaml.safe_load(check.stdout)["services"]
    assert set(services) == {
        "redis",
        "elasticsearch",
        "api",
        "worker-io",
        "worker-nlp",
        "beat",
        "flower",
        "kibana",
    }
    assert "--appendonly" in services["redis"]["command"]
    for name in ("api", "worker-io", "worker-nlp", "beat"):
        svc = services[name]
        assert svc["build"]["context"] == str(tmp_path), "one Dockerfile for every Python service"
        assert svc["environment"]["NEWSWIRE_STORE"] == "redis"
        assert svc["environment"]["NEWSWIRE_BROKER_URL"] == "redis://redis:6379/0"
        assert svc["environment"]["NEWSWIRE_BEAT_INTERVAL"] == "30", ".env reaches the containers"
    assert services["worker-nlp"]["command"][:6] == [
        "celery",
        "-A",
        "workers.app",
        "worker",
        "-Q",
        "nlp",
    ]


def test_env_example_lists_every_setting() -> None:
    listed = set(re.findall(r"^#? ?(NEWSWIRE_[A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    expected = {f"NEWSWIRE_{name.upper()}" for name in Settings.model_fields}
    assert expected == listed


def test_compose_elasticsearch_matches_the_client() -> None:
    es = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["elasticsearch"]
    assert "healthcheck" in es and any("esdata" in v for v in es["volumes"])
    server_major = es["image"].rsplit(":", 1)[1].split(".")[0]
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    [client_pin] = extras["elasticsearch"]
    assert f"<{int(server_major) + 1}" in client_pin, (
        "the client major matches the compose server's"
    )
