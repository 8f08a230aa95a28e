"""Value rules shared by every service: school identifiers, school years, roles."""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from functools import lru_cache

UAI_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
_UAI_RE = re.compile(r"^[0-9]{7}[A-Z]$")
_SCHOOL_YEAR_RE = re.compile(r"^([0-9]{4})-([0-9]{4})$")


class Role(StrEnum):
    DIRECTEUR = "directeur"
    REFERENT = "referent"
    CHEF = "chef"
    CONSEILLER = "conseiller"
    LECTEUR = "lecteur"
    ADMIN = "admin"
    AUDITEUR = "auditeur"
    # Events recorded by the platform itself (imports replayed, migrations).
    SYSTEME = "systeme"


def uai_check_letter(digits: str) -> str:
    return UAI_LETTERS[int(digits) % 23]


def is_valid_uai(value: str) -> bool:
    """Seven digits and the check letter computed from them."""
    # fullmatch: `$` alone would also accept a trailing newline.
    return bool(_UAI_RE.fullmatch(value)) and uai_check_letter(value[:7]) == value[7]


@lru_cache(maxsize=256)
def parse_school_year(value: str) -> int:
    """The rentrée year of a school year written `2024-2025`; ValueError otherwise."""
    match = _SCHOOL_YEAR_RE.fullmatch(value)
    if match is None:
        raise ValueError(f"school year {value!r} is not of the form 2024-2025")
    start, end = int(match.group(1)), int(match.group(2))
    if end != start + 1 or not 1990 <= start <= 2100:
        raise ValueError(f"school year {value!r} does not span two consecutive years")
    return start


def is_valid_school_year(value: str) -> bool:
    try:
        parse_school_year(value)
    except ValueError:
        return False
    return True


def school_year_of_rentree(rentree: int) -> str:
    return f"{rentree}-{rentree + 1}"


def school_year_on(day: date | datetime) -> str:
    """A school year runs from 1 September to 31 August."""
    rentree = day.year if day.month >= 9 else day.year - 1
    return school_year_of_rentree(rentree)


def school_year_bounds(school_year: str) -> tuple[date, date]:
    """First and last day of a school year."""
    rentree = parse_school_year(school_year)
    return date(rentree, 9, 1), date(rentree + 1, 8, 31)


REGION_OF_ACADEMIE = {"montpellier": "occitanie", "toulouse": "occitanie"}


def region_of(academie: str) -> str:
    return REGION_OF_ACADEMIE.get(academie, academie)
