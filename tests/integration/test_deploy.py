"""docker-compose.yml, validated statically (no Docker engine runs here)."""

from __future__ import annotations

import shutil
import subprocess
import tomllib

import yaml

from tests.conftest import ROOT, need


def test_compose_file_is_valid_and_matches_the_client() -> None:
    need(
        shutil.which("docker-compose") is not None,
        "docker-compose not installed (apt-get install docker-compose)",
    )
    check = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
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
