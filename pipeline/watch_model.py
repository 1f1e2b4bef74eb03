"""The records of saved searches: a ``Watch`` (a query with the search filters and an
optional webhook) and a ``WatchMatch`` (one story that matched it, with the state of
its delivery). Plain data, imported by the stores; what to do with them is in
``pipeline.watches`` (matching) and ``pipeline.watch_delivery`` (webhooks).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

# pending: to deliver (again) once ``next_attempt_at`` has passed; sending: taken by a
# deliverer (its lease is ``next_attempt_at``); delivered; dead: retries ran out or the
# webhook was refused, kept for replay; none: the watch has no webhook.
DeliveryState = Literal["pending", "sending", "delivered", "dead", "none"]
DELIVERY_STATES: tuple[DeliveryState, ...] = ("pending", "sending", "delivered", "dead", "none")


class WatchFilters(BaseModel):
    """The search filters a watch may carry: the same as ``SearchQuery``'s."""

    entity: str | None = None
    type: str | None = None
    speaker: str | None = None
    stance: str | None = None
    target: str | None = None
    source: str | None = None
    language: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class Watch(BaseModel):
    """A saved search. ``secret`` signs its webhook's bodies (HMAC-SHA256); it is shown
    once, when the watch is added, and never listed."""

    id: str
    query: str = ""
    filters: WatchFilters = Field(default_factory=WatchFilters)
    webhook: str | None = None
    secret: str = Field("", repr=False)
    created_at: datetime

    def public(self) -> dict[str, object]:
        """The watch as lists show it: everything but the secret."""
        return self.model_dump(mode="json", exclude={"secret"})


class WatchMatch(BaseModel):
    """A story that matched a watch, with what its feed entry and page show of it (so
    they need no index lookup) and its delivery's state."""

    watch_id: str
    article_id: str
    title: str = ""
    url: str = ""
    source: str = ""
    summary: str = ""
    published_at: datetime | None = None
    matched_at: datetime
    state: DeliveryState = "none"
    attempts: int = 0  # delivery attempts that failed so far
    next_attempt_at: datetime | None = None
    last_error: str | None = None
