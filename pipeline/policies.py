"""The small frozen policies the steps run under, each built from the one Settings
object and passed explicitly (no step reads settings through another object)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.settings import Settings


@dataclass(frozen=True)
class PollPolicy:
    """The schedule's bounds, in seconds: the interval stays within ``min_interval`` and
    ``max_interval`` (``default_interval`` when a feed's rate is unknown); errors back
    off from ``backoff_base``."""

    min_interval: int
    max_interval: int
    default_interval: int
    backoff_base: int

    @classmethod
    def from_settings(cls, settings: Settings) -> PollPolicy:
        return cls(
            min_interval=settings.poll_min_interval,
            max_interval=settings.poll_max_interval,
            default_interval=settings.poll_default_interval,
            backoff_base=settings.poll_backoff_base,
        )


@dataclass(frozen=True)
class ExtractPolicy:
    """``min_chars``: a page's text shorter than this loses to the feed's own text."""

    min_chars: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ExtractPolicy:
        return cls(min_chars=settings.min_body_chars)


@dataclass(frozen=True)
class RetryPolicy:
    """An article is tried at most ``max_attempts`` times; transient failures wait
    ``backoff_base`` seconds, doubling per attempt up to ``backoff_cap``, jittered."""

    max_attempts: int
    backoff_base: float
    backoff_cap: float

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            max_attempts=settings.max_attempts,
            backoff_base=settings.retry_backoff_base,
            backoff_cap=settings.retry_backoff_cap,
        )
