"""One error hierarchy for every stage.

Transient errors are worth retrying later (network trouble, 5xx, 429, an engine
that is down); permanent errors are recorded with their reason and never retried.
Every error carries a one-line ``reason`` fit for logs, stores and the CLI.
"""

from __future__ import annotations

import random


class NewswireError(Exception):
    """Base of every error the pipeline raises on purpose."""

    transient: bool = False

    def __init__(self, reason: str, *, url: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.url = url

    def __str__(self) -> str:
        return f"{self.reason} ({self.url})" if self.url else self.reason


class TransientError(NewswireError):
    """Worth retrying: the same call may succeed later."""

    transient = True

    def __init__(
        self, reason: str, *, url: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(reason, url=url)
        self.retry_after = retry_after


class PermanentError(NewswireError):
    """Retrying will not help: record the reason and move on."""


# Transient -------------------------------------------------------------------


class NetworkError(TransientError):
    """Connection refused or reset, DNS failure, timeout."""


class ServerError(TransientError):
    """The server answered 5xx, or 429 Too Many Requests."""

    def __init__(
        self, status: int, *, url: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(f"HTTP {status}", url=url, retry_after=retry_after)
        self.status = status


class StoreUnavailableError(TransientError):
    """The state store (Redis) cannot be reached."""


# Permanent -------------------------------------------------------------------


class BlockedHostError(PermanentError):
    """The target is not fetched: a non-http scheme, or an address outside the policy
    (not public and not in an allowed network, or a cloud metadata endpoint)."""


class BadResponseError(PermanentError):
    """The server's answer breaks HTTP beyond use: a redirect Location that does not
    parse, an unknown, stacked or corrupt content encoding."""


class BodyTooLargeError(PermanentError):
    """The response body is larger than the configured cap."""


class TooManyRedirectsError(PermanentError):
    """The redirect chain is longer than the configured limit."""


class RobotsDisallowedError(PermanentError):
    """robots.txt disallows fetching this page."""


class ClientError(PermanentError):
    """The server answered 4xx (other than 429): the resource is not there for us."""

    def __init__(self, status: int, *, url: str | None = None) -> None:
        super().__init__(f"HTTP {status}", url=url)
        self.status = status


class FeedParseError(PermanentError):
    """The body is not a feed we can read."""


class ContentError(PermanentError):
    """Not an article we can use: not HTML or text, too short, empty."""


class InputError(PermanentError):
    """A file or argument given by the user cannot be used."""


def retry_delay(
    error: TransientError,
    attempt: int,
    *,
    base: float,
    cap: float,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry number ``attempt + 1``: exponential from ``base``,
    capped at ``cap``, with jitter (half to full), never sooner than the server's
    ``Retry-After`` (itself capped)."""
    delay: float = min(cap, base * 2**attempt) * (rng or random).uniform(0.5, 1.0)
    if error.retry_after:
        delay = max(delay, min(cap, error.retry_after))
    return delay
