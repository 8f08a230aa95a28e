"""Encoding and decoding of events: the bytes stored in PostgreSQL and published on NATS.

Current versions decode straight into their Struct; an older version is decoded to a plain
mapping, upcast one version at a time, then converted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Union

import msgspec

from events.data_imports import DATA_IMPORT_EVENTS
from events.declarations import DECLARATION_EVENTS
from events.envelope import Event
from events.label import LABEL_EVENTS

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

ALL_EVENTS: tuple[type[Event], ...] = (*DECLARATION_EVENTS, *LABEL_EVENTS, *DATA_IMPORT_EVENTS)
EVENT_TYPES: dict[str, type[Event]] = {cls.type_name(): cls for cls in ALL_EVENTS}

# (type name, from version) -> function returning the mapping at version + 1.
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


class EventDecodeError(ValueError):
    """Bytes that are not a known event of a known version."""


def current_version(cls: type[Event]) -> int:
    for field in msgspec.structs.fields(cls):
        if field.name == "schema_version":
            return int(field.default)
    raise TypeError(f"{cls!r} has no schema_version")


CURRENT_VERSIONS: dict[str, int] = {name: current_version(cls) for name, cls in EVENT_TYPES.items()}

_encoder = msgspec.json.Encoder()
_any_event = msgspec.json.Decoder(Any)
_typed: msgspec.json.Decoder[Event] = msgspec.json.Decoder(
    Union[ALL_EVENTS]  # noqa: UP007 - a union built from a tuple
)


def encode(event: Event) -> bytes:
    return _encoder.encode(event)


def upcast(raw: dict[str, Any]) -> dict[str, Any]:
    type_name = raw.get("type")
    if not isinstance(type_name, str) or type_name not in EVENT_TYPES:
        raise EventDecodeError(f"unknown event type {type_name!r}")
    version = raw.get("schema_version", 1)
    if not isinstance(version, int):
        raise EventDecodeError(f"schema_version {version!r} is not an integer")
    target = CURRENT_VERSIONS[type_name]
    if version > target:
        raise EventDecodeError(f"{type_name} v{version} is newer than this code (v{target})")
    while version < target:
        step = UPCASTERS.get((type_name, version))
        if step is None:
            raise EventDecodeError(f"no upcaster for {type_name} v{version}")
        raw = step(raw)
        version += 1
        raw["schema_version"] = version
    return raw


def decode(data: bytes) -> Event:
    try:
        event = _typed.decode(data)
    except msgspec.ValidationError:
        event = None
    except msgspec.DecodeError as exc:
        raise EventDecodeError(f"not a JSON event: {exc}") from exc
    if event is not None and event.schema_version == CURRENT_VERSIONS[event.type_name()]:
        return event
    try:
        decoded = _any_event.decode(data)
    except msgspec.DecodeError as exc:
        raise EventDecodeError(f"not a JSON event: {exc}") from exc
    if not isinstance(decoded, dict):
        raise EventDecodeError("an event is a JSON object")
    raw = upcast(decoded)
    try:
        return msgspec.convert(raw, EVENT_TYPES[raw["type"]])
    except msgspec.ValidationError as exc:
        raise EventDecodeError(f"{raw['type']}: {exc}") from exc


def decode_all(blobs: Iterable[bytes]) -> list[Event]:
    return [decode(b) for b in blobs]
