"""HTTP controllers of the label service: a request struct in, one use case, a struct out."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.exceptions import ClientException
from litestar.params import FromPath, JSONBody

from events.label import DomainDefinition
from infra.errors import FieldError, InvalidInput, NotFound
from infra.http import principal_of
from services.label.application import CommuneSigner, LabelApplication, Receipt
from services.label.board import BoardOut
from services.label.domain import Action
from services.label.referentiels import ReferentielContent

SOURCE = "label"
T = TypeVar("T")


class CommentBody(msgspec.Struct):
    """A proposal: the comment or evidence that supports it (required)."""

    comment: Any = None


class ReasonBody(msgspec.Struct):
    """A rejection or revocation: its reason (required)."""

    reason: Any = None


class CommuneSignatoryBody(msgspec.Struct, forbid_unknown_fields=True):
    """Who signs an école's application for its commune (the commune itself is the one of the
    school register)."""

    signatory: Annotated[
        str | None,
        msgspec.Meta(
            description="Nom de la personne qui signe pour la commune (obligatoire).",
            examples=["Marie Dupont"],
        ),
    ] = None
    office: Annotated[
        str | None,
        msgspec.Meta(
            description="Sa fonction (obligatoire), par exemple maire ou adjoint au numérique.",
            examples=["maire", "adjoint au numérique"],
        ),
    ] = None


class ApplicationBody(msgspec.Struct, forbid_unknown_fields=True):
    """An application in January: an école applies with its commune (`commune` required); a
    collège or a lycée applies without it."""

    commune: Annotated[
        CommuneSignatoryBody | None,
        msgspec.Meta(
            description="Pour une école (obligatoire) : qui signe pour sa commune. Absent pour "
            "un collège ou un lycée."
        ),
    ] = None


class LabelReceipt(msgspec.Struct):
    """`position` is the record's position after the write: a profile read with
    `after=label:<position>` waits until the projection has reached it."""

    source: str
    position: int
    code: str | None
    state: str | None
    level: int | None


class ReferentielSummary(msgspec.Struct):
    version: str
    title: str
    kinds: list[str]
    domains: int
    criteria: int


class ReferentielOut(msgspec.Struct):
    version: str
    title: str
    kinds: list[str]
    domains: list[DomainDefinition]


def receipt(r: Receipt, status: int = 200) -> Response[LabelReceipt]:
    return Response(
        LabelReceipt(SOURCE, r.position, r.code, r.state, r.level),
        status_code=status,
        headers={"X-Numecole-Position": f"{SOURCE}:{r.position}"},
    )


def _text(value: Any, field: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise InvalidInput([FieldError(field, "Ce champ doit être un texte.")])


def _app(request: Request[Any, Any, Any]) -> LabelApplication:
    app: LabelApplication = request.app.state.label
    return app


async def _call(request: Request[Any, Any, Any], fn: Callable[..., T], *args: Any) -> T:
    """Run a use case in the service's own worker threads (sized to its connection pools)."""
    executor: ThreadPoolExecutor = request.app.state.executor
    return await asyncio.get_running_loop().run_in_executor(executor, partial(fn, *args))


class LabelBoardController(Controller):
    path = "/api/v1/schools/{uai:str}/label"
    tags = ["Label numérique"]

    @get("", operation_id="getLabelBoard")
    async def board(self, request: Request[Any, Any, Any], uai: FromPath[str]) -> BoardOut:
        return await _call(request, _app(request).board, uai, principal_of(request))

    async def _act(
        self,
        request: Request[Any, Any, Any],
        action: Action,
        uai: FromPath[str],
        code: FromPath[str],
        text: str | None = None,
        status: int = 200,
    ) -> Response[LabelReceipt]:
        result = await _call(
            request, _app(request).act, action, uai, code, principal_of(request), text
        )
        return receipt(result, status)

    @post("/criteria/{code:str}/proposals", operation_id="proposeCriterion", status_code=201)
    async def propose(
        self,
        request: Request[Any, Any, Any],
        uai: FromPath[str],
        code: FromPath[str],
        data: JSONBody[CommentBody | None] = None,
    ) -> Response[LabelReceipt]:
        comment = _text(data.comment if data else None, "comment")
        return await self._act(request, Action.PROPOSE, uai, code, comment, 201)

    @post("/criteria/{code:str}/validation", operation_id="validateCriterion", status_code=200)
    async def validate(
        self, request: Request[Any, Any, Any], uai: FromPath[str], code: FromPath[str]
    ) -> Response[LabelReceipt]:
        return await self._act(request, Action.VALIDATE, uai, code)

    @post("/criteria/{code:str}/rejection", operation_id="rejectCriterion", status_code=200)
    async def reject(
        self,
        request: Request[Any, Any, Any],
        uai: FromPath[str],
        code: FromPath[str],
        data: JSONBody[ReasonBody | None] = None,
    ) -> Response[LabelReceipt]:
        reason = _text(data.reason if data else None, "reason")
        return await self._act(request, Action.REJECT, uai, code, reason)

    @post("/criteria/{code:str}/withdrawal", operation_id="withdrawProposal", status_code=200)
    async def withdraw(
        self, request: Request[Any, Any, Any], uai: FromPath[str], code: FromPath[str]
    ) -> Response[LabelReceipt]:
        return await self._act(request, Action.WITHDRAW, uai, code)

    @post("/criteria/{code:str}/revocation", operation_id="revokeValidation", status_code=200)
    async def revoke(
        self,
        request: Request[Any, Any, Any],
        uai: FromPath[str],
        code: FromPath[str],
        data: JSONBody[ReasonBody | None] = None,
    ) -> Response[LabelReceipt]:
        reason = _text(data.reason if data else None, "reason")
        return await self._act(request, Action.REVOKE, uai, code, reason)

    @post("/applications", operation_id="applyForLabel", status_code=201)
    async def apply(
        self,
        request: Request[Any, Any, Any],
        uai: FromPath[str],
        data: JSONBody[ApplicationBody | None] = None,
    ) -> Response[LabelReceipt]:
        """Body, for an école: `{"commune": {"signatory": "Marie Dupont", "office": "maire"}}`;
        none for a collège or a lycée."""
        part = data.commune if data else None
        signer = CommuneSigner(part.signatory, part.office) if part else None
        result = await _call(
            request, _app(request).apply_for_label, uai, principal_of(request), signer
        )
        return receipt(result, 201)


_EXPECTED = re.compile(r"^Expected `(.+)`, got `(.+)`")
_MISSING = re.compile(r"^Object missing required field `(.+)`")


def _field_error(exc: msgspec.ValidationError) -> FieldError:
    """msgspec's message, said in French, on the field it names (`domains[0].criteria[1].level`)."""
    message, _, where = str(exc).partition(" - at `$")
    field = where.rstrip("`").lstrip(".")
    if (missing := _MISSING.match(message)) is not None:
        name = missing.group(1)
        return FieldError(f"{field}.{name}" if field else name, "Champ obligatoire manquant.")
    if (expected := _EXPECTED.match(message)) is not None:
        return FieldError(
            field or "body",
            f"Type invalide : attendu {expected.group(1)}, reçu {expected.group(2)}.",
        )
    return FieldError(field or "body", "Valeur invalide.")


def decode_referentiel(body: bytes) -> ReferentielContent:
    """The body of a publication; a wrong type is a 422 naming the field, like any rule."""
    try:
        return msgspec.json.decode(body, type=ReferentielContent)
    except msgspec.ValidationError as exc:
        raise InvalidInput([_field_error(exc)]) from None
    except msgspec.DecodeError:
        raise ClientException("malformed JSON") from None


class ReferentielController(Controller):
    path = "/api/v1/label/referentiels"
    tags = ["Label numérique — référentiels"]

    @put("/{version:str}", operation_id="publishReferentiel")
    async def publish(
        self, request: Request[Any, Any, Any], version: FromPath[str]
    ) -> Response[LabelReceipt]:
        """Body: `{"title", "kinds": ["ecole"], "domains": [{"code", "title", "criteria":
        [{"code", "level", "title", "explanation", "data"}]}]}`."""
        content = decode_referentiel(await request.body())
        position = await _call(
            request, _app(request).publish_referentiel, version, content, principal_of(request)
        )
        return receipt(Receipt(position, None, None))

    @get("", operation_id="listReferentiels")
    async def list_versions(self, request: Request[Any, Any, Any]) -> list[ReferentielSummary]:
        refs = await _call(request, _app(request).referentiels)
        return [
            ReferentielSummary(r.version, r.title, list(r.kinds), len(r.domains), len(r.codes))
            for r in refs.by_version.values()
        ]

    @get("/{version:str}", operation_id="getReferentiel")
    async def read(self, request: Request[Any, Any, Any], version: FromPath[str]) -> ReferentielOut:
        refs = await _call(request, _app(request).referentiels)
        found = refs.by_version.get(version)
        if found is None:
            raise NotFound(f"Aucun référentiel n'est publié sous la version {version}.")
        return ReferentielOut(found.version, found.title, list(found.kinds), list(found.domains))
