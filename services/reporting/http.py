"""HTTP controllers of the reporting service."""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
from litestar import Controller, Request, Response, get
from litestar.params import FromPath, QueryParameter

from events.values import is_valid_school_year, is_valid_uai
from infra.auth import may_read_school
from infra.errors import FieldError, Forbidden, InvalidInput, NotFound
from infra.http import principal_of
from services.reporting.freshness import parse_after, wait_for_position
from services.reporting.school_profile import SchoolProfile, school_place, school_profile


def _pool(request: Request[Any, Any, Any]) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.pool
    return pool


class SchoolProfileController(Controller):
    path = "/api/v1/schools/{uai:str}"
    tags = ["Profils"]

    @get("/profile", operation_id="getSchoolProfile")
    async def profile(
        self,
        request: Request[Any, Any, Any],
        uai: FromPath[str],
        school_year: Annotated[
            str | None,
            QueryParameter(
                description="Année scolaire, ex. 2024-2025 (défaut : la dernière campagne)"
            ),
        ] = None,
        after: Annotated[
            str | None,
            QueryParameter(
                description="Position renvoyée par une écriture (ex. declarations:42) : "
                "la lecture attend que le profil l'ait prise en compte."
            ),
        ] = None,
    ) -> Response[SchoolProfile]:
        if not is_valid_uai(uai):
            raise InvalidInput([FieldError("uai", f"UAI invalide : « {uai} ».")])
        if school_year is not None and not is_valid_school_year(school_year):
            raise InvalidInput(
                [FieldError("school_year", f"Année scolaire « {school_year} » invalide.")]
            )
        fresh = True
        if after is not None:
            fresh = await wait_for_position(_pool(request), *parse_after(after))
        async with _pool(request).acquire() as conn:
            place = await school_place(conn, uai)
            if place is None:
                raise NotFound(f"Aucune école n'est enregistrée sous l'UAI {uai}.")
            if not may_read_school(principal_of(request), place):
                raise Forbidden(f"Votre périmètre ne permet pas de consulter l'école {uai}.")
            profile = await school_profile(conn, uai, school_year)
        assert profile is not None
        return Response(profile, headers={"X-Numecole-Fresh": "true" if fresh else "false"})
