"""Typed records that flow between stages. ``Article`` is the data contract.

Every record is validated at this boundary, whatever a feed or a page sends:

- URLs: a feed entry's link must be an absolute http(s) URL with a valid host and port
  (``urls.http_url``), else the record is refused (``ValidationError``, a ``ValueError``)
  and the parser skips the item; an article's URLs may also be ``file:`` (``newswire
  analyze FILE``); a page's canonical URL that is not valid is dropped, not fatal.
- Dates: made timezone-aware (naive ones are UTC) and converted to UTC; a date before
  ``EARLIEST_DATE`` or more than ``FUTURE_SLACK`` ahead of now becomes ``None``. Not
  clamped: a clamped date would be a made-up fact, while ``None`` is honest, sorts last
  and cannot overflow an index write.
- Text: control characters (C0 but newline and tab in multi-line text, DEL, C1, lone
  surrogates) are stripped; one-line fields (titles, names) have their whitespace
  collapsed; every field is cut to its cap below; lists of names are capped too.

Validation is idempotent, so records read back from a store or an index validate to
themselves.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from pipeline.urls import http_url

EARLIEST_DATE = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)  # time zones and clock skew; further ahead is a lie
MAX_TITLE = 500  # titles of entries, articles and feeds
MAX_SUMMARY = 1000  # an article's summary (a feed entry's summary is feed text)
MAX_FEED_TEXT = 100_000  # a feed entry's summary and content (HTML)
MAX_BODY = 200_000  # an article's stored body; analysis reads less (analyze.py)
MAX_NAME = 300  # entity, speaker, holder, target names
MAX_AUTHOR_NAME = 200
MAX_AUTHORS = 20  # authors of an article, aliases of an entity
MAX_QUOTE = 5000  # quote text, stance evidence, a claim
# Longer runs without a space are not words (base64, minified code, a one-word page), and
# spaCy's tokenizer takes time quadratic in a token's length on punctuation runs.
MAX_TOKEN_CHARS = 64

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_SPACES = re.compile(r"\s+")


def _text(limit: int) -> Callable[[str], str]:
    def clean(value: str) -> str:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
        return _CONTROL.sub("", value)[:limit]

    return clean


def _line(limit: int) -> Callable[[str], str]:
    def clean(value: str) -> str:
        return _SPACES.sub(" ", _CONTROL.sub("", value)).strip()[:limit].rstrip()

    return clean


def _names(limit: int) -> Callable[[list[str]], list[str]]:
    one = _line(limit)

    def clean(values: list[str]) -> list[str]:
        names = (one(v) for v in values[: MAX_AUTHORS * 4])
        return [n for n in names if n][:MAX_AUTHORS]

    return clean


def _sane_date(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    try:
        value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except OverflowError:  # year 1 east of UTC, year 9999 west of it
        return None
    if value < EARLIEST_DATE or value > datetime.now(UTC) + FUTURE_SLACK:
        return None
    return value


def utc(when: datetime) -> datetime:
    """``when`` in UTC (naive means UTC), never raising: a date that UTC cannot hold
    (year 1 east of Greenwich, year 9999 west of it) becomes the earliest or latest
    datetime, past every stored date. For query bounds; stored dates are ``_sane_date``."""
    try:
        return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
    except OverflowError:
        return (datetime.min if when.year == 1 else datetime.max).replace(tzinfo=UTC)


def _lenient_url(value: object) -> object:
    # A page's own claim (its canonical link): a bad one is ignored, not fatal.
    if value is None:
        return None
    try:
        return http_url(str(value))
    except ValueError:
        return None


def _language(value: str | None) -> str | None:
    # A page's lang attribute: a code like "en" or "pt-BR", else unknown.
    return (
        value
        if value and re.fullmatch(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,3}", value)
        else None
    )


def _article_url(value: str) -> str:
    # ``newswire analyze FILE`` names a local article by its file: URI.
    return value.strip() if value.strip().startswith("file:///") else http_url(value)


Title = Annotated[str, AfterValidator(_line(MAX_TITLE))]
Name = Annotated[str, AfterValidator(_line(MAX_NAME))]
Names = Annotated[list[str], AfterValidator(_names(MAX_NAME))]
Authors = Annotated[list[str], AfterValidator(_names(MAX_AUTHOR_NAME))]
Summary = Annotated[str, AfterValidator(_text(MAX_SUMMARY))]
FeedText = Annotated[str, AfterValidator(_text(MAX_FEED_TEXT))]
Body = Annotated[str, AfterValidator(_text(MAX_BODY))]
QuoteText = Annotated[str, AfterValidator(_text(MAX_QUOTE))]
Language = Annotated[str | None, AfterValidator(_language)]
SaneDate = Annotated[datetime | None, AfterValidator(_sane_date)]
HttpUrl = Annotated[str, AfterValidator(http_url)]
ArticleUrl = Annotated[str, AfterValidator(_article_url)]

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
    name: Name
    type: EntityType
    mentions: int
    salience: float
    aliases: Names = Field(default_factory=list)


class Quote(_Frozen):
    """An attribution: who (speaker) said what (text), direct or reported.

    ``start``/``end`` are character offsets of ``text`` in the article body.
    """

    speaker: Name
    speaker_type: SpeakerType
    cue: Name
    text: QuoteText
    direct: bool
    start: int
    end: int
    # Where the source and the cue are written: for evaluation against annotated corpora,
    # and for the stance step while it analyses (a source that is a document, "her
    # statement", is read for its author). Not part of the stored contract: a quote
    # rebuilt from storage has neither.
    source_span: tuple[int, int] | None = Field(None, exclude=True)
    cue_span: tuple[int, int] | None = Field(None, exclude=True)
    # A quote written in pieces around its attribution ("A," X said. "B."; "A, critics
    # argue, B"): the pieces, so that what reads it reads the speaker's words and not
    # "X said".
    pieces: tuple[tuple[int, int], ...] = Field((), exclude=True)
    # Whether the stance step reads it: not a reported quote written around its
    # attribution ("The toll, critics argue, falls …") nor one whose speaker a relative
    # pronoun names ("Hale, who says …"), nor what those would hand on (a cue, the next
    # quote's speaker, a quote nested in them), nor the kinds read since the stance
    # model was fitted (``quotes._later_clause``, "he continued", a speaker found past
    # quoted words the parser took for one or after a subjectless cue). Those quotes are right
    # more often than not (quotes F1 up on both PolNeAR splits) but the stance model was
    # not fitted on their candidates, and reading them cost stance precision off dev
    # (README).
    stance_evidence: bool = Field(True, exclude=True)

    def spans(self) -> tuple[tuple[int, int], ...]:
        """The character spans holding the quoted words."""
        return self.pieces or ((self.start, self.end),)

    @model_validator(mode="before")
    @classmethod
    def _cut_offsets(cls, data: Any) -> Any:
        # A capped text keeps its offsets true: body[start:end] == text.
        text = data.get("text") if isinstance(data, dict) else None
        if isinstance(text, str) and len(text) > MAX_QUOTE and isinstance(data.get("start"), int):
            data = {**data, "end": data["start"] + MAX_QUOTE}
        return data


class Stance(_Frozen):
    """A holder for or against a target, as the article states or reports it.

    ``target_type`` is the target entity's type, or ``ISSUE`` for a policy, bill,
    proposal, claim…; ``start``/``end`` are character offsets of ``evidence`` in the body
    (0, 0 when unknown: documents stored before they were recorded).
    """

    holder: Name
    target: Name
    target_type: StanceTargetType = "ISSUE"
    stance: StanceLabel
    confidence: float
    evidence: QuoteText
    start: int = 0
    end: int = 0


class ClaimStance(_Frozen):
    claim: QuoteText
    stance: ClaimLabel
    confidence: float


class FeedEntry(_Frozen):
    """One item found in a feed; small enough to cross a queue."""

    key: str
    feed_id: str
    url: HttpUrl
    title: Title = ""
    summary: FeedText = ""
    content: FeedText = ""
    published_at: SaneDate = None
    authors: Authors = Field(default_factory=list)


class Extracted(_Frozen):
    """What ``extract`` makes of a page (or of the feed's own text)."""

    title: Title
    body: Body
    summary: Summary = ""
    authors: Authors = Field(default_factory=list)
    published_at: SaneDate = None
    language: Language = None
    canonical_url: Annotated[str | None, BeforeValidator(_lenient_url)] = None
    from_feed: bool = False


class Analysis(_Frozen):
    entities: list[Entity] = Field(default_factory=list)
    quotes: list[Quote] = Field(default_factory=list)
    stances: list[Stance] = Field(default_factory=list)
    claims: list[ClaimStance] = Field(default_factory=list)


class Article(BaseModel):
    """An analysed article, as ``newswire analyze --json`` prints it and every backend stores it."""

    id: str
    url: ArticleUrl
    canonical_url: ArticleUrl
    source: str
    feed: str | None = None
    title: Title = ""
    summary: Summary = ""
    body: Body = ""
    language: Language = None
    authors: Authors = Field(default_factory=list)
    published_at: SaneDate = None
    fetched_at: SaneDate = None
    entities: list[Entity] = Field(default_factory=list)
    quotes: list[Quote] = Field(default_factory=list)
    stances: list[Stance] = Field(default_factory=list)
    claims: list[ClaimStance] = Field(default_factory=list)
    # Stories, not copies (issue 18): the id of the earliest story with the same text,
    # and the id of the same-event cluster the story belongs to (the cluster's first story).
    duplicate_of: str | None = None
    cluster_id: str | None = None
    # Which models analysed the story (``pipeline.analyze.ANALYSIS_VERSION``), so that
    # ``reanalyze`` and ``status`` can find stories analysed by older ones.
    analyzed_with: str | None = None


class FeedState(BaseModel):
    """What the store remembers about one feed between polls."""

    feed_id: str
    url: str
    title: Title = ""
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
