"""The two shipped référentiels, and the rules a published version must follow."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from events.envelope import Actor
from events.label import CriterionDefinition, DomainDefinition, ReferentielPublished
from infra.event_store import new_event
from services.label.referentiels import (
    ReferentielContent,
    Referentiels,
    catalogue_id,
    check_referentiel,
    shipped_referentiels,
)


def test_both_referentiels_ship_and_follow_the_rules() -> None:
    ecole, college = shipped_referentiels()
    assert ecole.kinds == ["ecole"]
    assert [d.code for d in ecole.domains] == [
        "REFERENTS",
        "ENT",
        "PROJETS",
        "ACCOMPAGNEMENT",
        "EQUIPEMENT",
    ]
    assert college.kinds == ["college", "lycee"]
    assert [d.code for d in college.domains] == [
        "PILOTAGE",
        "FORMATION",
        "RESSOURCES",
        "PRATIQUES",
        "INFRASTRUCTURE",
        "EQUIPEMENT",
    ]
    # About fifty criteria, each domain with its three levels.
    assert 45 <= sum(len(d.criteria) for d in college.domains) <= 55
    for d in college.domains:
        assert {c.level for c in d.criteria} == {1, 2, 3}
    for ref in (ecole, college):
        assert check_referentiel(ref.version, ref) == []


def test_the_ecole_equipment_domain_is_backed_by_the_equipment_index() -> None:
    ecole, _ = shipped_referentiels()
    equipment = next(d for d in ecole.domains if d.code == "EQUIPEMENT")
    assert [(c.level, c.data) for c in equipment.criteria] == [
        (1, "equipment_index"),
        (2, "equipment_index"),
        (3, "equipment_index"),
    ]


def test_every_broken_rule_is_reported_with_its_field() -> None:
    content = ReferentielContent(
        title=" ",
        kinds=["ecole", "crèche", "ecole"],
        domains=[
            DomainDefinition(
                code="bad code",
                title="",
                criteria=[
                    CriterionDefinition(code="X1", level=4, title="", explanation=" "),
                    CriterionDefinition(code="X1", level=1, title="t", explanation="e", data="gar"),
                ],
            ),
            DomainDefinition(code="EMPTY", title="Vide", criteria=[]),
        ],
    )
    fields = [e.field for e in check_referentiel("V 1", content)]
    assert fields == [
        "version",
        "title",
        "kinds[1]",
        "kinds",
        "domains[0].code",
        "domains[0].title",
        "domains[0].criteria[0].level",
        "domains[0].criteria[0].title",
        "domains[0].criteria[0].explanation",
        "domains[0].criteria[1].code",
        "domains[0].criteria[1].data",
        "domains[1].criteria",
    ]
    assert all(e.message for e in check_referentiel("V 1", content))


def published(version: str, content: ReferentielContent, n: int) -> ReferentielPublished:
    return new_event(
        ReferentielPublished,
        originator_id=catalogue_id(),
        originator_version=n,
        uai=None,
        school_year="2026-2027",
        actor=Actor("admin", "admin"),
        occurred_at=datetime(2026, 9, 1, tzinfo=UTC),
        referentiel_version=version,
        **msgspec.structs.asdict(content),
    )


def current(refs: Referentiels, kind: str) -> str | None:
    ref = refs.current_for(kind)
    return ref.version if ref else None


def test_the_latest_version_published_for_a_kind_is_the_current_one() -> None:
    ecole, college = shipped_referentiels()
    base = ReferentielContent(title=ecole.title, kinds=ecole.kinds, domains=ecole.domains)
    other = ReferentielContent(title=college.title, kinds=college.kinds, domains=college.domains)
    refs = Referentiels().folded([published("ecole-1", base, 1), published("college-1", other, 2)])
    assert (current(refs, "ecole"), current(refs, "lycee")) == ("ecole-1", "college-1")
    newer = refs.folded([published("ecole-2", base, 3)])
    assert (current(newer, "ecole"), current(newer, "college")) == ("ecole-2", "college-1")
    assert newer.version == 3
    # The older catalogue is left as it was: it is shared between threads.
    assert current(refs, "ecole") == "ecole-1"
