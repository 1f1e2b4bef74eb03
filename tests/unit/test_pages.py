"""The pages' filters: which URLs may become links, and capped titles."""

from __future__ import annotations

import pytest

from pipeline.api.pages import TITLE_CHARS, capped, is_web_url, marked, overlaps, quote_cards
from pipeline.index import Hit, SearchQuery
from pipeline.models import Quote, Stance


@pytest.mark.parametrize(
    ("url", "link"),
    [
        ("https://news.example/a?b=1#c", True),
        ("HTTP://NEWS.EXAMPLE/", True),
        ("javascript:alert(1)", False),
        ("  JavaScript:alert(1)", False),
        ("java\tscript:alert(1)", False),  # browsers drop the tab: still a script
        ("data:text/html,<script>x</script>", False),
        ("vbscript:msgbox", False),
        ("file:///etc/passwd", False),
        ("//evil.example/x", False),
        ("/relative/path", False),
        ("http:/no-host", False),
        ("http://[::1", False),  # does not parse
        ("", False),
        (None, False),
    ],
)
def test_only_http_urls_become_links(url: str | None, link: bool) -> None:
    assert is_web_url(url) is link


def test_titles_are_capped() -> None:
    assert capped("short") == "short"
    assert capped(None) == ""
    long = capped("x" * 10_000)
    assert len(long) == TITLE_CHARS and long.endswith("…")


def test_snippets_keep_only_mark() -> None:
    assert marked('<mark>a</mark><script>x</script><b onclick="y">') == (
        "<mark>a</mark>&lt;script&gt;x&lt;/script&gt;&lt;b onclick=&quot;y&quot;&gt;"
    )


BODY = 'Hale said: "No deal as written." Vasquez replied: "A fair hearing first." Berg left.'


def _quote(speaker: str, text: str) -> Quote:
    start = BODY.index(text)
    return Quote(
        speaker=speaker,
        speaker_type="PERSON",
        cue="said",
        text=text,
        direct=True,
        start=start,
        end=start + len(text),
    )


def _stance(holder: str, label: str, evidence: str, offsets: bool = True) -> Stance:
    start = BODY.index(evidence) if offsets else 0
    return Stance(
        holder=holder,
        target="ceasefire proposal",
        stance=label,  # type: ignore[arg-type]
        confidence=0.8,
        evidence=evidence,
        start=start,
        end=start + len(evidence) if offsets else 0,
    )


def _hit(quotes: list[Quote], stances: list[Stance]) -> Hit:
    return Hit(
        id="a",
        title="t",
        url="https://a.example/",
        source="a.example",
        published_at=None,
        snippet="",
        score=0.0,
        quotes=quotes,
        stances=stances,
    )


@pytest.mark.parametrize("offsets", [True, False])
def test_quote_cards_carry_the_stances_that_overlap_them(offsets: bool) -> None:
    hale, vasquez = (
        _quote("Hale", "No deal as written."),
        _quote("Vasquez", "A fair hearing first."),
    )
    # stances listed in the other order: a card never takes its neighbour's
    stances = [
        _stance("Vasquez", "favor", 'Vasquez replied: "A fair hearing first."', offsets),
        _stance("Hale", "against", 'Hale said: "No deal as written."', offsets),
        _stance("Berg", "against", "Berg left.", offsets),
    ]
    cards = quote_cards(_hit([hale, vasquez], stances), limit=5)
    assert [(c.speaker, c.text, [s.stance for s in c.stances]) for c in cards] == [
        ("Hale", hale.text, ["against"]),
        ("Vasquez", vasquez.text, ["favor"]),
        ("Berg", "Berg left.", ["against"]),  # carried by no quote: its own card
    ]


def test_quote_cards_put_stances_first_and_stop_at_the_limit() -> None:
    hale, vasquez = (
        _quote("Hale", "No deal as written."),
        _quote("Vasquez", "A fair hearing first."),
    )
    cards = quote_cards(_hit([hale, vasquez], [_stance("Vasquez", "favor", vasquez.text)]), limit=1)
    assert [(c.speaker, len(c.stances)) for c in cards] == [("Vasquez", 1)]
    assert quote_cards(_hit([], [])) == []


def test_the_card_a_search_asks_for_comes_first() -> None:
    hale, vasquez = (
        _quote("Hale", "No deal as written."),
        _quote("Vasquez", "A fair hearing first."),
    )
    hit = _hit(
        [hale, vasquez],
        [_stance("Hale", "against", hale.text), _stance("Vasquez", "favor", vasquez.text)],
    )
    for query, first in [
        (None, "Hale"),
        (SearchQuery(stance="favor"), "Vasquez"),
        (SearchQuery(target="Ceasefire", speaker="vasquez"), "Vasquez"),
        (SearchQuery(target="ceasefire proposal", stance="against"), "Hale"),
    ]:
        assert quote_cards(hit, query, limit=1)[0].speaker == first, query


def test_overlap_by_offsets_is_strict_at_the_edges() -> None:
    quote = _quote("Hale", "No deal as written.")
    touching = Stance(
        holder="Hale",
        target="deal",
        stance="against",
        confidence=0.5,
        evidence="x",
        start=quote.end,
        end=quote.end + 5,
    )
    assert not overlaps(quote, touching)
