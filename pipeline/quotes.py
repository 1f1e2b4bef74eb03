"""Quote attribution: who said what, quoted directly or reported.

Rules over spaCy's dependency parse:
- direct: a span in quotation marks of four words or more, attributed to the
  subject of a cue verb in its sentence, the sentence after it ("…," he said) or
  the one before it ("He said:"), or continuing the previous paragraph's speaker;
  one written around its attribution ("A," X said. "B.") is one quote in two pieces;
- indirect: a cue verb's clausal complement ("X said that …", "…, X added"),
  "according to X", and participles hanging off an attributed clause ("adding that …");
  for verbs of stance and intent, their object ("X criticized the plan", "Y wants to
  run"), as PolNeAR annotates attributions;
- speakers: a named entity (with its canonical name), a pronoun resolved to the
  nearest preceding person (other pronouns, "it" or "they", kept as written), or a
  described source ("a senior US official"); a definite description ("the
  official") refers back to the last matching one; a relative pronoun speaks for its
  antecedent ("Hale, who says …");
- an attribution written inside what it attributes ("The toll, critics argue, falls
  hardest on families") attributes the whole sentence, as PolNeAR marks it. This kind
  and the relative pronoun's are not stance evidence (``Quote.stance_evidence``), and
  change nothing the stance step reads: no cue taken from another, no speaker handed
  to the next direct quote, no quote that is evidence dropped inside them;
- read since the stance model was fitted, where the rules above find no quote, and
  not stance evidence either: an object too short to be a quote going on ("urged
  residents to attend …"), a cue with its preposition ("called for …"), the object of
  "cited" and "accused", and "“…,” he continued." (``_later_clause``, ``later``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from spacy.tokens import Doc, Span, Token

from pipeline.entities import EntityIndex
from pipeline.models import Quote, SpeakerType
from pipeline.nlp import doc_text

CUE_LEMMAS = frozenset(
    """say tell add note state claim argue insist warn explain announce acknowledge admit
    assert confirm deny describe suggest write report reply respond ask urge vow promise
    predict caution contend maintain stress emphasize emphasise complain concede declare
    estimate reiterate recall remark reveal tweet post testify allege accuse
    believe think hope fear observe recount relay inform conclude counter retort quip joke
    mention show find cite indicate""".split()
)
# Verbs of stance and intent whose object is what is attributed ("X criticized the
# plan", "Y wants to run"), as PolNeAR annotates them; mined from its train split's
# most frequent cues.
OBJECT_CUE_LEMMAS = frozenset(
    """call criticize criticise want seek endorse support defend propose praise oppose
    denounce dismiss blame reject decry attack blast question pledge refuse prefer plan
    back condemn applaud slam welcome describe deny admit announce confirm reveal predict
    promise vow urge express raise acknowledge seem appear know see feel expect decline offer
    agree find show""".split()
)
# Read since the stance model was fitted, where its rules find no quote (``_later_clause``):
# the object of these verbs ("cited a threat to public safety", "accused him of …"), a
# cue with its preposition ("called for an inquiry", "referring to the convention"),
# and what an object too short to be a quote goes on with ("called the charges
# unsubstantiated", "described the field as …", "urged residents to attend …").
LATER_OBJECT_CUE_LEMMAS = frozenset({"cite", "accuse"})
PREP_CUES = frozenset({("call", "for"), ("refer", "to"), ("point", "to")})
_LATER_LEMMAS = OBJECT_CUE_LEMMAS | LATER_OBJECT_CUE_LEMMAS | {verb for verb, _ in PREP_CUES}
_GOES_ON_DEPS = frozenset({"oprd", "xcomp"})
_GOES_ON_PREPS = frozenset({"as", "of"})
_ANON_HEADS = frozenset(
    """official officials source sources spokesperson spokesman spokeswoman aide aides
    diplomat diplomats officer person people analyst analysts expert experts insider""".split()
)
# Heads of noun phrases that can speak: "a senior official", "the ministry", "critics".
SPEAKER_HEADS = _ANON_HEADS | frozenset(
    """minister president leader leaders government ministry department agency group party
    army military police authorities administration office council committee court board
    union company firm campaign organization organisation institute statement report study
    survey analyst analysts expert experts witness witnesses resident residents lawyer lawyers
    attorney prosecutor prosecutors judge investigator investigators researcher researchers
    scientist scientists doctor doctors economist economists commander commanders negotiator
    negotiators envoy ambassador mediator mayor governor senator lawmaker lawmakers legislator
    legislators member members chief executive executives director chairman chairwoman ceo
    founder owner activist activists protester protesters critic critics supporter supporters
    opponent opponents voter voters man woman men women student students teacher teachers
    worker workers employee employees farmer farmers observer observers correspondent reporter
    journalist editor professor banker trader traders investor investors manager coach player
    organizer organizers organiser organisers citizens family relatives neighbour neighbours
    neighbor neighbors militants spokesperson secretary staff team regulator regulators
    watchdog operator utility utilities association federation""".split()
)
_PERSON_PRONOUNS = frozenset({"he", "she", "him", "her"})
_OTHER_PRONOUNS = frozenset({"it", "they", "we", "i", "you"})
_QUOTE_RE = re.compile(r"“([^“”]{2,4000}?)”|\"([^\"\n]{2,4000}?)\"|''([^\n]{2,4000}?)''")
_MIN_DIRECT_WORDS = 4
_MIN_REPORTED_CHARS = 15
_CLOSING = {"“": "”", '"': '"'}
_CUT_DEPS = frozenset({"relcl", "appos", "punct", "advcl", "cc", "conj"})


@dataclass
class _Speaker:
    name: str
    type: SpeakerType
    head: str = ""  # head lemma of a described source
    modifiers: frozenset[str] = frozenset()
    relative: bool = False  # named through a relative pronoun ("Hale, who says …")


def _direct_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for m in _QUOTE_RE.finditer(text):
        start, end = m.span(m.lastindex or 0)  # the one group of the mark that matched
        if len(text[start:end].split()) >= _MIN_DIRECT_WORDS:
            spans.append((start, end))
    return spans


def _inside(token: Token, spans: list[tuple[int, int]]) -> bool:
    return any(s - 1 <= token.idx < e + 1 for s, e in spans)


def _is_cue(token: Token) -> bool:
    lemma = token.lemma_.lower()
    # "As Simonyan put it, RT is “…”": whose words the sentence quotes
    putting_it = lemma == "put" and any(
        c.dep_ == "dobj" and c.lower_ == "it" for c in token.children
    )
    return (
        (lemma in CUE_LEMMAS or lemma in OBJECT_CUE_LEMMAS or putting_it)
        and token.pos_ in ("VERB", "AUX")
        and not any(c.dep_ == "neg" for c in token.children)  # "would not say"
    )


def _goes_on(token: Token) -> bool:
    """ "“…,” he continued.": going on speaking (not "continued to rise"), the cue of last
    resort for a direct quote."""
    return (
        token.lemma_.lower() == "continue"
        and token.pos_ in ("VERB", "AUX")
        and not any(c.dep_ in ("xcomp", "dobj", "prep", "neg") for c in token.children)
    )


def _subject(token: Token) -> Token | None:
    for child in token.children:
        if child.dep_ in ("nsubj", "nsubjpass") and child.dep_ != "expl":
            return child
    return None


def _speaker_span(head: Token) -> Span:
    doc = head.doc
    keep = [head]
    stack = [c for c in head.children if c.dep_ not in _CUT_DEPS]
    while stack:
        tok = stack.pop()
        keep.append(tok)
        stack.extend(c for c in tok.children if c.dep_ not in ("relcl", "appos", "punct"))
    left = min(t.i for t in keep)
    right = max(t.i for t in keep)
    return doc[left : right + 1]


class _Resolver:
    """Turns a subject token into a speaker, remembering described sources."""

    def __init__(self, doc: Doc, entities: EntityIndex, quoted: list[tuple[int, int]]) -> None:
        self.doc = doc
        self.entities = entities
        self.quoted = quoted
        self.described: list[_Speaker] = []

    def resolve(
        self,
        head: Token,
        before: int | None = None,
        *,
        strict: bool = False,
        remember: bool = True,
    ) -> _Speaker | None:
        """The speaker named by subject ``head``; a pronoun resolves to the last person
        mentioned before ``before`` (default: the pronoun itself). Without ``remember``
        (for the attributions read since the stance model was fitted) a described source
        is not kept for later definite descriptions."""
        antecedent = _antecedent(head)
        if antecedent is not None:  # "Graham, who says …": whom the clause is about
            speaker = self.resolve(antecedent, before, strict=strict, remember=remember)
            return replace(speaker, relative=True) if speaker is not None else None
        if head.pos_ == "PRON":
            if head.lower_ in _PERSON_PRONOUNS:
                limit = head.idx if before is None else min(head.idx, before)
                return self._previous_person(limit)
            if head.lower_ in _OTHER_PRONOUNS and not strict:
                return _Speaker(head.text, "UNKNOWN")  # "It says …", "They said …": as written
            return None
        if head.pos_ not in ("NOUN", "PROPN"):
            return None
        mention = self.entities.at(head.idx, head.idx + len(head.text))
        if mention is not None and mention.type in ("PERSON", "ORG", "LOC", "NORP"):
            return _Speaker(mention.name, mention.type)
        return self._described(head, strict, remember)

    def _previous_person(self, before: int) -> _Speaker | None:
        for m in reversed(self.entities.mentions):
            if (
                m.start < before
                and m.type == "PERSON"
                and not any(s <= m.start < e for s, e in self.quoted)
            ):
                return _Speaker(m.name, "PERSON")
        return None

    def _described(self, head: Token, strict: bool, remember: bool) -> _Speaker | None:
        span = _speaker_span(head)
        words = [t for t in span if not t.is_punct]
        if not words:
            return None
        lemma = head.lemma_.lower()
        modifiers = frozenset(
            t.lower_
            for t in span
            if t.dep_ in ("amod", "compound", "nmod", "npadvmod") and t != head
        )
        definite = words[0].lower_ in ("the", "this", "that", "these", "those")
        # Any noun may be a source ("a new poll shows …"); a subject borrowed from a
        # governing clause must look like one, since parse errors land there.
        if strict and head.lower_ not in SPEAKER_HEADS and lemma not in SPEAKER_HEADS:
            return None
        if definite and lemma in _ANON_HEADS:
            for earlier in reversed(self.described):
                if earlier.head in _ANON_HEADS and modifiers <= earlier.modifiers:
                    if remember:
                        self.described.append(earlier)  # most recently mentioned now
                    return earlier
        text = doc_text(self.doc)[words[0].idx : words[-1].idx + len(words[-1].text)]
        text = text[0].lower() + text[1:] if words[0].is_stop else text
        speaker = _Speaker(text, "DESCRIBED", lemma, modifiers)
        if remember:
            self.described.append(speaker)
        return speaker


def _governing_subject(cue: Token) -> tuple[Token, bool] | None:
    """The subject of ``cue``, or of the clause a subjectless cue hangs from
    ("…, the official said, adding that …"); the flag says it was borrowed."""
    tok: Token | None = cue
    for _ in range(4):
        if tok is None:
            return None
        subj = _subject(tok)
        if subj is not None:
            return subj, tok is not cue
        if tok.dep_ not in ("advcl", "conj", "xcomp", "pcomp", "acl") or tok.head.i == tok.i:
            return None
        tok = tok.head
    return None


def _unquoted_subject(
    cue: Token, governing: tuple[Token, bool] | None, quoted: list[tuple[int, int]]
) -> tuple[Token, bool] | None:
    """A speaker the parse hides from ``cue``: another subject when its first is inside
    a direct quote ("“… Every single amendment,” Cruz said"), else the first name between
    that quote and the cue ("''…,'' Mr. Daniloff, now 81, said" with "said" under the
    quote's verb); with no subject, the name right after a cue written right after a
    quote ("“…,” added a South Carolina Democrat", parsed as its object); else None."""
    if governing is None:
        text = doc_text(cue.doc)
        if not any(e <= cue.idx and not text[e : cue.idx].strip(" ,”\"'") for _, e in quoted):
            return None
        after = _named(next((t for t in cue.doc[cue.i + 1 : cue.i + 6] if t.dep_ != "det"), None))
        if after is None or after.pos_ not in ("PROPN", "NOUN") or after.sent != cue.sent:
            return None
        return after, True
    if not _inside(governing[0], quoted):
        return None
    subj, borrowed = governing
    other = next(
        (
            c
            for c in subj.head.children
            if c.dep_ in ("nsubj", "nsubjpass") and not _inside(c, quoted)
        ),
        None,
    )
    if other is not None:
        return other, borrowed
    end = next((e for s, e in quoted if s <= subj.idx < e and e <= cue.idx), None)
    if end is None:
        return None
    first = next(
        (t for t in cue.sent if end < t.idx < cue.idx and t.pos_ in ("PROPN", "NOUN", "PRON")),
        None,
    )
    first = _named(first)
    return (first, True) if first is not None else None


def _named(tok: Token | None) -> Token | None:
    """The head of the name ``tok`` begins: "South Carolina Democrat" of "South", "the
    mayor's chief of staff" of "mayor" (whose chief speaks, not the mayor)."""
    while tok is not None and tok.dep_ in ("compound", "poss") and tok.head.i > tok.i:
        tok = tok.head
    return tok


def _clause_chars(token: Token) -> tuple[int, int]:
    sub = list(token.subtree)
    start, end = sub[0].idx, sub[-1].idx + len(sub[-1].text)
    text = doc_text(token.doc)
    while start < end and not text[start].isalnum() and text[start] not in '“"':
        start += 1
    while end > start and text[end - 1] in " ,.;:":
        end -= 1
    opening = next((c for c in text[start:end] if c in '“"'), None)
    if opening is not None and text[start:end].count(_CLOSING[opening]) < (
        2 if opening == '"' else 1
    ):
        # a quotation that opens inside the clause but closes after it: "called the
        # plan “a disgrace” on Monday" takes the closing mark in (up to its punctuation)
        close = text.find(_CLOSING[opening], end)
        if close != -1 and close - end <= 3:
            return start, close + 1
        if text[start] == opening:
            return start + 1, end  # an opening mark whose closing one is far away
    return start, end


@dataclass(frozen=True)
class _Cue:
    """Who is attributed, by which word, and where both are written."""

    speaker: _Speaker
    word: str
    cue_span: tuple[int, int] | None
    source_span: tuple[int, int] | None


def _chars(tokens: Span | list[Token]) -> tuple[int, int]:
    toks = list(tokens)
    return toks[0].idx, toks[-1].idx + len(toks[-1].text)


def _cue(speaker: _Speaker, cue: Token, subject: Token) -> _Cue:
    source = _chars(_speaker_span(subject))
    antecedent = _antecedent(subject)
    if antecedent is not None:  # "Graham, who says": the name and the pronoun standing for it
        source = (_chars(_speaker_span(antecedent))[0], source[1])
    return _Cue(speaker, cue.text, _chars([cue]), source)


def _antecedent(subject: Token) -> Token | None:
    """What a relative pronoun subject stands for: "Graham" of "Graham, who says" and
    of "Graham, a senator who says" (not of a passive's "who is expected to")."""
    clause = subject.head
    if subject.tag_ != "WP" or subject.dep_ != "nsubj" or clause.dep_ != "relcl":
        return None
    antecedent = clause.head
    while antecedent.dep_ == "appos" and antecedent.head.i < antecedent.i:
        antecedent = antecedent.head
    return antecedent if antecedent.i < subject.i else None


# an attribution, its content, and the pieces of the content around the attribution
# when it is written inside what it attributes (else empty)
_Reported = tuple[_Cue, int, int, tuple[tuple[int, int], ...]]


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in " ,;:-–—\n":
        start += 1
    while end > start and text[end - 1] in " ,;:.-–—\n":
        end -= 1
    return start, end


def _source_phrase(tok: Token, sent: Span, resolver: _Resolver) -> _Reported | None:
    """ "according to X" anywhere in the sentence, or "per X" naming an entity."""
    if tok.lower_ == "according":
        to = next((c for c in tok.children if c.lower_ == "to"), None)
        pobj = next((c for c in to.children if c.dep_ == "pobj"), None) if to is not None else None
        cue = "according to"
    elif tok.lower_ == "per" and tok.dep_ == "prep":
        pobj = next((c for c in tok.children if c.dep_ == "pobj"), None)
        cue = "per"
    else:
        return None
    if pobj is None:
        return None
    speaker = resolver.resolve(pobj)
    if speaker is None or (cue == "per" and speaker.type == "DESCRIBED"):
        return None
    cue_tokens = [tok, *([to] if cue == "according to" and to is not None else [])]
    phrase = list(tok.subtree)
    p0, p1 = phrase[0].idx, phrase[-1].idx + len(phrase[-1].text)
    root = sent.root.idx
    # The reported content is the main clause, on whichever side of the phrase it is.
    cs, ce = (sent.start_char, p0) if root < p0 else (p1, sent.end_char)
    cs, ce = _trimmed(doc_text(sent.doc), cs, ce)
    return (
        _Cue(speaker, cue, _chars(cue_tokens), _chars(_speaker_span(pobj))),
        cs,
        ce,
        (),
    )


def _reported_clause(tok: Token, sent: Span, resolver: _Resolver) -> _Reported | None:
    """ "X said (that) CLAUSE" and "CLAUSE, X said"."""
    if not _is_cue(tok):
        return None
    comp = next((c for c in tok.children if c.dep_ == "ccomp"), None)
    if comp is None and tok.lemma_.lower() in OBJECT_CUE_LEMMAS:
        comp = next((c for c in tok.children if c.dep_ in ("xcomp", "dobj")), None)
    if comp is not None:
        cs, ce = _clause_chars(comp)
    elif (
        tok.dep_ in ("parataxis", "ccomp", "advcl", "conj")
        and tok.i > sent.root.i
        and _subject(tok) is not None
        and sent.doc[min(t.i for t in tok.subtree) - 1].is_punct  # ", the source added."
        and not any(c.dep_ == "mark" for c in tok.children)  # "… after Beirut responded"
        and max(t.i for t in tok.subtree) >= _last_word(sent)  # the attribution ends the sentence
    ):
        subj = _subject(tok)  # "CLAUSE, a Lebanese official told CNN."
        left = min(t.i for t in subj.subtree) if subj is not None else tok.i
        cs, ce = _trimmed(doc_text(sent.doc), sent.start_char, sent.doc[left].idx)
    elif _parenthetical(tok, sent):  # "CLAUSE, analysts said, CLAUSE"
        cs, ce = _trimmed(doc_text(sent.doc), sent.start_char, sent.end_char)
    else:
        return None
    governing = _governing_subject(tok)
    if governing is None:
        return None
    subj, borrowed = governing
    pieces: tuple[tuple[int, int], ...] = ()
    if cs <= subj.idx < ce:
        # the attribution written inside what it attributes ("Mrs. Clinton, analysts
        # said, has …"): PolNeAR's content takes it in, the pieces around it are kept,
        # and the stance step does not read it (``Quote.stance_evidence``). Not a relative
        # clause's ("a strike that executives said could hurt earnings"): PolNeAR's
        # sources there are too often elsewhere.
        if borrowed or comp is not None or not cs <= tok.idx < ce:
            return None
        pieces = _around(tok, cs, ce)
    speaker = resolver.resolve(subj, before=cs, strict=borrowed)
    return (_cue(speaker, tok, subj), cs, ce, pieces) if speaker is not None else None


def _later_clause(tok: Token, resolver: _Resolver) -> tuple[_Cue, int, int] | None:
    """An attribution read since the stance model was fitted (``LATER_OBJECT_CUE_LEMMAS``),
    tried where its rules find no quote."""
    lemma = tok.lemma_.lower()
    if (
        lemma not in _LATER_LEMMAS
        or tok.pos_ != "VERB"
        or any(c.dep_ == "neg" for c in tok.children)
    ):
        return None
    obj = None
    if lemma in OBJECT_CUE_LEMMAS or lemma in LATER_OBJECT_CUE_LEMMAS:
        obj = next((c for c in tok.children if c.dep_ in ("xcomp", "dobj")), None)
    for prep in tok.children if obj is None else ():
        if prep.dep_ == "prep" and (lemma, prep.lower_) in PREP_CUES:
            obj = next((c for c in prep.children if c.dep_ == "pobj"), None)
    if obj is None:
        return None
    cs, ce = _clause_chars(obj)
    goes_on = [
        c
        for c in tok.children
        if c.i > obj.i
        and (c.dep_ in _GOES_ON_DEPS or (c.dep_ == "prep" and c.lower_ in _GOES_ON_PREPS))
    ]
    ce = max([ce, *(_clause_chars(c)[1] for c in goes_on)])
    governing = _governing_subject(tok)
    if governing is None or cs <= governing[0].idx < ce:
        return None
    speaker = resolver.resolve(governing[0], before=cs, strict=governing[1], remember=False)
    return (_cue(speaker, tok, governing[0]), cs, ce) if speaker is not None else None


def _parenthetical(tok: Token, sent: Span) -> bool:
    """ "…, analysts said, …": a subject and cue set off by commas inside the sentence."""
    doc = sent.doc
    sub = [t for t in tok.subtree if not t.is_punct]
    left, right = sub[0].i, sub[-1].i
    return (
        tok.dep_ == "parataxis"
        and _subject(tok) is not None
        and left > sent.start
        and right + 1 < sent.end
        and doc[left - 1].text in (",", "—", "–")
        and doc[right + 1].text in (",", "—", "–")
        and not any(c.dep_ in ("mark", "ccomp", "dobj", "xcomp") for c in tok.children)
    )


def _around(cue: Token, start: int, end: int) -> tuple[tuple[int, int], ...]:
    """The content on either side of an attribution written inside it."""
    words = [t for t in cue.subtree if not t.is_punct]
    text = doc_text(cue.doc)
    pieces = [
        _trimmed(text, start, words[0].idx),
        _trimmed(text, words[-1].idx + len(words[-1].text), end),
    ]
    return tuple((s, e) for s, e in pieces if s < e)


def _last_word(sent: Span) -> int:
    words = [t.i for t in sent if not (t.is_punct or t.is_space)]
    return words[-1] if words else sent.end - 1


_FIGURE_START = frozenset("0123456789$€£¥")
_LABEL_LINE = re.compile(r"^[ \t]*([A-Z][\w.'’ -]{1,40}?):[ \t]+(\S[^\n]{10,})$", re.M)


def _labelled_lines(doc: Doc, entities: EntityIndex, found: list[Quote]) -> list[Quote]:
    """Transcript and headline attributions: "PENCE: Well, look …", "Caddell: Voters worry"."""
    out = []
    text = doc_text(doc)
    named: dict[str, set[tuple[str, SpeakerType]]] | None = None  # built when first needed
    for m in _LABEL_LINE.finditer(text):
        label, (cs, ce) = m.group(1).strip(), m.span(2)
        if len(label.split()) > 4 or any(q.start < ce and cs < q.end for q in found):
            continue
        mention = entities.at(m.start(1), m.end(1))
        if mention is not None and mention.type in ("PERSON", "ORG", "NORP"):
            speaker = _Speaker(mention.name, mention.type)
        else:  # "WALLACE:", or a "Sanders:" the tagger did not tag: whom the text names so
            named = _names_by_label(entities) if named is None else named
            candidates = named.get(label.lower(), set())
            transcript = label.isupper() and label.isalpha()
            if len(candidates) == 1 and (transcript or _reads_as_a_name(label, text, cs)):
                speaker = _Speaker(*next(iter(candidates)))
            elif transcript:  # a transcript's speaker never named, or two with that name
                speaker = _Speaker(label.title(), "UNKNOWN")
            else:
                continue
        content = text[cs:ce].rstrip()
        label_span = (m.start(1), m.start(1) + len(label))
        out.append(_quote(_Cue(speaker, ":", None, label_span), text, cs, cs + len(content), True))
    return out


def _names_by_label(entities: EntityIndex) -> dict[str, set[tuple[str, SpeakerType]]]:
    """The speakers a label may stand for, by its lower-cased words: a person by surname
    or whole name, an organisation or group by its name or as written."""
    out: dict[str, set[tuple[str, SpeakerType]]] = {}
    for x in entities.mentions:
        if x.type == "PERSON":
            keys = {x.name.lower(), x.name.split()[-1].lower()}
        elif x.type in ("ORG", "NORP"):
            keys = {x.name.lower(), x.text.lower()}
        else:
            continue
        for key in keys:
            out.setdefault(key, set()).add((x.name, x.type))
    return out


def _reads_as_a_name(label: str, text: str, content_start: int) -> bool:
    """Whether a capitalised label is a name, not a word that is also one ("Price: $25
    for adults", "Rice: Prices soar" beside Condoleezza Rice): never written in lower
    case in the text, and not followed by a figure."""
    if text[content_start] in _FIGURE_START:
        return False
    return re.search(rf"\b{re.escape(label.lower())}\b", text) is None


def _covered(start: int, end: int, attributed: dict[tuple[int, int], Quote]) -> bool:
    """Whether attributed direct quotes cover most of [start, end)."""
    inside = sum(max(0, min(e, end) - max(s, start)) for s, e in attributed)
    return inside >= 0.6 * (end - start)


def _continues(previous: Quote, cue: _Cue, text: str, start: int) -> bool:
    """Whether a direct quote starting at ``start`` goes on with ``previous``: the same
    attribution, its cue written between the two pieces in one paragraph ("A," X said.
    "B."), which PolNeAR and a reader count as one quote."""
    return (
        previous.cue_span == cue.cue_span
        and cue.cue_span is not None
        and previous.end <= cue.cue_span[0] < start
        and "\n" not in text[previous.end : start]
    )


def _quote(
    cue: _Cue,
    text: str,
    start: int,
    end: int,
    direct: bool,
    pieces: tuple[tuple[int, int], ...] = (),
    evidence: bool = True,
) -> Quote:
    return Quote(
        speaker=cue.speaker.name,
        speaker_type=cue.speaker.type,
        cue=cue.word,
        text=text[start:end],
        direct=direct,
        start=start,
        end=end,
        source_span=cue.source_span,
        cue_span=cue.cue_span,
        pieces=pieces,
        stance_evidence=evidence and not cue.speaker.relative,
    )


def extract_quotes(doc: Doc, entities: EntityIndex) -> list[Quote]:
    """Direct and indirect attributions in ``doc`` (offsets into ``doc.text``)."""
    text = doc_text(doc)
    direct = _direct_spans(text)
    resolver = _Resolver(doc, entities, direct)
    sents = list(doc.sents)
    found: list[Quote] = []
    by_span: dict[tuple[int, int], Quote] = {}
    # read since the stance model was fitted: kept apart, so that nothing the rules it
    # was fitted on find changes (not the speaker handed on, the quotes covered, nested
    # or overlapped, the described sources remembered)
    later: dict[tuple[int, int], Quote] = {}
    previous_later: Quote | None = None
    later_cue: _Cue | None = None

    def sent_index(char: int) -> int:
        for i, s in enumerate(sents):
            if s.start_char <= char < s.end_char:
                return i
        return len(sents) - 1

    def cue_in(sent: Span, going_on: bool = False) -> _Cue | None:
        """The sentence's first cue with a speaker; one through a relative pronoun ("Hale,
        who told reporters …, said: …") only when there is no other. With ``going_on``
        (asked only when its other cues gave no speaker), its "continued", or a cue whose
        speaker the parse hides (``_unquoted_subject``)."""
        fallback = None
        for tok in sent:
            if _inside(tok, direct):
                continue
            if going_on and _goes_on(tok):
                governing = _governing_subject(tok)
            elif not _is_cue(tok):
                continue
            elif going_on:
                governing = _unquoted_subject(tok, _governing_subject(tok), direct)
            else:
                governing = _governing_subject(tok)
            if governing is not None and not _inside(governing[0], direct):
                speaker = resolver.resolve(
                    governing[0], strict=governing[1] or going_on, remember=not going_on
                )
                if speaker is None:
                    continue
                if not speaker.relative:
                    return _cue(speaker, tok, governing[0])
                fallback = fallback or _cue(speaker, tok, governing[0])
        return fallback

    def add_direct(
        into: dict[tuple[int, int], Quote],
        previous: Quote | None,
        cue: _Cue,
        qs: int,
        qe: int,
    ) -> Quote:
        """The direct quote at [qs, qe), one quote with ``previous`` when it goes on with it."""
        pieces: tuple[tuple[int, int], ...] = ()
        if previous is not None and _continues(previous, cue, text, qs):
            del into[(previous.start, previous.end)]
            pieces = (*previous.spans(), (qs, qe))
        start = pieces[0][0] if pieces else qs
        quote = _quote(cue, text, start, qe, True, pieces, evidence=into is by_span)
        into[(quote.start, quote.end)] = quote
        return quote

    # Walk sentences in order so that pronouns and definite descriptions see
    # only what came before them.
    pending = sorted(direct)
    last_speaker: tuple[_Cue, int] | None = None  # attribution, paragraph
    previous: Quote | None = None  # the last direct quote
    for _i, sent in enumerate(sents):
        paragraph = text.count("\n", 0, sent.start_char)
        # direct quotes that start in this sentence
        while pending and pending[0][0] < sent.end_char:
            qs, qe = pending.pop(0)
            first, last = sent_index(qs), sent_index(max(qe - 1, qs))
            hit = None
            for j in range(first, last + 1):
                hit = hit or cue_in(sents[j])
            if hit is None and last + 1 < len(sents):
                after = sents[last + 1]
                if after.start_char - qe <= 3 and len(after) <= 15:
                    hit = cue_in(after)
            if hit is None and first > 0 and sents[first - 1].text.rstrip().endswith(":"):
                hit = cue_in(sents[first - 1])
            if hit is not None:
                last_speaker = (hit, text.count("\n", 0, qe))
            elif last_speaker is not None and text.count("\n", 0, qs) - last_speaker[1] <= 1:
                hit = last_speaker[0]
            else:  # "“…,” he continued." when nothing else names who speaks
                going_on = (cue_in(sents[j], True) for j in range(first, last + 1))
                hit = next(filter(None, going_on), None)
                own_cue = any(
                    _is_cue(t) and not _inside(t, direct)
                    for j in range(first, last + 1)
                    for t in sents[j]
                )
                if hit is None and not own_cue and previous_later is not None and later_cue:
                    # "“A,” X said. “B.”" where X was found so: B goes on with A
                    hit = later_cue if _continues(previous_later, later_cue, text, qs) else None
                if hit is not None:
                    previous_later = add_direct(later, previous_later, hit, qs, qe)
                    later_cue = hit
                continue
            previous = add_direct(by_span, previous, hit, qs, qe)
        # indirect: clausal complements of cue verbs, and "according to X"
        for tok in sent:
            if _inside(tok, direct):
                continue
            reported = _source_phrase(tok, sent, resolver) or _reported_clause(tok, sent, resolver)
            if reported is None or reported[2] - reported[1] < _MIN_REPORTED_CHARS:
                attributed = _later_clause(tok, resolver)
                if attributed is not None:
                    cue, cs, ce = attributed
                    if ce - cs >= _MIN_REPORTED_CHARS and not _covered(cs, ce, by_span | later):
                        later[(cs, ce)] = _quote(cue, text, cs, ce, False, evidence=False)
                continue
            attribution, cs, ce, around = reported
            if _covered(cs, ce, by_span):
                continue
            quote = _quote(attribution, text, cs, ce, False, around, evidence=not around)
            found.append(quote)
            if quote.stance_evidence:  # else not the next direct quote's speaker either
                last_speaker = (attribution, paragraph)
    found.extend(by_span.values())
    found.extend(_labelled_lines(doc, entities, found))
    found.sort(key=lambda q: (q.start, -q.end))
    result: list[Quote] = []
    # drop reported clauses nested in a longer one of the same speaker, but not stance
    # evidence inside a quote that is not ("X, critics argue, is “…”")
    for q in found:
        outer = result[-1] if result else None
        if (
            outer is not None
            and q.start < outer.end
            and q.speaker == outer.speaker
            and (outer.stance_evidence or not q.stance_evidence)
        ):
            continue
        result.append(q)
    for q in sorted(later.values(), key=lambda q: (q.start, -q.end)):
        if not any(q.start < r.end and r.start < q.end and q.speaker == r.speaker for r in result):
            result.append(q)
    result.sort(key=lambda q: (q.start, -q.end))
    return result
