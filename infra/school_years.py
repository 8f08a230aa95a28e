"""The school year a request names: one French refusal for every service that reads one."""

from __future__ import annotations

from events.values import is_valid_school_year
from infra.errors import FieldError


def school_year_errors(school_year: str | None) -> list[FieldError]:
    """Nothing for a well-formed year such as 2024-2025, or for no year at all."""
    if school_year is None or is_valid_school_year(school_year):
        return []
    return [
        FieldError(
            "school_year",
            f"Année scolaire « {school_year} » invalide : attendu la forme 2024-2025.",
        )
    ]
