"""Helpers of the label tests: a clock, the register fed straight from declarations events,
the shipped référentiels published over HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec
from litestar.testing import AsyncTestClient

from events.declarations import (
    DeclarationSubmitted,
    SchoolDetails,
    SchoolDetailsChanged,
    SchoolRegistered,
)
from events.envelope import Actor, Event
from events.values import Role, uai_check_letter
from infra.event_store import new_event, stream_id
from infra.settings import AuthSettings, DatabaseSettings
from services.declarations.register_csv import parse_register
from services.label.application import LabelApplication
from services.label.referentiels import shipped_referentiels
from services.label.register import apply_register_event, ensure_register
from tests.support import REGISTER_CSV, bearer

JANUARY = datetime(2027, 1, 15, 9, 30, tzinfo=UTC)
OCTOBER = datetime(2026, 10, 5, 14, 0, tzinfo=UTC)
YEAR = "2026-2027"

ECOLE = "0340001S"  # circonscription 34-C1, académie de Montpellier
ECOLE_2 = "0340002T"  # circonscription 34-C2
ECOLE_TOULOUSE = "0310001H"
COLLEGE = "0340501K"  # bassin 34-B1
ADMIN = Actor("admin-test", "admin")


@dataclass
class Clock:
    now: datetime = field(default=JANUARY)

    def __call__(self) -> datetime:
        return self.now


def uai(prefix: str, n: int) -> str:
    digits = f"{prefix}{n:03d}"[:7]
    return digits + uai_check_letter(digits)


def registered(uai_: str, details: SchoolDetails) -> SchoolRegistered:
    return new_event(
        SchoolRegistered,
        originator_id=stream_id("school", uai_),
        originator_version=1,
        uai=uai_,
        school_year=YEAR,
        actor=ADMIN,
        details=details,
    )


def register_events(csv: str = REGISTER_CSV) -> list[Event]:
    return [registered(row.uai, row.details) for row in parse_register(csv.encode())]


def moved(uai_: str, details: SchoolDetails, version: int = 2) -> SchoolDetailsChanged:
    return new_event(
        SchoolDetailsChanged,
        originator_id=stream_id("school", uai_),
        originator_version=version,
        uai=uai_,
        school_year=YEAR,
        actor=ADMIN,
        details=details,
        changed=["circonscription"],
    )


def declared(uai_: str, answers: dict[str, Any], school_year: str = YEAR) -> DeclarationSubmitted:
    return new_event(
        DeclarationSubmitted,
        originator_id=stream_id("declarations", uai_),
        originator_version=1,
        uai=uai_,
        school_year=school_year,
        actor=Actor(f"directeur-{uai_}", "directeur"),
        answers=answers,
    )


async def feed_register(database: DatabaseSettings, events: list[Event]) -> None:
    """What the `label-register` consumer does with these events, without the bus."""
    conn: asyncpg.Connection = await asyncpg.connect(database.url)
    try:
        await ensure_register(conn)
        async with conn.transaction():
            for e in events:
                await apply_register_event(conn, e)
    finally:
        await conn.close()


async def publish_shipped(client: AsyncTestClient[Any], auth: AuthSettings) -> None:
    admin = bearer(auth, Role.ADMIN, "region:occitanie")
    for ref in shipped_referentiels():
        body = msgspec.json.encode(ref)
        r = await client.put(
            f"/api/v1/label/referentiels/{ref.version}", content=body, headers=admin
        )
        assert r.status_code == 200, r.text


def application(client: AsyncTestClient[Any]) -> LabelApplication:
    app: LabelApplication = client.app.state.label
    return app
