"""What the PDF prints, taken from a `SchoolProfile` and formatted the French way.

The renderer depends on `ProfileView` only: the label from `profile.label`, the ENT index of the
year from `profile.ent_index` (None: the school's `ent` answer decides the sentence), the
académie's ENT indices from `academie_comparison.ent_index_distribution`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from events.values import region_of
from services.reporting.ent_gar import EntDistribution
from services.reporting.school_profile import SchoolProfile

NBSP = "\u00a0"
LEVELS = (1, 2, 3)

ACADEMIE_NAMES = {"montpellier": "Montpellier", "toulouse": "Toulouse"}
REGION_NAMES = {"occitanie": "Occitanie"}

try:
    PARIS: ZoneInfo | None = ZoneInfo("Europe/Paris")
except ZoneInfoNotFoundError:  # no tz database on the machine (and no `tzdata` package)
    PARIS = None


# -------------------------------------------------------------------------------- formatting


def percent(value: float) -> str:
    """`75,00 %`: two decimals, a decimal comma, a non-breaking space before the sign."""
    return f"{value:.2f}".replace(".", ",") + f"{NBSP}%"


def integer(value: int) -> str:
    """`9 512`: thousands separated by non-breaking spaces."""
    return f"{value:,}".replace(",", NBSP)


def french_date(moment: datetime) -> str:
    """JJ/MM/AAAA of the moment in France (in UTC when the machine has no tz database)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    day: date = aware.astimezone(PARIS).date() if PARIS else aware.astimezone(UTC).date()
    return day.strftime("%d/%m/%Y")


def place_name(code: str, known: Mapping[str, str]) -> str:
    """`aix-marseille` -> `Aix-Marseille`, unless the name is known."""
    return known.get(code) or "-".join(part.capitalize() for part in code.split("-"))


def of(name: str) -> str:
    """`de Montpellier`, `d'Orléans-Tours`."""
    first = unicodedata.normalize("NFKD", name[:1]).upper()[:1]
    return f"d'{name}" if first and first in "AEIOUYH" else f"de {name}"


def yes_no(value: bool | None) -> str:
    if value is None:
        return "non renseigné"
    return "oui" if value else "non"


# -------------------------------------------------------------------------------- the view


@dataclass(frozen=True)
class EquipmentView:
    index: int
    explanation: str
    next_step: str | None
    classes: int
    teacher_classes: int
    teacher_share: float
    pupil_classes: int
    pupil_share: float


@dataclass(frozen=True)
class UsageView:
    title: str
    summary: str


@dataclass(frozen=True)
class ProfileView:
    uai: str
    name: str
    commune: str
    circonscription: str | None
    academie: str  # display name, e.g. "Montpellier"
    region: str  # display name, e.g. "Occitanie"
    school_year: str
    produced_on: str  # JJ/MM/AAAA
    as_of_on: str | None  # JJ/MM/AAAA of the moment described, when it is not the edition's
    declared_year: str | None  # the school year of the answers shown, when any
    carried_forward: bool
    confirmed: bool
    equipment: EquipmentView | None
    robots: int | None
    web_radio: bool | None
    web_tv: bool | None
    fab_lab: bool | None
    uses_ent: bool | None
    ent_year: str
    ent_index: int | None
    ent_explanation: str | None
    ent_next_step: str | None
    label_known: bool  # False: the profile carries no label standing at all
    label_level: int | None  # of the award held during the school year
    label_year: str | None  # the school year the award was given for
    label_valid_until: str | None
    label_commune: str | None  # the commune an école applied with, and who signed for it
    board_level: int | None  # the global level of the label board now
    usages: list[UsageView]
    academie_teacher_share: float | None
    academie_pupil_share: float | None
    academie_robot_share: float | None
    academie_ent_share: float | None
    academie_ent_indices: dict[int, float] | None
    academie_label_share: float | None
    academie_label_levels: dict[int, float] | None  # share of the labelled schools per level
    academie_usages: int


def _int(obj: object, name: str) -> int | None:
    value = getattr(obj, name, None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(obj: object, name: str) -> str | None:
    value = getattr(obj, name, None)
    return value if isinstance(value, str) else None


def shares_by_level(distribution: Mapping[Any, object]) -> dict[int, float] | None:
    """A distribution over the levels 1–3 (keys "1" or 1, shares in %), level 0 left out;
    None when it has none of them."""
    shares: dict[int, float] = {}
    for key, share in distribution.items():
        try:
            level = int(key)
        except (TypeError, ValueError):
            continue
        if level in LEVELS and isinstance(share, int | float) and not isinstance(share, bool):
            shares[level] = float(share)
    return {level: shares.get(level, 0.0) for level in LEVELS} if shares else None


def _ent_indices(distribution: EntDistribution | None) -> dict[int, float] | None:
    if distribution is None:
        return None
    shares = {k: v for k, v in distribution.index_distribution.items() if v is not None}
    return shares_by_level(shares)


def _in_range(level: int | None) -> int | None:
    return level if level is not None and 0 <= level <= 3 else None


@dataclass(frozen=True)
class _Ent:
    uses: bool | None
    year: str
    index: int | None = None
    explanation: str | None = None
    next_step: str | None = None


def _ent(profile: SchoolProfile) -> _Ent:
    """The ENT answer and the index of the year, when there is one."""
    found = profile.ent_index
    if found is None:
        return _Ent(profile.ent, profile.school_year, explanation=None)
    return _Ent(
        uses=True,
        year=found.school_year,
        index=_in_range(found.index),
        explanation=found.explanation,
        next_step=found.next_step,
    )


def profile_view(profile: SchoolProfile) -> ProfileView:
    comparison = profile.academie_comparison
    equipment = profile.equipment
    declaration = profile.declaration
    ent = _ent(profile)
    label = profile.label
    award = _in_range(label.level) if label else None
    academie = place_name(profile.academie, ACADEMIE_NAMES)
    return ProfileView(
        uai=profile.uai,
        name=profile.name,
        commune=profile.commune,
        circonscription=profile.circonscription,
        academie=academie,
        region=place_name(region_of(profile.academie), REGION_NAMES),
        school_year=profile.school_year,
        produced_on=french_date(profile.produced_at),
        as_of_on=french_date(profile.as_of)
        if profile.produced_at - profile.as_of > timedelta(minutes=1)
        else None,
        declared_year=declaration.school_year if declaration else None,
        carried_forward=declaration.carried_forward if declaration else False,
        confirmed=declaration.confirmed if declaration else False,
        equipment=EquipmentView(
            index=equipment.index,
            explanation=equipment.explanation,
            next_step=equipment.next_step,
            classes=equipment.classes,
            teacher_classes=equipment.teacher_classes,
            teacher_share=equipment.teacher_share,
            pupil_classes=equipment.pupil_classes,
            pupil_share=equipment.pupil_share,
        )
        if equipment
        else None,
        robots=profile.robots,
        web_radio=profile.web_radio,
        web_tv=profile.web_tv,
        fab_lab=profile.fab_lab,
        uses_ent=ent.uses,
        ent_year=ent.year,
        ent_index=ent.index,
        ent_explanation=ent.explanation,
        ent_next_step=ent.next_step,
        label_known=label is not None,
        label_level=award,
        label_year=label.awarded_in if label and award else None,
        label_valid_until=label.valid_until if label and award else None,
        label_commune=(
            f"{label.commune.name}, signée par {label.commune.signatory}, {label.commune.office}"
            if label and award and label.commune
            else None
        ),
        board_level=_in_range(label.global_level) if label else None,
        usages=[UsageView(u.title, u.summary) for u in profile.usages],
        academie_teacher_share=comparison.teacher_share,
        academie_pupil_share=comparison.pupil_share,
        academie_robot_share=comparison.robot_school_share,
        academie_ent_share=comparison.ent_school_share,
        academie_ent_indices=_ent_indices(comparison.ent_index_distribution),
        academie_label_share=label.academie.labelled_share if label else None,
        academie_label_levels=shares_by_level(label.academie.level_distribution) if label else None,
        academie_usages=comparison.usages_declared,
    )
