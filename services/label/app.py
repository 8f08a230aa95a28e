"""Composition root of the label service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from infra.auth import TokenService
from infra.http import build_app
from infra.settings import AuthSettings, DatabaseSettings


def create_app(
    database: DatabaseSettings | None = None, auth: AuthSettings | None = None
) -> Litestar:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.database = database or DatabaseSettings.from_env()
        app.state.tokens = TokenService(auth or AuthSettings.from_env())
        yield

    app: Litestar = build_app(
        title="Numécole — label numérique", route_handlers=[], lifespan=[lifespan]
    )
    return app
