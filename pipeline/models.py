"""Typed records that flow between stages. ``Article`` is the data contract."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EntityType = Literal["PERSON", "ORG", "LOC", "NORP", "EVENT", "LAW", "WORK", "PRODUCT", "MISC"]
StanceLabel = Literal["favor", "against", "neutral"]
ClaimLabel = Literal["agree", "disagree", "discuss", "unrelated"]
StanceTargetType = Literal[
    "PERSON", "ORG", "LOC", "NORP", "EVENT", "LAW", "WORK", "PRODUCT", "MISC", "ISSUE"
]
SpeakerType = Literal["PERSON", "ORG", "LOC", "NORP", "DESCRIBED", "UNKNOWN"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Entity(_Frozen):
    name: str
    type: EntityType
    mentions: int
    salience: float
    aliases: list[str] = Field(default_factory=list)


class Quote(_Frozen):
    """An attribution: who (speaker) said what (text), direct or reported.

    ``start``/``end`` are character offsets of ``text`` in the article body.
    """

    speaker: str
    speaker_type: SpeakerType
    cue: str
    text: str
    direct: bool
    start: int
    end: int
    # Where the source and the cue are written, for evaluation against annotated corpora;
    # not part of the stored contract.
    source_span: tuple[int, int] | None = Field(None, exclude=True)
    cue_span: tuple[int, int] | None = Field(None, exclude=True)


class Stance(_Frozen):
    """A holder for or against a target, as the article states or reports it.

    ``target_type`` is the target entity's type, or ``ISSUE`` for a policy, bill,
    proposal, claim…; ``start``/``end`` are character offsets of ``evidence`` in the body.
    """

    holder: str
    target: str
    target_type: StanceTargetType = "ISSUE"
    stance: StanceLabel
    confidence: float
    evidence: str
    start: int = 0
    end: int = 0


class ClaimStance(_Frozen):
    claim: str
    stance: ClaimLabel
    confidence: float


class FeedEntry(_Frozen):
    """One item found in a feed; small enough to cross a queue."""

    key: str
    feed_id: str
    url: str
    title: str = ""
    summary: str = ""
    content: str = ""
    published_at: datetime | None = None
    authors: list[str] = Field(default_factory=list)


class Extracted(_Frozen):
    """What ``extract`` makes of a page (or of the feed's own text)."""

    title: str
    body: str
    summary: str = ""
    authors: list[str] = Field(default_factory=list)
    published_at: datetime | None = None
    language: str | None = None
    canonical_url: str | None = None
    from_feed: bool = False


class Analysis(_Frozen):
    entities: list[Entity] = Field(default_factory=list)
    quotes: list[Quote] = Field(default_factory=list)
    stances: list[Stance] = Field(default_factory=list)
    claims: list[ClaimStance] = Field(default_factory=list)


class Article(BaseModel):
    """An analysed article, as ``newswire analyze --json`` prints it and every backend stores it."""

    id: str
    url: str
    canonical_url: str
    source: str
    feed: str | None = None
    title: str = ""
    summary: str = ""
    body: str = ""
    language: str | None = None
    authors: list[str] = Field(default_factory=list)
    published_at: datetime | None = None
    fetched_at: datetime | None = None
    entities: list[Entity] = Field(default_factory=list)
    quotes: list[Quote] = Field(default_factory=list)
    stances: list[Stance] = Field(default_factory=list)
    claims: list[ClaimStance] = Field(default_factory=list)


class FeedState(BaseModel):
    """What the store remembers about one feed between polls."""

    feed_id: str
    url: str
    title: str = ""
    etag: str | None = None
    last_modified: str | None = None
    interval: int  # seconds between checks, adapted to the feed's item rate
    next_check_at: datetime
    last_checked_at: datetime | None = None
    last_status: int | None = None
    error_count: int = 0
    last_error: str | None = None
    retired: bool = False
    # 304s in a row; past a limit poll asks once without validators (see poll.py).
    not_modified_streak: int = 0
