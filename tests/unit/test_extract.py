from __future__ import annotations

import pytest

from pipeline.errors import ContentError
from pipeline.extract import clean_text, extract, from_text_file, guess_language, html_to_text
from pipeline.models import FeedEntry

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
