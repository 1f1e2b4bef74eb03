"""The one settings object: defaults here, overrides from ``NEWSWIRE_*`` and a YAML file.

Precedence, highest first: explicit arguments, ``NEWSWIRE_*`` environment variables,
the YAML file named by ``NEWSWIRE_CONFIG`` (default ``config/newswire.yaml`` when it
exists), the defaults below.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    YamlConfigSettingsSource,
)

from pipeline.errors import InputError
from pipeline.netguard import IPNetwork, parse_networks

Backend = Literal["sqlite", "elasticsearch", "opensearch"]
StoreKind = Literal["sqlite", "redis"]
AnalysisStep = Literal["entities", "quotes", "stances", "claims"]
ANALYSIS_STEPS: tuple[AnalysisStep, ...] = ("entities", "quotes", "stances", "claims")
# What each analysis step reads, which must run before it: stances are read from quotes,
# quotes name their speakers from the entities.
_STEP_NEEDS: dict[AnalysisStep, tuple[AnalysisStep, ...]] = {
    "quotes": ("entities",),
    "stances": ("entities", "quotes"),
}


def check_analysis_steps(steps: Sequence[str]) -> list[AnalysisStep]:
    """``steps`` when they are a valid order of analysis steps: known names, each once,
    ``entities`` always, every step after the steps it reads. ``ValueError`` otherwise."""
    known = set(ANALYSIS_STEPS)
    checked: list[AnalysisStep] = []
    for name in steps:
        if name not in known:
            raise ValueError(f"unknown analysis step {name!r} (known: {', '.join(ANALYSIS_STEPS)})")
        if name in checked:
            raise ValueError(f"analysis step {name!r} is listed twice")
        missing = [n for n in _STEP_NEEDS.get(name, ()) if n not in checked]
        if missing:
            raise ValueError(f"analysis step {name!r} needs {' and '.join(missing)} before it")
        checked.append(name)
    if "entities" not in checked:
        raise ValueError("the entities analysis step cannot be switched off")
    return checked


def _config_file() -> Path:
    # The one place allowed to read the environment by hand: it picks the file
    # that the settings themselves come from.
    return Path(os.environ.get("NEWSWIRE_CONFIG", "config/newswire.yaml"))


class Settings(BaseSettings):
    """Every option Newswire has, typed and validated at start-up."""

    model_config = SettingsConfigDict(env_prefix="NEWSWIRE_", extra="ignore")

    # Where things live
    backend: Backend = "sqlite"
    store: StoreKind = "sqlite"  # redis in the distributed mode
    db: Path = Path("newswire.db")
    feeds_file: Path = Path("config/feeds.yaml")
    claims_file: Path = Path("config/claims.yaml")
    broker_url: str = "redis://localhost:6379/0"
    redis_url: str | None = None  # the state store's Redis; default: the broker's
    elasticsearch_url: str = "http://localhost:9200"
    opensearch_url: str = "http://localhost:9200"
    index_name: str = "newswire-articles"  # the alias; versions are {index_name}-v{N}
    mapping_file: Path | None = None  # default: pipeline/index/articles.mapping.json
    bulk_batch_size: int = Field(500, ge=1, le=10_000)
    index_refresh: bool = False  # refresh after each write (tests; small interactive loads)

    # HTTP politeness and safety (one client for feeds and pages)
    user_agent: str = "Newswire/0.1 (+https://github.com/newswire/newswire)"
    # Non-public networks fetch may reach, besides every public address: CIDRs,
    # comma-separated in the environment ("127.0.0.0/8,::1/128"); true means loopback,
    # RFC 1918 and unique-local IPv6 (never link-local); false or empty means none.
    # Cloud metadata addresses are refused whatever this says.
    allow_private_hosts: Annotated[tuple[IPNetwork, ...], NoDecode] = ()
    http_timeout: float = Field(20.0, gt=0)
    max_body_bytes: int = Field(5_000_000, gt=1024)
    max_redirects: int = Field(5, ge=0, le=20)
    per_host_concurrency: int = Field(2, ge=1)
    per_host_delay: float = Field(1.0, ge=0)
    respect_robots: bool = True

    # Polling schedule, in seconds
    poll_min_interval: int = Field(300, ge=1)
    poll_max_interval: int = Field(86_400, ge=1)
    poll_default_interval: int = Field(1_800, ge=1)
    poll_backoff_base: int = Field(120, ge=1)

    # Processing
    spacy_model: str = ""  # empty: en_core_web_sm if installed, else the PyPI re-upload
    fetch_threads: int = Field(8, ge=1)
    # Articles per analysis batch: the embedded runner hands an analysis process this many
    # at most (fewer when a process is idle); spaCy reads them one at a time
    # (analyze.PIPE_BATCH_SIZE), so the batch sets no memory peak.
    nlp_batch_size: int = Field(4, ge=1)
    # Embedded runner: processes analysing batches while the runner fetches and indexes
    # (0: one per core; 1: analyse in the runner's own process).
    analysis_processes: int = Field(0, ge=0)
    # The analysis steps, in order (env: a comma-separated list or a JSON list). Each one
    # but entities can be switched off, and one that is off costs nothing.
    analysis_steps: Annotated[list[AnalysisStep], NoDecode] = Field(
        default_factory=lambda: list(ANALYSIS_STEPS)
    )
    min_body_chars: int = Field(300, ge=0)
    max_attempts: int = Field(3, ge=1)  # per article, before it becomes a dead letter
    retry_backoff_base: float = Field(60.0, ge=0)  # seconds; doubles per attempt
    retry_backoff_cap: float = Field(3600.0, ge=0)  # the longest wait between two attempts

    # HTTP API (`newswire serve`): changing state (feeds, dead letters) needs this key in
    # the X-API-Key header, and is refused while it is unset; reads are open unless
    # api_open_reads is false (then they need the key too).
    api_key: SecretStr | None = None
    api_open_reads: bool = True

    # Distributed mode
    beat_interval: float = Field(30.0, gt=0)  # seconds between scheduler ticks
    poll_host_batch: int = Field(4, ge=1)  # polls of one host enqueued per tick
    seen_ttl_days: int = Field(90, ge=1)  # how long an entry key is remembered in Redis
    # Unacknowledged tasks return to their queue after this many seconds; it must exceed
    # the longest retry delay, or a task waiting for its retry would run twice.
    broker_visibility_timeout: int = Field(7200, ge=1)

    @field_validator("analysis_steps", mode="before")
    @classmethod
    def _split_steps(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            return (
                json.loads(text)
                if text.startswith("[")
                else [part.strip() for part in text.split(",") if part.strip()]
            )
        return value

    @field_validator("analysis_steps")
    @classmethod
    def _check_steps(cls, value: list[AnalysisStep]) -> list[AnalysisStep]:
        return check_analysis_steps(value)

    @field_validator("allow_private_hosts", mode="before")
    @classmethod
    def _networks(cls, value: object) -> tuple[IPNetwork, ...]:
        return parse_networks(value)

    @field_validator("api_key", mode="before")
    @classmethod
    def _no_empty_key(cls, value: Any) -> Any:
        # An empty NEWSWIRE_API_KEY= (the .env.example line uncommented) must mean "no
        # key", which refuses every write, never "the empty key", which an empty header
        # matches. Surrounding blanks go: HTTP strips them from the header anyway.
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str):
            return value.strip() or None
        return value

    @model_validator(mode="after")
    def _bounds(self) -> Settings:
        if self.poll_min_interval > self.poll_max_interval:
            raise ValueError("poll_min_interval must not exceed poll_max_interval")
        if self.broker_visibility_timeout <= self.retry_backoff_cap:
            raise ValueError("broker_visibility_timeout must exceed retry_backoff_cap")
        return self

    @property
    def state_redis_url(self) -> str:
        return self.redis_url or self.broker_url

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_source = YamlConfigSettingsSource(settings_cls, yaml_file=_config_file())
        return (init_settings, env_settings, yaml_source)


# Errors -------------------------------------------------------------------------------

_URL_CREDENTIALS = re.compile(
    # the user part runs to the last "@" before the path, as URL parsers read it
    r"(?P<start>[A-Za-z][A-Za-z0-9+.-]*://)(?:(?P<user>[^/@:\s]*):)?[^/\s]*@"
)


def mask_url_credentials(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``
    (``redis://:pw@host/0`` becomes ``redis://:***@host/0``); a user part without a
    password may be a token, and is masked whole (``https://***@host``)."""

    def masked(m: re.Match[str]) -> str:
        user = m.group("user")
        return f"{m.group('start')}{user}:***@" if user is not None else f"{m.group('start')}***@"

    return _URL_CREDENTIALS.sub(masked, text)


def settings_error_line(exc: ValidationError) -> str:
    """One line for a settings ``ValidationError``: ``settings: NEWSWIRE_X: message``
    per error, joined by ``; ``. Never the input values (they may hold the API key or a
    broker password), and URL credentials masked in what remains."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        message = str(err["msg"]).removeprefix("Value error, ")
        field = ".".join(str(part) for part in err["loc"])
        parts.append(f"NEWSWIRE_{field.upper()}: {message}" if field else message)
    return mask_url_credentials("settings: " + "; ".join(" ".join(p.split()) for p in parts))


def load_settings(**overrides: Any) -> Settings:
    """The settings from ``overrides``, the environment and the YAML file.

    Raises ``InputError`` whose reason is one line naming the bad ``NEWSWIRE_*``
    variables (see ``settings_error_line``) and never a secret, instead of pydantic's
    multi-line report with the raw input in it.
    """
    # "from None": a logged traceback would print the chained error, raw input and all
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise InputError(settings_error_line(exc)) from None
    except SettingsError as exc:  # an environment value that does not parse (JSON)
        raise InputError(mask_url_credentials(f"settings: {_one_line(exc)}")) from None
    except yaml.YAMLError as exc:
        # Only where and what: the problem mark would quote the line, secrets and all.
        where = ""
        if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
            where = f" (line {exc.problem_mark.line + 1})"
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        raise InputError(f"settings: {_config_file()}: not valid YAML{where}: {problem}") from None
    except (TypeError, ValueError):  # the file parsed, but to a list or a scalar
        raise InputError(f"settings: {_config_file()}: must map setting names to values") from None
    except OSError as exc:
        raise InputError(f"settings: {_config_file()}: cannot be read: {exc.strerror}") from None


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
