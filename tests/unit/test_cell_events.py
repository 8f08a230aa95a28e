"""The territory figures' rebuild decodes its frequent events without their identity: the same
fields for the fold, the same classes for its dispatch, and in full what it cannot take so."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import msgspec
import pytest

import events
from events.codec import ALL_EVENTS, UPCASTERS
from events.data_imports import (
    EntConnections,
    EntConnectionsImported,
    GarAccessesImported,
    GarResourceAccesses,
)
from events.declarations import (
    DeclarationConfirmed,
    DeclarationSubmitted,
    SchoolClosed,
    UsageAdded,
    UsageRemoved,
)
from events.envelope import Actor, Event
from infra.event_store import new_event
from services.reporting.cell_events import FACTS, USAGES, FactsDecoding
from services.reporting.cell_projection import CellFigures
from services.reporting.model_memory import ModelMemory
from services.reporting.pending_writes import PendingWrites
from services.reporting.projection import FOLDS
from tests.support import answers

DIRECTOR = Actor("directeur-0340001S", "directeur")
SAMPLES: list[Event] = [
    new_event(UsageAdded, originator_id=uuid.uuid4(), originator_version=3, uai="0340001S",
              school_year="2024-2025", actor=DIRECTOR, code="ROBOTIQUE_PEDAGOGIQUE"),
    new_event(UsageRemoved, originator_id=uuid.uuid4(), originator_version=4, uai="0340001S",
              school_year="2024-2025", actor=DIRECTOR, code="PROGRAMMATION"),
    new_event(EntConnectionsImported, originator_id=uuid.uuid4(), originator_version=1,
              uai="0340001S", school_year="2024-2025", actor=DIRECTOR, period=2,
              connections=EntConnections(pupils=120, parents=40, teachers=9),
              enrolled_pupils=150, pupils_source="fichier", file_sha256="ab" * 32),
    new_event(GarAccessesImported, originator_id=uuid.uuid4(), originator_version=1,
              uai="0340001S", school_year="2024-2025", actor=DIRECTOR,
              resources=[GarResourceAccesses(resource="Lalilo", accesses=12)],
              file_sha256="cd" * 32),
    new_event(DeclarationSubmitted, originator_id=uuid.uuid4(), originator_version=2,
              uai="0340001S", school_year="2024-2025", actor=DIRECTOR, answers=answers()),
    new_event(DeclarationConfirmed, originator_id=uuid.uuid4(), originator_version=3,
              uai="0340001S", school_year="2025-2026", actor=DIRECTOR, answers=answers(),
              confirmed_from="2024-2025"),
]  # fmt: skip
decode = FactsDecoding(CellFigures.types)
# What the fold reads of an event (its payload and where and when it was recorded).
IDENTITY = {"event_id", "originator_id", "originator_version", "occurred_at", "actor", "chain"}


def fold_fields(event: Event) -> dict[str, Any]:
    return {k: v for k, v in msgspec.structs.asdict(event).items() if k not in IDENTITY}


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda e: e.type_name())
def test_a_frequent_event_is_its_class_with_the_same_fields_for_the_fold(sample: Event) -> None:
    decoded = decode(events.encode(sample))
    assert type(decoded) in FACTS
    assert FACTS[type(decoded)] is type(sample)
    assert isinstance(decoded, type(sample))
    assert fold_fields(decoded) == fold_fields(sample)
    # Its identity is not decoded: no fold may take it for the event's.
    assert decoded.event_id != sample.event_id
    assert decoded.actor != sample.actor


def test_a_rare_event_is_decoded_in_full() -> None:
    closed = new_event(SchoolClosed, originator_id=uuid.uuid4(), originator_version=5,
                       uai="0340001S", school_year="2024-2025", actor=DIRECTOR,
                       closed_on=date(2025, 7, 4))  # fmt: skip
    assert decode(events.encode(closed)) == closed


def test_an_event_of_an_older_version_is_upcast_and_decoded_in_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def v0_to_v1(raw: dict[str, Any]) -> dict[str, Any]:
        raw = dict(raw)
        raw["code"] = raw.pop("usage").upper()
        return raw

    monkeypatch.setitem(UPCASTERS, ("UsageAdded", 0), v0_to_v1)
    sample = SAMPLES[0]
    raw = msgspec.to_builtins(sample)
    raw["schema_version"] = 0
    raw["usage"] = raw.pop("code").lower()
    decoded = decode(msgspec.json.encode(raw))
    assert type(decoded) is UsageAdded
    assert decoded == msgspec.structs.replace(sample, schema_version=1)


def test_bytes_that_are_no_event_are_refused() -> None:
    with pytest.raises(events.EventDecodeError):
        decode(b"{not json")
    with pytest.raises(events.EventDecodeError):
        decode(b'{"type": "NoSuchEvent", "schema_version": 1}')


def test_the_reporting_models_pass_decodes_only_usages_without_their_identity() -> None:
    models = FactsDecoding(ALL_EVENTS, lean=USAGES)
    for sample in SAMPLES:
        decoded = models(events.encode(sample))
        if isinstance(sample, USAGES):
            assert FACTS[type(decoded)] is type(sample)
            assert fold_fields(decoded) == fold_fields(sample)
        else:
            # Declarations are stored with who made them.
            assert decoded == sample


def test_the_reporting_models_fold_takes_usages_decoded_without_their_identity() -> None:
    pending = PendingWrites(FOLDS, ModelMemory(complete=True), with_cells=False)
    models = FactsDecoding(ALL_EVENTS, lean=USAGES)
    for sample in SAMPLES[:2]:
        decoded = models(events.encode(sample))
        assert type(decoded) is not type(sample)
        assert pending.add(decoded)
    assert pending
