"""What every HTTP service shares: authentication, error responses in French, request logs."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import asyncpg
import eventsourcing.persistence
import msgspec
import psycopg
import structlog
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import (
    ClientException,
    HTTPException,
    NotAuthorizedException,
    ValidationException,
)
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.base import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from infra.auth import InvalidToken, Principal, TokenService
from infra.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from infra.event_store import ConcurrentWriteError

log = structlog.get_logger("http")

MAX_BODY_BYTES = 64 * 1024
# Regexes searched anywhere in the path: anchored, or `/usages/health` would skip authentication.
PUBLIC_PATHS = ["^/schema", "^/health$"]


class ErrorBody(msgspec.Struct):
    errors: list[FieldError]


def error_response(status: int, errors: list[FieldError]) -> Response[ErrorBody]:
    return Response(ErrorBody(errors=errors), status_code=status)


class TokenAuthentication(AbstractAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise NotAuthorizedException("missing bearer token")
        tokens: TokenService = connection.app.state.tokens
        try:
            principal = tokens.verify(token.strip())
        except InvalidToken as exc:
            log.info("token_refused", reason=str(exc), path=connection.url.path)
            raise NotAuthorizedException(str(exc)) from exc
        structlog.contextvars.bind_contextvars(user_id=principal.user_id, role=principal.role.value)
        return AuthenticationResult(user=principal, auth=token)


def principal_of(request: Request[Any, Any, Any]) -> Principal:
    user = request.user
    assert isinstance(user, Principal)
    return user


class RequestLog(ASGIMiddleware):
    """One log line a request, with an id that every line logged while serving it carries."""

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        request_id = uuid.uuid4().hex[:16]
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await next_app(scope, receive, send_wrapper)
        except Exception as exc:
            # Raised by a middleware inside this one; Litestar answers it further out.
            status = getattr(exc, "status_code", 500)
            raise
        finally:
            log.info(
                "request",
                method=scope.get("method"),
                path=scope.get("path"),
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 2),
            )


_FRENCH_BY_STATUS = {
    400: "La requête est mal formée : le corps doit être un document JSON valide.",
    401: "Authentification requise : jeton absent, expiré ou invalide.",
    403: "Accès refusé.",
    404: "Aucune ressource n'existe à cette adresse.",
    405: "Méthode non autorisée pour cette adresse.",
    413: f"Le corps de la requête dépasse la taille maximale ({MAX_BODY_BYTES // 1024} Kio).",
    415: "Le corps de la requête doit être au format JSON.",
    429: "Trop de requêtes, réessayez dans un instant.",
}


class JsonRequest(Request[Any, Any, Any]):
    """A request whose JSON body, when it cannot be decoded at all (bytes that are not UTF-8,
    nesting deeper than the decoder's stack), is a client error (400), not a crash (500)."""

    async def json(self) -> Any:
        try:
            return await super().json()
        except (UnicodeDecodeError, RecursionError) as exc:
            raise ClientException(f"undecodable JSON body: {type(exc).__name__}") from exc


_JSON_TYPES = {
    "object": "un objet JSON",
    "array": "un tableau JSON",
    "str": "une chaîne de caractères",
    "int": "un nombre entier",
    "float": "un nombre",
    "bool": "un booléen (true ou false)",
    "null": "la valeur null",
    "date": "une date AAAA-MM-JJ",
    "datetime": "une date et heure ISO 8601",
}
_EXPECTED = re.compile(r"^Expected `([^`]+)`, got `([^`]+)`")
_MISSING = re.compile(r"^Object missing required field `([^`]+)`")
_UNKNOWN = re.compile(r"^Object contains unknown field `([^`]+)`")


def _json_type(name: str) -> str:
    """msgspec's name of a JSON type in French; a union (`str | null`) one type after another."""
    return " ou ".join(_JSON_TYPES.get(part, f"« {part} »") for part in name.split(" | "))


def _body_error(key: str, detail: str) -> FieldError:
    """One msgspec validation message about the request body, as a field and a French
    sentence. `key` is Litestar's path to the value (`data` is the body itself)."""
    where = "" if key in ("", "data") else key
    label = f"La valeur de « {where} »" if where else "Le corps de la requête"
    if detail == f"'{key}'":  # Litestar's KeyError: nothing was sent for it
        if not where:
            return FieldError(
                "body", "Le corps de la requête est vide : un objet JSON est attendu."
            )
        return FieldError(where, f"Le champ « {where} » est obligatoire.")
    if match := _MISSING.match(detail):
        name = f"{where}.{match.group(1)}" if where else match.group(1)
        return FieldError(name, f"Le champ « {name} » est obligatoire.")
    if match := _UNKNOWN.match(detail):
        name = f"{where}.{match.group(1)}" if where else match.group(1)
        return FieldError(name, f"Le champ « {name} » n'est pas attendu ici.")
    if match := _EXPECTED.match(detail):
        expected, got = match.groups()
        return FieldError(
            where or "body",
            f"{label} doit être {_json_type(expected)}, pas {_json_type(got)}.",
        )
    if "RFC3339" in detail and "date" in detail:
        return FieldError(where or "body", f"{label} doit être une date valide (AAAA-MM-JJ).")
    return FieldError(where or "body", f"{label} a une valeur invalide.")


def _body_errors(exc: HTTPException) -> list[FieldError]:
    """The body errors of a validation failure; empty when it is about something else."""
    if not isinstance(exc, ValidationException) or not isinstance(exc.extra, list):
        return []
    return [
        _body_error(str(item.get("key", "")), str(item.get("message", "")))
        for item in exc.extra
        if isinstance(item, dict) and item.get("source") == "body"
    ]


_EXPECTED_TYPE = re.compile(r"Expected `(\w+)`, got")
_BOUND = re.compile(r"Expected `\w+` (>=|<=|>|<) (-?[\d.]+)")
_FRENCH_TYPES = {"int": "un nombre entier", "bool": "true ou false", "float": "un nombre"}
_FRENCH_BOUNDS = {">=": "au moins", "<=": "au plus", ">": "plus de", "<": "moins de"}


def parameter_message(field: str, detail: str) -> str:
    """A query or path parameter's validation failure, told in French from the validator's
    English (`Expected `int` >= 1`, `Expected `int`, got `str``)."""
    if bound := _BOUND.match(detail):
        return f"Paramètre {field} invalide : il doit valoir {_FRENCH_BOUNDS[bound[1]]} {bound[2]}."
    if (expected := _EXPECTED_TYPE.match(detail)) and expected[1] in _FRENCH_TYPES:
        return f"Paramètre {field} invalide : {_FRENCH_TYPES[expected[1]]} est attendu."
    return f"Paramètre invalide : {field}."


def _http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    status = exc.status_code
    if body_errors := _body_errors(exc):
        # Well-formed JSON of the wrong shape: a broken rule like any other (422).
        log.info("invalid_body", errors=[e.field for e in body_errors])
        return error_response(422, body_errors)
    if status == 400 and "out of range" in str(exc.detail):
        # Valid JSON with a number no answer can hold (e.g. 1e400 or a 5000-digit integer).
        log.info("invalid_body", detail=exc.detail)
        return error_response(
            422,
            [FieldError("body", "Un nombre du corps de la requête dépasse les limites admises.")],
        )
    if status >= 500:
        log.error("http_error", status=status, detail=exc.detail)
        return error_response(status, [FieldError("", "Erreur interne du service.")])
    message = _FRENCH_BY_STATUS.get(status, "La requête a été refusée.")
    field = "body" if status in (400, 413, 415) else ""
    if status == 400 and exc.extra and isinstance(exc.extra, list):
        for item in exc.extra:
            if isinstance(item, dict) and item.get("source") in ("path", "query"):
                field = str(item.get("key", ""))
                message = parameter_message(field, str(item.get("message", "")))
                break
    log.info("request_refused", status=status, detail=exc.detail)
    return error_response(status, [FieldError(field, message)])


def _invalid(request: Request[Any, Any, Any], exc: InvalidInput) -> Response[ErrorBody]:
    log.info(
        "invalid_input", errors=[f"{e.field}:{e.line}" if e.line else e.field for e in exc.errors]
    )
    return error_response(422, exc.errors)


def _not_found(request: Request[Any, Any, Any], exc: NotFound) -> Response[ErrorBody]:
    return error_response(404, [FieldError("", str(exc))])


def _conflict(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    log.info("conflict", detail=str(exc))
    message = (
        str(exc)
        if isinstance(exc, Conflict)
        else "Une autre modification a été enregistrée en même temps ; rechargez et recommencez."
    )
    return error_response(409, [FieldError("", message)])


def _forbidden(request: Request[Any, Any, Any], exc: Forbidden) -> Response[ErrorBody]:
    user = request.scope.get("user")
    log.warning(
        "access_refused",
        path=request.url.path,
        method=request.method,
        user_id=getattr(user, "user_id", None),
        role=getattr(getattr(user, "role", None), "value", None),
        scope=getattr(user, "scope", None),
    )
    return error_response(403, [FieldError("", str(exc))])


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    log.exception("unhandled_error", error=type(exc).__name__)
    return error_response(500, [FieldError("", "Erreur interne du service.")])


# The database's own refusal of a character no text can hold (U+0000), wherever a field
# without a check of its own let it through: the write failed whole, nothing was stored.
_UNSTORABLE_TEXT = (
    asyncpg.exceptions.CharacterNotInRepertoireError,
    asyncpg.exceptions.UntranslatableCharacterError,
    psycopg.errors.CharacterNotInRepertoire,
    psycopg.errors.UntranslatableCharacter,
)


def _data_error(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    if not isinstance(exc, _UNSTORABLE_TEXT) and not isinstance(exc.__cause__, _UNSTORABLE_TEXT):
        return _internal(request, exc)
    log.info("unstorable_text", error=type(exc).__name__)
    return error_response(
        422,
        [
            FieldError(
                "",
                "La requête contient un caractère nul (U+0000), qu'aucun texte ne peut "
                "contenir : retirez-le.",
            )
        ],
    )


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    asyncpg.exceptions.DataError: _data_error,
    psycopg.DataError: _data_error,
    eventsourcing.persistence.DataError: _data_error,
    HTTPException: _http_exception,
    InvalidInput: _invalid,
    NotFound: _not_found,
    Conflict: _conflict,
    ConcurrentWriteError: _conflict,
    Forbidden: _forbidden,
    Exception: _internal,
}


def build_app(
    *,
    title: str,
    route_handlers: list[Any],
    lifespan: list[Any],
    public_paths: list[str] | None = None,
) -> Any:
    """A Litestar app with the platform's conventions: bearer tokens, French errors, 64 KiB
    bodies, request logs, OpenAPI at /schema."""
    from litestar import Litestar, get
    from litestar.middleware.base import DefineMiddleware
    from litestar.openapi import OpenAPIConfig

    @get("/health", operation_id="health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return Litestar(
        route_handlers=[health, *route_handlers],
        lifespan=lifespan,
        middleware=[
            RequestLog(),
            DefineMiddleware(TokenAuthentication, exclude=PUBLIC_PATHS + (public_paths or [])),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        request_class=JsonRequest,
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=OpenAPIConfig(title=title, version="1.0.0", path="/schema"),
    )
