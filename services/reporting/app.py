"""Composition root of the reporting service (the HTTP side; the projector runs on its own)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from litestar import Litestar

from infra.auth import TokenService
from infra.http import build_app
from infra.settings import AuthSettings, DatabaseSettings
from services.reporting.http import SchoolProfileController, TerritoryController
from services.reporting.label_http import TerritoryLabelController
from services.reporting.pdf_http import SchoolProfilePdfController
from services.reporting.projector import ensure_read_models

# The profiles' queries are many small index lookups that the planner costs high enough to JIT
# compile: compiling cost 15–30 ms a query and saved nothing (measured on the national dataset).
# Their plans depend on the moment and the years asked: the generic plan PostgreSQL switches a
# prepared statement to after five runs doubled an académie's figures (221 against 118 ms).
# Their lookups are keyed by distinct schools: the cache PostgreSQL puts in front of each one
# (Memoize) never hit in a territory's list (0 hits for 2 529 schools) and made an académie's
# profile ~12 % slower (54 against 62 ms median, national dataset; the school profiles unchanged).
READ_SETTINGS = {"jit": "off", "plan_cache_mode": "force_custom_plan", "enable_memoize": "off"}


def create_app(
    database: DatabaseSettings | None = None, auth: AuthSettings | None = None
) -> Litestar:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        db = database or DatabaseSettings.from_env()
        pool = await asyncpg.create_pool(
            db.url, min_size=1, max_size=10, server_settings=READ_SETTINGS
        )
        async with pool.acquire() as conn:
            await ensure_read_models(conn)
        app.state.pool = pool
        app.state.tokens = TokenService(auth or AuthSettings.from_env())
        try:
            yield
        finally:
            await pool.close()

    app: Litestar = build_app(
        title="Numécole — profils",
        route_handlers=[
            SchoolProfileController,
            TerritoryController,
            SchoolProfilePdfController,
            TerritoryLabelController,
        ],
        lifespan=[lifespan],
    )
    return app
