"""Stances: who is for or against whom or what, with the evidence; and how an
article stands toward tracked claims and its own headline.

This first version is lexical: an evaluative-word lexicon with negation, scored
in the clause around each target of a quote. ``newswire eval`` measures it; a
trained classifier replaces the scorer without changing this module's output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from spacy.tokens import Doc, Span, Token

from pipeline import claim_model
from pipeline.entities import EntityIndex
from pipeline.models import ClaimStance, Quote, Stance, StanceLabel

FAVOR = frozenset(
    """support supports supported supporting supportive back backs backed backing endorse endorses
    endorsed endorsement welcome welcomes welcomed welcoming praise praises praised commend
    commended applaud applauded hail hailed champion championed approve approves approved
    approval positive positively progress good great excellent success successful succeed helps
    help helpful constructive encouraging encouraged optimistic hopeful hope benefit benefits
    beneficial fair confident confidence effective improve improved improvement breakthrough
    thank thanks grateful promising reliable""".split()
)
AGAINST = frozenset(
    """oppose opposes opposed opposing opposition reject rejects rejected rejecting condemn
    condemns condemned condemnation criticize criticise criticized criticised criticism
    critical denounce denounced blame blames blamed accuse accuses accused attack attacks
    attacked unacceptable refuse refuses refused refusal deny denies denied dismiss dismissed
    doubt doubts jeopardize jeopardise threat threaten threatens threatened dangerous danger
    illegal unlawful wrong bad worse worst fail fails failed failure failing disaster
    disastrous reckless irresponsible outrageous shameful corrupt corruption lie lies lied
    false misleading speculation pressure punish sanction sanctions warn warned warning
    concern concerned concerns worry worried fear fears against problem problems flawed
    harmful harm damage damaging destroy undermine undermines undermined violate violated
    violation betray betrayed scandal crisis chaos weak mistake mistakes deadlock stall
    stalled collapse hostile aggression terror terrorist enemy enemies unfair costly waste
    degradation degrade degraded weaken weakened crush defeat isolate isolated punish""".split()
)
NEGATORS = frozenset("not no never n't cannot without nor neither hardly".split())
_STANCE_TYPES = ("PERSON", "ORG", "LOC", "NORP", "EVENT", "LAW", "PRODUCT", "WORK")


@dataclass(frozen=True)
class Polarity:
    label: StanceLabel
    confidence: float
    score: float


def polarity(tokens: list[Token]) -> Polarity:
    """Lexicon score of ``tokens``: +1 per favour word, -1 per against word, flipped
    when a negator precedes it within three tokens."""
    score = 0.0
    for i, tok in enumerate(tokens):
        word = tok.lower_
        value = 1.0 if word in FAVOR or tok.lemma_.lower() in FAVOR else 0.0
        value = -1.0 if word in AGAINST or tok.lemma_.lower() in AGAINST else value
        if value and any(t.lower_ in NEGATORS for t in tokens[max(0, i - 3) : i]):
            value = -value
        score += value
    label, confidence = _label(score)
    return Polarity(label, confidence, score)


def _clause(token: Token) -> list[Token]:
    """The smallest clause around ``token``: walk up to the nearest verb and take its subtree."""
    head = token
    # compare indices: spaCy makes a new Token object on every .head access
    while head.pos_ not in ("VERB", "AUX") and head.head.i != head.i:
        head = head.head
    return list(head.subtree)


@dataclass(frozen=True)
class _Target:
    name: str
    type: str
    root: Token
    tokens: list[Token]


_ROLES = frozenset({"nsubj", "nsubjpass", "dobj", "attr", "appos", "conj"})


def _targets(span: Span, quote: Quote, entities: EntityIndex) -> list[_Target]:
    found: dict[str, _Target] = {}
    for m in entities.mentions:
        if m.start >= span.end_char or m.end <= span.start_char:
            continue
        if m.name == quote.speaker or m.type not in _STANCE_TYPES or m.name in found:
            continue
        ent = span.doc.char_span(m.start, m.end, alignment_mode="expand")
        if ent is None:
            continue
        # A place is a target only as an actor ("Israel will delay"), not a setting ("in Gaza").
        if m.type == "LOC" and ent.root.dep_ not in _ROLES:
            continue
        found[m.name] = _Target(m.name, m.type, ent.root, _clause(ent.root))
    if not found:  # no named target: the main noun phrase the quote is about
        for chunk in span.noun_chunks:
            if chunk.root.pos_ == "PRON" or chunk.root.dep_ not in ("nsubj", "nsubjpass", "dobj"):
                continue
            words = [t for t in chunk if t.dep_ not in ("det", "poss", "predet") and not t.is_punct]
            if words:
                name = span.doc.text[words[0].idx : words[-1].idx + len(words[-1].text)]
                found[name] = _Target(name, "TOPIC", chunk.root, _clause(chunk.root))
                break
    return list(found.values())


def _harm(target: _Target) -> float:
    """-2 when the target is what a harm word acts on ("pressure on X", "degradation of X")."""
    tok = target.root
    if tok.dep_ == "pobj":  # X <- of/on/against <- degradation/pressure/sanctions
        tok = tok.head
    elif tok.dep_ not in ("dobj", "nsubjpass"):
        return 0.0
    head = tok.head
    return -2.0 if head.lemma_.lower() in AGAINST or head.lower_ in AGAINST else 0.0


def extract_stances(doc: Doc, quotes: list[Quote], entities: EntityIndex) -> list[Stance]:
    """Holder → target stances from the article's attributed quotes.

    A target is an entity a quote names (other than its speaker; places only as
    actors), else the noun phrase the quote is about. Each quote scores the clause
    around the target (the whole quote when it has one target only); scores of one
    holder toward one target add up across quotes, and the evidence is the sentence
    that weighed most. Neutral stances are kept for people and organisations only.
    """
    totals: dict[tuple[str, str], tuple[float, float, str, str]] = {}
    for quote in quotes:
        span = doc.char_span(quote.start, quote.end, alignment_mode="expand")
        if span is None:
            continue
        targets = _targets(span, quote, entities)
        for target in targets:
            tokens = [t for t in target.tokens if span.start <= t.i < span.end]
            if len(targets) == 1:
                tokens = list(span)
            score = polarity(tokens).score + _harm(target)
            key = (quote.speaker, target.name)
            total, strongest, evidence, ttype = totals.get(key, (0.0, -1.0, "", target.type))
            if abs(score) > strongest:
                strongest, evidence = abs(score), _evidence(doc, quote)
            totals[key] = (total + score, strongest, evidence, ttype)
    stances = []
    for (holder, target_name), (total, _, evidence, ttype) in totals.items():
        label, confidence = _label(total)
        if label == "neutral" and ttype not in ("PERSON", "ORG"):
            continue
        stances.append(
            Stance(
                holder=holder,
                target=target_name,
                stance=label,
                confidence=confidence,
                evidence=evidence,
            )
        )
    return stances


def target_polarity(doc: Doc, start: int, end: int) -> StanceLabel:
    """Polarity toward the target written at [start, end) of ``doc``: the lexicon score
    of the clause around it plus harm patterns ("pressure on X")."""
    span = doc.char_span(start, end, alignment_mode="expand")
    if span is None or not len(span):
        return "neutral"
    target = _Target(span.text, "TARGET", span.root, _clause(span.root))
    return _label(polarity(target.tokens).score + _harm(target))[0]


def _label(score: float) -> tuple[StanceLabel, float]:
    if abs(score) < 1:
        return "neutral", 0.5
    return ("favor" if score > 0 else "against"), round(min(0.95, 0.55 + 0.1 * abs(score)), 2)


def _evidence(doc: Doc, quote: Quote) -> str:
    """The sentence(s) holding the quote, trimmed to a readable length."""
    sents = [s for s in doc.sents if s.start_char < quote.end and quote.start < s.end_char]
    text = " ".join(s.text.strip() for s in sents) if sents else quote.text
    return text if len(text) <= 600 else text[:597] + "…"


# Claims ------------------------------------------------------------------------


def claim_stances(claims: Sequence[str], title: str, body: str) -> list[ClaimStance]:
    """Whether an article (title and body) agrees with, disputes, discusses or is
    unrelated to each claim: the FNC-1 model of ``pipeline.claim_model``."""
    text = f"{title}\n{body}" if title else body
    return [
        ClaimStance(claim=claim, stance=label, confidence=round(p, 2))
        for claim, (label, p) in zip(claims, claim_model.model().predict(claims, text), strict=True)
    ]


def claim_stance(claim: str, title: str, body: str) -> ClaimStance:
    """``claim_stances`` for one claim."""
    [verdict] = claim_stances([claim], title, body)
    return verdict
