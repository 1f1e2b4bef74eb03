"""Saved searches: matching a batch on SQLite (against the search itself), the Atom
feed (parsed by feedparser), webhook signatures and the webhook address rules."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest

from pipeline import watches as watches_module
from pipeline.errors import BlockedHostError, InputError
from pipeline.index.sqlite import SqliteIndex
from pipeline.models import Article, Entity, Quote, Stance
from pipeline.store.sqlite import SqliteStore
from pipeline.watch_delivery import payload, sign
from pipeline.watch_model import Watch, WatchFilters, WatchMatch
from pipeline.watches import match_batch, new_watch, save_watch, search_query

T0 = datetime(2026, 11, 3, 9, tzinfo=UTC)


def article(
    n: int, title: str, body: str, source: str = "valley.example", **extra: object
) -> Article:
    url = f"https://{source}/story/{n}"
    return Article.model_validate(
        {
            "id": f"a{n}",
            "url": url,
            "canonical_url": url,
            "source": source,
            "title": title,
            "body": body,
            "language": "en",
            "published_at": T0 + timedelta(hours=n),
            **extra,
        }
    )


def corpus() -> list[Article]:
    marsh = Entity(name="Helena Marsh", type="PERSON", mentions=2, salience=0.6, aliases=["Marsh"])
    return [
        article(
            1,
            "Water restrictions announced",
            "The board cut water use by a tenth.",
            entities=[marsh],
        ),
        article(
            2,
            "Farmers criticise water board",
            "Growers said the restrictions came too late.",
            source="farm.example",
        ),
        article(
            3,
            "Ceasefire talks resume",
            "Envoys met again on Tuesday.",
            source="world.example",
            stances=[
                Stance(
                    holder="Helena Marsh",
                    target="ceasefire proposal",
                    stance="favor",
                    confidence=0.8,
                    evidence="",
                    start=0,
                    end=0,
                )
            ],
        ),
        article(
            4,
            "Football: cup final",
            "The sport section reports the final.",
            quotes=[
                Quote(
                    speaker="Owen Pryce",
                    speaker_type="PERSON",
                    cue="said",
                    text="We won",
                    direct=True,
                    start=0,
                    end=0,
                )
            ],
        ),
        article(
            5,
            "Reservoir levels fall",
            "Water levels reached a twenty year low.",
            source="news.valley.example",
        ),
    ]


WATCHES = [
    ("water", WatchFilters()),
    ("water -farmers", WatchFilters()),
    ('"water board"', WatchFilters()),
    ("reserv*", WatchFilters()),
    ("", WatchFilters(source="valley.example")),
    ("", WatchFilters(entity="marsh")),
    ("", WatchFilters(target="ceasefire", stance="favor")),
    ("", WatchFilters(speaker="owen pryce")),
    ("water OR ceasefire", WatchFilters(since=T0 + timedelta(hours=2))),
    ("-sport", WatchFilters()),
    ("nothing-matches-this", WatchFilters()),
]


@pytest.fixture
def db(tmp_path: Path) -> tuple[SqliteIndex, SqliteStore]:
    path = tmp_path / "n.db"
    return SqliteIndex(path), SqliteStore(path)


def test_sqlite_matching_agrees_with_search_over_the_batch(
    db: tuple[SqliteIndex, SqliteStore],
) -> None:
    index, store = db
    old, batch = corpus()[:2], corpus()[2:]
    index.upsert_many(old)
    watches = [new_watch(q, f) for q, f in WATCHES]
    for w in watches:
        store.add_watch(w)
    index.upsert_many(batch)
    new = match_batch(index, store, batch)
    got: dict[str, set[str]] = {}
    for m in new:
        got.setdefault(m.watch_id, set()).add(m.article_id)
    batch_ids = {a.id for a in batch}
    for w in watches:
        searched = {h.id for h in index.search(search_query(w, limit=100)).hits}
        assert got.get(w.id, set()) == searched & batch_ids, (w.query, w.filters)
    assert sum(len(v) for v in got.values()) >= 8, "the table should exercise most filters"
    # an old story is never matched: only the batch counts
    assert all(m.article_id in batch_ids for m in new)
    # a batch written again records nothing new
    assert match_batch(index, store, batch) == []


def test_matches_wait_for_delivery_only_with_a_webhook(db: tuple[SqliteIndex, SqliteStore]) -> None:
    index, store = db
    hooked = new_watch("water", webhook="https://hooks.example/in")
    quiet = new_watch("water")
    store.add_watch(hooked)
    store.add_watch(quiet)
    index.upsert_many(corpus())
    new = match_batch(index, store, corpus())
    states = {(m.watch_id, m.article_id): m.state for m in new}
    assert states[(hooked.id, "a1")] == "pending" and states[(quiet.id, "a1")] == "none"
    [due] = [m for m in store.due_deliveries(datetime.now(UTC)) if m.article_id == "a1"]
    assert due.watch_id == hooked.id and due.title == "Water restrictions announced"


def test_a_watch_needs_words_or_a_filter() -> None:
    with pytest.raises(InputError):
        new_watch("!!! ( ) OR")
    assert new_watch("", WatchFilters(entity="Marsh")).filters.entity == "Marsh"


@pytest.mark.parametrize(
    ("url", "allowed", "refused"),
    [
        ("http://169.254.169.254/latest/meta-data", True, "cloud metadata"),
        ("http://10.0.0.5/hook", False, "non-public address 10.0.0.5"),
        ("http://127.0.0.1:8080/hook", False, "NEWSWIRE_ALLOW_PRIVATE_HOSTS"),
        ("http://[::ffff:169.254.169.254]/", True, "cloud metadata"),
        ("file:///etc/passwd", True, "scheme 'file'"),
        ("gopher://hooks.example/", True, "scheme 'gopher'"),
    ],
)
def test_webhooks_the_fetch_rules_refuse(url: str, allowed: bool, refused: str) -> None:
    with pytest.raises(BlockedHostError) as caught:
        new_watch("water", webhook=url, allow_private=allowed)
    assert refused in caught.value.reason


def test_private_webhook_allowed_by_the_allowlist() -> None:
    watch = new_watch("water", webhook="http://127.0.0.1:8080/hook", allow_private=True)
    assert watch.webhook == "http://127.0.0.1:8080/hook" and len(watch.secret) >= 32


def test_signature_is_hmac_sha256_of_the_body() -> None:
    # RFC 4231, test case 2
    expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert sign("Jefe", b"what do ya want for nothing?") == f"sha256={expected}"
    watch = new_watch("water", webhook="https://hooks.example/in")
    match = WatchMatch(watch_id=watch.id, article_id="a1", title="T", matched_at=T0)
    body = payload(watch, match)
    mac = hmac.new(watch.secret.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(sign(watch.secret, body), "sha256=" + mac)
    assert sign("another secret", body) != sign(watch.secret, body)


def test_atom_feed_parses_and_escapes() -> None:
    from pipeline.api.watches import atom_feed

    watch = Watch(id="w1", query='water & "board" <b>', created_at=T0)
    matches = [
        WatchMatch(
            watch_id="w1",
            article_id=f"a{n}",
            title=f"Story {n} <script>alert(1)</script> & more\x00\x07",
            url=f"https://valley.example/story/{n}?a=1&b=2",
            source="valley.example",
            summary="Levels < 20% & falling",
            published_at=T0,
            matched_at=T0 + timedelta(minutes=10 - n),
        )
        for n in range(3)
    ]
    parsed = feedparser.parse(atom_feed(watch, matches))
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.id == "urn:newswire:watch:w1"
    assert parsed.feed.title == 'Newswire watch: water & "board" <b>'
    assert parsed.feed.updated_parsed[:5] == (2026, 11, 3, 9, 10)
    assert [e.id for e in parsed.entries] == [
        f"urn:newswire:watch:w1:article:a{n}" for n in range(3)
    ]
    first = parsed.entries[0]
    assert first.link == "https://valley.example/story/0?a=1&b=2"
    assert first.title == "Story 0 <script>alert(1)</script> & more"
    assert first.summary == "Levels < 20% & falling"
    assert first.updated_parsed[:5] == (2026, 11, 3, 9, 10)
    empty = feedparser.parse(atom_feed(watch, []))
    assert (
        not empty.bozo and empty.entries == [] and empty.feed.updated_parsed[:4] == (2026, 11, 3, 9)
    )


HOSTILE_TEXT = [
    "]]><script>alert(1)</script><![CDATA[",
    "<img src=x onerror=alert(1)>&amp;&#0;",
    "\x00\x01\x08\x0b\x0c\x1f\x7f\ufffe\uffff tab\tnew\nline",
    '"><a href="javascript:alert(1)">x</a>',
]


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(document.domain)",
        "data:text/html,<script>alert(1)</script>",
        "file:///etc/passwd",
        "//evil.example/x",
        "vbscript:msgbox(1)",
    ],
)
def test_atom_feed_of_a_hostile_story_is_well_formed_and_links_only_the_web(url: str) -> None:
    from pipeline.api.watches import atom_feed

    watch = Watch(id="w1", query=HOSTILE_TEXT[0] + HOSTILE_TEXT[2], created_at=T0)
    matches = [
        WatchMatch(
            watch_id="w1",
            article_id=f"a{n}",
            title=text,
            url=url,
            source=text,
            summary=text,
            matched_at=T0 + timedelta(minutes=n),
        )
        for n, text in enumerate(HOSTILE_TEXT)
    ]
    good = WatchMatch(
        watch_id="w1", article_id="ok", title="ok", url="https://valley.example/ok", matched_at=T0
    )
    parsed = feedparser.parse(atom_feed(watch, [*matches, good]))
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert len(parsed.entries) == len(HOSTILE_TEXT) + 1
    links = [link.href for e in parsed.entries for link in e.get("links", [])]
    assert links == ["https://valley.example/ok"], "only the http(s) story is a link"
    assert parsed.entries[0].title == HOSTILE_TEXT[0], "text is escaped, never cut at ]]>"
    assert parsed.entries[2].title == "\x7f tab\tnew\nline", "what XML cannot hold is dropped"


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("https://user:pw@hooks.example/in", "credentials"),
        ("https://:token@hooks.example/in", "credentials"),
        ("https://hooks.example/in\x7f", "non-printable"),
        ("https://hooks.example/" + "x" * 2_000, "at most 2000 characters"),
        ("https://hooks..example/in", "is not a host name"),
    ],
)
def test_webhooks_a_story_url_could_not_be_either(url: str, refused: str) -> None:
    with pytest.raises(InputError) as caught:
        new_watch("water", webhook=url)
    assert refused in caught.value.reason


def test_idn_webhook_is_kept_as_given_and_checked_by_name() -> None:
    watch = new_watch("water", webhook="https://bücher.example/in")
    assert watch.webhook == "https://bücher.example/in"


@pytest.mark.parametrize(
    ("query", "filters", "refused"),
    [
        ("water " * 100, WatchFilters(), "words are at most 500"),
        ("", WatchFilters(entity="M" * 201), "entity is at most 200"),
        ("water", WatchFilters(source="a." * 101), "source is at most 200"),
    ],
)
def test_a_watch_is_bounded_whoever_makes_it(
    query: str, filters: WatchFilters, refused: str
) -> None:
    with pytest.raises(InputError) as caught:
        new_watch(query, filters)
    assert refused in caught.value.reason


def test_watches_are_capped_per_instance(
    db: tuple[SqliteIndex, SqliteStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, store = db
    monkeypatch.setattr(watches_module, "MAX_WATCHES", 3)
    for _ in range(3):
        save_watch(store, new_watch("water"))
    with pytest.raises(InputError) as caught:
        save_watch(store, new_watch("water"))
    assert "at most 3 watches" in caught.value.reason and len(store.watches()) == 3


def test_one_watch_that_cannot_match_never_stops_the_others(
    db: tuple[SqliteIndex, SqliteStore], caplog: pytest.LogCaptureFixture
) -> None:
    """A watch the CLI could make before filters were capped: a 60,000-character source
    is past SQLite's LIKE pattern limit (50,000 bytes), so its search raises. It fails
    alone and is logged once; the batch and every other watch go on."""
    index, store = db
    good = new_watch("water")
    broken = Watch(
        id="broken", query="water", filters=WatchFilters(source="a" * 60_000), created_at=T0
    )
    store.add_watch(good)
    store.add_watch(broken)
    matcher = watches_module.matcher_for(index)
    batches = [corpus()[:2], corpus()[2:]]
    found = []
    for batch in batches:
        index.upsert_many(batch)
        found += match_batch(index, store, batch)
    assert {(m.watch_id, m.article_id) for m in found} == {
        (good.id, "a1"),
        (good.id, "a2"),
        (good.id, "a5"),
    }
    assert "pattern too complex" in matcher.failed["broken"]
    logged = [r for r in caplog.records if "watch broken cannot be matched" in r.getMessage()]
    assert len(logged) == 1, "logged once, not at every batch"
    watches_module.remove_watch(store, index, "broken")
    assert "broken" not in matcher.failed


def test_a_watch_saves_the_search_filters_by_their_names() -> None:
    # search_query passes the filters on by name: a field SearchQuery lacks would fail
    since = datetime(2026, 10, 1, tzinfo=UTC)
    filters = WatchFilters(entity="Ada", type="PERSON", target="bridge", since=since)
    q = search_query(Watch(id="w", query="toll", filters=filters, created_at=since))
    assert (q.text, q.entity, q.type, q.target, q.since) == (
        "toll",
        "Ada",
        "PERSON",
        "bridge",
        since,
    )
    assert set(WatchFilters.model_fields) <= set(q.__dataclass_fields__)
