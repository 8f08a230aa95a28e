"""Composition root of the declarations service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from infra.auth import TokenService
from infra.event_store import ensure_schema
from infra.http import build_app
from infra.settings import AuthSettings, DatabaseSettings
from services.declarations.application import DeclarationsApplication
from services.declarations.data_imports_http import DataImportsController
from services.declarations.http import AdminController, SchoolDeclarationsController

SCHEMA = "declarations"


def open_application(database: DatabaseSettings, pool_size: int = 8) -> DeclarationsApplication:
    ensure_schema(database, SCHEMA)
    return DeclarationsApplication(env=database.eventsourcing_env(SCHEMA, pool_size))


def create_app(
    database: DatabaseSettings | None = None, auth: AuthSettings | None = None
) -> Litestar:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        application = open_application(database or DatabaseSettings.from_env())
        app.state.declarations = application
        app.state.tokens = TokenService(auth or AuthSettings.from_env())
        try:
            yield
        finally:
            application.close()

    app: Litestar = build_app(
        title="Numécole — déclarations",
        route_handlers=[SchoolDeclarationsController, AdminController, DataImportsController],
        lifespan=[lifespan],
    )
    return app
