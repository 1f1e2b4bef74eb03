"""Stances: who is for or against whom or what, with the evidence; and how an
article stands toward tracked claims and its own headline.

Holder → target stances are read from what the text says a holder does or says:
- a stance verb and its object ("Trump endorsed Hochstein's track", "voted against
  the bill", "would not agree to any arrangement", "was criticised by X");
- a stance noun ("support for X", "X's opposition to Y", "gave Clinton an endorsement");
- an evaluation in a holder's quote ("such a demand would be unacceptable", "full
  operational freedom is a non-negotiable condition");
- an entity (or an issue noun phrase: "the border wall") a holder's quote is about,
  where the target-sentiment model (NewsMTSC) reads a clear lean toward it.
Each candidate is scored by ``pipeline.stance_model`` (learned on our annotated
PolNeAR train articles); those it does not support are not emitted, neutral pairs
never are. Claim stance comes from the FNC-1 model (``pipeline.claim_model``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast, get_args

from spacy.tokens import Doc, Span, Token

from pipeline import claim_model, sentiment_model, stance_model
from pipeline.entities import OUR_TYPE, EntityIndex, camp_of
from pipeline.models import ClaimStance, Quote, Stance, StanceLabel, StanceTargetType
from pipeline.stance_lexicon import (
    ACCUSING,
    ADVISING,
    AGAINST_PREPS,
    CAMPS,
    CITING,
    CONTAINERS,
    CONTESTANTS,
    CONTESTS,
    EVALUATIVE,
    GIVING,
    ISSUING,
    MESSAGES,
    MODEL_POLARITY,
    NAMED_TYPES,
    NOUN_POLARITY,
    NOUN_PREPS,
    ON_NAMES,
    PARTICLE_POLARITY,
    PEOPLE_NOUNS,
    PREP_ALONE,
    PREP_POLARITY,
    RECEIVING,
    REFUSING,
    RELATIVE,
    RESPONSE_ADVERBS,
    SIDED_THINGS,
    UNDOING,
    VERB_POLARITY,
)
from pipeline.stance_model import Candidate
from pipeline.stance_targets import FIRST_PERSON, Actor, Referents

_SENTIMENT_TYPES = frozenset({"PERSON", "ORG", "NORP"})
# What a holder's quote may lean toward: a person or an organisation, not a group
# ("Latinos", "Republicans"), which the annotation guide does not list as a target.
_QUOTED_TYPES = frozenset({"PERSON", "ORG"})
_ISSUE_ROLES = frozenset({"nsubj", "nsubjpass", "dobj", "pobj"})
_TIME_MARKS = frozenset({"before", "after"})
_GERUND_PREPS = frozenset({"for", "of", "in", "by"}) | _TIME_MARKS


def _dating(tok: Token, span: Span, cue: Token | None) -> bool:
    """ "agreed to delink … the night before its leader Nasrallah was killed": a clause
    that only dates the quote is not what it is about. A clause holding the quote's cue
    ("comes after Beirut responded positively …, per Makati") is what it says."""
    while span.start <= tok.i < span.end and tok.head.i != tok.i:
        if tok.dep_ == "advcl" and any(
            c.dep_ == "mark" and c.lower_ in _TIME_MARKS for c in tok.children
        ):
            return cue is None or not tok.left_edge.i <= cue.i <= tok.right_edge.i
        tok = tok.head
    return False


def _negated(verb: Token) -> bool:
    """ "did not back", "refused to accept", "would never support"."""
    if any(c.dep_ == "neg" or c.lower_ in ("never", "no") for c in verb.children):
        return True
    return verb.dep_ == "xcomp" and verb.head.lemma_.lower() in REFUSING


def _subject(verb: Token) -> Token | None:
    """The verb's subject, or that of the clause it continues ("came out to endorse",
    "met him and praised him", "pummeled Trump while praising Clinton")."""
    tok = verb
    for _ in range(3):
        for child in tok.children:
            if child.dep_ in ("nsubj",):
                return child
        if (named := _coordinated_subject(tok)) is not None:
            return named
        participle = tok.dep_ == "advcl" and tok.tag_ == "VBG"
        if tok.dep_ not in ("xcomp", "conj") and not participle:  # a root (ROOT), or unparsed ("")
            return None
        tok = tok.head
    return None


def _coordinated_subject(verb: Token) -> Token | None:
    """The subject the parser hung on the clause before, in "… mishandled the
    investigation and Democrats accused the GOP": a name right before a finite verb,
    after "and" or "but", taken for a conjunct of the previous clause's object (and
    the verb for a conjunct of its verb, whose subject is someone else's)."""
    if verb.tag_ not in ("VBD", "VBZ", "VBP") or verb.i == 0:
        return None
    name = verb.doc[verb.i - 1]
    if name.pos_ not in ("PROPN", "NOUN") or name.dep_ != "conj" or name.head.i > name.i:
        return None
    before = name.left_edge.i - 1
    return name if before >= 0 and verb.doc[before].dep_ == "cc" else None


def _gerund_holder(verb: Token) -> Token | None:
    """Who does what a gerund after a preposition says: the one praised or blamed for it
    ("assailed Pike for supporting the war", "was criticized for opposing", "accused Reyes
    of backing"), else, after "for", "in", "by", "after" or "before", the clause's subject
    ("vocal in opposing free trade", "a leader in supporting an overhaul", "met them
    before attacking Reyes"). No one when the clause
    denies it ("not interested in supporting", "never accused of backing", "cleared of
    backing") or after "instead of". "United in supporting": the passive's subject."""
    prep = verb.head
    if verb.tag_ != "VBG" or prep.dep_ != "prep" or prep.lower_ not in _GERUND_PREPS:
        return None
    if any(c.lower_ == "instead" for c in prep.children):
        return None
    governor = prep.head  # a verb, the one blamed (where the parser hangs it), or an adjective
    clause = governor.head if governor.dep_ in ("dobj", "nsubjpass", "acomp", "attr") else governor
    if any(_negated(t) for t in (governor, clause) if t.pos_ in ("VERB", "AUX", "ADJ")):
        return None
    if prep.lower_ == "of" and clause.lemma_.lower() not in ACCUSING:
        return None
    if prep.lower_ in ("for", "of"):
        if governor.dep_ in ("dobj", "nsubjpass"):  # the parser hung it on the one blamed
            return governor if governor.pos_ in ("PROPN", "PRON") else None
        blamed = [c for c in governor.children if c.dep_ in ("dobj", "nsubjpass")]
        if governor.pos_ == "VERB" and blamed:
            return blamed[0]
        if prep.lower_ == "of":
            return None
    if prep.lower_ == "in" and clause.lemma_.lower() == "unite":  # "voters are united in …"
        united = next((c for c in clause.children if c.dep_ == "nsubjpass"), None)
        if united is not None:
            return united
    return _subject(clause) if clause.pos_ in ("VERB", "AUX") else None


def _antecedent(subject: Token | None, verb: Token) -> Token | None:
    """A relative pronoun's antecedent: "a candidate who backs the plan" is the candidate."""
    if subject is not None and subject.lower_ in RELATIVE and verb.dep_ == "relcl":
        return verb.head
    return subject


def _particle(verb: Token) -> str:
    """The verb's particle ("turned down": "down"), or ""."""
    return next((c.lower_ for c in verb.children if c.dep_ == "prt"), "")


def _not_an_adversary(cue: Token, target: Actor) -> bool:
    """An ON_NAMES word toward anything but a person or an organisation ("took on new
    significance", "ads targeting Latinos"), "took on X as a consultant" (a role: a
    hire, not a fight), or a CONTESTS word toward one ("defeated Sanders")."""
    lemma, particle = cue.lemma_.lower(), _particle(cue)
    if lemma in CONTESTS:
        return target.type in CONTESTANTS
    if (lemma, particle) not in ON_NAMES:
        return False
    hired = particle == "on" and any(c.dep_ == "prep" and c.lower_ == "as" for c in cue.children)
    return target.type not in NAMED_TYPES or hired


def _members(tok: Token) -> list[Token]:
    """The other members of a list ``tok`` heads: "Trump and Pence", "McCain, Ayotte and
    Grassley" (which the parser reads as a name in apposition to a name, then a
    conjunction), "Cole, Hale and Stone"; never a description in apposition ("Reyes, the
    treasurer"), nor a name the tagger typed as a place in apposition to one it did not
    ("McCain (Ariz.)", "Grijalva, D-Ariz."; a state it typed ORG or not at all slips
    through), though the list goes on under it ("Monroe, D-Iowa, Reyes, D-Ill., …")."""
    out: list[Token] = []
    stack = [tok]
    while stack:
        head = stack.pop()
        for c in head.children:
            if (c.dep_ == "conj" and c.pos_ in ("NOUN", "PROPN")) or (
                c.dep_ == "appos" and c.pos_ == head.pos_ == "PROPN"
            ):
                stack.append(c)
                if c.dep_ == "conj" or not _place(c) or _place(head):
                    out.append(c)
    return out


def _examples(tok: Token) -> list[Token]:
    """Those a noun names as its examples: "Democrats, including Clinton", "politicians
    like Kerry and Clinton", "candidates such as Fiorina and Carson"."""
    return [
        o
        for prep in tok.children
        if prep.dep_ == "prep"
        and (
            prep.lower_ in ("including", "like")
            or (prep.lower_ == "as" and any(c.lower_ == "such" for c in prep.children))
        )
        for o in _objects(prep, ("pobj",))
    ]


def _place(tok: Token) -> bool:
    return OUR_TYPE.get(tok.ent_type_) == "LOC"


def _objects(tok: Token, deps: tuple[str, ...]) -> list[Token]:
    found = [c for c in tok.children if c.dep_ in deps]
    return found + [m for f in found for m in _members(f)]  # "criticised Trump and Pence"


def _pobjs(tok: Token, preps: frozenset[str] | set[str]) -> list[tuple[str, Token]]:
    out = []
    for prep in tok.children:
        if prep.dep_ in ("prep", "dative") and prep.lower_ in preps:
            out += [(prep.lower_, o) for o in _objects(prep, ("pobj",))]
    return out


class _Reader:
    """Stance candidates of one document."""

    def __init__(self, doc: Doc, refs: Referents) -> None:
        self.doc = doc
        self.refs = refs
        self.found: list[Candidate] = []

    def add(
        self, holder: Actor | Token | None, target_tok: Token, prior: int, kind: str, cue: Token
    ) -> None:
        """A candidate, when both ends resolve; a pronoun holder never resolves to its
        own target ("she criticized Singer": someone before Singer)."""
        if holder is None or (prior == 0 and kind not in MODEL_POLARITY):
            return
        if isinstance(holder, Token):
            # "Republicans such as Fiorina and Carson reject …": the examples of someone
            # who can hold a side ("obstacles, including Monroe" name no one who does)
            extras = _examples(holder)
            if extras and self.refs.holder(holder) is None:
                extras = []
            if holder.dep_ in ("nsubj", "nsubjpass", "dobj"):
                extras += _members(holder)  # "Bush and Clinton reject …"
            for extra in extras:
                self.add(extra, target_tok, prior, kind, cue)
        target_tok, prior = self._content(target_tok, prior)
        target = self.refs.target(target_tok)
        if target is None or _not_an_adversary(cue, target):
            return
        if isinstance(holder, Token):
            resolved = self.refs.holder(holder, exclude=target.name)
            if resolved is None:
                return
            holder = resolved
        if target.name.lower() == holder.name.lower():
            return
        verb = cue.head if kind == "copula" else cue  # "is not a good idea": the "be"'s "not"
        negated = _negated(verb) if verb.pos_ in ("VERB", "AUX") else False
        quote = self.refs.quote_at(cue)
        self.found.append(
            Candidate(
                holder=holder,
                target=target,
                prior=-prior if negated else prior,
                kind=kind,
                cue=cue.lemma_.lower(),
                negated=negated,
                in_quote=quote is not None and quote.direct,
                sent=cue.sent,
                target_start=target_tok.idx,
                target_end=target_tok.idx + len(target_tok.text),
            )
        )

    def _issuer(self, message: Token) -> Token | None:
        """Who a statement, letter or ad says where they stand: its author, a person or
        an organisation ("Baro's statement", "a statement from Baro", not "from his
        office"), else who issued it ("Baro released a statement condemning X", "a
        statement … was released by Baro"); no one when that is denied ("did not sign a
        letter condemning X"). Else the message itself, which names no one: the holder
        stays unresolved."""
        author = [c for c in message.children if c.dep_ == "poss"]
        author += [o for _, o in _pobjs(message, {"from", "by"})]
        for a in author:
            named = self.refs.mention(a)
            if a.dep_ == "poss" or (named is not None and named.type in NAMED_TYPES):
                return a
        verb = message.head
        if verb.lemma_.lower() not in ISSUING or message.dep_ not in ("dobj", "nsubjpass"):
            return message
        if _negated(verb):
            return None
        if message.dep_ == "nsubjpass":
            agents = [o for _, o in _pobjs_agent(verb)]
            return agents[0] if agents else message
        return _antecedent(_subject(verb), verb) or message

    def _content(self, tok: Token, prior: int) -> tuple[Token, int]:
        """What a stance on ``tok`` is on: "the repeal of X" is X, the other way ("called
        for the repeal of Obamacare" is against it); "the idea of X" is X, but "the
        issue of the Gazette" stays the issue."""
        lemma = tok.lemma_.lower()
        if lemma not in UNDOING and lemma not in CONTAINERS:  # most targets: no children read
            return tok, prior
        of = [o for _, o in _pobjs(tok, {"of"})]
        if not of:
            return tok, prior
        if lemma in UNDOING:
            return of[0], -prior
        owner = self.refs.mention(of[0])
        return (of[0], prior) if owner is None or owner.type not in NAMED_TYPES else (tok, prior)

    def verbs(self, tok: Token) -> None:
        lemma = tok.lemma_.lower()
        if tok.pos_ not in ("VERB", "AUX"):
            return
        prior = VERB_POLARITY.get(lemma, 0) or PARTICLE_POLARITY.get((lemma, _particle(tok)), 0)
        passive = next((c for c in tok.children if c.dep_ == "nsubjpass"), None)
        if prior and passive is not None:  # "X was criticised by Y"
            for _, agent in _pobjs_agent(tok):
                self.add(agent, passive, prior, "passive", tok)
            return
        holder: Token | None = _subject(tok)
        if (
            holder is not None
            and holder.lower_ not in FIRST_PERSON
            and any(c.dep_ == "aux" and c.lower_ in ADVISING for c in tok.children)
        ):
            return  # "the unions should back Monroe, Holt said": her advice, not their side
        if holder is not None and holder.pos_ in ("NUM", "PRON", "ADJ", "DET"):
            of = [o for _, o in _pobjs(holder, {"of"})]  # "571 of the superdelegates"
            holder = of[0] if of else holder
        holder = _antecedent(holder, tok)
        if holder is None and tok.dep_ == "acl" and tok.head.pos_ in ("NOUN", "PROPN"):
            holder = tok.head  # "a super PAC supporting John Faso"
        if holder is None and tok.dep_ == "pcomp":
            holder = _gerund_holder(tok)
        if holder is None:
            return
        if holder.lemma_.lower() in MESSAGES:  # "released a statement condemning X"
            holder = self._issuer(holder)
            if holder is None:
                return
        if holder.dep_ == "nsubj":  # "Reyes and Pike rejected …" parsed as two subjects
            for other in holder.head.children:
                if other.dep_ == "nsubj" and other.i != holder.i and other.i < tok.i:
                    self.held(tok, other, prior)
        self.held(tok, holder, prior)

    def held(self, tok: Token, holder: Token, prior: int) -> None:
        """The stances verb ``tok`` gives ``holder``: toward its objects, or toward
        what its prepositions introduce."""
        lemma = tok.lemma_.lower()
        objects = _objects(tok, ("dobj",))
        if tok.dep_ == "relcl" and any(o.lower_ in RELATIVE for o in objects):
            objects = [tok.head]  # "the war, which most Whigs opposed"
        if prior:
            for obj in objects:
                self.add(holder, obj, prior, "verb", tok)
        if lemma == "call" and any(c.dep_ == "oprd" for c in tok.children):
            for obj in objects:  # "called Trump 'unhinged'": the words say which way
                self.add(holder, obj, 0, "call", tok)
        preps = _pobjs(
            tok, {"for", "against", "to", "with", "behind", "at", "on", "of", "by", "into"}
        )
        if _particle(tok) == "down":
            # "come down like a ton of bricks on Hamas": the "on" hangs off the simile
            preps += [
                ("on", o)
                for t in tok.subtree
                if t.dep_ == "prep" and t.lower_ == "on"
                for o in _objects(t, ("pobj",))
            ]
        taking = lemma == "take" and any(o.lower_ in ("issue", "aim") for o in objects)
        for prep, obj in preps:
            p = -1 if taking and prep in ("with", "at") else PREP_POLARITY.get((lemma, prep), 0)
            if objects and (lemma, prep) in PREP_ALONE:
                p = 0
            if lemma in ("respond", "react") and prep == "to":
                p = next((RESPONSE_ADVERBS.get(c.lower_, 0) for c in tok.children
                          if c.dep_ == "advmod" and c.lower_ in RESPONSE_ADVERBS), 0)  # fmt: skip
            self.add(holder, obj, p, "prep", tok)
        if not objects:  # "voted in favor of the bill" (not "called his vote in favor of X …")
            for _, favor in _pobjs(tok, {"in"}):
                if favor.lower_ in ("favor", "favour"):
                    for _, obj in _pobjs(favor, {"of"}):
                        self.add(holder, obj, 1, "prep", tok)

    def nouns(self, tok: Token) -> None:
        prior = NOUN_POLARITY.get(tok.lemma_.lower(), 0)
        if tok.pos_ != "NOUN":
            return
        if not prior:  # "Grimm, a Donald Trump supporter"; "critics of the plan"
            self.people_nouns(tok)
            return
        holder: Token | None = next((c for c in tok.children if c.dep_ == "poss"), None)
        verb = tok.head if tok.dep_ in ("dobj", "pobj") else None
        if verb is not None and verb.dep_ == "prep":
            verb = verb.head
        # "did not throw his support behind X", "failed to mention the attack on X" (not
        # "never wavered in his support", "did not hide his opposition")
        gives = verb is not None and (verb.dep_ == "xcomp" or verb.lemma_.lower() in GIVING)
        if gives and verb is not None and _negated(verb):
            return
        # "backlash against X", "anger at X"; not "her support against Trump" (a contest)
        targets = [o for p, o in _pobjs(tok, NOUN_PREPS) if prior < 0 or p not in AGAINST_PREPS]
        if verb is not None and verb.lemma_.lower() in RECEIVING and prior > 0:
            # "Trump secured the endorsement of Sheriff Arpaio": Arpaio backs Trump
            subj = _subject(verb)
            for _, giver in _pobjs(tok, {"of", "from"}):
                if subj is not None:
                    self.add(giver, subj, prior, "noun", tok)
            return
        if (
            holder is None
            and verb is not None
            and verb.pos_ == "VERB"
            and verb.lemma_.lower() not in CITING
        ):
            holder = _subject(verb)
        if tok.lemma_.lower() == "refusal":  # "Hezbollah's refusal to accept Israel's demand"
            act = next((c for c in tok.children if c.dep_ == "acl"), None)
            targets = _objects(act, ("dobj",)) if act is not None else []
        if not targets and verb is not None:  # "gave Clinton a glowing endorsement"
            targets = _objects(verb, ("dative",))
        if not targets and verb is not None and tok.dep_ == "dobj":  # "threw his support behind X"
            targets = [o for _, o in _pobjs(verb, {"behind"})]
        for obj in targets:
            self.add(holder, obj, prior, "noun", tok)

    def people_nouns(self, tok: Token) -> None:
        """ "a Trump supporter", "critics of the plan": who they are is the holder."""
        prior = PEOPLE_NOUNS.get(tok.lemma_.lower(), 0)
        if not prior:
            return
        targets = [c for c in tok.children if c.dep_ == "compound" and self.refs.mention(c)]
        targets += [o for _, o in _pobjs(tok, {"of"})]
        holder: Token | None = None
        first = tok  # "Frank, a former congressman and fierce critic of Sanders"
        while first.dep_ == "conj" and first.head.i != first.i:
            first = first.head
        if first.dep_ == "appos":  # "Grimm, a Donald Trump supporter"
            holder = first.head
        elif first.dep_ == "attr":  # "Smith is a longtime critic of the plan"
            holder = next((c for c in first.head.children if c.dep_ == "nsubj"), None)
        for obj in targets:
            self.add(holder, obj, prior, "noun", tok)

    def camps(self, tok: Token) -> None:
        """ "anti-Trump activists", "Priorities USA, a pro-Clinton super PAC": the noun's
        side on the name."""
        mention = self.refs.mention(tok)
        if mention is None or mention.type not in _SENTIMENT_TYPES | {"LOC"}:
            return
        camp = camp_of(tok)
        if not camp:
            return
        last = tok  # "a pro-Hillary Clinton super PAC": from the name's last word
        while last.i + 1 < len(self.doc) and self.refs.mention(self.doc[last.i + 1]) is mention:
            last = self.doc[last.i + 1]
        noun = last.head
        while noun.dep_ == "compound" and noun.head.i != noun.i:  # "the pro-Israel group AIPAC"
            noun = noun.head
        if (
            noun.pos_ in ("NOUN", "PROPN")
            and noun.lemma_.lower() not in SIDED_THINGS
            and mention is not self.refs.mention(noun)
        ):
            self.add(noun, tok, CAMPS[camp], "noun", self.doc[tok.i - 2])

    def evaluations(self, tok: Token) -> None:
        """ "X is unacceptable" inside a holder's quote: the quote's speaker on X."""
        if tok.dep_ not in ("acomp", "attr") or tok.head.lemma_ != "be":
            return
        word = tok.lower_
        prior = EVALUATIVE.get(word, 0) or next(
            (EVALUATIVE[c.lower_] for c in tok.children if c.lower_ in EVALUATIVE), 0
        )
        subj = next((c for c in tok.head.children if c.dep_ == "nsubj"), None)
        quote = self.refs.quote_at(tok)
        if subj is None or quote is None or quote.speaker_type == "UNKNOWN":
            return
        self.add(self.refs.speaker(quote), subj, prior, "copula", tok)

    def quoted_entities(self, quote: Quote, span: Span) -> None:
        """Entities (and people a pronoun refers to) and issue noun phrases a holder's
        quote is about, once per mention; their polarity comes from the
        target-sentiment model later."""
        holder = self.refs.speaker(quote)
        if holder is None:
            return
        seen: set[int] = set()
        cue_span = quote.cue_span and span.doc.char_span(*quote.cue_span, alignment_mode="expand")
        cue = cue_span[0] if cue_span else None
        for tok in span:
            if _dating(tok, span, cue):
                continue
            mention = self.refs.mention(tok)
            if mention is not None and mention.type in _QUOTED_TYPES:
                if mention.start in seen or tok.dep_ == "compound":
                    continue  # "the Trump campaign" is about the campaign
                seen.add(mention.start)
                target = Actor(mention.name, mention.type)
                start, end = mention.start, mention.end
            elif tok.lower_ in ("he", "him", "she", "her") and quote.direct:
                found = self.refs.previous_person(
                    quote.start, exclude=holder.name, pronoun=tok.lower_
                )
                if found is None:
                    continue
                target, start, end = found, tok.idx, tok.idx + len(tok.text)
            elif self._issue(tok):
                # "we need to build a border wall": an issue the holder talks about
                issue = self.refs.target(tok)
                if issue is None or issue.type in _SENTIMENT_TYPES:
                    continue
                target, start, end = issue, tok.idx, tok.idx + len(tok.text)
            else:
                continue
            if target.name == holder.name:
                continue
            self.found.append(
                Candidate(holder, target, 0, "quote", "", False, quote.direct, tok.sent, start, end)
            )

    @staticmethod
    def _issue(tok: Token) -> bool:
        """A noun phrase a quote argues about: a modified noun in a core role."""
        return (
            tok.pos_ == "NOUN"
            and tok.dep_ in _ISSUE_ROLES
            and any(c.dep_ in ("compound", "amod") for c in tok.children)
        )


def _pobjs_agent(tok: Token) -> list[tuple[str, Token]]:
    out = []
    for agent in tok.children:
        if agent.dep_ == "agent":
            out += [("by", o) for o in agent.children if o.dep_ == "pobj"]
    return out


def candidates(doc: Doc, quotes: list[Quote], entities: EntityIndex) -> list[Candidate]:
    """Every holder → target pair the text may support (``stance_model`` decides)."""
    quotes = [q for q in quotes if q.stance_evidence]
    refs = Referents(doc, entities, quotes)
    reader = _Reader(doc, refs)
    for tok in doc:
        reader.verbs(tok)
        reader.nouns(tok)
        reader.evaluations(tok)
        reader.camps(tok)
    for quote in quotes:
        if quote.speaker_type != "UNKNOWN":
            for start, end in quote.spans():
                span = doc.char_span(start, end, alignment_mode="expand")
                if span is not None:
                    reader.quoted_entities(quote, span)
    seen: set[tuple[str, str, int, str]] = set()
    out = []
    for c in reader.found:  # a mention inside two quotes, a target reached twice
        key = (c.holder.name, c.target.name, c.target_start, c.kind)
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def extract_stances(
    doc: Doc,
    quotes: list[Quote],
    entities: EntityIndex,
    model: stance_model.StanceModel | None = None,
) -> list[Stance]:
    """Holder → target stances a reader would list, from ``doc`` and its quotes.

    One stance per (holder, target, label), the most confident, with its evidence
    sentence and that sentence's character offsets in the document. ``model``
    defaults to the shipped one.
    """
    found = candidates(doc, quotes, entities)
    decisions = (model or stance_model.model()).decide(found)
    return select(found, decisions)


def select(found: Sequence[Candidate], decisions: Sequence[tuple[str, float]]) -> list[Stance]:
    """The stances of the supported candidates, one per (holder, target, label)."""
    best: dict[tuple[str, str, str], tuple[float, Candidate]] = {}
    for cand, (label, confidence) in zip(found, decisions, strict=True):
        if label == "neutral":
            continue
        key = (cand.holder.name, cand.target.name, label)
        if key not in best or confidence > best[key][0]:
            best[key] = (confidence, cand)
    stances = []
    for (holder, target, label), (confidence, cand) in best.items():
        text = cand.sent.text
        start = cand.sent.start_char + len(text) - len(text.lstrip())
        evidence = text.strip()
        stances.append(
            Stance(
                holder=holder,
                target=target,
                target_type=_target_type(cand.target),
                stance="favor" if label == "favor" else "against",
                confidence=round(confidence, 2),
                evidence=evidence,
                start=start,
                end=start + len(evidence),
            )
        )
    stances.sort(key=lambda s: (s.start, s.holder, s.target))
    return stances


def _target_type(target: Actor) -> StanceTargetType:
    for t in get_args(StanceTargetType):
        if target.type == t:
            return cast(StanceTargetType, t)
    return "ISSUE"


def target_polarities(targets: Sequence[tuple[str, int, int]]) -> list[StanceLabel]:
    """The polarity of each (sentence, start, end) toward the target written at [start, end)."""
    probas = sentiment_model.model().proba_many(targets)
    return [sentiment_model.LABELS[int(i)] for i in probas.argmax(axis=1)]


# Claims ------------------------------------------------------------------------


def claim_stances(claims: Sequence[str], title: str, body: str) -> list[ClaimStance]:
    """Whether an article (title and body) agrees with, disputes, discusses or is
    unrelated to each claim: the FNC-1 model of ``pipeline.claim_model``."""
    text = f"{title}\n{body}" if title else body
    return [
        ClaimStance(claim=claim, stance=label, confidence=round(p, 2))
        for claim, (label, p) in zip(claims, claim_model.model().predict(claims, text), strict=True)
    ]
