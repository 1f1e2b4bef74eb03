"""Re-publish real stories as other outlets do: the near-duplicate test set's edit
generator (``bench/dedup.py``). The texts come from ``../shared/data`` at bench time;
the boilerplate and added paragraphs here are ours, written for this purpose.

A copy is its original's paragraphs with a few of these edits, seeded:

- boilerplate lines on top and at the bottom (a site's share bar, newsletter plug,
  copyright line, "related" links);
- a paragraph cut (wire copies are trimmed, mostly from the bottom) or two paragraphs
  swapped;
- a new headline, and now and then that headline left in the body by the extractor;
- a paragraph added (an editor's note or a local angle, here a paragraph of another
  story, which shares nothing with this one).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

TOP_LINES = [
    "Advertisement",
    "Share this story: Facebook Twitter Email Print",
    "Sign up for our morning briefing and get the news that matters in your inbox.",
    "Listen to this article",
    "Updated 2 hours ago",
    "Skip to main content",
    "Breaking News Alerts: download our free app",
    "Politics | National | Election 2016",
]
BOTTOM_LINES = [
    "Copyright 2016. All rights reserved. This material may not be published, broadcast, "
    "rewritten or redistributed.",
    "The Associated Press contributed to this report.",
    "Follow our politics team on Twitter for live updates from the campaign trail.",
    "Related: What the polls say now | The week in photos | Our election guide",
    "Have a news tip? Email our newsroom or call the tip line any time.",
    "Comments are closed on this story.",
    "Reporting by our Washington bureau; editing by the national desk.",
    "This story has been updated with additional details.",
]
HEADLINE_WORDS = [
    ["What", "Why", "How", "Live:", "Analysis:", "Update:"],
    ["the campaign", "voters", "the candidates", "Washington", "the race", "the party"],
    ["faces", "says", "weighs", "braces for", "answers", "turns to"],
    ["a new test", "its critics", "the fallout", "the next debate", "the numbers", "the week"],
]


@dataclass(frozen=True)
class Story:
    """A story of the test set: its own id, the id of the story it copies (its own id
    for an original), its headline and body paragraphs."""

    id: str
    original: str
    title: str
    paragraphs: list[str]

    @property
    def body(self) -> str:
        return "\n\n".join(self.paragraphs)


def read_story(path: Path) -> Story:
    """A PolNeAR text file: the headline on its first line, paragraphs below."""
    lines = path.read_text(encoding="utf-8").split("\n")
    paragraphs = [p.strip() for p in "\n".join(lines[1:]).split("\n\n") if p.strip()]
    return Story(path.stem, path.stem, lines[0].strip(), paragraphs)


def headline(rng: random.Random) -> str:
    return " ".join(rng.choice(part) for part in HEADLINE_WORDS)


def republish(original: Story, n: int, others: list[Story], rng: random.Random) -> Story:
    """The ``n``-th copy of ``original`` with two to four edits drawn by ``rng``; an added
    paragraph is taken from one of ``others``."""
    paras = list(original.paragraphs)
    title = original.title
    edits = rng.sample(["boiler", "cut", "swap", "headline", "added"], rng.randint(2, 4))
    if "cut" in edits and len(paras) > 3:
        # trimmed from the bottom twice as often as from the middle
        del paras[-1 if rng.random() < 0.66 else rng.randrange(1, len(paras) - 1)]
    if "swap" in edits and len(paras) > 3:
        i = rng.randrange(len(paras) - 1)
        paras[i], paras[i + 1] = paras[i + 1], paras[i]
    if "added" in edits:
        paras.insert(rng.randrange(1, len(paras) + 1), _paragraph(others, rng))
    if "headline" in edits:
        title = headline(rng)
        if rng.random() < 0.3:  # the extractor kept the headline in the body
            paras.insert(0, title)
    if "boiler" in edits:
        paras = rng.sample(TOP_LINES, rng.randint(1, 3)) + paras
        paras += rng.sample(BOTTOM_LINES, rng.randint(1, 3))
    return Story(f"{original.id}~copy{n}", original.id, title, paras)


def _paragraph(stories: list[Story], rng: random.Random) -> str:
    """A paragraph of a story drawn at random, of the length a paragraph has (some
    corpus files are one long block, which is no paragraph)."""
    while True:
        para = rng.choice(rng.choice(stories).paragraphs)
        if 15 <= len(para.split()) <= 120:
            return para


def test_set(
    paths: list[Path],
    *,
    share: float = 0.4,
    max_copies: int = 4,
    min_chars: int = 300,
    seed: int = 18,
) -> list[Story]:
    """Every story of ``paths`` with at least ``min_chars`` of body (what the pipeline
    indexes at all, ``Settings.min_body_chars``); a ``share`` of them each re-published
    one to ``max_copies`` times; shuffled (a copy may arrive before its original)."""
    rng = random.Random(seed)
    stories = [read_story(p) for p in sorted(paths)]
    stories = [s for s in stories if len(s.body) >= min_chars]
    copied = rng.sample(stories, int(len(stories) * share))
    copies = [
        republish(s, n, stories, rng) for s in copied for n in range(rng.randint(1, max_copies))
    ]
    out = stories + copies
    rng.shuffle(out)
    return out
