"""The published event contract: every stored sample of every version still decodes.

A sample is `events/samples/<TypeName>.v<version>.json`, written as the canonical encoding
(`events.encode`) indented by two spaces; `<TypeName>.v<version>.<variant>.json` is another form
of the same version (an optional field added within the version, present). A sample at the
current version must come back byte for byte; an older one must find upcasters all the way to
the current version.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec
import pytest

import events
from events.codec import CURRENT_VERSIONS, EVENT_TYPES, UPCASTERS, EventDecodeError, decode, encode
from events.declarations import UsageAdded

SAMPLES = Path(events.__file__).parent / "samples"
NAME = re.compile(r"^(?P<type>[A-Za-z]+)\.v(?P<version>\d+)(\.[a-z][a-z-]*)?\.json$")
ENVELOPE = {
    "event_id",
    "schema_version",
    "uai",
    "school_year",
    "occurred_at",
    "recorded_at",
    "actor",
}


def canonical(event: events.Event) -> bytes:
    return msgspec.json.format(encode(event), indent=2) + b"\n"


def sample_files() -> list[Path]:
    return sorted(SAMPLES.glob("*.json"))


def sample_versions() -> set[tuple[str, int]]:
    found = set()
    for path in sample_files():
        match = NAME.match(path.name)
        assert match is not None, f"{path.name} is not named <TypeName>.v<version>[.<variant>].json"
        found.add((match["type"], int(match["version"])))
    return found


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.name)
def test_every_sample_decodes_with_the_published_decoder_alone(path: Path) -> None:
    data = path.read_bytes()
    raw = msgspec.json.decode(data)
    match = NAME.match(path.name)
    assert match is not None
    # The file's name says what it holds.
    assert (raw["type"], raw["schema_version"]) == (match["type"], int(match["version"]))
    event = decode(data)
    assert event.type_name() == match["type"]
    assert event.schema_version == CURRENT_VERSIONS[match["type"]]
    if int(match["version"]) == event.schema_version:
        # Current version: decoding then encoding gives back the very same bytes.
        assert canonical(event) == data


def test_every_event_type_has_a_sample_of_its_current_version() -> None:
    missing = set(CURRENT_VERSIONS.items()) - sample_versions()
    assert missing == set()


def test_every_sample_is_of_a_known_type_and_no_newer_than_the_code() -> None:
    for type_name, version in sample_versions():
        assert type_name in EVENT_TYPES
        assert 1 <= version <= CURRENT_VERSIONS[type_name]


def test_every_older_sample_has_upcasters_up_to_the_current_version() -> None:
    for type_name, version in sample_versions():
        steps = range(version, CURRENT_VERSIONS[type_name])
        assert [v for v in steps if (type_name, v) not in UPCASTERS] == []


@pytest.mark.parametrize("cls", list(EVENT_TYPES.values()), ids=lambda c: c.__name__)
def test_every_event_is_frozen_tagged_by_its_name_and_carries_the_envelope(
    cls: type[events.Event],
) -> None:
    config = cls.__struct_config__
    assert config.frozen
    assert (config.tag_field, config.tag) == ("type", cls.__name__)
    assert EVENT_TYPES[cls.__name__] is cls
    assert {f.name for f in msgspec.structs.fields(cls)} >= ENVELOPE


def usage_added(version: int, **fields: Any) -> bytes:
    """A UsageAdded as an older producer would have written it."""
    body = msgspec.json.decode((SAMPLES / "UsageAdded.v1.json").read_bytes())
    body.pop("code")
    body.update(schema_version=version, **fields)
    return msgspec.json.encode(body)


def test_an_older_version_is_upcast_one_step_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # A made-up v0 of UsageAdded named its field `usage` and wrote it in lowercase.
    def v0_to_v1(raw: dict[str, Any]) -> dict[str, Any]:
        raw = dict(raw)
        raw["code"] = raw.pop("usage").upper()
        return raw

    old = usage_added(0, usage="robotique_pedagogique")
    with pytest.raises(EventDecodeError, match="no upcaster for UsageAdded v0"):
        decode(old)
    monkeypatch.setitem(UPCASTERS, ("UsageAdded", 0), v0_to_v1)
    event = decode(old)
    assert isinstance(event, UsageAdded)
    assert (event.schema_version, event.code) == (1, "ROBOTIQUE_PEDAGOGIQUE")
    # Once upcast, it encodes as the current version does.
    assert decode(encode(event)) == event


def test_a_version_newer_than_the_code_is_refused() -> None:
    with pytest.raises(EventDecodeError, match="newer than this code"):
        decode(usage_added(2, code="PROGRAMMATION"))


@pytest.mark.parametrize(
    "data",
    [b"not json", b"[1, 2]", b'{"type": "SchoolDemolished", "schema_version": 1}'],
)
def test_what_is_not_a_known_event_is_refused(data: bytes) -> None:
    with pytest.raises(EventDecodeError):
        decode(data)
