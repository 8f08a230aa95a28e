"""HTTP controllers of the reporting service: school and territory profiles, history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import asyncpg
from litestar import Controller, Request, Response, get
from litestar.params import FromPath, QueryParameter

from events.values import is_valid_uai, school_year_on
from infra.auth import SchoolPlace, may_read_school
from infra.errors import FieldError, Forbidden, InvalidInput, NotFound
from infra.http import error_response, principal_of
from infra.school_years import school_year_errors
from services.reporting.access import may_read_history, may_read_territory
from services.reporting.freshness import (
    StillProjecting,
    parse_after,
    wait_for_position,
    wait_projected_through,
)
from services.reporting.history import HistoryPage, school_history
from services.reporting.moments import moment_of
from services.reporting.school_profile import SchoolProfile, school_place, school_profile
from services.reporting.territory import territory_errors, territory_exists
from services.reporting.territory_profile import (
    TerritoryProfile,
    schools_csv,
    territory_places,
    territory_profile,
)

SchoolYear = Annotated[
    str | None,
    QueryParameter(
        description="Année scolaire, ex. 2024-2025 : la situation à la fin de cette année "
        "(ou maintenant si elle n'est pas finie)."
    ),
]
AsOf = Annotated[
    str | None,
    QueryParameter(
        description="Date (2024-08-31) ou instant (2024-08-31T18:00:00) : la situation telle "
        "qu'enregistrée à ce moment. Ce qui est répondu pour un moment passé ne change plus."
    ),
]
STILL_PROJECTING = (
    "Les données de ce moment sont encore en cours d'intégration ; réessayez dans un instant."
)


def _pool(request: Request[Any, Any, Any]) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.pool
    return pool


def _check_year(school_year: str | None) -> None:
    if errors := school_year_errors(school_year):
        raise InvalidInput(errors)


async def _settled(request: Request[Any, Any, Any], at: datetime, now: bool) -> None:
    """A past moment is answered only once the read models hold all of it."""
    if not now:
        await wait_projected_through(_pool(request), at)


async def _school(
    request: Request[Any, Any, Any], conn: asyncpg.Connection, uai: str, at: datetime
) -> SchoolPlace:
    if not is_valid_uai(uai):
        raise InvalidInput([FieldError("uai", f"UAI invalide : « {uai} ».")])
    place = await school_place(conn, uai, at)
    if place is None:
        if await school_place(conn, uai) is None:
            raise NotFound(f"Aucune école n'est enregistrée sous l'UAI {uai}.")
        raise NotFound(f"L'école {uai} n'était pas encore enregistrée à cette date.")
    return place


class SchoolProfileController(Controller):
    path = "/api/v1/schools/{uai:str}"
    tags = ["Profils"]

    @get("/profile", operation_id="getSchoolProfile")
    async def profile(
        self,
        request: Request[Any, Any, Any],
        uai: FromPath[str],
        school_year: SchoolYear = None,
        as_of: AsOf = None,
        after: Annotated[
            str | None,
            QueryParameter(
                description="Position renvoyée par une écriture (ex. declarations:42) : "
                "la lecture attend que le profil l'ait prise en compte."
            ),
        ] = None,
    ) -> Response[SchoolProfile] | Response[Any]:
        _check_year(school_year)
        at = moment_of(as_of, school_year)
        fresh = True
        if after is not None:
            fresh = await wait_for_position(_pool(request), *parse_after(after))
        try:
            await _settled(request, at, as_of is None and school_year is None)
        except StillProjecting:
            return error_response(503, [FieldError("", STILL_PROJECTING)])
        async with _pool(request).acquire() as conn:
            place = await _school(request, conn, uai, at)
            if not may_read_school(principal_of(request), place):
                raise Forbidden(f"Votre périmètre ne permet pas de consulter l'école {uai}.")
            now = as_of is None and school_year is None
            profile = await school_profile(conn, uai, school_year, at, now)
        assert profile is not None
        return Response(profile, headers={"X-Numecole-Fresh": "true" if fresh else "false"})

    @get("/history", operation_id="getSchoolHistory")
    async def history(
        self,
        request: Request[Any, Any, Any],
        uai: FromPath[str],
        as_of: AsOf = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500, description="Taille de page")] = 100,
        cursor: Annotated[
            str | None, QueryParameter(description="Curseur renvoyé par la page précédente")
        ] = None,
    ) -> HistoryPage | Response[Any]:
        at = moment_of(as_of, None)
        try:
            await _settled(request, at, as_of is None)
        except StillProjecting:
            return error_response(503, [FieldError("", STILL_PROJECTING)])
        async with _pool(request).acquire() as conn:
            place = await _school(request, conn, uai, datetime.now(at.tzinfo))
            if not may_read_history(principal_of(request), place):
                raise Forbidden(
                    f"L'historique de l'école {uai} est réservé aux auditeurs, à "
                    "l'administration de l'académie et à la direction de l'école."
                )
            page = await school_history(conn, uai, limit, cursor, at)
        if as_of is not None and cursor is None and not page.entries:
            # Before the school's first event: nothing of it was known then, as its profile says.
            raise NotFound(f"L'école {uai} n'était pas encore enregistrée à cette date.")
        return page


class TerritoryController(Controller):
    path = "/api/v1/territories/{level:str}/{code:str}"
    tags = ["Territoires"]

    async def _checked(
        self,
        request: Request[Any, Any, Any],
        conn: asyncpg.Connection,
        level: str,
        code: str,
        at: datetime,
    ) -> None:
        if errors := territory_errors(level, code):
            raise InvalidInput(errors)
        if not await territory_exists(conn, level, code, at):
            raise NotFound(
                f"Aucune école n'est rattachée au territoire {level}:{code} à cette date."
            )
        principal = principal_of(request)
        # Its own territory, or everything: no need to look at where its schools are.
        if not may_read_territory(principal, level, code, []) and not may_read_territory(
            principal, level, code, await territory_places(conn, level, code, at)
        ):
            raise Forbidden(
                f"Votre périmètre ne permet pas de consulter le territoire {level}:{code}."
            )

    @get("/profile", operation_id="getTerritoryProfile")
    async def profile(
        self,
        request: Request[Any, Any, Any],
        level: FromPath[str],
        code: FromPath[str],
        school_year: SchoolYear = None,
        as_of: AsOf = None,
    ) -> TerritoryProfile | Response[Any]:
        _check_year(school_year)
        at = moment_of(as_of, school_year)
        try:
            await _settled(request, at, as_of is None and school_year is None)
        except StillProjecting:
            return error_response(503, [FieldError("", STILL_PROJECTING)])
        async with _pool(request).acquire() as conn:
            await self._checked(request, conn, level, code, at)
            year = school_year or school_year_on(at)
            now = as_of is None and school_year is None
            return await territory_profile(conn, level, code, year, at, now)

    @get("/schools.csv", operation_id="getTerritorySchoolsCsv", media_type="text/csv")
    async def schools(
        self,
        request: Request[Any, Any, Any],
        level: FromPath[str],
        code: FromPath[str],
        school_year: SchoolYear = None,
        as_of: AsOf = None,
    ) -> Response[str]:
        _check_year(school_year)
        at = moment_of(as_of, school_year)
        await _settled(request, at, as_of is None and school_year is None)
        async with _pool(request).acquire() as conn:
            await self._checked(request, conn, level, code, at)
            profile = await territory_profile(
                conn, level, code, school_year or school_year_on(at), at,
                as_of is None and school_year is None,
            )  # fmt: skip
        return Response(
            schools_csv(profile.schools),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="ecoles-{level}-{code}.csv"'},
        )
