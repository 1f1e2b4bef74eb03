"""Every user error of the `newswire` command is one line, `error: ...`, without a
traceback or a secret, exiting 2 for a misused command line and 1 otherwise.

The table of ``one_line`` is pure; the rest runs the command in a subprocess (no
server: these fail before any network)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError
from pydantic_settings import SettingsError

from pipeline.cli.errors import mask_secrets, one_line
from pipeline.errors import InputError, NetworkError
from pipeline.settings import Settings
from tests.conftest import newswire


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("redis://:pw@h:6379/0", "redis://:***@h:6379/0"),
        (
            "cannot reach redis://user:s3cr3t@cache.example:6379",
            "cannot reach redis://user:***@cache.example:6379",
        ),
        (
            "http://u:p@a.example/x and https://v:q@b.example/",
            "http://u:***@a.example/x and https://v:***@b.example/",
        ),
        ("http://a.example:8080/path", "http://a.example:8080/path"),  # a port is not a password
        ("http://user@a.example/", "http://user@a.example/"),  # no password to hide
        ("no url here: a:b@c", "no url here: a:b@c"),
    ],
)
def test_mask_secrets(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked


def _settings_error(**values: object) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        Settings(**values)  # type: ignore[arg-type]
    return caught.value


@pytest.mark.parametrize(
    ("exc", "line", "status"),
    [
        (InputError("no such feed: x"), "no such feed: x", 1),
        (InputError("bad\n  YAML:\n   line 3"), "bad YAML: line 3", 1),
        (
            NetworkError("connection refused", url="redis://:hunter2@h/0"),
            "connection refused (redis://:***@h/0)",
            1,
        ),
        (
            _settings_error(http_timeout="s3cret-value"),
            "invalid setting: http_timeout (NEWSWIRE_HTTP_TIMEOUT): Input should be a valid number, unable to parse string as a number",
            1,
        ),
        (
            _settings_error(poll_min_interval=10, poll_max_interval=5),
            "invalid setting: poll_min_interval must not exceed poll_max_interval",
            1,
        ),
        (
            _settings_error(analysis_steps="quotes"),
            "invalid setting: analysis_steps (NEWSWIRE_ANALYSIS_STEPS): analysis step 'quotes' needs entities before it",
            1,
        ),
        (
            SettingsError('error parsing value for field "extra" from source "EnvSettingsSource"'),
            "invalid setting: extra (NEWSWIRE_EXTRA): cannot parse its value",
            1,
        ),
        (
            SettingsError("tok-3f9a1c is not JSON"),
            "invalid setting: a value: cannot parse its value",
            1,
        ),
        (
            FileNotFoundError(2, "No such file or directory", "/no/file"),
            "No such file or directory: /no/file",
            1,
        ),
        (
            RuntimeError("boom\nat redis://:pw@x"),
            "unexpected RuntimeError: boom at redis://:***@x (run with -v for details)",
            1,
        ),
    ],
)
def test_one_line(exc: BaseException, line: str, status: int) -> None:
    assert one_line(exc) == (line, status)


def test_one_line_never_shows_a_settings_input() -> None:
    message, _ = one_line(_settings_error(per_host_concurrency="tok-3f9a1c"))
    assert "tok-3f9a1c" not in message and "\n" not in message


def test_yaml_error_names_the_place_not_the_line() -> None:
    with pytest.raises(yaml.YAMLError) as caught:
        yaml.safe_load('broker_url: redis://:pw@h\napi_key: "topsecret\n')
    message, status = one_line(caught.value)
    assert status == 1 and "topsecret" not in message and "line 3" in message


def _assert_one_line(result: subprocess.CompletedProcess[str], status: int, starts: str) -> str:
    stderr = result.stderr
    assert result.returncode == status, stderr
    assert stderr.startswith(starts) and stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr
    return stderr


@pytest.mark.parametrize(
    ("env", "starts"),
    [
        (
            {"NEWSWIRE_HTTP_TIMEOUT": "tok-3f9a1c"},
            "error: invalid setting: http_timeout (NEWSWIRE_HTTP_TIMEOUT)",
        ),
        (
            {"NEWSWIRE_POLL_MIN_INTERVAL": "90000"},
            "error: invalid setting: poll_min_interval must not exceed",
        ),
        ({"NEWSWIRE_BACKEND": "tok-3f9a1c"}, "error: invalid setting: backend (NEWSWIRE_BACKEND)"),
        (
            {"NEWSWIRE_ANALYSIS_STEPS": "claims"},
            "error: invalid setting: analysis_steps (NEWSWIRE_ANALYSIS_STEPS): the entities",
        ),
    ],
)
def test_bad_environment_values_are_one_line(
    tmp_path: Path, env: dict[str, str], starts: str
) -> None:
    result = newswire("feeds", "list", db=tmp_path / "n.db", **env)
    stderr = _assert_one_line(result, 1, starts)
    assert "tok-3f9a1c" not in stderr, "the value may be a secret: never echoed"


def test_bad_config_file_is_one_line_without_its_secrets(tmp_path: Path) -> None:
    config = tmp_path / "newswire.yaml"
    config.write_text('broker_url: redis://:pw-in-file@h\napi_key: "tok-3f9a1c\n')
    result = newswire("feeds", "list", db=tmp_path / "n.db", NEWSWIRE_CONFIG=str(config))
    stderr = _assert_one_line(result, 1, f"error: {config}: not valid YAML")
    assert "tok-3f9a1c" not in stderr and "pw-in-file" not in stderr


@pytest.mark.parametrize(
    ("args", "status", "starts"),
    [
        (("search", "--limit", "many"), 2, "error: Invalid value for '--limit'"),
        (("no-such-command",), 2, "error: No such command"),
        (("feeds", "add"), 2, "error: Missing argument"),
        (("run", "--once", "--feeds", "/no/such/feeds.yaml"), 1, "error: feeds file not found"),
    ],
)
def test_bad_arguments_are_one_line(
    tmp_path: Path, args: tuple[str, ...], status: int, starts: str
) -> None:
    _assert_one_line(newswire(*args, db=tmp_path / "n.db"), status, starts)


def test_bad_feeds_file_is_one_line(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n  - url: http://a.example/rss\n   name: [unclosed\n")
    result = newswire("run", "--once", "--feeds", str(feeds), db=tmp_path / "n.db")
    _assert_one_line(result, 1, f"error: {feeds}: not valid YAML")
