"""Settings from hostile or mistaken environments: every value gives a Settings or one
InputError line, and no error ever shows the API key or a password in a URL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from pipeline.errors import InputError
from pipeline.settings import Settings, load_settings, mask_url_credentials

KEY = "k3y-Sekrit-7f2a"
PASSWORD = "hunter2-Pw"
BROKER = f"redis://:{PASSWORD}@redis:6379/0"
FIELDS = sorted(Settings.model_fields)


@contextmanager
def environment(config: Path, **values: str) -> Iterator[None]:
    """Exactly these NEWSWIRE_* variables (and a config file path), restored after."""
    saved = dict(os.environ)
    for name in [n for n in os.environ if n.startswith("NEWSWIRE_")]:
        del os.environ[name]
    os.environ["NEWSWIRE_CONFIG"] = str(config)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def refused(config: Path, **values: str) -> str:
    with environment(config, **values), pytest.raises(InputError) as caught:
        load_settings()
    return str(caught.value)


env_text = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40
)


@settings(max_examples=600, deadline=None)
@given(field=st.sampled_from(FIELDS), value=env_text)
def test_any_env_value_gives_settings_or_one_clean_line(
    tmp_path_factory: pytest.TempPathFactory, field: str, value: str
) -> None:
    config = tmp_path_factory.getbasetemp() / "no-config.yaml"
    env = {"NEWSWIRE_API_KEY": KEY, "NEWSWIRE_BROKER_URL": BROKER}
    env[f"NEWSWIRE_{field.upper()}"] = value
    with environment(config, **env):
        try:
            loaded = load_settings()
        except InputError as exc:
            message = str(exc)
            assert message.startswith("settings: ") and "\n" not in message
            assert KEY not in message and PASSWORD not in message
            if field not in ("api_key", "broker_url"):
                assert f"NEWSWIRE_{field.upper()}" in message or "must" in message, message
        else:
            assert isinstance(loaded, Settings)
            assert KEY not in repr(loaded)


def test_a_cross_field_error_is_one_line_without_secrets(tmp_path: Path) -> None:
    message = refused(
        tmp_path / "none.yaml",
        NEWSWIRE_API_KEY=KEY,
        NEWSWIRE_BROKER_URL=BROKER,
        NEWSWIRE_POLL_MIN_INTERVAL="90000",
    )
    assert message == "settings: poll_min_interval must not exceed poll_max_interval"


def test_field_errors_name_the_variables(tmp_path: Path) -> None:
    message = refused(tmp_path / "none.yaml", NEWSWIRE_BACKEND="solr", NEWSWIRE_HTTP_TIMEOUT="-1")
    assert message.startswith("settings: NEWSWIRE_BACKEND: Input should be 'sqlite'")
    assert "; NEWSWIRE_HTTP_TIMEOUT: Input should be greater than 0" in message


@pytest.mark.parametrize("empty", ["", " ", "\t \n"])
def test_an_empty_api_key_is_no_key(tmp_path: Path, empty: str) -> None:
    with environment(tmp_path / "none.yaml", NEWSWIRE_API_KEY=empty):
        assert load_settings().api_key is None
    assert Settings(api_key=SecretStr(empty)).api_key is None


def test_a_key_loses_its_surrounding_blanks(tmp_path: Path) -> None:
    with environment(tmp_path / "none.yaml", NEWSWIRE_API_KEY=f"  {KEY}\n"):
        key = load_settings().api_key
    assert key is not None and key.get_secret_value() == KEY


def test_yaml_errors_are_one_line_without_the_line_itself(tmp_path: Path) -> None:
    config = tmp_path / "newswire.yaml"
    config.write_text(f'backend: sqlite\napi_key: "{KEY}\n  broker_url: [')
    message = refused(config)
    assert message.startswith(f"settings: {config}: not valid YAML (line ")
    assert KEY not in message and "\n" not in message
    config.write_text("- a list\n- not a mapping\n")
    assert refused(config) == f"settings: {config}: must map setting names to values"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("redis://:pw@host:6379/0", "redis://:***@host:6379/0"),
        ("amqp://user:pa:ss@broker//", "amqp://user:***@broker//"),
        ("redis://:p@ss@host/0", "redis://:***@host/0"),
        (
            "see https://u@h.example/x and redis://h/0",
            "see https://***@h.example/x and redis://h/0",
        ),
        ("http://localhost:9200", "http://localhost:9200"),
        ("no url here: a@b", "no url here: a@b"),
    ],
)
def test_url_credentials_are_masked(text: str, masked: str) -> None:
    assert mask_url_credentials(text) == masked


# URL text: no whitespace (which ends a URL in a message) and no "/" (which ends its host)
_url_chars = st.characters(
    exclude_categories=["Zs", "Zl", "Zp", "Cc", "Cs"], exclude_characters="/"
)


@given(
    user=st.text(alphabet=_url_chars.filter(lambda c: c not in "@:"), max_size=10),
    password=st.text(alphabet=_url_chars, min_size=1, max_size=30),
)
def test_any_password_in_a_url_is_masked(user: str, password: str) -> None:
    text = f"cannot connect to redis://{user}:{password}@redis:6379/0 (refused)"
    expected = f"cannot connect to redis://{user}:***@redis:6379/0 (refused)"
    assert mask_url_credentials(text) == expected
