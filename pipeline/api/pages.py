"""What the server-rendered pages need besides the routes: the template environment with
its filters (highlights, safe links, capped titles) and the timeline's layout."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from pipeline.index import TARGET_LABELS, Hit, SearchQuery, fold, target_matches
from pipeline.models import Quote, Stance

TEMPLATES = Path(__file__).parent / "templates"
TITLE_CHARS = 300  # a title longer than this is an attack or an extraction slip


def templates() -> Jinja2Templates:
    """The pages' templates. Every URL they write is relative (``/static/...``,
    ``/?q=...``): nothing is built from the request's ``Host`` header, which the client
    chooses."""
    env = Jinja2Templates(directory=TEMPLATES)
    env.env.filters["marked"] = marked
    env.env.filters["capped"] = capped
    env.env.tests["web_url"] = is_web_url
    env.env.globals["urlencode"] = urlencode
    env.env.globals["quote_cards"] = quote_cards
    return env


def marked(snippet: str) -> Markup:
    """Escape a snippet, keeping only the engine's <mark> highlights."""
    safe = (
        html.escape(snippet).replace("&lt;mark&gt;", "<mark>").replace("&lt;/mark&gt;", "</mark>")
    )
    return Markup(safe)


def capped(text: str | None, chars: int = TITLE_CHARS) -> str:
    """``text`` cut to ``chars`` characters (with an ellipsis when it was longer)."""
    text = text or ""
    return text if len(text) <= chars else text[: chars - 1].rstrip() + "…"


def is_web_url(url: object) -> bool:
    """Whether ``url`` may be an ``href``: an absolute http(s) URL with a host. Anything
    else (``javascript:``, ``data:``, relative or odd URLs) is shown as text only."""
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def timeline(days: list[tuple[str, int]]) -> dict[str, Any]:
    """Bars of an SVG timeline, one slot per calendar day from the first to the last
    (days without stories stay empty), laid out here so the page needs no JS."""
    width, height = 600, 80
    if not days:
        return {"bars": [], "width": width, "height": height}
    dated = [(date.fromisoformat(day[:10]), n) for day, n in days]
    first, last = dated[0][0], dated[-1][0]
    slots = (last - first).days + 1
    top = max(n for _, n in dated)
    step = width / slots
    bars = [
        {
            "x": round((d - first).days * step, 1),
            "w": round(max(step - 1, 1), 1),
            "h": round(height * n / top, 1),
            "y": round(height - height * n / top, 1),
            "day": d.isoformat(),
            "n": n,
        }
        for d, n in dated
    ]
    return {
        "bars": bars,
        "width": width,
        "height": height,
        "first": first.isoformat(),
        "last": last.isoformat(),
    }


@dataclass(frozen=True)
class QuoteCard:
    """A quote (or a stance's evidence, when no quote carries it) with the stances whose
    evidence overlaps it: its badges."""

    speaker: str
    text: str
    direct: bool
    stances: list[Stance]


def overlaps(quote: Quote, stance: Stance) -> bool:
    """Whether ``stance``'s evidence overlaps ``quote``: by body offsets when both have
    them, else by text (one contains the other, folded)."""
    if quote.end > quote.start and stance.end > stance.start:
        return stance.start < quote.end and quote.start < stance.end
    a, b = fold(quote.text), fold(stance.evidence)
    return bool(a and b) and (a in b or b in a)


def wanted(stance: Stance, query: SearchQuery | None) -> bool:
    """Whether ``stance`` is one the query's stance filters ask for (so its card shows
    first: the reason the story matched)."""
    if query is None or not (query.stance or fold(query.target or "")):
        return False
    if query.stance and stance.stance != query.stance:
        return False
    if not query.stance and stance.stance not in TARGET_LABELS:
        return False
    if query.speaker and fold(stance.holder) != fold(query.speaker):
        return False
    return not query.target or target_matches(stance.target, query.target)


def quote_cards(hit: Hit, query: SearchQuery | None = None, limit: int = 3) -> list[QuoteCard]:
    """A hit's cards: each quote badged with the stances its text carries, then each
    stance no quote carries as a card of its evidence (one card per evidence). Cards
    with a stance the query asks for come first, then cards with stances; at most
    ``limit``."""
    cards: list[QuoteCard] = []
    carried: set[int] = set()
    for q in hit.quotes:
        mine = [i for i, s in enumerate(hit.stances) if overlaps(q, s)]
        carried.update(mine)
        cards.append(QuoteCard(q.speaker, q.text, q.direct, [hit.stances[i] for i in mine]))
    loose: dict[tuple[str, int, int], list[Stance]] = {}
    for i, s in enumerate(hit.stances):
        if i not in carried:
            loose.setdefault((s.evidence, s.start, s.end), []).append(s)
    cards += [QuoteCard(ss[0].holder, ss[0].evidence, False, ss) for ss in loose.values()]
    return sorted(
        cards, key=lambda c: (not any(wanted(s, query) for s in c.stances), not c.stances)
    )[:limit]
