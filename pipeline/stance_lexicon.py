"""The words that carry a stance in news text, with their polarity (+1 for, -1 against).

Starting points for ``pipeline.stance``'s candidates, not its decisions: which of the
pairs they find a reader would list is learned (``pipeline.stance_model``). Taken from
the annotation guide's own examples ("criticised, rejected, opposed, … praised,
endorsed, backed …") and their common synonyms.
"""

from __future__ import annotations

# Verbs whose object the subject is for (+1) or against (-1).
VERB_POLARITY = {
    **dict.fromkeys(
        """support endorse back praise defend welcome applaud hail laud commend champion
        embrace approve accept favor favour prefer recommend thank credit tout
        celebrate admire salute cheer nominate elect aid fund protect""".split(),
        1,
    ),
    **dict.fromkeys(
        """oppose criticize criticise reject condemn denounce attack slam blast rip decry
        dismiss accuse sue blame mock ridicule deride dispute protest boycott block veto
        scold lambaste chastise berate castigate assail disparage insult disavow repudiate
        resist undermine fault bash deplore lambast excoriate smear vilify demonize demonise
        impeach investigate defeat oust overthrow punish hammer censure
        censor deny question challenge hit knock pound destroy target rebuff spurn snub shun
        scorn rebuke reprimand admonish savage skewer taunt belittle discredit refute rebut
        thwart obstruct stymie derail sabotage torpedo scuttle lampoon
        eviscerate pillory""".split(),
        -1,
    ),
}
# Verbs whose stance is carried by a preposition: "voted against X", "called for X".
PREP_POLARITY = {
    **{
        (v, "for"): 1
        for v in "vote campaign call push argue fight lobby advocate stump rally".split()
    },
    **{
        (v, "against"): -1
        for v in """vote campaign argue fight speak rail warn testify rule side rally lobby
        turn lash push""".split()
    },
    ("agree", "to"): 1,
    ("agree", "with"): 1,
    ("side", "with"): 1,
    ("stand", "with"): 1,
    ("stand", "behind"): 1,
    ("rally", "behind"): 1,
    ("object", "to"): -1,
    ("lash", "at"): -1,
    ("warn", "about"): -1,
    ("pledge", "to"): 1,
    ("approve", "of"): 1,
    ("disapprove", "of"): -1,
    ("stand", "by"): 1,
    ("break", "with"): -1,
    ("come", "on"): -1,  # "come down (hard) on"
    ("crack", "on"): -1,
    ("pounce", "on"): -1,
    ("come", "against"): -1,  # "came out against"
    ("get", "behind"): 1,
    ("stand", "against"): -1,
    ("balk", "at"): -1,
    ("bristle", "at"): -1,
    ("scoff", "at"): -1,
    ("sneer", "at"): -1,
    ("hit", "at"): -1,  # "hit out at"
    ("fire", "at"): -1,  # "fired back at"
    ("lay", "into"): -1,
    ("tear", "into"): -1,
    ("root", "for"): 1,
    ("vouch", "for"): 1,
    ("cheer", "for"): 1,
}
# Verbs with a particle whose object the subject is against: "turned down the request".
PARTICLE_POLARITY = {
    ("turn", "down"): -1,
    ("shoot", "down"): -1,
    ("strike", "down"): -1,
    ("vote", "down"): -1,
    ("take", "on"): -1,
}
# Stance words that say it only of a person or an organisation: "took on Senator McCain",
# "ads targeting Clinton", "destroy ISIS"; not "took on new significance", "ads targeting
# Latinos", "destroyed the hard drives".
ON_NAMES = frozenset({("take", "on"), ("destroy", ""), ("target", ""), ("hit", "")})
NAMED_TYPES = frozenset({"PERSON", "ORG"})
# … and one that says it only of anything else: "defeated Sanders in the primary" is an
# election's result, "defeat the bill" a side.
CONTESTS = frozenset({"defeat"})
CONTESTANTS = NAMED_TYPES | {"NORP"}  # who can be defeated in one: candidates, parties
# Verbs whose "of" names what the one accused did: "accused Reyes of backing the plan"
# (and not "cleared of", "capable of", "the idea of").
ACCUSING = frozenset("accuse charge suspect convict".split())
# Pairs that say it only without an object: "broke with Reyes", not "broke bread with
# Reyes" or "broke the door with a ram"; "stood by Pike", not "stood the sign by the door".
PREP_ALONE = frozenset({("stand", "by"), ("break", "with")})
RESPONSE_ADVERBS = {
    **dict.fromkeys("positively favorably favourably warmly well".split(), 1),
    **dict.fromkeys("negatively angrily coolly badly".split(), -1),
}
# Nouns of stance: "support for X", "opposition to X", "X's endorsement of Y".
NOUN_POLARITY = {
    **dict.fromkeys(
        """support backing endorsement praise approval defense defence admiration sympathy
        loyalty allegiance blessing""".split(),
        1,
    ),
    **dict.fromkeys(
        """opposition criticism objection objections condemnation rejection refusal
        hostility attack attacks disdain contempt distaste disgust dislike skepticism
        scepticism resistance rebuke denunciation critique distrust mistrust animosity
        antipathy aversion broadside swipe jab backlash outrage anger fury ire""".split(),
        -1,
    ),
}
# "anti-Trump activists", "a pro-Israel group": prefixes that give a noun its side.
CAMPS = {"anti": -1, "pro": 1}
# … but a thing that carries a side holds none: "anti-Obama signs", "pro-Clinton ads".
SIDED_THINGS = frozenset(
    """sign banner poster placard slogan chant sticker button shirt message ad
    advertisement commercial video tweet post rhetoric sentiment feeling view position
    stance expenditure spending money""".split()
)
PEOPLE_NOUNS = {
    **dict.fromkeys(
        """supporter backer fan ally champion admirer defender proponent advocate loyalist
        surrogate endorser donor""".split(),
        1,
    ),
    **dict.fromkeys("critic opponent foe detractor enemy adversary nemesis skeptic".split(), -1),
}
# Verbs that give a stance noun: "threw his support behind X", "lent her backing to X";
# denied, they say the stance was not given.
GIVING = frozenset("give throw lend offer voice express extend pledge".split())
RECEIVING = frozenset(
    "win secure receive get earn gain land have pick snag lock score collect rack".split()
)
# Verbs whose subject reports or answers someone else's stance noun ("cited criticism
# of Lauer", "dismissed the attacks on him"): the subject holds no side by it.
CITING = frozenset(
    "cite note mention quote dismiss deny ignore face draw attract address acknowledge downplay".split()
)
NOUN_PREPS = frozenset({"for", "of", "to", "on", "against", "at"})
AGAINST_PREPS = frozenset({"against", "at"})  # only a noun against says it with these
# Predicates that evaluate their subject: "X is unacceptable", "X is key".
EVALUATIVE = {
    **dict.fromkeys(
        """key essential necessary crucial vital important good great right fair success
        non-negotiable condition priority must""".split(),
        1,
    ),
    **dict.fromkeys(
        """unacceptable wrong dangerous disaster disgrace mistake failure bad terrible illegal
        unconstitutional ridiculous absurd outrageous shameful false misleading speculation
        nonsense lie lies joke scam fraud hoax disgraceful irresponsible reckless
        unfair""".split(),
        -1,
    ),
}
# "called for the repeal of Obamacare": for the repeal is against Obamacare.
UNDOING = frozenset(
    """resignation overthrow removal ouster impeachment defeat end repeal ban abolition
    withdrawal prosecution arrest suspension cancellation termination elimination""".split()
)
# What someone issues to say where they stand: "released a statement condemning X",
# "launched an ad that attacked Y": the one who issued it holds its stance.
MESSAGES = frozenset(
    """statement letter ad advertisement commercial video campaign resolution editorial
    column op-ed tweet message memo speech petition""".split()
)
# … and the verbs that issue one ("received a letter praising X" is not the receiver's).
# Not "published", "aired": an outlet that prints a letter does not hold what it says.
ISSUING = frozenset("release issue send sign write launch run pen post deliver mount wage".split())
# What holds the issue a stance is on: "decried the issue of systemic racism", "backed
# the idea of a wall" are on racism, on a wall.
CONTAINERS = frozenset("issue problem idea notion concept practice policy prospect".split())
RELATIVE = frozenset({"who", "whom", "which", "that"})
# Candidate kinds whose polarity the target-sentiment model reads (no stance word says it).
MODEL_POLARITY = frozenset({"call", "quote"})
REFUSING = frozenset({"refuse", "decline", "fail", "reluctant", "unwilling"})
# Auxiliaries of advice: what someone "should" do is the adviser's side, not theirs.
ADVISING = frozenset({"should", "ought"})

# The cues the annotation guide itself names ("criticised, attacked, rejected, …").
GUIDE_CUES = frozenset(
    """criticize criticise attack reject oppose condemn denounce sue vote deny mock warn
    praise endorse support back defend welcome agree campaign call""".split()
)
