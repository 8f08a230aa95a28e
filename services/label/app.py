"""Composition root of the label service (the HTTP side; `label-register` keeps its register)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import datetime

from litestar import Litestar

from infra.auth import TokenService
from infra.event_store import ensure_schema
from infra.http import build_app
from infra.settings import AuthSettings, DatabaseSettings
from services.label.application import LabelApplication
from services.label.http import LabelBoardController, ReferentielController
from services.label.register import PostgresRegister

SCHEMA = "label"
POOL_SIZE = 8


def open_application(
    database: DatabaseSettings,
    pool_size: int = 8,
    clock: Callable[[], datetime] | None = None,
) -> tuple[LabelApplication, PostgresRegister]:
    ensure_schema(database, SCHEMA)
    register = PostgresRegister(database.url, max_size=pool_size)
    app = LabelApplication(database.eventsourcing_env(SCHEMA, pool_size), register, clock)
    return app, register


def create_app(
    database: DatabaseSettings | None = None,
    auth: AuthSettings | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Litestar:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        application, register = open_application(
            database or DatabaseSettings.from_env(), POOL_SIZE, clock
        )
        app.state.label = application
        app.state.tokens = TokenService(auth or AuthSettings.from_env())
        # Use cases block on PostgreSQL: as many threads as connections, not the default few.
        app.state.executor = ThreadPoolExecutor(POOL_SIZE * 2, thread_name_prefix="label")
        try:
            yield
        finally:
            app.state.executor.shutdown(wait=True)
            application.close()
            register.close()

    app: Litestar = build_app(
        title="Numécole — label numérique",
        route_handlers=[LabelBoardController, ReferentielController],
        lifespan=[lifespan],
    )
    return app
