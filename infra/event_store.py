"""The eventsourcing library, wired to the `events/` contract.

Events are stored as the contract's own bytes (`events.encode`), with the event type as topic,
so the rows in PostgreSQL decode with `events/` alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import MutableOrImmutableAggregate
from eventsourcing.persistence import IntegrityError, Mapper, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg.sql import SQL, Composed, Identifier

import events
from events.envelope import Actor, Event
from infra.integrity import seal
from infra.settings import DatabaseSettings

E = TypeVar("E", bound=Event)
# Whatever `Repository.get` can return: the read models of `services/*/domain.py`.
S = TypeVar("S", bound=MutableOrImmutableAggregate[Any])


class ContractMapper(Mapper[uuid.UUID]):
    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        assert isinstance(domain_event, Event)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=domain_event.type_name(),
            state=events.encode(domain_event),
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        return events.decode(stored_event.state)


# Serialises the creation of the record's tables and indexes by processes starting together.
_CREATE_LOCK = 4241


def school_index_sql(schema: str, table: str) -> list[Composed]:
    """The record findable by school: the UAI and recording moment of each stored event, and an
    index on them, so that a school's history is read from the record itself.

    The functions are declared immutable, which their bodies are for these bytes: UTF-8 JSON
    whose `recorded_at` always carries its offset (`Z`), so neither the session's time zone nor
    its date style changes what they return."""
    names = {
        "schema": Identifier(schema),
        "table": Identifier(table),
        "index": Identifier(f"{table}_school"),
    }
    return [
        SQL(
            "CREATE OR REPLACE FUNCTION {schema}.event_school(state bytea) RETURNS text "
            "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE "
            "AS $$ SELECT convert_from(state, 'UTF8')::json ->> 'uai' $$"
        ).format(**names),
        SQL(
            "CREATE OR REPLACE FUNCTION {schema}.event_recorded_at(state bytea) "
            "RETURNS timestamptz LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE "
            "AS $$ SELECT (convert_from(state, 'UTF8')::json ->> 'recorded_at')::timestamptz $$"
        ).format(**names),
        SQL(
            "CREATE INDEX IF NOT EXISTS {index} ON {schema}.{table} "
            "({schema}.event_school(state), {schema}.event_recorded_at(state), notification_id) "
            "WHERE {schema}.event_school(state) IS NOT NULL"
        ).format(**names),
    ]


class ContractRecorder(PostgresApplicationRecorder):
    """The library's PostgreSQL recorder, its table created with the school index."""

    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        lock = SQL("SELECT pg_advisory_xact_lock({})").format(_CREATE_LOCK)
        self.sql_create_statements.insert(0, lock)
        self.sql_create_statements.extend(school_index_sql(datastore.schema, events_table_name))


class ConcurrentWriteError(Exception):
    """Someone else wrote to the same aggregate since it was read."""


class ContractApplication(Application[uuid.UUID]):
    """An eventsourcing Application whose domain events are `events/` Structs."""

    def construct_mapper(self) -> Mapper[uuid.UUID]:
        return ContractMapper(transcoder=self.construct_transcoder())

    def find(
        self, aggregate_id: uuid.UUID, project: Callable[[S | None, Iterable[Event]], S | None]
    ) -> S | None:
        """The aggregate `project` folds from its events; None when it has none."""
        try:
            found: S = self.repository.get(aggregate_id, projector_func=project)
        except AggregateNotFoundError:
            return None
        return found

    def record(self, *new_events: Event) -> int:
        """Seal and store the events atomically; return the notification id of the last one."""
        try:
            recordings = self.save(*seal(new_events, self._chain_of))
        except IntegrityError as exc:
            raise ConcurrentWriteError(str(exc)) from exc
        return max((r.notification.id for r in recordings), default=0)

    def _chain_of(self, stream: uuid.UUID, version: int) -> str:
        stored = list(self.events.get(stream, gt=version - 1, lte=version))
        if not stored or not isinstance(stored[0], Event):
            # A concurrent writer will fail on the version anyway; chain from nothing meanwhile.
            return ""
        return stored[0].chain or ""

    def stream(self, originator_id: uuid.UUID) -> list[Event]:
        return [e for e in self.events.get(originator_id) if isinstance(e, Event)]


def new_event(
    cls: type[E],
    *,
    originator_id: uuid.UUID,
    originator_version: int,
    uai: str | None,
    school_year: str,
    actor: Actor,
    occurred_at: datetime | None = None,
    **payload: Any,
) -> E:
    now = datetime.now(UTC)
    return cls(
        event_id=uuid.uuid4(),
        originator_id=originator_id,
        originator_version=originator_version,
        uai=uai,
        school_year=school_year,
        occurred_at=occurred_at or now,
        recorded_at=now,
        actor=actor,
        **payload,
    )


def stream_id(*parts: str) -> uuid.UUID:
    """A stable aggregate id from its natural key (e.g. `("school", "0341234A")`)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, "numecole:" + ":".join(parts))


def ensure_schema(database: DatabaseSettings, schema: str) -> None:
    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
