"""What every event carries, whatever happened."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec


class Actor(msgspec.Struct, frozen=True, forbid_unknown_fields=False, gc=False):
    """Who acted, and in which role (see `events.values.Role`)."""

    user_id: str
    role: str


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag=True, gc=False):
    """Base of every published event.

    `originator_id`/`originator_version` place the event in its aggregate's stream (the
    optimistic-concurrency key in the event store); `event_id` is its global identity, used as
    `Nats-Msg-Id` for de-duplication. `uai` is None for académie-level facts (campaigns,
    catalogues), which are published under the `_` token instead of a UAI.
    """

    schema_version: int = 1
    event_id: UUID
    originator_id: UUID
    originator_version: int
    uai: str | None
    school_year: str
    occurred_at: datetime
    recorded_at: datetime
    actor: Actor
    # Tamper evidence, set when the event is recorded (see infra/integrity.py).
    chain: str | None = None

    @classmethod
    def type_name(cls) -> str:
        return cls.__name__
