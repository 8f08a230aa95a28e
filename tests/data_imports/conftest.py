"""A declarations application on a fresh PostgreSQL database, with the test register and the
campaigns the ENT and GAR imports need."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from events.values import Role
from infra.auth import Principal
from infra.settings import DatabaseSettings
from services.declarations.app import open_application
from services.declarations.application import DeclarationsApplication
from services.declarations.register_csv import parse_register
from tests.support import REGISTER_CSV

YEAR = "2023-2024"  # every period of it has begun
NEXT_YEAR = "2024-2025"
ADMIN = Principal("drane-montpellier", Role.ADMIN, "academie:montpellier")
REGION_ADMIN = Principal("drane-occitanie", Role.ADMIN, "region:occitanie")


def open_campaigns(app: DeclarationsApplication, *school_years: str) -> None:
    for school_year in school_years:
        rentree = int(school_year[:4])
        for academie in ("montpellier", "toulouse"):
            app.open_campaign(
                academie,
                school_year,
                date(rentree, 6, 21),
                date(rentree, 9, 27),
                REGION_ADMIN,
            )


@pytest.fixture
def app(database: DatabaseSettings) -> Iterator[DeclarationsApplication]:
    """The register of `tests.support` and the campaigns of 2023-2024 (both académies)."""
    application = open_application(database, pool_size=2)
    try:
        application.import_register(parse_register(REGISTER_CSV.encode()), REGION_ADMIN)
        open_campaigns(application, YEAR)
        yield application
    finally:
        application.close()
