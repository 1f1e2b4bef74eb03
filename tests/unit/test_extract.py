from __future__ import annotations

import random
import time

import pytest

from pipeline.analyze import (
    ANALYSIS_MAX_CHARS,
    ANALYSIS_MAX_TOKENS,
    analysis_input,
    analysis_text,
    to_article,
)
from pipeline.errors import ContentError
from pipeline.extract import (
    clean_text,
    extract,
    extract_html,
    from_text_file,
    guess_language,
    html_to_text,
)
from pipeline.models import MAX_BODY, MAX_TOKEN_CHARS, Analysis, Article, Extracted, FeedEntry
from pipeline.nlp import load_model
from pipeline.urls import article_id, host_of

PARAGRAPH = (
    "The harbour authority said on Monday that the new ferry terminal would open in the spring, "
    "after two years of delays caused by flooding and a dispute with the builder over costs. "
)


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        ("Smoke rises over the port after the fire on Sunday. - Ana Lopes/Getty Images", False),
        ("The mayor meets the minister in the city hall. - Jo Bright/Reuters", False),
        ("Workers clear debris on Monday. (Photo: Sam Reed)", False),
        ("Photo by Sam Reed/Harbor Times", False),
        ("By Nina Albrecht", False),
        ("By Nina Albrecht and Samuel Okoro, Harbor Times", False),
        ("Harbor Times's Laura Chen and Tom Wu contributed to this report.", False),
        ("(Reporting by Ana Lopes; Editing by Jo Bright)", False),
        ("Additional reporting by Sam Reed in Port Meridian", False),
        ("For more news and newsletters create an account at example.com", False),
        ("Sign up for our morning briefing", False),
        ("This story has been updated with comment from the council.", False),
        ("By the end of the week the council had voted twice on the plan.", True),
        ("The minister said the plan was fair and would be debated next week.", True),
        ("Hale said the mayor, backed by Reuters reporting, had misled the council.", True),
    ],
)
def test_clean_text_drops_bylines_captions_and_credits(line: str, kept: bool) -> None:
    assert (clean_text(f"{PARAGRAPH}\n{line}") == f"{PARAGRAPH.strip()}\n{line}") is kept


def test_clean_text_drops_repeated_lines() -> None:
    assert clean_text("A caption here.\nA caption here.\nBody.") == "A caption here.\nBody."


def test_html_to_text_keeps_paragraphs() -> None:
    assert html_to_text("<p>One &amp; two.</p><p>Three.</p>") == "One & two.\nThree."
    assert html_to_text("plain &amp; simple") == "plain & simple"


ENTRY = FeedEntry(
    key="k",
    feed_id="f",
    url="https://x.example/a",
    title="Feed title",
    summary="<p>Short summary.</p>",
    content="<p>" + PARAGRAPH * 3 + "</p>",
)


def page(body: str) -> str:
    return (
        "<html lang='en'><head><title>Page title</title>"
        "<link rel='canonical' href='https://x.example/canonical'></head>"
        f"<body><nav>Home News Sport</nav><article><h1>Page title</h1>{body}</article>"
        "<footer>Copyright</footer></body></html>"
    )


def test_page_text_wins_when_substantial() -> None:
    html = page("".join(f"<p>{PARAGRAPH} Paragraph {i}.</p>" for i in range(6)))
    got = extract(html, ENTRY, url=ENTRY.url, min_chars=200)
    assert not got.from_feed and "Paragraph 5" in got.body
    assert got.title == "Page title" and got.canonical_url == "https://x.example/canonical"
    assert "Home News Sport" not in got.body


@pytest.mark.parametrize("html", [None, page("<p>Subscribe to read.</p>"), "<html></html>"])
def test_feed_text_when_page_is_thin_or_missing(html: str | None) -> None:
    got = extract(html, ENTRY, url=ENTRY.url, min_chars=200)
    assert got.from_feed and got.body.startswith("The harbour authority")
    assert got.title == "Feed title" and got.language == "en"


def test_no_text_anywhere_is_a_content_error() -> None:
    bare = FeedEntry(key="k", feed_id="f", url="https://x.example/a")
    with pytest.raises(ContentError):
        extract(None, bare, url=bare.url, min_chars=200)


def test_text_file_title_on_first_line() -> None:
    got = from_text_file("Headline here\n\n" + PARAGRAPH + "\nBy Someone Else\n")
    assert got.title == "Headline here" and got.body == PARAGRAPH.strip()


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        (PARAGRAPH * 2, "en"),
        (
            "Der Bürgermeister sagte am Montag, dass die neue Fähre im Frühjahr fahren werde. " * 3,
            None,
        ),
        ("too short", None),
    ],
)
def test_guess_language(text: str, lang: str | None) -> None:
    assert guess_language(text) == lang


# canonical URLs: a page may not claim another site's story --------------------------------


def analysed(canonical: str | None, final_url: str) -> Article:
    extracted = Extracted(title="T", body="Body.", canonical_url=canonical)
    return to_article(extracted, Analysis(), url=final_url)


@pytest.mark.parametrize(
    ("canonical", "final_url", "expected"),
    [
        ("https://x.example/canonical", "https://x.example/a?utm_source=rss", "https://x.example/canonical"),
        ("https://example.com/story", "https://www.example.com/story-amp", "https://example.com/story"),
        ("https://www.example.co.uk/s", "https://m.example.co.uk/s", "https://www.example.co.uk/s"),
        ("https://victim.example/their-story", "https://attacker.example/a", "https://attacker.example/a"),
        ("https://bar.blogspot.com/post", "https://foo.blogspot.com/post", "https://foo.blogspot.com/post"),
        ("https://victim.example/s", "http://127.0.0.1:8000/s", "http://127.0.0.1:8000/s"),
        (None, "https://x.example/a", "https://x.example/a"),
    ],
)  # fmt: skip
def test_canonical_url_counts_only_on_the_same_site(
    canonical: str | None, final_url: str, expected: str
) -> None:
    got = analysed(canonical, final_url)
    assert got.canonical_url == expected and got.id == article_id(expected)
    assert got.source == host_of(expected)


def test_a_foreign_canonical_cannot_take_over_another_articles_id() -> None:
    real = analysed("https://victim.example/story", "https://victim.example/story")
    claimed = analysed("https://victim.example/story", "https://attacker.example/copy")
    assert real.id != claimed.id


def test_extract_html_keeps_the_page_canonical_for_to_article_to_judge() -> None:
    html = page("".join(f"<p>{PARAGRAPH} Paragraph {i}.</p>" for i in range(6)))
    got = extract_html(html, "https://attacker.example/copy")
    assert got is not None
    assert to_article(got, Analysis(), url="https://attacker.example/copy").canonical_url == (
        "https://attacker.example/copy"
    )


# binary and non-text input --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("Title\n" + PARAGRAPH + "\x00\x01\x02" + PARAGRAPH, "NUL"),
        ("Title\n" + "\ufffd\x13\x7f" * 2000 + PARAGRAPH, "binary"),
        ("Title\n" + "a" * 100_000, "sentence"),
        ("Title\n" + "(" * 50_000 + PARAGRAPH + ")" * 50_000, "sentence"),
        ("Title\n" + " ".join(["x" * 200] * 500), "sentence"),
    ],
)
def test_binary_or_non_text_is_a_content_error(text: str, why: str) -> None:
    with pytest.raises(ContentError, match=why):
        from_text_file(text)


def test_random_bytes_are_refused_quickly() -> None:
    data = random.Random(7).randbytes(1_000_000)
    started = time.perf_counter()
    with pytest.raises(ContentError):
        from_text_file(data.decode("utf-8", errors="replace"))
    assert extract_html(data, "https://x.example/bin") is None, "no article text in it"
    assert time.perf_counter() - started < 5


def test_a_binary_page_falls_back_to_the_feed_text() -> None:
    got = extract(b"\x00\x01binary\xff" * 1000, ENTRY, url=ENTRY.url, min_chars=200)
    assert got.from_feed and got.body.startswith("The harbour authority")


def test_ordinary_text_with_some_long_tokens_is_kept() -> None:
    text = "Title\n" + (PARAGRAPH * 2 + " https://x.example/" + "a" * 150 + " ") * 20
    assert from_text_file(text).body.startswith("The harbour authority")


# analysis input is bounded ------------------------------------------------------------------


def test_analysis_text_is_capped_and_long_tokens_are_blanked() -> None:
    body = (PARAGRAPH + "(" * 5000 + " ") * 200
    text = analysis_text(body)
    assert len(text) == ANALYSIS_MAX_CHARS < len(body)
    assert body.startswith(text[: len(PARAGRAPH)])
    assert max(len(w) for w in text.split()) <= MAX_TOKEN_CHARS
    # offsets stay true: every character kept is where the body has it
    assert all(a == b or a == " " for a, b in zip(text, body, strict=False))
    short = "The mayor said so. " * 10
    assert analysis_text(short) == short


def test_one_line_page_body_is_capped() -> None:
    html = "<html><body><article><p>" + PARAGRAPH * 1500 + "</p></article></body></html>"
    got = extract_html(html, "https://x.example/long")
    assert got is not None and len(got.body) == MAX_BODY


@pytest.mark.parametrize(
    "body",
    [
        " ".join(["(" * 32 + ")" * 32] * 1500),  # every character a token
        "Hale said no. " * 8000,
        "short and sweet",
    ],
)
def test_analysis_input_is_bounded_by_tokens(body: str) -> None:
    nlp = load_model()
    text = analysis_input(nlp, body)
    assert len(nlp.tokenizer(text)) <= ANALYSIS_MAX_TOKENS
    assert analysis_text(body).startswith(text) and text
