"""The reporting API on a small past made to order: three schools registered in January 2024,
a campaign, declarations and usages at chosen moments (the `client` fixture of conftest)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from infra.settings import AuthSettings, DatabaseSettings
from services.reporting.app import create_app
from tests.reporting.timeline import Timeline

Client = AsyncTestClient[Litestar]
A, B, T = "0340001S", "0340002T", "0310001H"


@asynccontextmanager
async def seeded_client(database: DatabaseSettings, auth: AuthSettings) -> AsyncIterator[Client]:
    conn = await asyncpg.connect(database.url)
    timeline = await Timeline(conn).start(database)
    await timeline.register(A, "2024-01-10T09:00:00", circonscription="34-C1")
    await timeline.register(B, "2024-01-10T09:00:00", circonscription="34-C2")
    await timeline.register(
        T, "2024-01-10T09:00:00", circonscription="31-C1", departement="31", academie="toulouse"
    )
    await timeline.campaign("2024-2025", "2024-06-21T08:00:00", date(2024, 9, 27))
    await timeline.declare(A, "2024-2025", "2024-07-01T10:00:00", B1=8, B2=0, B3=8, C3=8)
    await timeline.declare(A, "2024-2025", "2025-10-01T10:00:00", B1=0, B2=0, B3=0, C3=0)
    await timeline.usage(B, "ROBOTIQUE", "2024-07-01T10:00:00")
    await timeline.usage(B, "PROGRAMMATION", "2024-07-01T10:00:00")
    await timeline.usage(B, "ROBOTIQUE", "2025-02-01T10:00:00", added=False)
    await conn.close()
    async with AsyncTestClient(create_app(database, auth)) as c:
        yield c
