"""Tamper evidence: each event carries a hash chained to the previous event of its school.

`chain` = SHA-256 of (the chain of the previous event of the same school in the same log, then
the event's own bytes with an empty chain). Within one log (declarations, label), every event
of a school — its register entry, declarations and usages, ENT and GAR figures, label criteria
and awards, whatever stream they belong to — forms one chain, in notification order. Events
about no school (`uai` None: campaigns, catalogues, référentiels) form one more chain of their
log. Altering a stored event (its content or its chain) breaks its own link or the next one;
removing one breaks the link of its school's next event, even when it was the last of its
stream (a revocation, a register change) and so left every stream whole.

The chain is computed by the recorder inside the insert's transaction
(`infra.event_store.ContractRecorder`), once the library's lock on the log's table is held: the
library already takes it for every insert, to keep notification ids in commit order, so the
writers of one log are serialised anyway, and the school's last stored chain read under that
lock is the one no concurrent writer can also follow.

`verify` reads a log in notification order and keeps, per school, its last event: memory grows
with the number of schools, never with the events. A stream lies within one school, so a
version missing from a stream breaks its school's chain no later than the stream's next event;
versions are looked up only there, to say which it was.
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


def seal(new_events: Iterable[Event], previous_of: Callable[[str | None], str]) -> list[Event]:
    """The events, in order, with their chain set. `previous_of(uai)` gives the chain of the
    school's last event already in the log (`GENESIS` when it has none; `uai` None: the events
    about no school); it is called once per school of `new_events`."""
    last: dict[str | None, str] = {}
    sealed: list[Event] = []
    for event in new_events:
        school = event.uai
        previous = last[school] if school in last else previous_of(school)
        last[school] = chain = link(previous, event)
        sealed.append(msgspec.structs.replace(event, chain=chain))
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
    # When the hash does not link: the position of the school's previous event in the log
    # (0 when there is none), for `verify` to look at what lies between.
    follows: int | None = None


@dataclass(slots=True)
class _Last:
    position: int
    chain: str


class ChainWalker:
    """Checks a log event by event, in notification order; holds the last event of each
    school (and of the events about no school)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.last: dict[str | None, _Last] = {}
        self.checked = 0

    def check(
        self, position: int, stream: uuid.UUID, version: int, data: bytes
    ) -> BrokenLink | None:
        try:
            event = events.decode(data)
        except events.EventDecodeError as exc:
            return BrokenLink(
                self.source, position, stream, version, None, "?", f"événement illisible : {exc}"
            )
        self.checked += 1

        def broken(reason: str, follows: int | None = None) -> BrokenLink:
            return BrokenLink(
                self.source, position, stream, version, event.uai, event.type_name(), reason,
                follows,
            )  # fmt: skip

        if (event.originator_id, event.originator_version) != (stream, version):
            return broken(
                f"la ligne le range dans le flux {stream} version {version}, l'événement "
                f"enregistré dit flux {event.originator_id} version {event.originator_version}"
            )
        if event.chain is None:
            return broken("aucune chaîne enregistrée")
        last = self.last.get(event.uai)
        if event.chain != link(last.chain if last else GENESIS, event):
            if last is None:
                return broken(
                    f"sa chaîne ne commence pas celle {_of_school(event.uai)} dans ce journal, "
                    "dont il est le premier événement : cet événement a été modifié, ou un "
                    "événement antérieur supprimé",
                    0,
                )
            return broken(
                f"sa chaîne ne suit pas l'événement précédent {_of_school(event.uai)} "
                f"(position {last.position}) : cet événement a été modifié, ou un événement "
                f"{_of_school(event.uai)} enregistré entre les deux a été supprimé",
                last.position,
            )
        if last is None:
            self.last[event.uai] = _Last(position, event.chain)
        else:
            last.position, last.chain = position, event.chain
        return None


def _of_school(uai: str | None) -> str:
    return f"de l'école {uai}" if uai else "des événements sans école"
