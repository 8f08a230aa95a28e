"""HTTP imports of the académie's ENT and GAR files (the body is the CSV itself).

`POST /api/v1/admin/ent?school_year=2024-2025&period=2` and
`POST /api/v1/admin/gar?school_year=2024-2025`: the file formats are those of
`services.declarations.data_imports`. A refused file answers 422 with every broken rule of every
line, and nothing of it is stored. The answer counts the schools recorded and unchanged, with
the write position (`after=declarations:<position>` on a profile waits for it).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, post
from litestar.params import QueryParameter

from infra.errors import FieldError, InvalidInput
from infra.http import principal_of
from services.declarations.data_imports import (
    DataImport,
    DataImports,
    ensure_may_import,
    parse_ent,
    parse_gar,
)

SOURCE = "declarations"
# An académie's GAR file has a line per school and resource: more than the usual 64 KiB.
MAX_IMPORT_BYTES = 8 * 1024 * 1024


class DataImportOut(msgspec.Struct):
    """`recorded` schools got new figures, `unchanged` already had them; `position` is the
    record's position after the import (as in every write receipt)."""

    source: str
    position: int
    recorded: int
    unchanged: int


QUERY_HINTS = {
    "school_year": "l'année scolaire, de la forme 2024-2025",
    "period": "le numéro de la période, de 1 à 5",
}
# Optional for the framework, so that a missing one is reported like any other broken rule.
SchoolYear = Annotated[
    str | None, QueryParameter(description="Obligatoire : " + QUERY_HINTS["school_year"] + ".")
]
Period = Annotated[
    str | None, QueryParameter(description="Obligatoire : " + QUERY_HINTS["period"] + ".")
]


def _required(**params: str | None) -> dict[str, str]:
    """The query parameters, every missing one reported in French (422)."""
    missing = [name for name, value in params.items() if value is None]
    if missing:
        raise InvalidInput(
            [
                FieldError(name, f"Le paramètre {name} est obligatoire : {QUERY_HINTS[name]}.")
                for name in missing
            ]
        )
    return {name: value for name, value in params.items() if value is not None}


def _app(request: Request[Any, Any, Any]) -> DataImports:
    app: DataImports = request.app.state.declarations
    return app


def _receipt(result: DataImport) -> Response[DataImportOut]:
    return Response(
        DataImportOut(SOURCE, result.position, result.recorded, result.unchanged),
        headers={"X-Numecole-Position": f"{SOURCE}:{result.position}"},
    )


class DataImportsController(Controller):
    path = "/api/v1/admin"
    tags = ("Administration",)

    @post(
        "/ent",
        operation_id="importEntConnections",
        status_code=200,
        request_max_body_size=MAX_IMPORT_BYTES,
    )
    async def import_ent(
        self,
        request: Request[Any, Any, Any],
        school_year: SchoolYear = None,
        period: Period = None,
    ) -> Response[DataImportOut]:
        """Body: the ENT connections of one period as CSV (`uai;eleves;parents;enseignants`,
        optional `effectif`; `;` or `,`, UTF-8 or Latin-1)."""
        by = principal_of(request)
        ensure_may_import(by)
        query = _required(school_year=school_year, period=period)
        data = await request.body()
        file = await asyncio.to_thread(parse_ent, data, query["period"], query["school_year"])
        result = await asyncio.to_thread(_app(request).import_ent, file, by)
        return _receipt(result)

    @post(
        "/gar",
        operation_id="importGarAccesses",
        status_code=200,
        request_max_body_size=MAX_IMPORT_BYTES,
    )
    async def import_gar(
        self, request: Request[Any, Any, Any], school_year: SchoolYear = None
    ) -> Response[DataImportOut]:
        """Body: the GAR accesses of one school year as CSV (`uai;ressource;acces`, one line
        per school and resource; `;` or `,`, UTF-8 or Latin-1)."""
        by = principal_of(request)
        ensure_may_import(by)
        query = _required(school_year=school_year)
        data = await request.body()
        file = await asyncio.to_thread(parse_gar, data, query["school_year"])
        result = await asyncio.to_thread(_app(request).import_gar, file, by)
        return _receipt(result)
