"""Synthetic stories in same-event clusters (written by us), and the facet counts the
search contract expects of them, computed here from the stories themselves.

- ``bridge``: a wire story run by three outlets (two exact copies, one with its own
  headline), all naming Mara Quill, who is against the toll plan in each;
- ``port``: two stories by one outlet;
- ``gone``: two stories whose cluster's first story is not in the index;
- four stories from before clustering (``cluster_id`` None), one naming Mara Quill and
  one undated, and one story that is its own cluster.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from pipeline.models import Article, Entity, Stance

WIRE = (
    "The harbour council voted late on Monday to delay the toll plan for the new harbour"
    " bridge, after Mara Quill said the fees would fall hardest on commuters."
)


def story(
    sid: str,
    source: str,
    day: int | None,
    *,
    cluster: str | None,
    title: str = "Harbour bridge toll plan delayed",
    body: str = WIRE,
    duplicate_of: str | None = None,
    people: tuple[str, ...] = (),
    orgs: tuple[str, ...] = (),
    against: str | None = None,
) -> Article:
    return Article(
        id=sid,
        url=f"https://{source}/{sid}",
        canonical_url=f"https://{source}/{sid}",
        source=source,
        title=title,
        summary=body[:80],
        body=body,
        language="en",
        published_at=datetime(2026, 10, day, 9, tzinfo=UTC) if day else None,
        entities=[
            *(Entity(name=p, type="PERSON", mentions=2, salience=0.6) for p in people),
            *(Entity(name=o, type="ORG", mentions=1, salience=0.3) for o in orgs),
        ],
        stances=[
            Stance(
                holder=people[0],
                target=against,
                target_type="ISSUE",
                stance="against",
                confidence=0.8,
                evidence=body[:60],
            )
        ]
        if against and people
        else [],
        cluster_id=cluster,
        duplicate_of=duplicate_of,
    )


def stories() -> list[Article]:
    mara = ("Mara Quill",)
    return [
        story("bridge-1", "wire.example", 3, cluster="bridge-1", people=mara, against="toll plan"),
        story(
            "bridge-2",
            "coast.example",
            4,
            cluster="bridge-1",
            duplicate_of="bridge-1",
            people=mara,
            against="toll plan",
        ),
        story(
            "bridge-3",
            "valley.example",
            5,
            cluster="bridge-1",
            title="Commuters spared harbour toll, for now",
            body=WIRE + " Drivers at the harbour ferry welcomed the pause.",
            people=mara,
            against="toll plan",
        ),
        story(
            "port-1",
            "coast.example",
            6,
            cluster="port-1",
            title="Harbour port expansion approved",
            body="The Port Authority approved the harbour expansion on a split vote.",
            orgs=("Port Authority",),
        ),
        story(
            "port-2",
            "coast.example",
            7,
            cluster="port-1",
            title="Port Authority backs bigger harbour",
            body="Dredging begins next spring, the Port Authority said of the harbour plan.",
            orgs=("Port Authority",),
        ),
        story(
            "gone-2",
            "wire.example",
            8,
            cluster="gone-1",
            title="Harbour ferry fares rise",
            body="Ferry fares across the harbour rise by a tenth from November.",
        ),
        story(
            "gone-3",
            "valley.example",
            9,
            cluster="gone-1",
            title="Harbour ferry fares up ten percent",
            body="From November, harbour ferry fares rise by a tenth, the operator said.",
        ),
        story(
            "old-1",
            "valley.example",
            10,
            cluster=None,
            title="Mara Quill opens harbour market",
            body="Mara Quill opened the harbour market on Saturday morning.",
            people=mara,
        ),
        story(
            "old-2",
            "wire.example",
            11,
            cluster=None,
            title="Harbour lights festival",
            body="The harbour lights festival drew crowds on Friday night.",
        ),
        story(
            "old-3",
            "coast.example",
            None,
            cluster=None,
            title="Harbour history, undated",
            body="A short history of the harbour and its lighthouse.",
        ),
        story(
            "old-4",
            "wire.example",
            12,
            cluster=None,
            title="School term dates",
            body="The school term starts on a Monday this year.",
        ),
        story(
            "alone-1",
            "wire.example",
            13,
            cluster="alone-1",
            title="Harbour swim cancelled",
            body="Cold water cancelled the harbour swim again.",
        ),
    ]


def cluster_key(a: Article) -> str:
    return a.cluster_id or a.id


def expected_counts(matches: list[Article], clusters: bool) -> dict[str, dict[str, int]]:
    """Stories (or clusters) per value of each facet among ``matches``: ``entities``
    keyed "TYPE:name", ``sources``, ``stances`` (labels) and ``dates`` (days)."""
    keyed: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for a in matches:
        k = cluster_key(a) if clusters else a.id
        for e in a.entities:
            keyed["entities"][f"{e.type}:{e.name}"].add(k)
        keyed["sources"][a.source].add(k)
        for s in a.stances:
            keyed["stances"][s.stance].add(k)
        if a.published_at:
            keyed["dates"][a.published_at.date().isoformat()].add(k)
    return {facet: {v: len(ks) for v, ks in values.items()} for facet, values in keyed.items()}
