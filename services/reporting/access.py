"""Who may read what in reporting (pure rules; the territory nesting comes from the register)."""

from __future__ import annotations

from events.values import Role
from infra.auth import Principal, SchoolPlace

TERRITORY_READERS = (Role.LECTEUR, Role.ADMIN, Role.CONSEILLER, Role.AUDITEUR)


def may_read_territory(p: Principal, level: str, code: str, places: list[SchoolPlace]) -> bool:
    """A reader of a territory reads it and every territory inside it: the territory asked for
    must be the principal's own, or all its schools (`places`) must lie within the scope."""
    if p.role not in TERRITORY_READERS:
        return False
    if p.scope == "*" or p.scope == f"{level}:{code}":
        return True
    return bool(places) and all(p.covers(place) for place in places)


def may_read_history(p: Principal, place: SchoolPlace) -> bool:
    """Who did what is for auditors, the académie's admin and the school's own head."""
    if p.role is Role.AUDITEUR:
        return True
    if p.role is Role.ADMIN:
        return p.covers_academie(place.academie)
    return p.role in (Role.DIRECTEUR, Role.CHEF) and p.scope == place.uai
