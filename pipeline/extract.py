"""Extract an article's text and metadata from HTML (trafilatura), or fall back to
the feed's own content; then strip bylines, photo captions and credit lines, which
would otherwise turn into entities and quotes."""

from __future__ import annotations

import html as htmllib
import logging
import re
from datetime import UTC, datetime

import trafilatura
from lxml import html as lxml_html

from pipeline.errors import ContentError, PermanentError
from pipeline.fetch import Fetcher
from pipeline.models import MAX_BODY, MAX_TOKEN_CHARS, Extracted, FeedEntry
from pipeline.policies import ExtractPolicy

log = logging.getLogger(__name__)

_AGENCIES = (
    r"Getty Images|Reuters|AP|AFP|EPA|Bloomberg|Shutterstock|Alamy|Xinhua|Anadolu|"
    r"Sipa|SOPA Images|LightRocket|NurPhoto|Pool|File|Handout|Courtesy"
)
# Lines that are not article text. Each pattern matches a whole (stripped) line.
_DROP_LINE = [
    re.compile(p, re.I)
    for p in (
        r".*\s[-–—|]\s*(?:photo(?:graph)?:?\s*)?[A-Z][\w.'’ -]{1,60}/[\w.'’ -]{2,60}",  # caption - Name/Agency
        r".*\((?:photo|image|picture|credit)s?:?[^)]*\)\s*",
        rf".*(?:{_AGENCIES})\s*(?:via Getty Images)?",  # caption ending in a credit
        r"(?:photo|image|picture|credit|photograph)s?\s*(?:by|:|credit:).{0,120}",
        r"by\s+[A-Z][\w.'’-]+(?:\s+[A-Z][\w.'’-]+){0,3}(?:\s*(?:,|and|&)\s*[A-Z][\w.'’-]+(?:\s+[A-Z][\w.'’-]+){0,3})*(?:,\s*[\w ]{0,40})?",
        r".{0,80}\bcontributed (?:to )?(?:this|the) (?:report|article|story)\.?",
        r"\(?(?:additional )?(?:reporting|writing|editing|research) by .{0,200}",
        r"(?:for more|sign up|subscribe|read more|related:|follow (?:us|\w+ on)).{0,160}",
        r"this (?:story|article) (?:has been|was) (?:updated|corrected).{0,160}",
        r"(?:updated|published)\s*(?:on\s*)?[\d:,. apmAPMGUTCEST]{4,40}",
    )
]
# Any line that names a wire or photo agency credit inside parentheses
_LONG_ENOUGH = 25
# Characters no prose has: C0 controls but tab and line breaks, DEL, and U+FFFD, which
# decoding binary with errors="replace" leaves behind.
_NOT_TEXT = re.compile(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")
_LONG_WORD = re.compile(rf"\S{{{MAX_TOKEN_CHARS + 1},}}")
_MAX_NOT_TEXT = 0.02  # share of characters; real pages have none or a stray few
_MAX_LONG_WORDS = 0.5  # share of non-space characters in words over MAX_TOKEN_CHARS


def refuse_non_text(text: str, url: str | None = None) -> None:
    """Raises ``ContentError`` when ``text`` is not prose: it has NUL bytes, more than
    2% control or replacement characters (binary decoded as text), or most of it in
    "words" longer than ``MAX_TOKEN_CHARS`` (base64, a one-word page: nothing to
    analyse, and what makes spaCy's tokenizer quadratic). Reads the first ``MAX_BODY``
    characters, all that is ever kept."""
    sample = text[:MAX_BODY]
    if "\x00" in sample:
        raise ContentError("binary content (NUL bytes), not text", url=url)
    odd = len(_NOT_TEXT.findall(sample))
    if odd > _MAX_NOT_TEXT * len(sample):
        share = odd / len(sample)
        raise ContentError(f"binary content ({share:.0%} control characters), not text", url=url)
    long_words = sum(len(w) for w in _LONG_WORD.findall(sample))
    if long_words > _MAX_LONG_WORDS * (len(sample) - sample.count(" ")):
        raise ContentError(
            f"no sentence structure ({long_words} characters in words over"
            f" {MAX_TOKEN_CHARS} characters)",
            url=url,
        )


def clean_text(text: str) -> str:
    """Drop bylines, captions, credit and boilerplate lines, and repeated lines.

    Paragraphs are lines; the kept ones are joined by single newlines.
    """
    kept: list[str] = []
    seen: set[str] = set()
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line in seen:  # captions and pull quotes are often repeated
            continue
        seen.add(line)
        if any(p.fullmatch(line) for p in _DROP_LINE):
            log.debug("dropped non-article line: %.80s", line)
            continue
        kept.append(line)
    return "\n".join(kept)


def html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment (feed summaries and content), paragraphs on lines."""
    if "<" not in markup:
        return htmllib.unescape(markup).strip()
    try:
        tree = lxml_html.fromstring(f"<div>{markup}</div>")
    except (ValueError, lxml_html.etree.ParserError):
        return re.sub(r"<[^>]+>", " ", markup).strip()
    for node in tree.iter("p", "br", "div", "li", "h1", "h2", "h3", "h4", "blockquote"):
        node.tail = "\n" + (node.tail or "")
    return re.sub(r"[ \t]*\n\s*", "\n", tree.text_content()).strip()


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_EN_STOPWORDS = frozenset(
    "the of and to in a is that for on with as was by at from it said he his be are this have"
    " an has were not but they which their its who been will would".split()
)


def guess_language(text: str) -> str | None:
    """'en' when English function words are common, else None (unknown).

    A deliberately tiny check: the pipeline analyses English, so what matters is
    telling English from everything else."""
    words = re.findall(r"[a-z]+", text[:5000].lower())
    if len(words) < 20:
        return None
    share = sum(w in _EN_STOPWORDS for w in words) / len(words)
    return "en" if share > 0.18 else None


def from_feed(entry: FeedEntry) -> Extracted:
    """The article as the feed itself carries it (content, else summary).

    Raises ``ContentError`` when it has no text, or text that is not prose."""
    body = clean_text(html_to_text(entry.content or entry.summary))
    if not body and not entry.title:
        raise ContentError("feed entry has no text", url=entry.url)
    refuse_non_text(body, entry.url)
    return Extracted(
        title=entry.title,
        body=body,
        summary=html_to_text(entry.summary)[:500],
        authors=list(entry.authors),
        published_at=entry.published_at,
        language=guess_language(body),
        from_feed=True,
    )


def extract_html(html: str | bytes, url: str | None = None) -> Extracted | None:
    """Main text and metadata of an article page, or ``None`` if there is none.

    The page's canonical URL is kept as the page claims it: ``analyze.to_article``
    decides whether it may name the article. Raises ``ContentError`` when the text is
    not prose (``refuse_non_text``)."""
    # trafilatura's defaults (tables kept) plus favor_precision, the one setting that
    # holds across folds (bench/extract_folds.py): better on four of five folds of the
    # benchmark's 40 dev pages (+0.006 to +0.026 F1), level on the fifth (-0.0003), level on
    # our demo pages; dropping tables or favoring recall never wins a fold. Comments are
    # never article text.
    doc = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        favor_precision=True,
    )
    if doc is None or isinstance(doc, dict) or not doc.text:
        return None
    refuse_non_text(doc.text, url)
    title = (doc.title or "").strip()
    body = clean_text(doc.text[:MAX_BODY])
    if title and body.startswith(title):  # the headline repeated as the first line
        body = body[len(title) :].lstrip()
    authors = [a.strip() for a in re.split(r";|\band\b", doc.author or "") if a.strip()]
    return Extracted(
        title=title,
        body=body,
        summary=(doc.description or "").strip()[:500],
        authors=authors,
        published_at=_parse_date(doc.date),
        language=doc.language or guess_language(body),
        canonical_url=doc.url,  # invalid URLs become None in the model
    )


def extract(html: str | bytes | None, entry: FeedEntry, *, url: str, min_chars: int) -> Extracted:
    """The article's text: the page's when it is there and substantial, else the
    feed's content or summary (whichever is longer than the page's text).

    Raises ``ContentError`` when neither has any text (a page whose text is not
    prose counts as none).
    """
    try:
        page = extract_html(html, url) if html else None
    except ContentError as exc:
        log.info("page text refused url=%s: %s", url, exc.reason)
        page = None
    if page is not None and len(page.body) >= min_chars:
        # The feed's timestamp is usually exact; a page's date is often a day only.
        return page.model_copy(
            update={
                "title": page.title or entry.title,
                "published_at": entry.published_at or page.published_at,
                "authors": page.authors or list(entry.authors),
            }
        )
    try:
        fallback = from_feed(entry) if (entry.content or entry.summary or entry.title) else None
    except ContentError as exc:
        log.info("feed text refused url=%s: %s", url, exc.reason)
        fallback = None
    if page is not None and (fallback is None or len(page.body) >= len(fallback.body)):
        return page.model_copy(update={"title": page.title or entry.title})
    if fallback is None:
        raise ContentError("no article text on the page or in the feed", url=url)
    log.info("using feed text url=%s (page text %s)", url, "thin" if page else "missing")
    return fallback.model_copy(update={"canonical_url": page.canonical_url if page else None})


def from_text_file(text: str) -> Extracted:
    """A plain-text article: title on the first non-empty line, body after it.

    Raises ``ContentError`` when it is empty or not prose (``refuse_non_text``)."""
    refuse_non_text(text)
    lines = text[: MAX_BODY * 2].strip().splitlines()
    if not lines:
        raise ContentError("empty text")
    body = clean_text("\n".join(lines[1:]))
    return Extracted(title=lines[0].strip(), body=body, language=guess_language(body))


_TEXTUAL = ("html", "xml", "text/plain")


def fetch_and_extract(
    entry: FeedEntry, fetcher: Fetcher, policy: ExtractPolicy
) -> tuple[Extracted, str]:
    """Fetch an entry's page and extract it; returns the text and the page's final URL.

    A page that is permanently unusable (4xx, robots, too large, not HTML) falls
    back to the feed's own text when the feed has some. Transient errors propagate
    for the caller to retry; ``PermanentError`` propagates when there is no fallback.
    """
    try:
        resp = fetcher.get(entry.url)
        ctype = resp.headers.get("content-type", "text/html").lower()
        if not any(t in ctype for t in _TEXTUAL):
            raise ContentError(f"not an article page (content-type {ctype})", url=resp.final_url)
    except PermanentError as exc:
        if not (entry.content or entry.summary):
            raise
        log.info("page unusable, using feed text url=%s: %s", entry.url, exc.reason)
        return from_feed(entry), entry.url
    return extract(
        resp.content, entry, url=resp.final_url, min_chars=policy.min_chars
    ), resp.final_url
