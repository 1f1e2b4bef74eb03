"""Stance candidates and decisions on sentences written for these tests."""

from __future__ import annotations

import pytest
from spacy.language import Language

from pipeline.entities import extract_entities
from pipeline.models import Quote, Stance
from pipeline.quotes import extract_quotes
from pipeline.stance import candidates, extract_stances
from pipeline.stance_model import FEATURES, Candidate, StanceModel, polarity
from pipeline.stance_targets import Actor, Referents


def cands(nlp: Language, text: str) -> list[Candidate]:
    doc = nlp(text)
    index = extract_entities(doc)
    return candidates(doc, extract_quotes(doc, index), index)


def stances(nlp: Language, text: str) -> list[Stance]:
    doc = nlp(text)
    index = extract_entities(doc)
    return extract_stances(doc, extract_quotes(doc, index), index)


WORDED = [
    # (text, holder, words of the target, label): a stance word says which way
    (
        "Senator Laura Pike voted in favor of the harbor tunnel plan.",
        "Laura Pike",
        "tunnel",
        "favor",
    ),
    ("Tom Reyes is in favour of Senator Laura Pike.", "Tom Reyes", "Laura Pike", "favor"),
    ("Governor Tom Reyes rebuffed the harbor tunnel plan.", "Tom Reyes", "tunnel", "against"),
    ("Senator Laura Pike shunned Tom Reyes at the gala.", "Laura Pike", "Tom Reyes", "against"),
    ("Governor Tom Reyes balked at the harbor tunnel plan.", "Tom Reyes", "tunnel", "against"),
    ("Senator Laura Pike fired back at Tom Reyes on Monday.", "Laura Pike", "Tom Reyes", "against"),
    ("Laura Pike tore into Tom Reyes over the budget.", "Laura Pike", "Tom Reyes", "against"),
    ("Senator Tom Reyes vouched for Laura Pike.", "Tom Reyes", "Laura Pike", "favor"),
    (
        "Tom Reyes has mounted a public campaign to condemn Laura Pike.",
        "Tom Reyes",
        "Pike",
        "against",
    ),
    ("Tom Reyes expressed his admiration for Laura Pike.", "Tom Reyes", "Laura Pike", "favor"),
    (
        "Laura Pike's critique of the harbor tunnel plan was pointed.",
        "Laura Pike",
        "tunnel",
        "against",
    ),
    ("Tom Reyes led the backlash against Senator Laura Pike.", "Tom Reyes", "Pike", "against"),
    (
        "Senator Laura Pike is a vocal advocate of the harbor tunnel plan.",
        "Laura Pike",
        "tunnel",
        "favor",
    ),
    (
        "Tom Reyes, a longtime adversary of Laura Pike, spoke first.",
        "Tom Reyes",
        "Laura Pike",
        "against",
    ),
    (
        "Senator Laura Pike criticised the harbor tunnel plan on Tuesday.",
        "Laura Pike",
        "harbor tunnel plan",
        "against",
    ),
    (  # conjoined holders each hold it
        "Governor Tom Reyes and Senator Laura Pike rejected the water tax.",
        "Laura Pike",
        "water tax",
        "against",
    ),
    (  # negation flips an agreeing verb
        "Councillor Ines Baro said she would not agree to any deal with the port authority.",
        "Ines Baro",
        "deal",
        "against",
    ),
    (  # a pronoun holder is the person the article named
        "Maria Lopez spoke after the vote. She endorsed Hal Monroe for the council seat.",
        "Maria Lopez",
        "Hal Monroe",
        "favor",
    ),
    (  # a preposition carries it: "approved of", "broke with", "stood by"
        "In the poll, 71 percent of Democrats approved of Laura Pike.",
        "Democrats",
        "Laura Pike",
        "favor",
    ),
    ("Tom Reyes broke with Laura Pike over the water tax.", "Tom Reyes", "Laura Pike", "against"),
    ("Laura Pike stood by Tom Reyes during the scandal.", "Laura Pike", "Tom Reyes", "favor"),
    (  # passive: the agent holds it
        "The ferry subsidy was condemned by the Harbor Workers Union on Friday.",
        "Harbor Workers Union",
        "ferry subsidy",
        "against",
    ),
    (  # "attacks on" as a stance noun, as the guide's "attacked" is a stance verb
        "Governor Tom Reyes's attack on the water tax surprised the council.",
        "Tom Reyes",
        "water tax",
        "against",
    ),
    (  # a stance noun with its holder as possessor
        "Tom Reyes repeated his support for the transit levy.",
        "Tom Reyes",
        "transit levy",
        "favor",
    ),
    (  # a preposition carries it
        "Laura Pike voted against the stadium bond.",
        "Laura Pike",
        "stadium bond",
        "against",
    ),
    (  # "called for the repeal of X" is against X
        "Hal Monroe called for the repeal of the parking ordinance.",
        "Hal Monroe",
        "parking ordinance",
        "against",
    ),
    (  # an evaluation inside the holder's quote
        '"The toll increase is unacceptable," Laura Pike said on Monday.',
        "Laura Pike",
        "toll increase",
        "against",
    ),
    (  # … and a "not" on the "be" turns the evaluation round
        '"The ferry subsidy is not a good idea," Laura Pike said on Monday.',
        "Laura Pike",
        "ferry subsidy",
        "against",
    ),
    (  # a bare definite issue takes the name an earlier mention gave it
        "The authority proposed a steep fare increase on Monday. Laura Pike rejected the increase.",
        "Laura Pike",
        "steep fare increase",
        "against",
    ),
    (  # a received endorsement: the giver backs the receiver
        "Hal Monroe secured the endorsement of Mayor Ines Baro.",
        "Ines Baro",
        "Hal Monroe",
        "favor",
    ),
    (  # a participial clause takes the subject of the clause it hangs off
        "Senator Laura Pike spoke to reporters on Tuesday, praising the ferry subsidy.",
        "Laura Pike",
        "ferry subsidy",
        "favor",
    ),
    (  # … also after "while"
        "Tom Reyes defended the water tax while attacking the harbor tunnel plan.",
        "Tom Reyes",
        "harbor tunnel plan",
        "against",
    ),
    (  # a gerund after a preposition: the one blamed for it does it
        "Senator Laura Pike assailed Tom Reyes for supporting the harbor tunnel plan.",
        "Tom Reyes",
        "harbor tunnel plan",
        "favor",
    ),
    (  # … each of those blamed
        "Senator Laura Pike assailed Tom Reyes and Ines Baro for supporting the harbor tunnel "
        "plan.",
        "Ines Baro",
        "harbor tunnel plan",
        "favor",
    ),
    (  # … a pronoun for the one blamed is not the one who blames
        "Laura Pike spoke on Monday. Tom Reyes assailed her for supporting the harbor tunnel plan.",
        "Laura Pike",
        "harbor tunnel plan",
        "favor",
    ),
    (  # … or the one accused of it
        "The council accused Tom Reyes of backing the harbor tunnel plan.",
        "Tom Reyes",
        "harbor tunnel plan",
        "favor",
    ),
    (  # … or the one who was criticized
        "Mayor Ines Baro was criticized by the council for opposing the ferry subsidy.",
        "Ines Baro",
        "ferry subsidy",
        "against",
    ),
    (  # … else the clause's subject
        "Councillor Tom Reyes has been a leader in the party in opposing the water tax.",
        "Tom Reyes",
        "water tax",
        "against",
    ),
    (  # a verb with its particle
        "Senator Laura Pike turned down the harbor tunnel plan on Monday.",
        "Laura Pike",
        "harbor tunnel plan",
        "against",
    ),
    (
        "The council pounced on the harbor tunnel plan.",
        "the council",
        "harbor tunnel plan",
        "against",
    ),
    (  # calling for the suspension of a deal is against the deal
        "Senator Laura Pike called for the suspension of the ferry subsidy.",
        "Laura Pike",
        "ferry subsidy",
        "against",
    ),
    (  # who issued the statement, the ad, the letter holds what it says
        "Mayor Ines Baro released a statement condemning the harbor tunnel plan.",
        "Ines Baro",
        "harbor tunnel plan",
        "against",
    ),
    (
        "Senator Laura Pike sent a letter that praised the water tax.",
        "Laura Pike",
        "water tax",
        "favor",
    ),
    (  # an endorsement one locked up is the endorser's
        "Laura Pike has locked up endorsements from Senator Tom Reyes.",
        "Tom Reyes",
        "Laura Pike",
        "favor",
    ),
    (  # the issue of X, the idea of X: the stance is on X
        "Senator Laura Pike decried the issue of water tax evasion.",
        "Laura Pike",
        "water tax evasion",
        "against",
    ),
    ("Senator Tom Reyes threw his support behind Laura Pike.", "Tom Reyes", "Laura Pike", "favor"),
    (
        "Mayor Ines Baro came out against the harbor tunnel plan.",
        "Ines Baro",
        "harbor tunnel plan",
        "against",
    ),
    (
        "Senator Tom Reyes said voters got behind Laura Pike.",
        "voters",
        "Laura Pike",
        "favor",
    ),
    (
        "Mayor Ines Baro pounded the harbor tunnel plan as wasteful.",
        "Ines Baro",
        "harbor tunnel plan",
        "against",
    ),
    (  # "take on", "target", "destroy": of a person or an organisation only (NOT_WORDED)
        "Senator Tom Reyes is taking on Senator Laura Pike in the primary.",
        "Tom Reyes",
        "Laura Pike",
        "against",
    ),
    ("Mayor Ines Baro ran ads targeting Senator Tom Reyes.", "Ines Baro", "Tom Reyes", "against"),
    (  # "hit": of a person or an organisation only; "defeat": of anything else
        "Mayor Ines Baro hit Senator Tom Reyes over the water tax.",
        "Ines Baro",
        "Tom Reyes",
        "against",
    ),
    ("Senator Tom Reyes vowed to defeat the water tax.", "Tom Reyes", "water tax", "against"),
    (
        "Senator Tom Reyes stood against the harbor tunnel plan.",
        "Tom Reyes",
        "harbor tunnel plan",
        "against",
    ),
    (  # … also when a relative clause says who released it
        "Tom Reyes, who released a statement condemning the water tax, spoke on Monday.",
        "Tom Reyes",
        "water tax",
        "against",
    ),
    (  # … or a passive says who released it
        "A statement condemning the water tax was released by Senator Tom Reyes.",
        "Tom Reyes",
        "water tax",
        "against",
    ),
    (  # a place or an office it came from is not its author
        "Tom Reyes released a statement from his office condemning the water tax.",
        "Tom Reyes",
        "water tax",
        "against",
    ),
    # a denied verb that does not give the stance leaves it standing
    ("Tom Reyes never wavered in his support for Laura Pike.", "Tom Reyes", "Laura Pike", "favor"),
    (
        "Tom Reyes did not hide his opposition to the water tax.",
        "Tom Reyes",
        "water tax",
        "against",
    ),
    (  # a message's author holds it, whoever released it
        "Tom Reyes released a statement from Senator Laura Pike condemning the water tax.",
        "Laura Pike",
        "water tax",
        "against",
    ),
    (  # "she" is never someone an honorific calls "Mr."
        "Mr. Tom Reyes spoke. Laura Pike listened. Mr. Reyes left. She criticized the water tax.",
        "Laura Pike",
        "water tax",
        "against",
    ),
    (  # a passive's subject does what the gerund says
        "Ohio voters are united in supporting the harbor tunnel plan, the poll found.",
        "Ohio voters",
        "harbor tunnel plan",
        "favor",
    ),
    (  # an article's author holds what it says
        "Tom Reyes wrote on Monday. Reyes's article also attacked Laura Pike.",
        "Tom Reyes",
        "Laura Pike",
        "against",
    ),
    (  # the second of two descriptions in apposition
        "Tom Reyes, a former Ohio congressman and fierce critic of Laura Pike, will chair it.",
        "Tom Reyes",
        "Laura Pike",
        "against",
    ),
]


@pytest.mark.parametrize(("text", "holder", "target", "label"), WORDED)
def test_stance_words_give_holder_target_and_polarity(
    nlp: Language, text: str, holder: str, target: str, label: str
) -> None:
    found = cands(nlp, text)
    assert any(
        c.holder.name == holder and target in c.target.name and polarity(c, None) == label
        for c in found
        if c.prior
    ), [(c.holder.name, c.target.name, c.prior) for c in found]


HOLDERS = [
    # (text, holder, its type, words of the target, label): who the holder is
    (  # a group holds a stance as one
        "College graduates favor Laura Pike by a wide margin, the poll found.",
        "College graduates",
        "NORP",
        "Laura Pike",
        "favor",
    ),
    (  # a partisan plural is a group
        "Conservative lawmakers rejected the water tax on Monday.",
        "Conservative lawmakers",
        "NORP",
        "water tax",
        "against",
    ),
    (  # a plural role is not the last person of that role named
        "Senator Laura Pike arrived late. The senators rejected the water tax.",
        "the senators",
        "DESCRIBED",
        "water tax",
        "against",
    ),
    (  # "she" in a reported clause is its speaker, not the last person named
        "Laura Pike said that after meeting Tom Reyes, she would vote against the stadium bond.",
        "Laura Pike",
        "PERSON",
        "stadium bond",
        "against",
    ),
    (  # a role in apposition is the one the article named
        "Tom Reyes, the county treasurer who opposes the water tax, spoke on Monday.",
        "Tom Reyes",
        "PERSON",
        "water tax",
        "against",
    ),
    (  # a document's holder is its author
        "Laura Pike spoke on Monday. Her statement condemned the water tax.",
        "Laura Pike",
        "PERSON",
        "water tax",
        "against",
    ),
    (  # … also as a quote's source
        'Laura Pike spoke on Monday. "We oppose the water tax," her statement said.',
        "Laura Pike",
        "PERSON",
        "water tax",
        "against",
    ),
    (
        "Tom Reyes's letter criticized the stadium bond.",
        "Tom Reyes",
        "PERSON",
        "stadium bond",
        "against",
    ),
    (  # … and "they" a described speaker
        "The farmers' union said they would fight against the water tax.",
        "the farmers' union",
        "DESCRIBED",
        "water tax",
        "against",
    ),
    (  # a singular noun with the name in apposition: the one it names
        "The water tax was attacked by the county's longest-serving treasurer, Tom Reyes.",
        "Tom Reyes",
        "PERSON",
        "water tax",
        "against",
    ),
    (  # … so is a target
        "Laura Pike spoke on Monday. Tom Reyes criticized the mayor's spokeswoman, Laura Pike.",
        "Tom Reyes",
        "PERSON",
        "Laura Pike",
        "against",
    ),
]


@pytest.mark.parametrize(
    ("text", "holder", "target", "label"),
    [
        (
            "Donald Trump spoke in Ohio. Anti-Trump activists rallied outside the arena.",
            "Anti-Trump activists",
            "Donald Trump",
            "against",
        ),
        (
            "Hillary Clinton spoke in Ohio. The Harbor Fund, a pro-Clinton group, paid for it.",
            "Harbor Fund",
            "Hillary Clinton",
            "favor",
        ),
        ("Russia spoke. Pro-Russia rebels seized the airport.", "rebels", "Russia", "favor"),
        (  # a name of two words, and an en dash
            "Hal Monroe spoke in Ohio. Anti–Hal Monroe protesters marched in Dayton.",
            "protesters",
            "Hal Monroe",
            "against",
        ),
    ],
)
def test_a_camp_prefix_gives_its_noun_a_side(
    nlp: Language, text: str, holder: str, target: str, label: str
) -> None:
    found = [(c.holder.name, c.target.name, polarity(c, None)) for c in cands(nlp, text)]
    assert any(holder in h and (t, lab) == (target, label) for h, t, lab in found), found


@pytest.mark.parametrize(
    "text",
    [
        "Donald Trump spoke in Ohio. Planes filled the skies with anti-Trump messages.",
        "Donald Trump spoke in Ohio. Drivers passed anti-Trump signs on the highway.",
    ],
)
def test_a_thing_with_a_camp_prefix_holds_no_side(nlp: Language, text: str) -> None:
    assert not [(c.holder.name, c.target.name) for c in cands(nlp, text)]


def test_what_someone_should_do_is_anothers_advice_not_their_side(nlp: Language) -> None:
    # Holt's advice to the unions is her side, not theirs; "we should" is the speaker's own
    text = (
        "Senator Hal Monroe spoke in Dayton. The unions should back Monroe, Dana Holt said. "
        "We should oppose the water tax, Holt added."
    )
    found = {(c.holder.name, c.target.name) for c in cands(nlp, text)}
    assert not any("unions" in h for h, _ in found), found
    assert ("Dana Holt", "Hal Monroe") in found, found
    assert any("Holt" in h and "water tax" in t for h, t in found), found


def test_a_plurals_apposition_is_no_one_member(nlp: Language) -> None:
    # "Two critics, Reyes and Pike, …": the apposition lists them; Reyes alone is not it
    found = cands(nlp, "Two critics, Tom Reyes and Laura Pike, attacked the water tax.")
    holders = {c.holder.name for c in found if "water tax" in c.target.name}
    assert holders and ("Tom Reyes" not in holders or "Laura Pike" in holders), holders


@pytest.mark.parametrize(("text", "holder", "kind", "target", "label"), HOLDERS)
def test_holders_resolve_to_who_the_text_means(
    nlp: Language, text: str, holder: str, kind: str, target: str, label: str
) -> None:
    found = [c for c in cands(nlp, text) if c.prior and target in c.target.name]
    assert any(
        c.holder.name == holder and c.holder.type == kind and polarity(c, None) == label
        for c in found
    ), [(c.holder.name, c.holder.type, c.target.name, c.prior) for c in found]


@pytest.mark.parametrize(
    ("text", "holders", "targets"),
    [
        (  # the parser reads such a list as a name in apposition, then a conjunction
            "Laura Pike, Tom Reyes and Ines Baro have denounced the water tax.",
            {"Laura Pike", "Tom Reyes", "Ines Baro"},
            {"water tax"},
        ),
        (
            "Senator Laura Pike criticized Tom Reyes, Ines Baro and Hal Monroe.",
            {"Laura Pike"},
            {"Tom Reyes", "Ines Baro", "Hal Monroe"},
        ),
        (  # a description in apposition is no second holder
            "Tom Reyes, the county treasurer, opposed the water tax.",
            {"Tom Reyes"},
            {"water tax"},
        ),
        (  # nor is a person's place, in parentheses or after a party
            "Laura Pike (Ore.), Tom Reyes (Iowa) and Hal Monroe (Ariz.) opposed the water tax.",
            {"Laura Pike", "Tom Reyes", "Hal Monroe"},
            {"water tax"},
        ),
        ("Laura Pike, R-Texas, rejected the water tax.", {"Laura Pike"}, {"water tax"}),
    ],
)
def test_every_member_of_a_list_holds_or_receives_the_stance(
    nlp: Language, text: str, holders: set[str], targets: set[str]
) -> None:
    found = {(c.holder.name, c.target.name) for c in cands(nlp, text) if c.kind == "verb"}
    assert found == {(h, t) for h in holders for t in targets}


@pytest.mark.parametrize(
    ("text", "examples"),
    [
        (
            "Several council members, including Laura Pike and Tom Reyes, denounced the water tax.",
            {"Laura Pike", "Tom Reyes"},
        ),
        ("Unions like the Dockworkers Guild opposed the water tax.", {"Dockworkers Guild"}),
        (
            "Council members such as Laura Pike and Tom Reyes rejected the water tax.",
            {"Laura Pike", "Tom Reyes"},
        ),
    ],
)
def test_those_a_holder_names_as_examples_hold_its_stance(
    nlp: Language, text: str, examples: set[str]
) -> None:
    found = {(c.holder.name, c.target.name, c.prior) for c in cands(nlp, text) if c.kind == "verb"}
    assert {(e, "water tax", -1) for e in examples} <= found, found


def test_the_examples_of_a_thing_hold_no_stance(nlp: Language) -> None:
    # obstacles hold no side, so neither does what is named as one of them
    text = "Obstacles, including Hal Monroe, obstruct the harbor plan."
    assert not [c for c in cands(nlp, text) if c.holder.name == "Hal Monroe"]


def test_a_list_goes_on_under_a_place_in_apposition(nlp: Language) -> None:
    # the parser hangs "Tom Reyes" on "Iowa", which is no holder; Reyes still is
    text = (
        "Hal Monroe, D-Iowa, Tom Reyes, D-Ill., and Chuck Grassley, D-N.Y., opposed the water tax."
    )
    holders = {c.holder.name for c in cands(nlp, text) if c.kind == "verb"}
    assert {"Hal Monroe", "Tom Reyes", "Chuck Grassley"} <= holders
    assert "Iowa" not in holders


@pytest.mark.parametrize(
    "text",
    [
        "{} condemned the water tax on Monday.",
        '"We oppose the water tax," {} said.',
    ],
)
def test_a_document_naming_no_author_holds_no_stance(nlp: Language, text: str) -> None:
    named = cands(nlp, text.format("Laura Pike"))  # the same words with a holder: found
    assert [c for c in named if c.holder.name == "Laura Pike" and "water tax" in c.target.name]
    for document in ("The statement", "the statement", "the petition"):
        found = cands(nlp, text.format(document))
        assert not found, [(c.holder.name, c.target.name) for c in found]


def test_a_quote_leans_toward_people_and_organisations_not_groups(nlp: Language) -> None:
    """The guide's targets are people, organisations, countries and issues: a group a
    quote names ("Republicans", "Latinos") is no candidate of the quote."""
    text = '"Republicans and Latinos will never trust Laura Pike again," Tom Reyes said.'
    quoted = [c for c in cands(nlp, text) if c.kind == "quote" and c.holder.name == "Tom Reyes"]
    assert [c.target.name for c in quoted] == ["Laura Pike"], [
        (c.target.name, c.target.type) for c in quoted
    ]


QUOTED_ISSUES = [
    # (text, holder, words of an issue the holder's quote argues about, or None)
    ('"We have to build the new harbor tunnel," Laura Pike said.', "Laura Pike", "harbor tunnel"),
    (
        '"The water tax will hurt every farmer," Tom Reyes said on Monday.',
        "Tom Reyes",
        "water tax",
    ),
    (  # a noun that a preposition introduces
        '"I will vote for the stadium bond," Ines Baro said.',
        "Ines Baro",
        "stadium bond",
    ),
    # a bare noun names no issue; a predicate noun is what the subject is, not a topic
    ('"The plan is ready," Laura Pike said.', "Laura Pike", None),
    ('"This is a reckless scheme," Laura Pike said.', "Laura Pike", None),
]


@pytest.mark.parametrize(("text", "holder", "issue"), QUOTED_ISSUES)
def test_issues_a_holders_quote_argues_about_are_candidates(
    nlp: Language, text: str, holder: str, issue: str | None
) -> None:
    found = [
        c
        for c in cands(nlp, text)
        if c.kind == "quote" and c.target.type == "ISSUE" and c.holder.name == holder
    ]
    if issue is None:
        assert not found, [c.target.name for c in found]
    else:
        assert any(issue in c.target.name and c.prior == 0 for c in found), [
            c.target.name for c in found
        ]


@pytest.mark.parametrize(
    ("text", "dated"),
    [
        (
            "According to officials, Hezbollah had initially agreed to delink the two "
            "conflicts the night before its leader Hassan Nasrallah was killed in an airstrike.",
            "Hassan Nasrallah",
        ),
        (
            'Laura Pike said the council would "vote on the budget after Tom Reyes returns '
            'from Ottawa."',
            "Tom Reyes",
        ),
    ],
)
def test_a_clause_that_dates_a_quote_is_not_what_it_is_about(
    nlp: Language, text: str, dated: str
) -> None:
    about = [c.target.name for c in cands(nlp, text) if c.kind == "quote"]
    assert dated not in about, about


def test_the_attribution_between_a_quotes_pieces_is_not_what_it_is_about(
    nlp: Language,
) -> None:
    text = (
        "“The tax hurts families who drive to work,” Marcus Hale said after meeting "
        "Governor Ruth Adler. “It punishes the people who have no bus.”"
    )
    about = [c.target.name for c in cands(nlp, text) if c.kind == "quote"]
    assert "Ruth Adler" not in about, about


NOT_STANCES = [
    # (text, holder, target): pairs the text does not support (issue 12's examples)
    (
        "According to officials, Hezbollah had initially agreed to delink the two conflicts "
        "the night before its leader Hassan Nasrallah was killed in an airstrike.",
        "Hezbollah",
        "Hassan Nasrallah",
    ),
    (
        'Marcus Hale seized on the number. "The mayor promised us a bridge for a billion. Now '
        'it is 1.4 billion and nobody can tell me where the money comes from," he said.',
        "Marcus Hale",
        "mayor",
    ),
    (
        'Mayor Elena Vasquez urged councillors to approve the project. "Every month we wait, '
        'the old bridge gets more dangerous," Vasquez said.',
        "Elena Vasquez",
        "old bridge",
    ),
    ("Tom Reyes met Laura Pike in the capital on Monday.", "Tom Reyes", "Laura Pike"),
    # "broke with X" is a stance; "broke bread with X" is not
    ("Tom Reyes broke bread with Laura Pike on Sunday.", "Tom Reyes", "Laura Pike"),
    # a gerund after "without" or "instead of" is what the holder did not do
    ("Tom Reyes won the seat without supporting Laura Pike.", "Tom Reyes", "Laura Pike"),
    ("Tom Reyes endorsed Ines Baro instead of backing Laura Pike.", "Ines Baro", "Laura Pike"),
    # … nor what the clause denies or clears one of
    ("Tom Reyes is not interested in supporting Laura Pike.", "Tom Reyes", "Laura Pike"),
    ("Tom Reyes was never accused of backing Laura Pike.", "Tom Reyes", "Laura Pike"),
    ("Tom Reyes was cleared of backing Laura Pike.", "Tom Reyes", "Laura Pike"),
]


NOT_WORDED = [
    # (text, holder, target): stance words that do not give this holder this target
    # (what the rules find, whatever the model would keep)
    (
        "Senator Tom Reyes refused to sign a letter condemning Laura Pike.",
        "Tom Reyes",
        "Laura Pike",
    ),
    ("Senator Tom Reyes did not sign the letter condemning Laura Pike.", "Tom Reyes", "Laura Pike"),
    ("Senator Tom Reyes did not throw his support behind Laura Pike.", "Tom Reyes", "Laura Pike"),
    # a message someone received, or an outlet printed or aired, is not theirs
    ("Tom Reyes received a letter praising Laura Pike.", "Tom Reyes", "Laura Pike"),
    ("Acme News aired an ad attacking Senator Laura Pike.", "Acme News", "Laura Pike"),
    (
        "The Harbor Gazette published a letter from Tom Reyes criticizing Laura Pike.",
        "Harbor Gazette",
        "Laura Pike",
    ),
    # "took on", "destroy": a person or an organisation, and not hired "as" one
    ("Acme Holdings took on Tom Reyes as a consultant.", "Acme Holdings", "Tom Reyes"),
    ("Tom Reyes destroyed the hard drives before he left.", "Tom Reyes", "hard drives"),
    ("Tom Reyes has taken on a larger campaign this year.", "Tom Reyes", "larger campaign"),
    ("Tom Reyes ran ads targeting older voters in the county.", "Tom Reyes", "older voters"),
    # events, not sides: an election won, a killing, a milestone hit
    ("Tom Reyes defeated Laura Pike in the primary.", "Tom Reyes", "Laura Pike"),
    ("Tom Reyes could defeat Laura Pike in November.", "Tom Reyes", "Laura Pike"),
    ("Officer Tom Reyes killed Laura Pike in the raid.", "Tom Reyes", "Laura Pike"),
    ("Tom Reyes hit another milestone on Monday.", "Tom Reyes", "another milestone"),
    # a contest, not a side: "support against" is no stance on the rival
    ("Tom Reyes's support against Laura Pike grew.", "Tom Reyes", "Laura Pike"),
    # congratulating a winner is a courtesy, not a side
    ("Tom Reyes congratulated Laura Pike on her victory.", "Tom Reyes", "Laura Pike"),
    # "in favor of" the verb's object, not the verb's
    ("Tom Reyes called his vote in favor of Laura Pike a mistake.", "Tom Reyes", "Laura Pike"),
    # a magazine's issue is no stance on the magazine
    ("Tom Reyes praised the latest issue of Acme Weekly.", "Tom Reyes", "Acme Weekly"),
    # the verb "miss" is no honorific: "he" may still be Harry Reid
    (
        "Tom Reyes spoke. Democrats will miss Harry Reid. He criticized the water tax.",
        "Tom Reyes",
        "water tax",
    ),
    # split, not united
    (
        "Republicans were split in supporting the harbor tunnel plan.",
        "Republicans",
        "harbor tunnel plan",
    ),
    # a legislator's party and state stand for the legislator, never hold or receive a stance
    ("Rep. Tom Reyes (D-Tex.), a supporter of Laura Pike, spoke on Monday.", "Tex", "Laura Pike"),
    (
        "Sen. Tom Reyes (D-NY), a critic of the harbor tunnel plan, spoke.",
        "NY",
        "harbor tunnel plan",
    ),
    ("Tom Reyes is challenging Sen. Laura Pike (R).", "Tom Reyes", "R"),
]


@pytest.mark.parametrize(("text", "holder", "target"), NOT_WORDED)
def test_stance_words_do_not_give_what_the_text_denies_or_does_not_say(
    nlp: Language, text: str, holder: str, target: str
) -> None:
    found = cands(nlp, text)
    assert not any(c.holder.name == holder and c.target.name == target for c in found if c.prior), [
        (c.holder.name, c.target.name, c.prior, c.cue) for c in found
    ]


@pytest.mark.parametrize(("text", "holder", "target"), NOT_STANCES)
def test_pairs_the_text_does_not_support_are_not_emitted(
    nlp: Language, text: str, holder: str, target: str
) -> None:
    got = stances(nlp, text)
    assert not any(s.holder == holder and target in s.target for s in got), got


def test_stances_keep_evidence_offsets_and_confidence(nlp: Language) -> None:
    text = (
        "The council met on Monday.\n\nSenator Laura Pike criticised the harbor tunnel plan, "
        "calling it a waste of money."
    )
    got = stances(nlp, text)
    assert got, "a criticised plan is a stance"
    for s in got:
        assert text[s.start : s.end] == s.evidence
        assert 0.0 <= s.confidence <= 1.0
        assert s.stance in ("favor", "against")
    pike = [s for s in got if s.holder == "Laura Pike"]
    assert pike and pike[0].target_type == "ISSUE" and "tunnel plan" in pike[0].target


def test_model_threshold_decides_and_neutral_is_never_emitted(nlp: Language) -> None:
    text = "Senator Laura Pike criticised the harbor tunnel plan on Tuesday."
    doc = nlp(text)
    index = extract_entities(doc)
    quotes = extract_quotes(doc, index)
    everything = StanceModel([10.0] + [0.0] * (FEATURES - 1), threshold=0.5)
    nothing = StanceModel([-10.0] + [0.0] * (FEATURES - 1), threshold=0.5)
    assert extract_stances(doc, quotes, index, everything)
    assert extract_stances(doc, quotes, index, nothing) == []
    with pytest.raises(ValueError, match="weights"):
        StanceModel([1.0], threshold=0.5)


def test_a_speaker_the_article_names_is_that_entity(nlp: Language) -> None:
    text = "Senator Laura Pike toured the port. Pike says the water tax is a disaster."
    doc = nlp(text)
    index = extract_entities(doc)
    start = text.index("the water")
    said = Quote(
        speaker="Pike",
        speaker_type="DESCRIBED",
        cue="says",
        text=text[start:-1],
        direct=False,
        start=start,
        end=len(text) - 1,
    )
    refs = Referents(doc, index, [said])
    assert refs.speaker(said) == Actor("Laura Pike", "PERSON")
    unnamed = said.model_copy(update={"speaker": "a port worker"})
    assert refs.speaker(unnamed) == Actor("a port worker", "DESCRIBED")


def test_a_pronoun_after_a_party_designation_is_the_legislator(nlp: Language) -> None:
    # "Tex" is the legislator's, so "he" cannot be it
    text = "Sen. Tom Reyes (R-Tex.) spoke on Monday. He criticized the water tax."
    found = {(c.holder.name, c.target.name) for c in cands(nlp, text) if c.prior}
    assert ("Tom Reyes", "water tax") in found, found
    assert not any(holder == "Tex" for holder, _ in found), found


def test_citing_or_facing_anothers_criticism_is_no_side(nlp: Language) -> None:
    # who cites or faces a stance noun reports someone else's side; who voices it holds it
    text = (
        "Senator Hal Monroe spoke in Dayton. Monroe cited criticism of Dana Holt. "
        "Monroe faced criticism of Laura Pike. Monroe voiced criticism of Tom Reyes."
    )
    found = {(c.holder.name, c.target.name) for c in cands(nlp, text)}
    assert ("Hal Monroe", "Dana Holt") not in found, found
    assert ("Hal Monroe", "Laura Pike") not in found, found
    assert ("Hal Monroe", "Tom Reyes") in found, found


def test_a_subject_the_parser_hung_on_the_clause_before(nlp: Language) -> None:
    # "… mishandled the audit and Democrats accused X": the parser makes "Democrats" a
    # second object of "mishandled" and leaves "accused" without a subject
    text = (
        "Republicans said they're increasingly convinced the Water Board mishandled the "
        "audit and Democrats accused the Greenline Party of stoking the issue."
    )
    doc = nlp(text)
    democrats = next(t for t in doc if t.text == "Democrats")
    accused = doc[democrats.i + 1]
    assert democrats.dep_ == "conj" and democrats.head.text == "audit", "the parse changed"
    assert not any(c.dep_ == "nsubj" for c in accused.children), "the parse changed"
    found = {(c.holder.name, c.target.name, c.prior) for c in cands(nlp, text)}
    assert ("Democrats", "Greenline Party", -1) in found, found
    # a subject the parser did find stays the holder
    text = (
        "Monroe said the council ignored the report and Democrats accused Dana Holt of hiding it."
    )
    found = {(c.holder.name, c.target.name, c.prior) for c in cands(nlp, text)}
    assert ("Democrats", "Dana Holt", -1) in found, found


def test_a_gerund_after_after_or_before_is_the_clauses_subjects(nlp: Language) -> None:
    # "After savaging X, Holt …", "praised the workers before attacking X": what the
    # clause's subject did (the parser hangs the gerund on the preposition)
    text = (
        "After savaging the Greenline Party as corrupt insiders, Dana Holt is finding "
        "them reluctant to help. Senator Hal Monroe met the workers before attacking Tom Reyes."
    )
    doc = nlp(text)
    for word in ("savaging", "attacking"):
        gerund = next(t for t in doc if t.text == word)
        assert gerund.dep_ == "pcomp" and gerund.head.lower_ in ("after", "before"), "parse"
    found = {(c.holder.name, c.target.name, c.prior) for c in cands(nlp, text)}
    assert ("Dana Holt", "Greenline Party", -1) in found, found
    assert ("Hal Monroe", "Tom Reyes", -1) in found, found
