"""Events at chosen recording times, applied through the real projection: a past made to order."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import msgspec

from events.declarations import (
    CampaignOpened,
    DeclarationSubmitted,
    SchoolDetails,
    SchoolDetailsChanged,
    SchoolRegistered,
    UsageAdded,
    UsageCatalogueRevised,
    UsageDefinition,
    UsageRemoved,
)
from events.envelope import Actor, Event
from events.values import school_year_on
from infra.event_store import new_event, stream_id
from infra.integrity import seal
from infra.settings import DatabaseSettings
from services.declarations.app import open_application
from services.reporting.projection import Projection
from services.reporting.projector import ensure_read_models
from tests.support import answers

ADMIN = Actor(user_id="drane-1", role="admin")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def details(circonscription: str = "34-C1", **changes: Any) -> SchoolDetails:
    base = SchoolDetails(
        name="École Jules Ferry", kind="ecole", pupils=200, commune="Montpellier",
        circonscription=circonscription, bassin=None, departement="34", academie="montpellier",
    )  # fmt: skip
    return msgspec.structs.replace(base, **changes)


class Timeline:
    """Builds events recorded at given moments and applies them in order."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.position = 0
        self.versions: dict[str, int] = {}
        self.chains: dict[str | None, str] = {}  # each school's last, as the recorder seals

    async def start(self, database: DatabaseSettings) -> Timeline:
        open_application(database, pool_size=1).close()  # the log's table, as the service has it
        await ensure_read_models(self.conn)
        await self.conn.execute(
            "INSERT INTO reporting.tracking (source, position) VALUES ('declarations', 0) "
            "ON CONFLICT DO NOTHING"
        )
        return self

    def _next(self, key: str) -> int:
        self.versions[key] = self.versions.get(key, 0) + 1
        return self.versions[key]

    async def record(self, event: Event) -> Event:
        """Into the declarations log (the record), then through the projection."""
        sealed = seal([event], self.chains)[0]
        data = sealed.data
        self.position = await self.conn.fetchval(
            "INSERT INTO declarations.declarations_events "
            "(originator_id, originator_version, topic, state) VALUES ($1, $2, $3, $4) "
            "RETURNING notification_id",
            event.originator_id,
            event.originator_version,
            event.type_name(),
            data,
        )
        async with self.conn.transaction():
            projection = Projection(self.conn)
            await projection.apply(event, "declarations", self.position, data)
            await projection.flush()
            await self.conn.execute(
                "UPDATE reporting.tracking SET position = $1 WHERE source = 'declarations'",
                self.position,
            )
        return event

    def _event(
        self, cls: type[Event], key: str, uai: str | None, when: str, **payload: Any
    ) -> Event:
        moment = at(when)
        event = new_event(
            cls,
            originator_id=stream_id(key),
            originator_version=self._next(key),
            uai=uai,
            school_year=payload.pop("school_year", school_year_on(moment)),
            actor=payload.pop("actor", ADMIN),
            occurred_at=moment,
            **payload,
        )
        return msgspec.structs.replace(event, recorded_at=moment)

    async def register(self, uai: str, when: str, **changes: Any) -> Event:
        return await self.record(
            self._event(SchoolRegistered, f"school:{uai}", uai, when, details=details(**changes))
        )

    async def move(self, uai: str, when: str, **changes: Any) -> Event:
        return await self.record(
            self._event(
                SchoolDetailsChanged, f"school:{uai}", uai, when, details=details(**changes),
                changed=list(changes),
            )
        )  # fmt: skip

    async def campaign(self, school_year: str, when: str, closes_on: date) -> Event:
        return await self.record(
            self._event(
                CampaignOpened, f"campaign:{school_year}", None, when, school_year=school_year,
                academie="montpellier", opens_on=at(when).date(), closes_on=closes_on,
            )
        )  # fmt: skip

    async def catalogue(
        self, when: str, *codes: str, titles: dict[str, str] | None = None
    ) -> Event:
        named = titles or {}
        usages = [
            UsageDefinition(code=c, title=named.get(c, c.title()), summary=f"Usage {c}")
            for c in codes
        ]
        return await self.record(
            self._event(
                UsageCatalogueRevised, "catalogue", None, when, academie="montpellier",
                catalogue_version=self._next("catalogue-version"), usages=usages,
            )
        )  # fmt: skip

    async def declare(self, uai: str, school_year: str, when: str, **overrides: Any) -> Event:
        return await self.record(
            self._event(
                DeclarationSubmitted, f"declarations:{uai}", uai, when, school_year=school_year,
                answers=answers(**overrides), actor=Actor(user_id=f"dir-{uai}", role="directeur"),
            )
        )  # fmt: skip

    async def usage(self, uai: str, code: str, when: str, *, added: bool = True) -> Event:
        return await self.record(
            self._event(
                UsageAdded if added else UsageRemoved, f"declarations:{uai}", uai, when,
                code=code, actor=Actor(user_id=f"dir-{uai}", role="directeur"),
            )
        )  # fmt: skip
