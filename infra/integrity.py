"""Tamper evidence: each event carries a hash chained to the previous event of its school.

`chain` = SHA-256 of (the chain of the previous event of the same school in the same log, then
`\\n`, then the event's stored bytes with its chain blanked). Within one log (declarations,
label), every event of a school — its register entry, declarations and usages, ENT and GAR
figures, label criteria and awards, whatever stream they belong to — forms one chain, in
notification order. Events about no school (`uai` None: campaigns, catalogues, référentiels)
form one more chain of their log. Altering a stored event (its content or its chain) breaks its
own link or the next one; removing one breaks the link of its school's next event, even when it
was the last of its stream (a revocation, a register change) and so left every stream whole.

The link is a function of the stored bytes, never of a decoded event: an event stored under an
older version of its type decodes, through its upcasters, into the current Struct, whose
encoding is no longer what was stored, and a link over the re-encoded event would break for
every such event. Blanking, exactly: the stored bytes are one JSON object; its chain member is
the first member of that object itself (not of a nested object, not text inside a string)
whose key is written `"chain"` (JSON whitespace allowed around its colon); its value, a JSON
string written as the chain's hex digits, is replaced by `""`, every other byte untouched
(`…},"chain":"3fa8…c1","code":…` becomes `…},"chain":"","code":…`). `events.encode` writes an
event compact, with `chain` the last member of the envelope, before the payload, so the bytes
of an event encoded with `chain=""` are its blanked bytes: sealing (`seal`) encodes the event
so, hashes those bytes and writes the chain into that very place, which is what `ChainWalker`
blanks again. For an event of its type's current version, that is the hash of its encoding
with an empty chain, as links were first defined: chains stored before still verify.

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
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

import msgspec

import events
from events.envelope import Event

GENESIS = ""

_KEY = b'"chain"'
_COLON = re.compile(rb"[ \t\n\r]*+:[ \t\n\r]*+")
_JSON_STRING = rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"'
_STRINGS = re.compile(_JSON_STRING)
# null: the chain of an event never sealed.
_VALUE = re.compile(_JSON_STRING + rb"|null")
_NOT_QUOTE_NOR_BRACKET = bytes(c for c in range(256) if c not in b'"{}[]')


def chain_value(data: bytes) -> tuple[int, int] | None:
    """Where the value of the chain member of an event's bytes lies (its quotes included, or
    `null`); None when the top-level object has no member whose key is written `"chain"`, or
    when the first one's value is neither a string nor null. `data` is one JSON object."""
    at = data.find(_KEY)
    while at >= 0:
        colon = _COLON.match(data, at + len(_KEY))
        if colon is not None and _in_the_object_itself(data[:at]):
            value = _VALUE.match(data, colon.end())
            return value.span() if value is not None else None
        at = data.find(_KEY, at + 1)
    return None


def _in_the_object_itself(before: bytes) -> bool:
    """Whether what follows `before`, the start of a JSON object, lies in that object itself:
    outside any string, and in no nested object or array."""
    if b"\\" not in before:
        # The usual bytes, at C speed: without escapes every quote opens or closes a string,
        # and when no string holds a bracket, dropping all but quotes and brackets leaves each
        # string as an adjacent `""`; a quote left means a bracket in a string, or an open one.
        left = before.translate(None, _NOT_QUOTE_NOR_BRACKET).replace(b'""', b"")
        if b'"' not in left:
            return _depth(left) == 1
    # Any bytes: once the complete strings are taken out, a quote left opens the string
    # `before` ends in.
    left = _STRINGS.sub(b"", before)
    return b'"' not in left and _depth(left) == 1


def _depth(structure: bytes) -> int:
    return (
        structure.count(b"{")
        + structure.count(b"[")
        - structure.count(b"}")
        - structure.count(b"]")
    )


def link(previous: str, unsealed: bytes) -> str:
    """The chain of an event whose blanked bytes are `unsealed`, after `previous`."""
    return hashlib.sha256(previous.encode() + b"\n" + unsealed).hexdigest()


def blanked(data: bytes, value: tuple[int, int]) -> bytes:
    """`data` with the chain value at `value` (from `chain_value`) written `""`."""
    start, end = value
    return data[:start] + b'""' + data[end:]


class Sealed(NamedTuple):
    chain: str
    data: bytes  # the event's bytes to store, its chain in them


def seal_bytes(unsealed: bytes, previous: str) -> Sealed:
    """`unsealed` (bytes whose chain value is `""`) sealed after `previous`."""
    value = chain_value(unsealed)
    if value is None or unsealed[value[0] : value[1]] != b'""':
        raise ValueError("the bytes to seal have no empty chain member")
    chain = link(previous, unsealed)
    start, end = value
    return Sealed(chain, unsealed[: start + 1] + chain.encode() + unsealed[end - 1 :])


def seal_stored(
    unsealed: Iterable[tuple[str | None, bytes]], heads: dict[str | None, str]
) -> list[Sealed]:
    """Each event's bytes (with an empty chain), in order, sealed after the last event of its
    school (`uai` None: the events about no school). `heads` holds the chain of each school's
    last event in the log (none: `GENESIS`) and is moved along to the new ones."""
    sealed: list[Sealed] = []
    for school, data in unsealed:
        done = seal_bytes(data, heads.get(school, GENESIS))
        heads[school] = done.chain
        sealed.append(done)
    return sealed


def unsealed_bytes(event: Event) -> bytes:
    """The bytes an event is sealed from: its encoding with an empty chain."""
    return events.encode(msgspec.structs.replace(event, chain=""))


def seal(new_events: Iterable[Event], heads: dict[str | None, str]) -> list[Sealed]:
    """`seal_stored` of events."""
    return seal_stored(((e.uai, unsealed_bytes(e)) for e in new_events), heads)


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
        value = chain_value(data)
        if value is None or data[value[0] + 1 : value[1] - 1] != event.chain.encode():
            # Sealing writes the chain as it decodes: this one was written by someone else.
            return broken(
                "sa chaîne n'est pas écrite dans ses octets comme le scellement l'écrit : "
                "cet événement a été modifié"
            )
        last = self.last.get(event.uai)
        if event.chain != link(last.chain if last else GENESIS, blanked(data, value)):
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
