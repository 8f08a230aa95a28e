"""HTTP controllers of the declarations service: a request struct in, one use case, a struct out."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.params import FromPath, JSONBody

from events.declarations import AnswerValue, UsageDefinition
from infra.errors import NotFound
from infra.http import principal_of
from services.declarations.application import DeclarationsApplication
from services.declarations.register_csv import parse_register

SOURCE = "declarations"
# A whole académie's register is far above the 64 KiB of ordinary requests.
IMPORT_MAX_BYTES = 64 * 1024 * 1024


class DeclarationBody(msgspec.Struct, forbid_unknown_fields=True):
    """The answers to the 13 questions, keyed by code (A1 … C3)."""

    answers: dict[str, Any]


class WriteReceipt(msgspec.Struct):
    """`position` is the record's position after the write: a profile read with
    `after=declarations:<position>` waits until the projection has reached it."""

    source: str
    position: int


class DeclarationOut(msgspec.Struct):
    uai: FromPath[str]
    school_year: FromPath[str]
    declared: bool
    answers: dict[str, AnswerValue] | None
    confirmed: bool
    recorded_at: datetime | None
    recorded_by: str | None
    prefill: dict[str, AnswerValue] | None
    prefill_from: str | None
    usages: list[str]


class CampaignBody(msgspec.Struct, forbid_unknown_fields=True):
    opens_on: date
    closes_on: date


class CatalogueBody(msgspec.Struct, forbid_unknown_fields=True):
    usages: list[UsageDefinition]


class CatalogueOut(msgspec.Struct):
    academie: FromPath[str]
    version: int
    usages: list[UsageDefinition]


class RegisterImportOut(msgspec.Struct):
    registered: int
    changed: int
    unchanged: int
    position: int


def receipt(position: int) -> Response[WriteReceipt]:
    return Response(
        WriteReceipt(source=SOURCE, position=position),
        headers={"X-Numecole-Position": f"{SOURCE}:{position}"},
    )


def _app(request: Request[Any, Any, Any]) -> DeclarationsApplication:
    app: DeclarationsApplication = request.app.state.declarations
    return app


async def _written(
    request: Request[Any, Any, Any], use_case: Callable[..., int], *args: Any
) -> Response[WriteReceipt]:
    """Run a write use case off the event loop, on behalf of the request's principal."""
    return receipt(await asyncio.to_thread(use_case, *args, principal_of(request)))


class SchoolDeclarationsController(Controller):
    path = "/api/v1/schools/{uai:str}"
    tags = ["Déclarations"]

    @put("/declarations/{school_year:str}", operation_id="submitDeclaration")
    async def submit(
        self,
        request: Request[Any, Any, Any],
        uai: FromPath[str],
        school_year: FromPath[str],
        data: JSONBody[DeclarationBody],
    ) -> Response[WriteReceipt]:
        return await _written(
            request, _app(request).submit_declaration, uai, school_year, data.answers
        )

    @post(
        "/declarations/{school_year:str}/confirmation",
        operation_id="confirmDeclaration",
        status_code=200,
    )
    async def confirm(
        self, request: Request[Any, Any, Any], uai: FromPath[str], school_year: FromPath[str]
    ) -> Response[WriteReceipt]:
        return await _written(request, _app(request).confirm_declaration, uai, school_year)

    @get("/declarations/{school_year:str}", operation_id="getDeclaration")
    async def read(
        self, request: Request[Any, Any, Any], uai: FromPath[str], school_year: FromPath[str]
    ) -> DeclarationOut:
        view = await asyncio.to_thread(
            _app(request).declaration, uai, school_year, principal_of(request)
        )
        return DeclarationOut(declared=view.answers is not None, **view.__dict__)

    @put("/usages/{code:str}", operation_id="addUsage")
    async def add_usage(
        self, request: Request[Any, Any, Any], uai: FromPath[str], code: FromPath[str]
    ) -> Response[WriteReceipt]:
        return await _written(request, _app(request).add_usage, uai, code)

    @delete("/usages/{code:str}", operation_id="removeUsage", status_code=200)
    async def remove_usage(
        self, request: Request[Any, Any, Any], uai: FromPath[str], code: FromPath[str]
    ) -> Response[WriteReceipt]:
        return await _written(request, _app(request).remove_usage, uai, code)


class AdminController(Controller):
    path = "/api/v1"
    tags = ["Administration"]

    @post(
        "/admin/register",
        operation_id="importRegister",
        status_code=200,
        request_max_body_size=IMPORT_MAX_BYTES,
    )
    async def import_register(self, request: Request[Any, Any, Any]) -> RegisterImportOut:
        """Body: the register as CSV (`uai;nom;type;eleves;commune;circonscription;bassin;
        departement;academie`, `;` or `,`, UTF-8 or Latin-1)."""
        rows = parse_register(await request.body())
        result = await asyncio.to_thread(_app(request).import_register, rows, principal_of(request))
        return RegisterImportOut(**result.__dict__)

    @put("/admin/academies/{academie:str}/campaigns/{school_year:str}", operation_id="openCampaign")
    async def open_campaign(
        self,
        request: Request[Any, Any, Any],
        academie: FromPath[str],
        school_year: FromPath[str],
        data: JSONBody[CampaignBody],
    ) -> Response[WriteReceipt]:
        return await _written(
            request,
            _app(request).open_campaign,
            academie,
            school_year,
            data.opens_on,
            data.closes_on,
        )

    @put("/admin/academies/{academie:str}/usage-catalogue", operation_id="reviseUsageCatalogue")
    async def revise_catalogue(
        self,
        request: Request[Any, Any, Any],
        academie: FromPath[str],
        data: JSONBody[CatalogueBody],
    ) -> Response[WriteReceipt]:
        return await _written(request, _app(request).revise_catalogue, academie, data.usages)

    @get("/academies/{academie:str}/usage-catalogue", operation_id="getUsageCatalogue")
    async def catalogue(
        self, request: Request[Any, Any, Any], academie: FromPath[str]
    ) -> CatalogueOut:
        found = await asyncio.to_thread(_app(request).catalogue, academie)
        if found is None:
            raise NotFound(f"L'académie {academie} n'a pas de catalogue d'usages.")
        return CatalogueOut(academie, found.version, list(found.usages.values()))
