"""The eventsourcing library, wired to the `events/` contract.

Events are stored as the contract's own bytes (`events.encode`), with the event type as topic,
so the rows in PostgreSQL decode with `events/` alone; the recorder seals each event as it
inserts it (`infra/integrity.py`) and stores the sealed bytes, the very ones its chain covers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec
import psycopg
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import MutableOrImmutableAggregate
from eventsourcing.persistence import IntegrityError, Mapper, StoredEvent
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
)
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier

import events
from events.envelope import Actor, Event
from infra.integrity import seal_stored, unsealed_bytes
from infra.settings import DatabaseSettings

E = TypeVar("E", bound=Event)
# Whatever `Repository.get` can return: the read models of `services/*/domain.py`.
S = TypeVar("S", bound=MutableOrImmutableAggregate[Any])


class ContractMapper(Mapper[uuid.UUID]):
    """Events to rows in their unsealed form (`infra.integrity.unsealed_bytes`), which the
    recorder seals as it inserts them; rows back to events."""

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        assert isinstance(domain_event, Event)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=domain_event.type_name(),
            state=unsealed_bytes(domain_event),
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        return events.decode(stored_event.state)


# Serialises the creation of the record's tables and indexes by processes starting together.
_CREATE_LOCK = 4241


def _identifiers(schema: str, table: str, index: str) -> dict[str, Identifier]:
    """The names a log's DDL statements are formatted with; the index named after its table."""
    return {
        "schema": Identifier(schema),
        "table": Identifier(table),
        "index": Identifier(f"{table}_{index}"),
    }


def school_index_sql(schema: str, table: str) -> list[Composed]:
    """The record findable by school: the UAI and recording moment of each stored event, and an
    index on them, so that a school's history is read from the record itself.

    The functions are declared immutable, which their bodies are for these bytes: UTF-8 JSON
    whose `recorded_at` always carries its offset (`Z`), so neither the session's time zone nor
    its date style changes what they return."""
    names = _identifiers(schema, table, "school")
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


def chains_sql(schema: str, table: str) -> list[Composed]:
    """The index the recorder finds each school's last event by, in notification order. The
    events about no school are under '' (no UAI is empty): an equality, unlike `IS NULL`, lets
    the index give them in order too."""
    names = _identifiers(schema, table, "chains")
    return [
        SQL(
            "CREATE INDEX IF NOT EXISTS {index} ON {schema}.{table} "
            "(coalesce({schema}.event_school(state), ''), notification_id)"
        ).format(**names)
    ]


class ContractRecorder(PostgresApplicationRecorder):
    """The library's PostgreSQL recorder: its table created with the school indexes, and each
    event sealed to the chain of its school as it is inserted (`infra/integrity.py`)."""

    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        if datastore.enable_db_functions:
            # The library's insert function neither takes the table lock nor lets the events
            # be sealed under it.
            raise ValueError("POSTGRES_ENABLE_DB_FUNCTIONS is not supported: events are sealed")
        super().__init__(datastore, events_table_name=events_table_name)
        lock = SQL("SELECT pg_advisory_xact_lock({})").format(_CREATE_LOCK)
        self.sql_create_statements.insert(0, lock)
        self.sql_create_statements.extend(school_index_sql(datastore.schema, events_table_name))
        self.sql_create_statements.extend(chains_sql(datastore.schema, events_table_name))
        names = _identifiers(datastore.schema, events_table_name, "chains")
        # One round trip for every school of the events, each a backward step of the index.
        self.last_chains_statement = SQL(
            "SELECT s.uai, last.chain FROM unnest(%s::text[]) AS s(uai) CROSS JOIN LATERAL ("
            "  SELECT convert_from(state, 'UTF8')::json ->> 'chain' AS chain FROM {schema}.{table}"
            "  WHERE coalesce({schema}.event_school(state), '') = s.uai"
            "  ORDER BY notification_id DESC LIMIT 1) AS last"
        ).format(**names)

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        # The library's own steps, with the sealing between the lock and the insert: once the
        # lock is held no other writer of this log can commit before this transaction does.
        self._lock_table(curs)
        self._notify_channel(curs)
        sealed = self._sealed(curs, stored_events)
        PostgresAggregateRecorder._insert_stored_events(self, curs, sealed, **kwargs)

    def _sealed(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent]
    ) -> list[StoredEvent]:
        """The rows, unsealed by the mapper, sealed: under the lock, only their schools are
        read from their bytes."""
        schools = [_school.decode(s.state).uai for s in stored_events]
        curs.execute(
            self.last_chains_statement, (sorted({u or "" for u in schools}),), prepare=True
        )
        heads = {row["uai"] or None: row["chain"] for row in curs if row["chain"]}
        sealed = seal_stored(zip(schools, (s.state for s in stored_events), strict=True), heads)
        return [
            StoredEvent(
                originator_id=s.originator_id,
                originator_version=s.originator_version,
                topic=s.topic,
                state=done.data,
            )
            for s, done in zip(stored_events, sealed, strict=True)
        ]


class _School(msgspec.Struct):
    uai: str | None = None


# An event's school, without decoding the rest of it.
_school = msgspec.json.Decoder(_School)


class ConcurrentWriteError(Exception):
    """Someone else wrote to the same aggregate since it was read."""


class ContractApplication(Application[uuid.UUID]):
    """An eventsourcing Application whose domain events are `events/` Structs."""

    # When set, the moment events are recorded at, instead of the present: only the demo sets
    # it, to record its past school years so that they replay as they were. It must never go
    # back: readers of past moments rely on a log's recording times rising with its positions.
    recording_clock: Callable[[], datetime] | None = None

    def now(self) -> datetime:
        """The present, as the application records it."""
        return self.recording_clock() if self.recording_clock else datetime.now(UTC)

    def last_recorded_at(self) -> datetime | None:
        """When the last event of the log was recorded; None for an empty log."""
        last = self.recorder.max_notification_id()
        if not last:
            return None
        [notification] = self.recorder.select_notifications(start=last, limit=1)
        return events.decode(notification.state).recorded_at

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
        """Store the events atomically, sealed by the recorder, as one moment of the record:
        they share one recording time (the latest of theirs), since no reader ever sees some
        of them without the others (an import's hundreds of events, for a school at a time,
        would otherwise show as the record never stood). Return the notification id of the
        last one."""
        if self.recording_clock:
            at = self.recording_clock()
            # Nothing occurs after it is recorded: events stamped with the present by
            # `new_event` take the recording moment as their occurrence too.
            new_events = tuple(
                msgspec.structs.replace(e, recorded_at=at, occurred_at=min(e.occurred_at, at))
                for e in new_events
            )
        elif len(new_events) > 1:
            at = max(e.recorded_at for e in new_events)
            new_events = tuple(msgspec.structs.replace(e, recorded_at=at) for e in new_events)
        try:
            recordings = self.save(*new_events)
        except IntegrityError as exc:
            raise ConcurrentWriteError(str(exc)) from exc
        return max((r.notification.id for r in recordings), default=0)

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
