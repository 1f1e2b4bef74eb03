"""Quote attribution patterns on sentences written for these tests."""

from __future__ import annotations

from dataclasses import replace

import pytest
from spacy.language import Language

from pipeline.entities import extract_entities
from pipeline.models import Quote
from pipeline.quotes import extract_quotes
from pipeline.stance import candidates


def quotes(nlp: Language, text: str) -> list[Quote]:
    doc = nlp(text)
    return extract_quotes(doc, extract_entities(doc))


CASES = [
    # (text, speaker, speaker_type, direct, words that must be in the quote text)
    (  # a stance verb's object is what is attributed (PolNeAR's reading)
        "Residents called the plan “a disgrace” on Monday.",
        "Residents",
        "DESCRIBED",
        False,
        "the plan “a disgrace”",
    ),
    (
        "Mayor Elena Vasquez wants to sign the harbor contract before the election.",
        "Elena Vasquez",
        "PERSON",
        False,
        "sign the harbor contract",
    ),
    (
        '"We will build the bridge next summer," Mayor Elena Vasquez said on Monday.',
        "Elena Vasquez",
        "PERSON",
        True,
        "build the bridge",
    ),
    (
        'Elena Vasquez said: "We will build the bridge next summer and publish every contract."',
        "Elena Vasquez",
        "PERSON",
        True,
        "publish every contract",
    ),
    (
        "“The plan is rushed and nobody has seen the costs,” said Marcus Hale.",
        "Marcus Hale",
        "PERSON",
        True,
        "plan is rushed",
    ),
    (
        "Marcus Hale said that the plan was rushed and that residents had not seen the costs.",
        "Marcus Hale",
        "PERSON",
        False,
        "plan was rushed",
    ),
    (
        "The engineering report will be published next week, a senior city official told reporters.",
        "a senior city official",
        "DESCRIBED",
        False,
        "engineering report",
    ),
    (
        "According to the Port Meridian Chamber of Commerce, freight firms lose two million dollars a month.",
        "Port Meridian Chamber of Commerce",
        "ORG",
        False,
        "freight firms lose",
    ),
    (
        "A spokesperson for the ministry said the consultation had met every legal requirement.",
        "a spokesperson for the ministry",
        "DESCRIBED",
        False,
        "consultation had met",
    ),
    (  # an object cue's content goes on after its object: a predicate, "as", "of", "to"
        "The Harbor Workers Union called the new toll unfair to the families who drive to work.",
        "Harbor Workers Union",
        "ORG",
        False,
        "the new toll unfair to the families who drive to work",
    ),
    (
        "Marcus Hale described the ferry timetable as “a mess that nobody can read”.",
        "Marcus Hale",
        "PERSON",
        False,
        "the ferry timetable as “a mess that nobody can read”",
    ),
    (
        "Councillor Ines Baro accused the port authority of hiding the repair costs.",
        "Ines Baro",
        "PERSON",
        False,
        "the port authority of hiding the repair costs",
    ),
    (
        "Mayor Elena Vasquez urged residents to attend the hearing on the harbor bridge.",
        "Elena Vasquez",
        "PERSON",
        False,
        "residents to attend the hearing",
    ),
    (  # citing what backs a claim
        "The ferry company suspended the night crossings, citing a threat to public safety.",
        "the ferry company",
        "DESCRIBED",
        False,
        "a threat to public safety",
    ),
    (  # a cue with its preposition: "called for", "referring to", "pointed to"
        "Marcus Hale called for an independent audit of the harbor bridge contract.",
        "Marcus Hale",
        "PERSON",
        False,
        "an independent audit of the harbor bridge contract",
    ),
    (
        "Elena Vasquez pointed to the rising repair bills of the old harbor bridge.",
        "Elena Vasquez",
        "PERSON",
        False,
        "the rising repair bills",
    ),
]


@pytest.mark.parametrize(("text", "speaker", "stype", "direct", "words"), CASES)
def test_attribution_patterns(
    nlp: Language, text: str, speaker: str, stype: str, direct: bool, words: str
) -> None:
    found = quotes(nlp, text)
    assert found, "no attribution found"
    q = found[0]
    assert (q.speaker, q.direct) == (speaker, direct)
    # Whether a name is a PERSON or an ORG is the tagger's call (measured by `eval ner`);
    # whether a speaker is named or described is this module's.
    assert (q.speaker_type == "DESCRIBED") is (stype == "DESCRIBED")
    assert words in q.text
    assert text[q.start : q.end] == q.text


def test_pronoun_resolves_to_the_nearest_preceding_person(nlp: Language) -> None:
    found = quotes(
        nlp,
        "Energy Minister Lars Eriksen defended the tax on Monday.\n"
        "“Polluters will pay, and families will get the money back,” he said.",
    )
    assert [(q.speaker, q.direct) for q in found] == [("Lars Eriksen", True)]


def test_continued_quote_keeps_its_speaker(nlp: Language) -> None:
    found = quotes(
        nlp,
        "“The storm exposed a company that had been running on luck,” Beatrice Stone said.\n"
        "“Nobody had checked the maps in ten years, and the crews paid for it.”",
    )
    assert [q.speaker for q in found] == ["Beatrice Stone", "Beatrice Stone"]


def test_a_quote_written_around_its_attribution_is_one_quote(nlp: Language) -> None:
    # "A," X said. "B." is one attribution (as PolNeAR and a reader count it), held
    # in two pieces; a new paragraph starts a new quote (the test above)
    text = (
        "“The tax hurts families who drive to work,” Marcus Hale said on Monday. "
        "“It punishes the people who have no bus.”"
    )
    (q,) = quotes(nlp, text)
    assert (q.speaker, q.direct) == ("Marcus Hale", True)
    assert q.text == text[q.start : q.end]
    assert [text[s:e] for s, e in q.spans()] == [
        "The tax hurts families who drive to work,",
        "It punishes the people who have no bus.",
    ]


def test_continued_names_who_goes_on_speaking(nlp: Language) -> None:
    # "…," she continued. is a cue; "continued to rise" is not
    text = (
        "Costs for the harbor bridge continued to rise all year. Mayor Elena Vasquez "
        "spoke first. “The bridge will open in time for the festival,” she continued."
    )
    (q,) = quotes(nlp, text)
    assert (q.speaker, q.cue, q.direct) == ("Elena Vasquez", "continued", True)
    assert q.text.startswith("The bridge will open")


def test_quoted_words_taken_for_a_subject_leave_the_speaker(nlp: Language) -> None:
    # the parser makes "family" a second subject of "said"; Hale is the one outside
    text = (
        "Councillor Marcus Hale spoke at the harbor on Monday. "
        '"The toll hurts every family in the city. Every single family," Hale said.'
    )
    (q,) = quotes(nlp, text)
    assert (q.speaker, q.cue, q.direct) == ("Marcus Hale", "said", True)
    assert q.text.startswith("The toll hurts") and q.text.endswith("Every single family,")
    assert not q.stance_evidence  # read since the stance model was fitted


def test_speaker_parsed_as_the_object_of_an_inverted_cue(nlp: Language) -> None:
    # "added a Port Meridian Democrat": the parser makes the speaker the cue's object
    text = (
        "Dock workers met at the harbor on Monday. “Look, the mayor needed to win the"
        " first two votes,” added a Port Meridian Democrat. “She has done that.”"
    )
    (q,) = quotes(nlp, text)
    assert (q.speaker, q.cue, q.direct) == ("Port Meridian Democrat", "added", True)
    assert [text[s:e] for s, e in q.spans()] == [
        "Look, the mayor needed to win the first two votes,",
        "She has done that.",
    ]
    assert not q.stance_evidence


def test_name_between_quote_and_a_cue_parsed_under_it(nlp: Language) -> None:
    # "said" is parsed as the quote's verb's conjunct, "Vela" as its subject's nothing
    text = (
        "Dario Vela was held in the harbor jail in 1986. ''If the council had gone with"
        " Hale, I would have been sitting in that jail for a long time,'' Mr. Vela, now 81"
        " and retired in Cambridge, Mass., said by telephone this week."
    )
    (q,) = quotes(nlp, text)
    assert (q.speaker, q.cue, q.direct) == ("Dario Vela", "said", True)
    assert q.text.startswith("If the council") and not q.stance_evidence


def test_a_later_kind_of_direct_quote_goes_on(nlp: Language) -> None:
    # "“A,” she continued. “B.”": B is hers too, one quote as with "said"
    text = (
        "Costs for the harbor bridge continued to rise all year. Mayor Elena Vasquez "
        "spoke first. “The bridge will open in time for the festival,” she continued."
        " “Nobody will wait another year for it.”"
    )
    (q,) = quotes(nlp, text)
    assert (q.speaker, q.cue) == ("Elena Vasquez", "continued")
    assert [text[s:e] for s, e in q.spans()] == [
        "The bridge will open in time for the festival,",
        "Nobody will wait another year for it.",
    ]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (  # whose chief of staff speaks, not the mayor
            "Dock workers met on Monday. “The council members said nothing about the"
            " money,” added the mayor's chief of staff.",
            [("the mayor's chief of staff", "added")],
        ),
        (  # a quote with a cue of its own does not go on with the one before
            "Dock workers met on Monday. “The council members said nothing about the"
            " money,” added a Port Meridian Democrat. “Nobody will wait another year for"
            " it,” added one dock worker.",
            [("Port Meridian Democrat", "added")],
        ),
    ],
)
def test_hidden_speakers_are_not_taken_too_far(
    nlp: Language, text: str, found: list[tuple[str, str]]
) -> None:
    got = quotes(nlp, text)
    assert [(q.speaker, q.cue) for q in got] == found
    assert all(len(q.spans()) == 1 for q in got)


def test_definite_description_refers_back(nlp: Language) -> None:
    found = quotes(
        nlp,
        "A senior US official told reporters that talks would resume on Monday.\n"
        "“They have confirmed they are ready to do it,” the official said.",
    )
    assert [q.speaker for q in found] == ["a senior US official", "a senior US official"]


@pytest.mark.parametrize(
    "text",
    [
        "The council said nothing.",
        "Miller would not say whether the talks had failed.",
    ],
)
def test_non_attributions(nlp: Language, text: str) -> None:
    assert quotes(nlp, text) == []


def test_transcript_lines(nlp: Language) -> None:
    found = quotes(
        nlp,
        "Governor Mike Pence spoke to the host on Sunday.\n"
        "HOST: Will the governor attend the debate tomorrow night?\n"
        "PENCE: Well, look, we will be there and we will win that debate.",
    )
    by_speaker = {q.speaker: q.text for q in found}
    assert by_speaker["Mike Pence"].startswith("Well, look")
    assert by_speaker["Host"].startswith("Will the governor")


def label_quotes(nlp: Language, text: str) -> list[Quote]:
    """The quotes of ``text``'s first line, "Label: words", with whatever this tagger
    made of the label taken out of the entity index (as if it had not tagged it)."""
    doc = nlp(text)
    index = extract_entities(doc)
    label_end = text.index(":")
    untagged = replace(index, mentions=[m for m in index.mentions if m.start > label_end])
    return [q for q in extract_quotes(doc, untagged) if q.start < label_end + 3]


@pytest.mark.parametrize(
    ("text", "speaker", "speaker_type"),
    [
        (
            "Okafor: The harbor deal is a disgrace for this city and its workers.\n\n"
            "Councillor Amara Okafor spoke on Monday.",
            "Amara Okafor",
            "PERSON",
        ),
        (
            "Oxfam: The harbor deal will poison the bay for a generation.\n\n"
            "The charity Oxfam published a report on Monday.",
            "Oxfam",
            "ORG",
        ),
    ],
)
def test_a_label_the_tagger_missed_is_who_the_text_names(
    nlp: Language, text: str, speaker: str, speaker_type: str
) -> None:
    """A headline's "Sanders: …" whose label the tagger left untagged (or called a
    place) is said by the one the article names in those words."""
    found = label_quotes(nlp, text)
    assert [(q.speaker, q.speaker_type) for q in found] == [(speaker, speaker_type)]


@pytest.mark.parametrize(
    "text",
    [
        # a word that is also a surname: a figure follows, or the text writes it lower-case
        "Price: $25 for adults and free for children under twelve.\n\n"
        "Congressman Tom Price will open the fair on Monday.",
        "Rice: The worst harvest in a decade hits paddies across the region.\n\n"
        "Condoleezza Rice spoke on Monday. Exports of rice fell by half.",
        # two people share the surname: the label names neither
        "Bush: The party must unite behind one candidate before the summer.\n\n"
        "George W. Bush and Jeb Bush spoke on Monday.",
    ],
)
def test_a_label_that_may_not_be_the_name_is_no_speaker(nlp: Language, text: str) -> None:
    assert [q.speaker for q in label_quotes(nlp, text)] == []


def test_verbless_quotes_do_not_hang(nlp: Language) -> None:
    # a sentence whose root is not a verb once sent the clause walk into a loop
    doc = nlp("“A disaster for Hamas and a gift for Israel,” said Marcus Hale.")
    from pipeline.stance import extract_stances, target_polarities

    entities = extract_entities(doc)
    assert isinstance(extract_stances(doc, extract_quotes(doc, entities), entities), list)
    sentence = "A disaster for Hamas, a reckless and failed plan."
    assert target_polarities([(sentence, 15, 20)]) == ["against"]


def test_two_apostrophes_are_quotation_marks(nlp: Language) -> None:
    # some newspapers' text quotes ''like this'': a direct quote, whose "I" is its speaker's
    found = quotes(
        nlp,
        "''I oppose the tax plan, but the council does good work,'' said Kim Wells, "
        "a teacher in North Augusta.",
    )
    assert [(q.speaker, q.direct) for q in found] == [("Kim Wells", True)], found
    assert found[0].text.startswith("I oppose the tax plan")


def test_as_someone_put_it_names_the_quotes_speaker(nlp: Language) -> None:
    found = quotes(
        nlp,
        "The network's defenders say it is no more biased than any other. As Marta Lind "
        "put it in a statement, the network is “providing a perspective you won't get elsewhere.”",
    )
    direct = [q for q in found if q.direct]
    assert [q.speaker for q in direct] == ["Marta Lind"], found


@pytest.mark.parametrize(
    ("text", "speaker", "content"),
    [
        (  # written inside what it attributes: the whole sentence, as PolNeAR marks it
            "Mayor Elena Vasquez, critics argue, betrayed the dock workers of Port Meridian.",
            "critics",
            "Mayor Elena Vasquez, critics argue, betrayed the dock workers of Port Meridian",
        ),
        (  # a relative pronoun speaks for the name it follows
            "The motion came from Councillor Marcus Hale, who says Mayor Elena Vasquez"
            " betrayed the dock workers.",
            "Marcus Hale",
            "Mayor Elena Vasquez betrayed the dock workers",
        ),
        (  # attributions read since the stance model was fitted: an object cue's
            # object going on, a cue with its preposition, citing and accusing
            "Councillor Marcus Hale urged voters to vote against Mayor Elena Vasquez.",
            "Marcus Hale",
            "voters to vote against Mayor Elena Vasquez",
        ),
        (
            "Councillor Marcus Hale called for an inquiry into Mayor Elena Vasquez.",
            "Marcus Hale",
            "an inquiry into Mayor Elena Vasquez",
        ),
        (
            "Councillor Marcus Hale accused Mayor Elena Vasquez of betraying the dock workers.",
            "Marcus Hale",
            "Mayor Elena Vasquez of betraying the dock workers",
        ),
    ],
)
def test_attributions_the_stance_step_does_not_read(
    nlp: Language, text: str, speaker: str, content: str
) -> None:
    """Quotes, and right more often than not on PolNeAR, but left out of the stance
    step: its model was not fitted on their candidates (``Quote.stance_evidence``)."""
    doc = nlp(text)
    entities = extract_entities(doc)
    found = extract_quotes(doc, entities)
    assert [(q.speaker, q.text, q.stance_evidence) for q in found] == [(speaker, content, False)]
    assert not [c for c in candidates(doc, found, entities) if c.kind == "quote"]
    # the same words attributed plainly are read: the speaker against the mayor
    plain = nlp(
        f"{speaker[0].upper()}{speaker[1:]} said that Mayor Elena Vasquez betrayed the dock workers."
    )
    plain_entities = extract_entities(plain)
    plain_quotes = extract_quotes(plain, plain_entities)
    assert [q.stance_evidence for q in plain_quotes] == [True]
    read = candidates(plain, plain_quotes, plain_entities)
    assert ("Elena Vasquez", "quote") in {(c.target.name, c.kind) for c in read}


@pytest.mark.parametrize(
    ("text", "evidence"),
    [
        (  # a direct quote inside an aside's sentence stays, and is read
            'Mayor Elena Vasquez, critics argue, is "a disgrace to the dock workers of Port Meridian".',
            [("critics", "argue", True)],
        ),
        (  # the relative pronoun's cue does not take the sentence's own
            "Councillor Marcus Hale, who told reporters he was tired, said:"
            ' "Mayor Elena Vasquez betrayed the dock workers of this city."',
            [("Marcus Hale", "said", True)],
        ),
        (  # nor do the two kinds give the next direct quote its speaker
            'The toll, critics argue, falls hardest on families. "Mayor Elena Vasquez betrayed'
            ' every dock worker in this city."',
            [],
        ),
        (
            "Councillor Marcus Hale, who says the deal is a disgrace, spoke on Monday."
            ' "Mayor Elena Vasquez betrayed every dock worker in this city."',
            [],
        ),
        (  # "he continued" names a speaker only when nothing else does
            'Marcus Hale said on Monday: "The toll is a disgrace to every family in town."'
            ' "Mayor Elena Vasquez betrayed the dock workers of this city," he continued.',
            [("Marcus Hale", "said", True), ("Marcus Hale", "said", True)],
        ),
        (
            "Councillor Marcus Hale spoke on Monday."
            ' "Mayor Elena Vasquez betrayed the dock workers of this city," he continued.',
            [],
        ),
        (  # quoted words taken for the cue's subject: the speaker before stays
            'Marcus Hale said on Monday: "The toll is a disgrace to every family in town."'
            ' "The toll hurts every family in the city. Every single family," Hale said.',
            [("Marcus Hale", "said", True), ("Marcus Hale", "said", True)],
        ),
        (  # an object that was a quote keeps its words and is read
            "Marcus Hale called the harbor toll increase a betrayal for its cost to families.",
            [("Marcus Hale", "called", False)],
        ),
        (  # a later kind covers, blocks or nests nothing that is read
            "According to Marcus Hale, “the talks have completely collapsed this week,” he"
            " continued.",
            [("Marcus Hale", "according to", False)],
        ),
        (
            "HALE: Critics called for a full investigation into the harbor toll.",
            [("HALE", ":", True)],
        ),
        (
            "Marcus Hale said that Ines Baro referred to the new audit report from March and"
            " that the toll was “a complete and total disaster for the city.”",
            [("Marcus Hale", "said", False)],
        ),
        (  # nor does a described source of theirs become one a later "the official" is
            "A senior official called for an inquiry into the harbor toll. The official said"
            " that Mayor Elena Vasquez had misled the council.",
            [("the official", "said", False)],
        ),
    ],
)
def test_quotes_not_read_for_stances_change_no_quote_that_is(
    nlp: Language, text: str, evidence: list[tuple[str, str, bool]]
) -> None:
    """What the stance step reads is what it read before the two kinds were quotes."""
    read = [(q.speaker, q.cue, q.direct) for q in quotes(nlp, text) if q.stance_evidence]
    assert read == evidence
