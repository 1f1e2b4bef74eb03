"""Typed, normalized entities of one article.

spaCy finds mentions; this module types them in our scheme, strips titles and
possessives, merges a lone surname into the full name it abbreviates (taking its
type), merges close spellings and common short forms, and scores salience.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from rapidfuzz.distance import Levenshtein
from spacy.tokens import Doc, Span, Token

from pipeline.models import Entity, EntityType
from pipeline.nlp import NEWS_NER, doc_text
from pipeline.stance_lexicon import CAMPS

# Our type of a spaCy label; scripts/train/pseudo_label_ner.py maps its training labels here too.
OUR_TYPE: dict[str, EntityType] = {
    "PERSON": "PERSON",
    "ORG": "ORG",
    "GPE": "LOC",
    "LOC": "LOC",
    "FAC": "LOC",
    "NORP": "NORP",
    "EVENT": "EVENT",
    "LAW": "LAW",
    "WORK_OF_ART": "WORK",
    "PRODUCT": "PRODUCT",
    "LANGUAGE": "MISC",
    "MISC": "MISC",  # the news NER's other names (see pipeline/nlp.py)
}

# Titles that make the name after them a person's ("Councillor Marcus Hale", "Mayor X").
_PERSON_TITLES = frozenset(
    """mr mrs ms dr prof sir dame lord lady president president-elect minister premier
    chancellor secretary senator sen rep congressman congresswoman gov governor mayor speaker
    ambassador envoy general gen judge justice commissioner councillor councilor alderman
    economist analyst professor chief chairman chairwoman ceo""".split()
)
TITLES = _PERSON_TITLES | frozenset(
    """mr mrs ms miss dr prof sir dame lord lady president president-elect vice prime minister
    premier chancellor secretary senator sen rep representative congressman congresswoman
    gov governor mayor speaker ambassador envoy general gen lt col colonel major maj captain
    capt admiral adm sgt judge justice chief king queen prince princess pope rev reverend
    sheikh ayatollah commissioner chairman chairwoman chair ceo director spokesperson
    spokesman spokeswoman deputy foreign finance defense defence interior state special
    parliament parliamentary former acting us u.s. lebanese israeli""".split()
)
_ORG_FOLLOWERS = frozenset(
    "newspaper daily tv channel network agency radio magazine broadcaster paper outlet website"
    " company group party bank university ministry".split()
)
_LAW_WORDS = re.compile(
    r"\b(?:Resolution|Act|Bill|Treaty|Accord|Accords|Convention|Amendment|Directive)\b"
)
_EVENT_HEADS = frozenset(
    "war conflict summit talks election elections olympics games crisis".split()
)
_ORG_SUFFIXES = re.compile(
    r"\b(?:TV|News|Times|Post|Press|Journal|Inc|Corp|Ltd|LLC|Party|Coalition|Association|"
    r"Alliance|Union|Federation|Council|Bureau|Authority|Agency|Ministry|Department|Commission|"
    r"Foundation|Institute|Guild|Holdings|Group|Company|Corporation|University|Committee|Court|"
    r"Capital|Operator|Semiconductors|Energy)\.?$"
)
# A name holds no finite verb or participle ("Trump accused Holt" is a clause); a base
# form may be a foreign word the tagger took for one ("loaned to serie A club Atalanta"),
# and so may a name's particle ("Maarten den Bakker").
_CLAUSE_VERBS = frozenset({"VBD", "VBZ", "VBP", "VBN", "MD"})
_PARTICLES = frozenset("al bin da de del della den der di dos du el ibn la le van von".split())
_AMOUNT = re.compile(r"\d.*\b(?:million|billion|trillion|dollars?|percent|euros?|krone?r?)\b", re.I)
_TYPE_RANK = {
    t: i
    for i, t in enumerate(
        ("PERSON", "ORG", "LOC", "NORP", "EVENT", "LAW", "PRODUCT", "WORK", "MISC")
    )
}

# Short forms that name the same thing; keys are lower-cased.
_SAME_AS = {
    "us": "United States",
    "u.s.": "United States",
    "usa": "United States",
    "u.s.a.": "United States",
    "america": "United States",
    "united states": "United States",
    "uk": "United Kingdom",
    "u.k.": "United Kingdom",
    "britain": "United Kingdom",
    "great britain": "United Kingdom",
    "united kingdom": "United Kingdom",
    "un": "United Nations",
    "u.n.": "United Nations",
    "united nations": "United Nations",
    "eu": "European Union",
    "e.u.": "European Union",
    "european union": "European Union",
}


@dataclass
class Mention:
    start: int  # character offsets into the analysed text
    end: int
    text: str
    name: str = ""  # canonical name, filled once groups are merged
    type: EntityType = "MISC"


@dataclass
class _Group:
    type: EntityType
    forms: Counter[str] = field(default_factory=Counter)
    mentions: list[Mention] = field(default_factory=list)

    def canonical(self) -> str:
        if self.type == "PERSON":  # the fullest form names a person best
            return max(self.forms, key=lambda f: (len(f.split()), self.forms[f], len(f)))
        for form in self.forms:
            if form.lower() in _SAME_AS:
                return _SAME_AS[form.lower()]
        return max(self.forms, key=lambda f: (self.forms[f], len(f)))


@dataclass
class EntityIndex:
    """Entities of one text and every mention, in order, with its canonical name."""

    entities: list[Entity]
    mentions: list[Mention]

    def at(self, start: int, end: int) -> Mention | None:
        """The first mention overlapping the character range [start, end)."""
        for m in self.mentions:
            if m.start < end and start < m.end:
                return m
        return None


_TRAILING = frozenset("of in on at for and to the".split())
_HYPHENS = "-–‐"
_HYPHEN = frozenset(_HYPHENS)  # one of them as a token ("–" in "Anti–Trump"), not a run
_CAMP = re.compile(rf"^(?:{'|'.join(CAMPS)})(?:\s*[{_HYPHENS}]\s*|$)", re.I)


def camp_of(tok: Token) -> str:
    """The camp prefix a name follows ("anti" for the "Trump" of "anti-Trump"), or ""."""
    if tok.i > 1 and tok.doc[tok.i - 1].text in _HYPHEN and tok.doc[tok.i - 2].lower_ in CAMPS:
        return tok.doc[tok.i - 2].lower_
    return ""


def clean_name(text: str, person: bool = True) -> str:
    """Strip possessives, leading articles, trailing prepositions, stray punctuation,
    a camp prefix ("pro-Clinton" names Clinton) and, for people, titles ("Prime
    Minister", "Mr.") from a mention."""
    text = re.sub(r"[’']s?$", "", text.strip()).strip(' \t\n/-–—,.;:“”"‘’()')
    camp = _CAMP.match(text)
    if camp and (person or len(text[camp.end() :].split()) <= 1):
        text = text[camp.end() :]  # "pro-Jeb Bush"; an "Anti-Defamation League" keeps it
    words = text.split()
    while words and words[0].lower() == "the":
        words = words[1:]
    while words and words[-1].lower() in _TRAILING:
        words = words[:-1]
    while person and len(words) > 1 and words[0].lower().rstrip(".") in TITLES:
        words = words[1:]
    return " ".join(words)


def _retype(span: Span, name: str, label: str) -> EntityType | None:
    if label not in OUR_TYPE:
        return None
    etype = OUR_TYPE[label]
    nxt = span.doc[span.end].lower_ if span.end < len(span.doc) else ""
    first = span.text.split()[0].lower().rstrip(".") if span.text.split() else ""
    if first in _PERSON_TITLES and len(name.split()) >= 1 and name != span.text.strip():
        return "PERSON"
    if _LAW_WORDS.search(name):
        return "LAW"
    if name.split()[-1].lower() in _EVENT_HEADS:
        return "EVENT"
    if nxt in _ORG_FOLLOWERS or _ORG_SUFFIXES.search(name):
        return "ORG"
    if etype == "LAW":  # spaCy's LAW without a law word is rarely a law
        return "MISC"
    return etype


def _news_type(name: str, label: str) -> EntityType | None:
    """The news NER's type, trusted, except that laws and events (which CoNLL calls
    MISC, or ORG) are named by their words."""
    if _LAW_WORDS.search(name):
        return "LAW"
    if name.split()[-1].lower() in _EVENT_HEADS:
        return "EVENT"
    return OUR_TYPE.get(label)


def _collect(doc: Doc) -> list[Mention]:
    mentions = []
    for span in doc.ents:
        if any(t.is_lower and t.tag_ in _CLAUSE_VERBS and t.text not in _PARTICLES for t in span):
            continue  # a clause, not a name ("Trump accused Holt"); _find_missed_surnames finds them
        titled = (
            span.text.split()[0].lower().rstrip(".") in _PERSON_TITLES
            if span.text.split()
            else False
        )
        name = clean_name(span.text, person=span.label_ == "PERSON" or titled)
        if len(span[-1]) > 2 and span[-1].text.endswith(".") and span.text.endswith(name + "."):
            # the tokenizer kept the period: an abbreviation ("U.S.", "Ill."); not after a
            # lone initial, where it is as often the sentence's ("Malcolm X.")
            name += "."
        if len(name) < 2 or not any(c.isalpha() for c in name) or _AMOUNT.search(name):
            continue
        etype = (
            _news_type(name, span.label_)
            if span.kb_id_ == NEWS_NER
            else _retype(span, name, span.label_)
        )
        if etype is None:
            continue
        start = doc_text(doc).find(name, span.start_char, span.end_char + 1)
        start = start if start >= 0 else span.start_char
        mentions.append(Mention(start, start + len(name), name, type=etype))
    return mentions


_INITIALS = re.compile(r"(?:[A-Z]\.)+")  # "W.", "H.W."


def _close(a: str, b: str) -> bool:
    """Spellings of one name: equal ignoring case, or one edit apart in a long word."""
    a, b = a.lower(), b.lower()
    if a == b:
        return True
    shortest = min(len(a), len(b))
    return shortest >= 5 and Levenshtein.distance(a, b) <= (1 if shortest < 10 else 2)


def _same_name(a: str, b: str, etype: EntityType) -> bool:
    if len(a.split()) == len(b.split()) and _close(a, b):
        # not "George H.W. Bush" and "George W. Bush": other initials, another person
        return not any(
            x != y and _INITIALS.fullmatch(x) and _INITIALS.fullmatch(y)
            for x, y in zip(a.split(), b.split(), strict=True)
        )
    if etype == "PERSON":  # "Miller" and "Matthew Miller" are handled as surnames
        return False
    short, long_ = sorted((a.lower(), b.lower()), key=len)
    return long_.endswith(" " + short)  # "Resolution 1701" in "UN Resolution 1701"


def _group(mentions: list[Mention]) -> list[_Group]:
    groups: list[_Group] = []
    by_key: dict[tuple[str, EntityType], _Group] = {}
    persons: list[_Group] = []

    def add(group: _Group, m: Mention) -> None:
        group.forms[m.text] += 1
        group.mentions.append(m)

    # Multi-word people first, so that lone surnames can find them.
    ordered = sorted(mentions, key=lambda m: not (m.type == "PERSON" and len(m.text.split()) > 1))
    for m in ordered:
        key_text = _SAME_AS.get(m.text.lower(), m.text).lower()
        words = m.text.split()
        target: _Group | None = by_key.get((key_text, m.type))
        if target is None and len(words) == 1 and m.type != "NORP":
            for p in persons:  # a lone surname, maybe misspelled or mistyped
                if any(
                    _close(words[0], form.split()[-1]) for form in p.forms if len(form.split()) > 1
                ):
                    target = p
                    break
        if target is None and len(words) == 1 and m.type != "NORP":
            for g in groups:  # "Greenline" for "Greenline Energy", whatever spaCy called it,
                # a name of capitalised words (not "Obama" for "Obama on Climate Change")
                if g.type == "ORG" and any(
                    len(fw) > 1 and fw[0] == words[0] and fw[1][0].isupper()
                    for fw in map(str.split, g.forms)
                ):
                    target = g
                    break
        if target is None:
            for g in groups:  # a close spelling, or a shorter form, of a name of one type
                if g.type == m.type and any(_same_name(f, m.text, m.type) for f in g.forms):
                    target = g
                    break
        if target is None:
            target = _Group(m.type)
            groups.append(target)
            if m.type == "PERSON" and len(words) > 1:
                persons.append(target)
        by_key[(key_text, m.type)] = target
        add(target, m)
    return groups


def _adopt_mistyped_names(groups: list[_Group]) -> list[_Group]:
    """A lone PERSON surname ("Hale") whose full name the tagger mistyped ("Marcus Hale"
    as ORG) makes that name a person's: the two merge as PERSON."""
    lone = [g for g in groups if g.type == "PERSON" and all(len(f.split()) == 1 for f in g.forms)]
    for g in lone:
        word = next(iter(g.forms))
        for other in groups:
            if (
                other is g
                or other.type not in ("ORG", "LOC", "MISC")
                or _ORG_SUFFIXES.search(other.canonical())
            ):
                continue
            if any(len(f.split()) == 2 and _close(f.split()[-1], word) for f in other.forms):
                other.type = "PERSON"
                other.forms.update(g.forms)
                other.mentions.extend(g.mentions)
                g.mentions = []
                break
    return [g for g in groups if g.mentions]


def _find_missed_surnames(doc: Doc, groups: list[_Group], mentions: list[Mention]) -> None:
    """Count surnames of known people that the tagger missed ("Marin added …")."""
    surnames: dict[str, _Group] = {}
    for g in groups:
        if g.type == "PERSON":
            for form in g.forms:
                if len(form.split()) > 1:
                    surnames.setdefault(form.split()[-1], g)
    if not surnames:
        return
    covered = {i for m in mentions for i in range(m.start, m.end)}
    for tok in doc:
        group = surnames.get(tok.text)
        if group is not None and (tok.pos_ == "PROPN" or camp_of(tok)) and tok.idx not in covered:
            mention = Mention(tok.idx, tok.idx + len(tok.text), tok.text, type="PERSON")
            group.forms[tok.text] += 1
            group.mentions.append(mention)
            mentions.append(mention)


def _merge_types(groups: list[_Group]) -> list[_Group]:
    """One name, one entity: groups whose canonical names match take the type most of
    their mentions have (ties: PERSON, then ORG, LOC …)."""
    by_name: dict[str, list[_Group]] = defaultdict(list)
    for g in groups:
        by_name[g.canonical().lower()].append(g)
    merged = []
    for same in by_name.values():
        if len(same) == 1:
            merged.append(same[0])
            continue
        votes: Counter[EntityType] = Counter()
        for g in same:
            votes[g.type] += len(g.mentions)
        etype = min(votes, key=lambda t: (-votes[t], _TYPE_RANK[t]))
        target = _Group(etype)
        for g in same:
            target.forms.update(g.forms)
            target.mentions.extend(g.mentions)
        merged.append(target)
    return merged


def extract_entities(doc: Doc, title: str = "") -> EntityIndex:
    """Entities of ``doc`` (the article body), with mention counts, aliases and salience.

    Salience weighs how often an entity is mentioned, whether the title names it and
    how early it first appears; 1.0 is the article's most central entity.
    """
    mentions = _collect(doc)
    groups = _adopt_mistyped_names(_merge_types(_group(mentions)))
    _find_missed_surnames(doc, groups, mentions)
    length = max(len(doc_text(doc)), 1)
    top = max((len(g.mentions) for g in groups), default=1)
    title_low = title.lower()
    entities: list[Entity] = []
    for g in groups:
        name = g.canonical()
        for m in g.mentions:
            m.name, m.type = name, g.type
        forms = set(g.forms) | {name}
        in_title = any(re.search(rf"\b{re.escape(f.lower())}\b", title_low) for f in forms)
        first = min(m.start for m in g.mentions)
        salience = 0.6 * len(g.mentions) / top + 0.25 * in_title + 0.15 * (1 - first / length)
        entities.append(
            Entity(
                name=name,
                type=g.type,
                mentions=len(g.mentions),
                salience=round(salience, 3),
                aliases=sorted(f for f in g.forms if f != name),
            )
        )
    entities.sort(key=lambda e: (-e.salience, e.name))
    mentions.sort(key=lambda m: m.start)
    return EntityIndex(entities, mentions)
