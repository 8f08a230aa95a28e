"""The roles table of DOMAIN.md for the label, as data: every role, in every scope of its kind,
in and out of a school's scope, for every action. Generated, not hand-picked."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from events.values import Role
from infra.auth import SchoolPlace, valid_scope

ACTIONS = ("read", "propose", "validate", "reject", "withdraw", "revoke", "apply")
KINDS = ("ecole", "college")
SCOPE_LEVELS = ("school", "circonscription", "bassin", "departement", "academie", "region", "*")
# Territories no test school belongs to.
ELSEWHERE = {
    "school": "0310001H",
    "circonscription": "31-C1",
    "bassin": "31-B1",
    "departement": "31",
    "academie": "toulouse",
    "region": "bretagne",
}


def place_of(uai: str, kind: str) -> SchoolPlace:
    """An école belongs to circonscription 34-C1, a collège to bassin 34-B1 (Hérault)."""
    if kind == "ecole":
        return SchoolPlace(uai, "34-C1", None, "34", "montpellier")
    return SchoolPlace(uai, None, "34-B1", "34", "montpellier")


@dataclass(frozen=True)
class Case:
    role: Role
    scope: str
    kind: str
    inside: bool
    action: str

    @property
    def label(self) -> str:
        where = "in" if self.inside else "out"
        return f"{self.role.value}@{self.scope}/{self.kind}/{where}/{self.action}"


def scopes(role: Role, place: SchoolPlace) -> Iterator[tuple[str, bool]]:
    """Every scope of the role's kind, inside and outside the school's."""
    for level in SCOPE_LEVELS:
        if level == "*":
            candidates = [("*", True)]
        elif level == "school":
            candidates = [(place.uai, True), (ELSEWHERE[level], False)]
        else:
            code = place.territory(level)
            inside = [(f"{level}:{code}", True)] if code else []
            candidates = [*inside, (f"{level}:{ELSEWHERE[level]}", False)]
        for scope, inside_ in candidates:
            if valid_scope(role, scope):
                yield scope, inside_


def cases(place_for: dict[str, SchoolPlace]) -> list[Case]:
    roles = [r for r in Role if r is not Role.SYSTEME]
    return [
        Case(role, scope, kind, inside, action)
        for role, kind, action in itertools.product(roles, KINDS, ACTIONS)
        for scope, inside in scopes(role, place_for[kind])
    ]


def expected(case: Case) -> bool:
    """DOMAIN.md, people and what they may do: the label's rows."""
    if not case.inside:
        return False
    head = (case.role is Role.DIRECTEUR and case.kind == "ecole") or (
        case.role is Role.CHEF and case.kind != "ecole"
    )
    adviser = case.role is Role.CONSEILLER
    if case.action == "read":
        return True
    if case.action in ("propose", "withdraw"):
        return case.role is Role.REFERENT or head or adviser
    if case.action in ("validate", "reject", "revoke"):
        return head or adviser
    assert case.action == "apply"
    return head
