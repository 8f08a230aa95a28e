"""Référentiels: the versions an académie admin publishes, the rules a version must follow, and
the two that ship with the project (`data/*.json`).

*decision*: référentiels are shared by the whole platform; a school's board follows the latest
version published for its kind of school. A criterion keeps its standing from one version to the
next when its code is kept (the events still say under which version each step was taken); a
code dropped by a new version leaves its history untouched but no longer counts.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources

import msgspec

from events.envelope import Event
from events.label import (
    DATA_KINDS,
    LEVELS,
    CriterionDefinition,
    DomainDefinition,
    ReferentielPublished,
)
from infra.errors import FieldError
from infra.event_store import stream_id

KINDS = ("ecole", "college", "lycee")
VERSION = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
DOMAIN_CODE = re.compile(r"^[A-Z][A-Z0-9_]{1,31}$")
CRITERION_CODE = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,31}$")
SHIPPED = ("referentiel-ecole.json", "referentiel-college.json")


def catalogue_id() -> uuid.UUID:
    """One stream holds every published version, in publication order."""
    return stream_id("label-referentiels")


class ReferentielContent(msgspec.Struct, frozen=True, kw_only=True):
    """What an admin publishes (the body of `PUT /api/v1/label/referentiels/{version}`)."""

    title: str
    kinds: list[str]
    domains: list[DomainDefinition]


class ReferentielFile(ReferentielContent, frozen=True, kw_only=True):
    version: str


@dataclass(frozen=True)
class Referentiel:
    version: str
    title: str
    kinds: tuple[str, ...]
    domains: tuple[DomainDefinition, ...]

    @property
    def content(self) -> ReferentielContent:
        return ReferentielContent(
            title=self.title, kinds=list(self.kinds), domains=list(self.domains)
        )

    def criterion(self, code: str) -> tuple[DomainDefinition, CriterionDefinition] | None:
        for d in self.domains:
            for c in d.criteria:
                if c.code == code:
                    return d, c
        return None

    @property
    def codes(self) -> list[str]:
        return [c.code for d in self.domains for c in d.criteria]


@dataclass
class Referentiels:
    """Every published version, folded from the catalogue stream."""

    version: int = 0  # the stream's version, for optimistic concurrency
    by_version: dict[str, Referentiel] = field(default_factory=dict)

    def current_for(self, kind: str) -> Referentiel | None:
        """The latest version published for this kind of school."""
        found = None
        for ref in self.by_version.values():  # in publication order
            if kind in ref.kinds:
                found = ref
        return found

    def folded(self, events_: Iterable[Event]) -> Referentiels:
        """A new catalogue with `events_` applied (this one is shared between threads)."""
        folded = Referentiels(self.version, dict(self.by_version))
        for e in events_:
            if isinstance(e, ReferentielPublished):
                folded.by_version[e.referentiel_version] = Referentiel(
                    e.referentiel_version, e.title, tuple(e.kinds), tuple(e.domains)
                )
            folded.version = e.originator_version
        return folded


def _blank(value: str) -> bool:
    return not value.strip()


def _check_criterion(
    c: CriterionDefinition, where: str, seen: set[str], errors: list[FieldError]
) -> None:
    if not CRITERION_CODE.match(c.code):
        errors.append(
            FieldError(
                f"{where}.code",
                f"Code de critère invalide : « {c.code} » (majuscules, chiffres, tirets).",
            )
        )
    elif c.code in seen:
        errors.append(FieldError(f"{where}.code", f"Le critère {c.code} figure deux fois."))
    seen.add(c.code)
    if c.level not in LEVELS:
        errors.append(
            FieldError(f"{where}.level", f"Le niveau du critère {c.code} doit être 1, 2 ou 3.")
        )
    if _blank(c.title):
        errors.append(FieldError(f"{where}.title", f"Le critère {c.code} n'a pas de titre."))
    if _blank(c.explanation):
        errors.append(
            FieldError(f"{where}.explanation", f"Le critère {c.code} n'a pas de bulle explicative.")
        )
    if c.data is not None and c.data not in DATA_KINDS:
        errors.append(
            FieldError(
                f"{where}.data",
                f"Donnée inconnue pour le critère {c.code} : « {c.data} » "
                f"(attendu {' ou '.join(DATA_KINDS)}).",
            )
        )


def check_referentiel(version: str, content: ReferentielContent) -> list[FieldError]:
    """Every broken rule of a référentiel version; empty when it may be published."""
    errors: list[FieldError] = []
    if not VERSION.match(version):
        errors.append(
            FieldError(
                "version",
                f"Version invalide : « {version} » (minuscules, chiffres, « . », « - », « _ »).",
            )
        )
    if _blank(content.title):
        errors.append(FieldError("title", "Le référentiel n'a pas de titre."))
    if not content.kinds:
        errors.append(FieldError("kinds", "Indiquez à quels types d'établissement il s'applique."))
    for i, kind in enumerate(content.kinds):
        if kind not in KINDS:
            errors.append(
                FieldError(
                    f"kinds[{i}]",
                    f"Type d'établissement inconnu : « {kind} » (ecole, college ou lycee).",
                )
            )
    if len(set(content.kinds)) != len(content.kinds):
        errors.append(FieldError("kinds", "Un type d'établissement figure deux fois."))
    if not content.domains:
        errors.append(FieldError("domains", "Le référentiel doit compter au moins un domaine."))
    domain_codes: set[str] = set()
    criterion_codes: set[str] = set()
    for i, d in enumerate(content.domains):
        where = f"domains[{i}]"
        if not DOMAIN_CODE.match(d.code):
            errors.append(
                FieldError(
                    f"{where}.code",
                    f"Code de domaine invalide : « {d.code} » (majuscules, chiffres et _).",
                )
            )
        elif d.code in domain_codes:
            errors.append(FieldError(f"{where}.code", f"Le domaine {d.code} figure deux fois."))
        domain_codes.add(d.code)
        if _blank(d.title):
            errors.append(FieldError(f"{where}.title", f"Le domaine {d.code} n'a pas de titre."))
        if not d.criteria:
            errors.append(
                FieldError(f"{where}.criteria", f"Le domaine {d.code} n'a aucun critère.")
            )
        for j, c in enumerate(d.criteria):
            _check_criterion(c, f"{where}.criteria[{j}]", criterion_codes, errors)
    return errors


def shipped_referentiels() -> list[ReferentielFile]:
    """The référentiels that ship with the project: école, then collège/lycée."""
    folder = resources.files("services.label").joinpath("data")
    return [
        msgspec.json.decode(folder.joinpath(name).read_bytes(), type=ReferentielFile)
        for name in SHIPPED
    ]
