"""HTTP controller of label standing in territories."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg
from litestar import Controller, Request, get
from litestar.params import FromPath, QueryParameter

from events.values import parse_school_year, school_year_on
from infra.auth import SchoolPlace
from infra.errors import FieldError, Forbidden, InvalidInput, NotFound
from infra.http import principal_of
from infra.school_years import school_year_errors
from services.reporting.access import may_read_territory
from services.reporting.label_standing import LabelDistribution, territory_label
from services.reporting.territory import territory_errors

SchoolYear = Annotated[
    str | None,
    QueryParameter(description="Année scolaire, ex. 2026-2027 (défaut : l'année en cours)."),
]


async def _places(conn: asyncpg.Connection, level: str, code: str) -> list[SchoolPlace]:
    # `level` is one of LEVELS, checked by the caller.
    sql = f"SELECT uai, circonscription, bassin, departement, academie FROM reporting.schools WHERE {level} = $1 AND closed_on IS NULL"  # noqa: S608
    rows = await conn.fetch(sql, code)
    return [SchoolPlace(**dict(r)) for r in rows]


class TerritoryLabelController(Controller):
    path = "/api/v1/territories/{level:str}/{code:str}"
    tags = ("Territoires",)

    @get("/label", operation_id="getTerritoryLabel")
    async def label(
        self,
        request: Request[Any, Any, Any],
        level: FromPath[str],
        code: FromPath[str],
        school_year: SchoolYear = None,
        as_of: Annotated[
            str | None,
            QueryParameter(
                description="Refusé : ce tableau montre les niveaux actuels. Le label d'une "
                "date passée est dans le profil du territoire."
            ),
        ] = None,
    ) -> LabelDistribution:
        """The share of labelled schools, the levels awarded, the levels now and, per domain,
        the mean level of the territory's schools."""
        if errors := territory_errors(level, code):
            raise InvalidInput(errors)
        if as_of is not None:
            # The boards' levels are kept as they are now only: an auditor asking for a past
            # moment must not get today's levels under it.
            raise InvalidInput(
                [
                    FieldError(
                        "as_of",
                        "Ce tableau montre les niveaux actuels des écoles et n'accepte pas "
                        "as_of : la part des écoles labellisées à une date passée figure dans "
                        f"le profil du territoire (/api/v1/territories/{level}/{code}/profile"
                        "?as_of=…).",
                    )
                ]
            )
        if errors := school_year_errors(school_year):
            raise InvalidInput(errors)
        now = datetime.now(UTC)
        rentree = parse_school_year(school_year or school_year_on(now))
        pool: asyncpg.Pool = request.app.state.pool
        async with pool.acquire() as conn:
            places = await _places(conn, level, code)
            if not places:
                raise NotFound(f"Aucun établissement n'est rattaché au territoire {level}:{code}.")
            if not may_read_territory(principal_of(request), level, code, places):
                raise Forbidden(
                    f"Votre périmètre ne permet pas de consulter le territoire {level}:{code}."
                )
            return await territory_label(conn, level, code, rentree, now)
