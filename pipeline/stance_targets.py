"""Who holds a stance and what it is about: holders resolved to the entity the article
named, targets as entities or as issue noun phrases in a canonical form.

Works on one parsed document: every mention is looked up by token (built once), so
the stance rules can ask "which entity is this word?" at no cost.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass

from spacy.tokens import Doc, Token

from pipeline.entities import EntityIndex, Mention
from pipeline.models import Quote
from pipeline.nlp import doc_text
from pipeline.quotes import SPEAKER_HEADS

_ACTOR_TYPES = frozenset({"PERSON", "ORG", "LOC", "NORP"})
_TARGET_TYPES = _ACTOR_TYPES | {"LAW", "EVENT", "WORK", "PRODUCT", "MISC"}
# Definite descriptions that refer back to the last entity of a type ("the senator").
_PERSON_ROLES = frozenset(
    """senator candidate nominee president governor congressman congresswoman lawmaker
    minister mayor speaker leader chairman chairwoman secretary ambassador envoy judge
    businessman billionaire mogul politician official spokesman spokeswoman ceo
    republican democrat host anchor actor author""".split()
)
_ORG_ROLES = frozenset(
    """company group organization organisation party campaign agency network newspaper
    website site paper outlet committee administration court union firm movement militia
    network channel magazine coalition""".split()
)
_PLACE_ROLES = frozenset("country nation state city government kingdom republic".split())
_KNOWING = frozenset(
    "know knows knew see sees saw expect expects seem seems appear appears find finds found"
    " show shows showed".split()
)
FIRST_PERSON = frozenset({"i", "we", "me", "us"})
_HE_SHE = frozenset({"he", "she", "him", "her", "his"})
_SHE = frozenset({"she", "her"})
# What an honorific says of the name after it ("Mr. Trump", "Mrs. Clinton"); capitalised,
# as "Democrats will miss Harry Reid" has none.
_HONORIFICS = {
    **dict.fromkeys(("Mr", "MR"), "he"),
    **dict.fromkeys(("Mrs", "MRS", "Ms", "MS", "Miss", "MISS"), "she"),
}
# What carries someone's words without being anyone: "the petition accuses", "her
# statement condemning". Its holder is its author, when the text names one.
_DOCUMENTS = frozenset(
    """statement email petition document report letter ad comment release memo filing
    lawsuit complaint editorial tweet video documentary book article essay column""".split()
)
# Heads that name no issue a reader would list.
_GENERIC = frozenset(
    """thing things way ways time times lot lots part parts one ones kind sort bit fact
    something anything nothing everything someone anyone people person year years day days
    week weeks month months point points place side sides number question reason issue
    issues matter case percent""".split()
)
_DROP_FIRST = frozenset(
    """the a an any such that this these those its their his her our my your some
    every each all""".split()
)
_MODIFIER_DEPS = frozenset({"compound", "amod", "nmod", "poss", "case", "nummod", "npadvmod"})
_MAX_TARGET_WORDS = 8
_ANAPHORIC = frozenset({"the", "this", "that", "such"})
_LOOKBACK = 400  # tokens: a few paragraphs
_COMPLEMENTS = frozenset("of on for to against".split())
# Groups that hold stances as one ("college graduates back Clinton", "moderate
# Republicans", "Sanders supporters", "the unions").
_GROUPS = frozenset(
    """republican democrat conservative liberal progressive moderate independent delegate
    superdelegate evangelical donor voter supporter opponent critic protester activist
    union graduate homeowner renter politician establishment crowd electorate
    lawmaker leader member backer fan millennial""".split()
)
_PARTISAN = frozenset(
    "republican democratic gop conservative liberal progressive moderate establishment".split()
)
# A legislator's party and state after the name: "Sen. Ann Ray (D-N.Y.)", "John McCain (R)".
_DESIGNATION = re.compile(r"\((?:D|R|I)(?:\s?[-–,]\s?[A-Z][A-Za-z.]*(?: [A-Z][A-Za-z.]*)?)?\)")


@dataclass(frozen=True)
class Actor:
    """A resolved holder or target: canonical name and type (``ISSUE`` for a noun phrase)."""

    name: str
    type: str


class Referents:
    """Resolves holder and target words of one document to what the article named."""

    def __init__(self, doc: Doc, entities: EntityIndex, quotes: list[Quote]) -> None:
        self.doc = doc
        self.text = doc_text(doc)
        self.quotes = quotes
        self.mentions = entities.mentions  # in text order
        self._by_token: dict[int, Mention] = {}
        # "Trump says in the ad": a speaker the quote rules left undescribed but the
        # article names elsewhere
        self._aliases = {
            alias.lower(): Actor(e.name, e.type)
            for e in entities.entities
            if e.type in _ACTOR_TYPES
            for alias in (e.name, *e.aliases)
        }
        # a person's "he" or "she", when an honorific before a name says so
        self._pronouns: dict[str, str] = {}
        surnames = Counter(  # in how many entities' names a last word is
            word
            for e in entities.entities
            for word in {n.split()[-1].lower() for n in (e.name, *e.aliases) if n.split()}
        )
        for m in entities.mentions:
            span = doc.char_span(m.start, m.end, alignment_mode="expand")
            if span is None:
                continue
            for i in range(span.start, span.end):
                self._by_token.setdefault(i, m)
            said = _HONORIFICS.get(doc[span.start - 1].text.rstrip(".")) if span.start else None
            # "Mr. Clinton" in an article of two Clintons says nothing of either
            if said and m.type == "PERSON" and surnames[m.text.split()[-1].lower()] <= 1:
                known = self._pronouns.get(m.name, said)
                self._pronouns[m.name] = said if known == said else "?"
        self._designations()

    def _designations(self) -> None:
        """The words of "(D-N.Y.)" after a person's name are that person's
        ("Gillibrand (D-NY), a supporter of …" is Gillibrand's), never a place or a party
        a stance word or a pronoun could refer to."""
        covered: list[Mention] = []
        for found in _DESIGNATION.finditer(self.text):
            span = self.doc.char_span(found.start(), found.end(), alignment_mode="expand")
            person = self._by_token.get(span.start - 1) if span is not None else None
            if span is not None and person is not None and person.type == "PERSON":
                for i in range(span.start, span.end):
                    if (inside := self._by_token.get(i)) is not None:
                        covered.append(inside)
                    self._by_token[i] = person
        # nor is "he" after "Cruz (R-Tex.)" a Tex
        self.mentions = [m for m in self.mentions if not any(m is c for c in covered)]

    def mention(self, token: Token) -> Mention | None:
        """The entity mention a token belongs to, if any."""
        return self._by_token.get(token.i)

    def quote_at(self, token: Token) -> Quote | None:
        """The attributed quote whose text holds ``token`` (the innermost one that says
        whose words they are: "X added that the US knows Y" is X's, not the US's)."""
        best: Quote | None = None
        for q in self.quotes:
            if q.cue.lower() in _KNOWING:
                continue
            if any(s <= token.idx < e for s, e in q.spans()) and (
                best is None or q.end - q.start < best.end - best.start
            ):
                best = q
        return best

    def speaker(self, quote: Quote) -> Actor | None:
        """Who a quote's words belong to: its speaker, as the entity it names when the
        quote rules left a name undescribed; a document's author ("her statement"), or
        None when a document ("the petition") names none."""
        if quote.speaker_type == "DESCRIBED":
            found = self._aliases.get(quote.speaker.lower())
            if found is not None:
                return found
            if quote.source_span is not None:
                source = self.doc.char_span(*quote.source_span, alignment_mode="expand")
                if source is not None and source.root.lemma_.lower() in _DOCUMENTS:
                    return self.author(source.root)
        return Actor(quote.speaker, quote.speaker_type)

    def author(self, document: Token, exclude: str = "") -> Actor | None:
        """Whose words a document noun carries: its possessor ("McAuliffe's comment",
        "her statement") or a name compounded with it ("one Clinton ad"); else None."""
        for child in document.children:
            if child.dep_ == "poss":
                return self.holder(child, exclude)
        for child in document.children:
            mention = self.mention(child) if child.dep_ == "compound" else None
            if mention is not None and mention.type in _ACTOR_TYPES and mention.name != exclude:
                return Actor(mention.name, mention.type)
        return None

    def _previous(
        self,
        before: int,
        types: frozenset[str],
        window: int = 2000,
        exclude: Collection[str] = (),
        pronoun: str = "",
    ) -> Actor | None:
        """The last entity of ``types`` named before character ``before``; for a
        ``pronoun``, never a person an honorific says it cannot be ("she" is no "Mr.")."""
        # the honorific that rules a person out: "she" is no "Mr.", "he" no "Mrs."
        other = "he" if pronoun in _SHE else "she" if pronoun in _HE_SHE else ""
        for m in reversed(self.mentions):
            if m.start < before and m.type in types and m.name not in exclude:
                if other and self._pronouns.get(m.name) == other:
                    continue
                return Actor(m.name, m.type) if before - m.start <= window else None
        return None

    def previous_person(self, before: int, exclude: str = "", pronoun: str = "") -> Actor | None:
        """The last person named before character ``before`` (other than ``exclude``)
        that ``pronoun`` can refer to."""
        return self._previous(before, frozenset({"PERSON"}), exclude={exclude}, pronoun=pronoun)

    def holder(self, head: Token, exclude: str = "") -> Actor | None:
        """The holder named by a subject (or agent) word, or None when it names no one
        a reader could list (an unresolved "it", "this", a generic noun); a pronoun
        never resolves to ``exclude`` (the stance's own target)."""
        low = head.lower_
        if head.pos_ == "PRON":
            if low in FIRST_PERSON:
                quote = self.quote_at(head)
                if quote is not None and quote.direct and quote.speaker_type != "UNKNOWN":
                    return self.speaker(quote)
                return None
            quote = self.quote_at(head)
            if quote is not None and not quote.direct and quote.speaker != exclude:
                # "Graham said he would not vote for Trump", "they said they back her"
                person = quote.speaker_type == "PERSON"
                named = quote.speaker_type != "UNKNOWN"
                if named and ((low in _HE_SHE and person) or (low == "they" and not person)):
                    return self.speaker(quote)
            if low in _HE_SHE:
                not_them = {exclude}
                if head.dep_ == "dobj":  # never its own verb's subject ("Reyes assailed her")
                    subject = next((c for c in head.head.children if c.dep_ == "nsubj"), None)
                    doer = self.mention(subject) if subject is not None else None
                    not_them |= {doer.name} if doer is not None else set()
                return self._previous(
                    head.idx, frozenset({"PERSON"}), exclude=not_them, pronoun=low
                )
            if low in ("it", "they", "its", "their"):
                return self._previous(head.idx, frozenset({"ORG", "NORP"}), 400, {exclude})
            return None
        mention = self.mention(head)
        if mention is not None:
            if mention.type not in _ACTOR_TYPES:
                return None
            actor = Actor(mention.name, mention.type)
            if mention.type == "LOC":  # "Beirut responded …, per Makati": the speaker's side
                quote = self.quote_at(head)
                if quote is not None and quote.cue in ("per", "according to"):
                    return (
                        Actor(quote.speaker, "PERSON") if quote.speaker_type == "PERSON" else actor
                    )
            return actor
        if head.pos_ not in ("NOUN", "PROPN"):
            return None
        apposed = self.mention(head.head) if head.dep_ == "appos" else None
        if apposed is not None and apposed.type in _ACTOR_TYPES:
            # "Tom Reyes, the county treasurer who …": the one the article named
            return Actor(apposed.name, apposed.type)
        in_apposition = self._named_in_apposition(head, _ACTOR_TYPES)
        if in_apposition is not None:
            return in_apposition
        lemma = head.lemma_.lower()
        if lemma in _DOCUMENTS:
            return self.author(head, exclude)
        definite = any(
            c.dep_ == "det" and c.lower_ in ("the", "this", "that") for c in head.children
        )
        named_modifier = any(self.mention(c) is not None for c in head.children)
        plural = head.tag_ in ("NNS", "NNPS")
        if plural and (
            lemma in _GROUPS
            or named_modifier
            or any(c.lower_ in _PARTISAN for c in head.children if c.dep_ in ("amod", "compound"))
        ):
            return Actor(self.phrase(head), "NORP")
        if definite and not named_modifier and not plural:  # "the senators" are no one senator
            for roles, types in (
                (_PERSON_ROLES, frozenset({"PERSON"})),
                (_ORG_ROLES, frozenset({"ORG"})),
                (_PLACE_ROLES, frozenset({"LOC"})),
            ):
                if lemma in roles:
                    return self._previous(head.idx, types)
        if lemma in SPEAKER_HEADS or head.lower_ in SPEAKER_HEADS or lemma in _PERSON_ROLES:
            return Actor(self.phrase(head, keep_det=True), "DESCRIBED")
        return None

    def target(self, head: Token) -> Actor | None:
        """What a stance word is about: the entity a word names, a person a pronoun
        refers to, or an issue noun phrase ("Hochstein's ceasefire negotiations track");
        None for pronouns that name nothing and generic nouns."""
        if head.pos_ == "PRON":
            if head.lower_ in _HE_SHE:
                return self._previous(head.idx, frozenset({"PERSON"}), pronoun=head.lower_)
            return None
        mention = self.mention(head)  # whatever the tagger called it ("anti-Trump")
        if mention is not None and mention.type in _TARGET_TYPES:
            return Actor(mention.name, mention.type)
        # the tagger calls some nouns verbs ("negotiations track"); their role says otherwise
        if head.pos_ not in ("NOUN", "PROPN") and not (
            head.pos_ == "VERB" and head.dep_ in ("dobj", "pobj")
        ):
            return None
        in_apposition = self._named_in_apposition(head, _TARGET_TYPES)
        if in_apposition is not None:
            return in_apposition
        if head.lemma_.lower() in _GENERIC and not any(
            c.dep_ in ("compound", "amod") for c in head.children
        ):
            return None
        if head.lemma_.lower() in _PERSON_ROLES | _ORG_ROLES and any(
            c.dep_ == "det" and c.lower_ == "the" for c in head.children
        ):
            found = self.holder(head)  # "praised the senator": the senator the article named
            return found if found is not None and found.type != "DESCRIBED" else None
        name = self.phrase(head)
        if name and len(name.split()) == 1:  # "the proposal": the one named before
            name = self._named_before(head) or name
        return Actor(name, "ISSUE") if name else None

    def _named_in_apposition(self, head: Token, types: frozenset[str]) -> Actor | None:
        """ "attacked by the Democratic front-runner, Hillary Clinton": the one the
        apposition names. A plural's apposition lists its members ("four senators: Sens.
        Manchin, Casey, …"), not the one it is."""
        if head.tag_ in ("NNS", "NNPS"):
            return None
        for c in head.children:
            mention = self.mention(c) if c.dep_ == "appos" else None
            if mention is not None and mention.type in types:
                return Actor(mention.name, mention.type)
        return None

    def _named_before(self, head: Token) -> str:
        """The fuller name an earlier mention gave a bare definite noun ("the
        proposal" after "a US-backed proposal to stop the war"), or ""."""
        if not any(c.dep_ == "det" and c.lower_ in _ANAPHORIC for c in head.children):
            return ""
        lemma = head.lemma_
        for tok in reversed(self.doc[max(0, head.i - _LOOKBACK) : head.i]):
            if tok.lemma_ == lemma and tok.pos_ == "NOUN":
                earlier = self.phrase(tok)
                if len(earlier.split()) > 1:
                    return earlier
        return ""

    def phrase(self, head: Token, keep_det: bool = False) -> str:
        """The canonical form of the noun phrase headed by ``head``: its modifiers
        (compounds, adjectives, possessor) and an "of" complement, without leading
        determiners or quote marks; at most a few words."""
        keep = self._modifiers(head)
        for prep in head.rights:  # "ban on Muslims", "plan to admit Syrian refugees"
            if prep.dep_ == "prep" and prep.lower_ in _COMPLEMENTS:
                pobj = next((c for c in prep.children if c.dep_ == "pobj"), None)
                if pobj is not None and pobj.pos_ in ("NOUN", "PROPN"):
                    keep |= {prep.i} | self._modifiers(pobj)
            elif prep.dep_ == "acl" and any(
                c.dep_ == "aux" and c.lower_ == "to" for c in prep.children
            ):
                obj = next((c for c in prep.children if c.dep_ == "dobj"), None)
                keep |= {prep.i - 1, prep.i} | (self._modifiers(obj) if obj is not None else set())
            break
        left, right = min(keep), max(keep)
        if right - left + 1 > _MAX_TARGET_WORDS:
            keep = self._modifiers(head)
            left, right = min(keep), max(keep)
        words = list(self.doc[left : right + 1])
        while words and not keep_det and words[0].lower_ in _DROP_FIRST:
            words = words[1:]
        while words and (words[0].is_punct or words[0].is_space):
            words = words[1:]
        while words and (words[-1].is_punct or words[-1].is_space):
            words = words[:-1]
        if not words:
            return ""
        text = self.text[words[0].idx : words[-1].idx + len(words[-1].text)]
        text = text.replace("“", "").replace("”", "").replace('"', "").strip()
        return text[0].lower() + text[1:] if words[0].lower_ in _DROP_FIRST and text else text

    @staticmethod
    def _modifiers(head: Token) -> set[int]:
        keep = {head.i}
        stack = [c for c in head.lefts if c.dep_ in _MODIFIER_DEPS or c.dep_ == "det"]
        while stack:
            tok = stack.pop()
            keep.add(tok.i)
            stack.extend(c for c in tok.children if c.dep_ in _MODIFIER_DEPS or c.dep_ == "punct")
        left = min(keep)  # contiguous from the leftmost kept word (hyphens, quote marks)
        return set(range(left, head.i + 1))
