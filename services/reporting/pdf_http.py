"""The school profile as a PDF: the same reading rules and errors as the JSON profile
(`GET /api/v1/schools/{uai}/profile`), rendered by `services.reporting.pdf`."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
import asyncpg
from litestar import Controller, Request, Response, get
from litestar.params import FromPath, QueryParameter

from events.values import is_valid_uai
from infra.auth import may_read_school
from infra.errors import FieldError, Forbidden, InvalidInput, NotFound
from infra.http import error_response, principal_of
from infra.school_years import school_year_errors
from services.reporting.freshness import StillProjecting, wait_projected_through
from services.reporting.moments import moment_of
from services.reporting.pdf import render_profile_pdf
from services.reporting.school_profile import school_place, school_profile

STILL_PROJECTING = (
    "Les données de ce moment sont encore en cours d'intégration ; réessayez dans un instant."
)


def _pool(request: Request[Any, Any, Any]) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.pool
    return pool


class SchoolProfilePdfController(Controller):
    path = "/api/v1/schools/{uai:str}"
    tags = ("Profils",)

    @get(
        "/profile.pdf",
        operation_id="getSchoolProfilePdf",
        summary="Profil numérique de l'école en PDF",
        media_type="application/pdf",
        description="Le profil numérique de l'école en PDF de deux pages (A4), comme le "
        "profil JSON : mêmes droits de lecture, mêmes paramètres.",
    )
    async def profile_pdf(
        self,
        request: Request[Any, Any, Any],
        uai: FromPath[str],
        school_year: Annotated[
            str | None,
            QueryParameter(
                description="Année scolaire, ex. 2024-2025 : la situation à la fin de cette "
                "année (ou maintenant si elle n'est pas finie)."
            ),
        ] = None,
        as_of: Annotated[
            str | None,
            QueryParameter(
                description="Date (2024-08-31) ou instant (2024-08-31T18:00:00) : la situation "
                "telle qu'enregistrée à ce moment."
            ),
        ] = None,
    ) -> Response[bytes] | Response[Any]:
        if errors := school_year_errors(school_year):
            raise InvalidInput(errors)
        at = moment_of(as_of, school_year)
        if as_of is not None or school_year is not None:
            # A past moment is answered only once the read models hold all of it.
            try:
                await wait_projected_through(_pool(request), at)
            except StillProjecting:
                return error_response(503, [FieldError("", STILL_PROJECTING)])
        if not is_valid_uai(uai):
            raise InvalidInput([FieldError("uai", f"UAI invalide : « {uai} ».")])
        async with _pool(request).acquire() as conn:
            place = await school_place(conn, uai, at)
            if place is None:
                if await school_place(conn, uai) is None:
                    raise NotFound(f"Aucune école n'est enregistrée sous l'UAI {uai}.")
                raise NotFound(f"L'école {uai} n'était pas encore enregistrée à cette date.")
            if not may_read_school(principal_of(request), place):
                raise Forbidden(f"Votre périmètre ne permet pas de consulter l'école {uai}.")
            profile = await school_profile(
                conn, uai, school_year, at, as_of is None and school_year is None
            )
        assert profile is not None
        # Some 20–60 ms of CPU: off the event loop, so other requests keep being served.
        pdf = await anyio.to_thread.run_sync(render_profile_pdf, profile)
        filename = f"profil-numerique-{uai}-{profile.school_year}.pdf"
        return Response(
            pdf,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'inline; filename="{filename}"',
                "Cache-Control": "private, no-store",
            },
        )
