"""The events a rebuild reads most, decoded without what their folds leave.

A rebuild decodes ~2.4 M events for the cells (on a national dataset), and decoding an event's
identity (its two UUIDs, version, actor, chain and `occurred_at`) is more than half of decoding
it, freeing them a fifth more: the territory figures' fold (`cell_projection.py`) reads none of
it, nor does the reporting models' fold of usages (`declaration_projection.py`). Each class here
is its event's class, taking the same bytes, with those fields left at a default instead of
decoded (renamed to names no event has). They are for those folds only: never encoded, stored,
published or shown. An event of another version than the current one is decoded in full,
through its upcasters.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime
from typing import TypeVar, Union, cast
from uuid import UUID

import msgspec

import events
from events.codec import CURRENT_VERSIONS
from events.data_imports import EntConnectionsImported, GarAccessesImported
from events.declarations import (
    DeclarationConfirmed,
    DeclarationSubmitted,
    UsageAdded,
    UsageRemoved,
)
from events.envelope import Actor, Event

E = TypeVar("E", bound=Event)

_LEFT = {
    "event_id": (UUID, UUID(int=0)),
    "originator_id": (UUID, UUID(int=0)),
    "originator_version": (int, 0),
    "occurred_at": (datetime, datetime(1970, 1, 1, tzinfo=UTC)),
    "actor": (Actor, Actor("", "")),
    "chain": (str | None, None),
}


def _facts(cls: type[E]) -> type[E]:
    """`cls`, its identity left undecoded."""
    return cast(
        type[E],
        msgspec.defstruct(
            f"{cls.__name__}Facts",
            [(name, kind, default) for name, (kind, default) in _LEFT.items()],
            bases=(cls,),
            module=__name__,
            tag=cls.type_name(),
            rename={name: f"-{name}" for name in _LEFT},
        ),
    )


# The frequent events the fold takes (usages, imports, declarations), and what they stand for.
FACTS: dict[type[Event], type[Event]] = {
    _facts(cls): cls
    for cls in (
        UsageAdded, UsageRemoved, EntConnectionsImported, GarAccessesImported,
        DeclarationSubmitted, DeclarationConfirmed,
    )
}  # fmt: skip


# What the reporting models' pass may decode as `FACTS`: its fold of usages reads only the school,
# the code and the moment (declarations it stores with who made them).
USAGES = (UsageAdded, UsageRemoved)


def facts_decoder(
    types: Iterable[type[Event]], lean: Collection[type[Event]]
) -> msgspec.json.Decoder[Event]:
    """A decoder of these types, those in `lean` as their `FACTS`."""
    stands_for = {full: facts for facts, full in FACTS.items() if full in lean}
    decoded = tuple(stands_for.get(t, t) for t in types)
    return msgspec.json.Decoder(Union[decoded])  # noqa: UP007 - a union built from a tuple


class FactsDecoding:
    """Decodes events of `types`, those in `lean` as their `FACTS` (all the frequent ones,
    unless given); the rest, and the events of older versions, as `events.decode` does."""

    def __init__(
        self, types: Iterable[type[Event]], lean: Collection[type[Event]] | None = None
    ) -> None:
        self._decoder = facts_decoder(types, FACTS.values() if lean is None else lean)

    def __call__(self, data: bytes) -> Event:
        try:
            event = self._decoder.decode(data)
        except msgspec.ValidationError:
            return events.decode(data)
        except msgspec.DecodeError as exc:
            raise events.EventDecodeError(f"not a JSON event: {exc}") from exc
        name = type(event).__struct_config__.tag
        if event.schema_version == CURRENT_VERSIONS.get(str(name)):
            return event
        return events.decode(data)
