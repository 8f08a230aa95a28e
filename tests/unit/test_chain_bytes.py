"""The bytes a chain covers: the stored event with the value of its top-level chain member
blanked, found in the bytes themselves (`infra.integrity.chain_value`)."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

import events
from events.declarations import UsageAdded
from events.envelope import Actor
from infra.event_store import new_event
from infra.integrity import GENESIS, blanked, chain_value, link, seal, seal_bytes

SAMPLES = Path(events.__file__).parent / "samples"


def blank(data: bytes) -> bytes:
    value = chain_value(data)
    assert value is not None
    return blanked(data, value)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"type":"X","chain":"ab","code":"C"}', b'{"type":"X","chain":"","code":"C"}'),
        # A member named chain in a nested object, before the event's own, is payload.
        (
            b'{"answers":{"chain":"aa"},"chain":"bb"}',
            b'{"answers":{"chain":"aa"},"chain":""}',
        ),
        (b'{"l":[{"chain":"aa"}],"chain":"bb"}', b'{"l":[{"chain":"aa"}],"chain":""}'),
        # So is one inside a string: a key ending in an escaped quote and `chain`.
        (b'{"x\\"chain":"aa","chain":"bb"}', b'{"x\\"chain":"aa","chain":""}'),
        (b'{"m":{"x\\"chain":"aa"},"chain":"bb"}', b'{"m":{"x\\"chain":"aa"},"chain":""}'),
        # Brackets and escaped quotes in the strings before it are text.
        (b'{"note":"a{b","chain":"bb"}', b'{"note":"a{b","chain":""}'),
        (b'{"note":"}]","l":["{"],"chain":"bb"}', b'{"note":"}]","l":["{"],"chain":""}'),
        (b'{"note":"say \\"hi\\"","chain":"bb"}', b'{"note":"say \\"hi\\"","chain":""}'),
        (b'{"note":"\\\\","chain":"bb"}', b'{"note":"\\\\","chain":""}'),
        # A value that reads chain is no member.
        (b'{"k":"chain","chain":"bb"}', b'{"k":"chain","chain":""}'),
        # Whitespace is kept as it is: only the value changes.
        (b'{\n  "chain" : "bb",\n  "k": 1\n}', b'{\n  "chain" : "",\n  "k": 1\n}'),
        # The payload after the member is never looked at.
        (b'{"chain":"bb","p":{"chain":"cc"}}', b'{"chain":"","p":{"chain":"cc"}}'),
    ],
)
def test_the_top_level_chain_member_is_the_one_blanked(data: bytes, expected: bytes) -> None:
    msgspec.json.decode(data)  # well-formed JSON, as stored events are
    assert blank(data) == expected


@pytest.mark.parametrize(
    "data",
    [
        b'{"type":"X"}',
        b'{"p":{"chain":"aa"}}',
        b'{"x\\"chain":"aa"}',
        b'{"k":"chain"}',
        # The first member named chain is the event's: a number there is no chain at all.
        b'{"chain":1,"p":{"chain":"aa"}}',
        b'{"chain":1,"chain":"aa"}',
    ],
)
def test_bytes_without_a_top_level_chain_member_have_no_chain(data: bytes) -> None:
    assert chain_value(data) is None


def test_an_unsealed_event_has_a_null_chain() -> None:
    data = b'{"type":"X","chain":null,"k":1}'
    assert chain_value(data) == (20, 24)


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_every_golden_sample_has_its_chain_where_it_decodes_from(path: Path) -> None:
    data = path.read_bytes()
    value = chain_value(data)
    assert value is not None
    assert data[value[0] + 1 : value[1] - 1].decode() == events.decode(data).chain


def test_sealed_bytes_blank_back_to_what_was_hashed() -> None:
    event = new_event(
        UsageAdded,
        originator_id=uuid4(),
        originator_version=1,
        uai="0340001S",
        school_year="2024-2025",
        actor=Actor("dir", "directeur"),
        code="PROGRAMMATION",
    )
    (first, second) = seal([event, event], {})
    unsealed = events.encode(msgspec.structs.replace(event, chain=""))
    assert blank(first.data) == blank(second.data) == unsealed
    assert first.chain == link(GENESIS, unsealed)
    assert second.chain == link(first.chain, unsealed)
    # What is stored is the event with its chain, as the encoder writes it.
    assert second.data == events.encode(msgspec.structs.replace(event, chain=second.chain))
    assert events.decode(second.data).chain == second.chain


def test_only_bytes_with_an_empty_chain_are_sealed() -> None:
    with pytest.raises(ValueError, match="no empty chain member"):
        seal_bytes(b'{"type":"X","chain":"ab"}', GENESIS)
    with pytest.raises(ValueError, match="no empty chain member"):
        seal_bytes(b'{"p":{"chain":""}}', GENESIS)


# Text that a naive search for the member would stop at.
TRICKY = st.sampled_from(['"chain":"', 'x\\"chain', "chain", '{"chain":"a"}', "\\", "[{", '"'])
KEYS = st.text() | TRICKY | TRICKY.map(lambda t: t + "chain")
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | TRICKY,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=12,
)


@given(
    before=st.dictionaries(KEYS.filter(lambda k: k != "chain"), JSON, max_size=4),
    after=st.dictionaries(KEYS.filter(lambda k: k != "chain"), JSON, max_size=4),
    chain=st.text(alphabet="0123456789abcdef", max_size=64),
)
def test_the_member_found_is_the_top_level_one_whatever_the_payload(
    before: dict[str, object], after: dict[str, object], chain: str
) -> None:
    def members(d: dict[str, object]) -> list[bytes]:
        return [msgspec.json.encode(k) + b":" + msgspec.json.encode(v) for k, v in d.items()]

    head = b"{" + b"".join(m + b"," for m in members(before)) + b'"chain":'
    data = head + msgspec.json.encode(chain) + b"".join(b"," + m for m in members(after)) + b"}"
    assert msgspec.json.decode(data)["chain"] == chain
    assert chain_value(data) == (len(head), len(head) + len(chain) + 2)
