"""Tamper evidence: each event carries a hash chained to the previous event of its stream.

`chain` = SHA-256 of (the previous event's chain, then the event's own bytes with an empty
chain). Altering any stored event — its content or its chain — breaks its own link or the next
one. Chains run per aggregate stream (a school's register entry, its declarations, each label
criterion...): a stream is the unit the event store already orders without gaps, and chaining a
school's streams together would serialise writers that never conflict.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import msgspec

import events
from events.envelope import Event

GENESIS = ""


def link(previous: str, event: Event) -> str:
    unsealed = msgspec.structs.replace(event, chain="")
    return hashlib.sha256(previous.encode() + b"\n" + events.encode(unsealed)).hexdigest()


def seal(new_events: Iterable[Event], previous_of: Callable[[uuid.UUID, int], str]) -> list[Event]:
    """The events with their chain set; `previous_of(stream, version)` gives the chain of an
    already stored event (called only for the first new event of each stream)."""
    last: dict[uuid.UUID, str] = {}
    sealed: list[Event] = []
    for event in new_events:
        stream, version = event.originator_id, event.originator_version
        if stream in last:
            previous = last[stream]
        elif version == 1:
            previous = GENESIS
        else:
            previous = previous_of(stream, version - 1)
        chained = msgspec.structs.replace(event, chain=link(previous, event))
        last[stream] = chained.chain or GENESIS
        sealed.append(chained)
    return sealed


@dataclass(frozen=True)
class BrokenLink:
    source: str
    position: int
    stream: uuid.UUID
    version: int
    uai: str | None
    type: str
    reason: str


class ChainWalker:
    """Checks a log event by event, read in stream order (stream id, then version): only the
    stream being walked is held in memory."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.stream: uuid.UUID | None = None
        self.version = 0
        self.previous = GENESIS
        self.checked = 0

    def check(self, position: int, data: bytes) -> BrokenLink | None:
        try:
            event = events.decode(data)
        except events.EventDecodeError as exc:
            return BrokenLink(self.source, position, uuid.UUID(int=0), 0, None, "?", str(exc))
        self.checked += 1
        stream, version = event.originator_id, event.originator_version
        if stream != self.stream:
            self.stream, self.version, self.previous = stream, 0, GENESIS
        expected_version, previous = self.version, self.previous

        def broken(reason: str) -> BrokenLink:
            return BrokenLink(
                self.source, position, stream, version, event.uai, event.type_name(), reason
            )

        if version != expected_version + 1:
            return broken(f"version {version} follows version {expected_version}")
        if event.chain is None:
            return broken("no chain recorded")
        if event.chain != link(previous, event):
            return broken("chain does not match the event's content and its predecessor")
        self.version, self.previous = version, event.chain
        return None
