"""Generated requests against the declarations API: whatever a client sends, never a 5xx.

Every answer is 200 or a 4xx with `{"errors": [...]}` and French sentences; a refused request
stores nothing; and a declaration is accepted exactly when an independent reading of the rules
(DOMAIN.md, the declaration) says it is valid.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import AsyncTestClient

from events.values import Role
from infra.settings import AuthSettings, DatabaseSettings
from services.declarations.app import create_app
from tests.integration.test_declarations_http import (
    CATALOGUE,
    LAST_YEAR,
    UAI,
    YEAR,
    declaration_url,
    import_register,
    looks_french,
    open_campaign,
)
from tests.support import REGISTER_CSV, bearer

Client = AsyncTestClient[Litestar]

CODES = ("A1", "A2", "A3", "A4", "A5", "A6", "A7", "B1", "B2", "B3", "C1", "C2", "C3")
COUNTS = ("A3", "B1", "B2", "B3", "C1", "C2", "C3")
YES_NO = ("A4", "A5", "A6", "A7")
INTERNET = ("ADSL", "FIBRE", "NE_SAIT_PAS")
MAX_COUNT = 9999  # the bound questions.py keeps absurd counts out with (a decision)

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FUZZ_SMALL = settings(FUZZ, max_examples=60)

# -- what clients may send ------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=70),
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from([*INTERNET, "fibre", "4G", "", "8", "true", "oui"]),
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
keys = st.one_of(st.sampled_from([*CODES, "D1", "Z9", "a1", "A01", "", " A1"]), st.text(max_size=6))


@st.composite
def valid_answers(draw: st.DrawFn) -> dict[str, Any]:
    classes = draw(st.integers(1, 60))
    simple = draw(st.integers(0, classes))
    return {
        "A1": classes,
        "A2": draw(st.sampled_from(INTERNET)),
        "A3": draw(st.integers(0, MAX_COUNT)),
        **{code: draw(st.booleans()) for code in YES_NO},
        "B1": draw(st.integers(0, classes)),
        "B2": simple,
        "B3": draw(st.integers(0, classes - simple)),
        "C1": draw(st.integers(0, MAX_COUNT)),
        "C2": draw(st.integers(0, MAX_COUNT)),
        "C3": draw(st.integers(0, classes)),
    }


@st.composite
def near_valid_answers(draw: st.DrawFn) -> dict[str, Any]:
    """Valid answers with a few values replaced, a few questions dropped, a few keys added."""
    given = draw(valid_answers())
    for code in draw(st.lists(st.sampled_from(CODES), max_size=3, unique=True)):
        del given[code]
    given.update(draw(st.dictionaries(keys, json_values, max_size=3)))
    return given


answer_maps = st.one_of(
    valid_answers(),
    near_valid_answers(),
    near_valid_answers(),
    st.dictionaries(st.sampled_from([*CODES, "D1"]), json_values, max_size=14),
    st.dictionaries(keys, json_values, max_size=6),
)
bodies = st.one_of(
    answer_maps.map(lambda a: {"answers": a}),
    answer_maps.map(lambda a: {"answers": a}),
    json_values,  # any JSON value as the body: arrays, strings, numbers, null, nested objects
    st.builds(lambda a: {"answers": a}, json_values),
    st.builds(
        lambda a, extra: {**extra, "answers": a},
        answer_maps,
        st.dictionaries(st.text(max_size=8), json_values, min_size=1, max_size=2),
    ),
)


# -- an independent reading of the rules -----------------------------------------------------------


def _count(value: Any, high: int = MAX_COUNT) -> bool:
    return type(value) is int and 0 <= value <= high


def acceptable(body: Any) -> bool:
    """Whether the body is a complete, valid declaration (DOMAIN.md, the 13 questions)."""
    if not isinstance(body, dict) or set(body) != {"answers"}:
        return False
    given = body["answers"]
    if not isinstance(given, dict) or set(given) != set(CODES):
        return False
    classes = given["A1"]
    if not (type(classes) is int and 1 <= classes <= 60):
        return False
    return (
        given["A2"] in INTERNET
        and type(given["A2"]) is str
        and all(type(given[code]) is bool for code in YES_NO)
        and all(_count(given[code]) for code in COUNTS)
        and all(_count(given[code], classes) for code in ("B1", "B2", "B3", "C3"))
        and given["B2"] + given["B3"] <= classes
    )


# -- the service ------------------------------------------------------------------------------------


@pytest.fixture
async def client(database: DatabaseSettings, auth: AuthSettings) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(database, auth)) as test_client:
        assert (await import_register(test_client, auth, REGISTER_CSV)).status_code == 200
        for school_year in (LAST_YEAR, YEAR):
            assert (await open_campaign(test_client, auth, school_year)).status_code == 200
        r = await test_client.put(
            "/api/v1/admin/academies/montpellier/usage-catalogue",
            json={"usages": CATALOGUE},
            headers=bearer(auth, Role.ADMIN, "academie:montpellier"),
        )
        assert r.status_code == 200, r.text
        yield test_client


@pytest.fixture
async def events_table(database: DatabaseSettings) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    async with await psycopg.AsyncConnection.connect(database.url, autocommit=True) as conn:
        yield conn


async def count_events(conn: psycopg.AsyncConnection[Any]) -> int:
    cursor = await conn.execute("SELECT count(*) FROM declarations.declarations_events")
    row = await cursor.fetchone()
    assert row is not None
    count: int = row[0]
    return count


def assert_refusal(response: httpx.Response, allowed: set[int]) -> None:
    assert response.status_code < 500, response.text
    assert response.status_code in allowed, response.text
    body = response.json()
    assert set(body) == {"errors"}, body
    assert isinstance(body["errors"], list), body
    assert body["errors"], body
    for error in body["errors"]:
        assert set(error) <= {"field", "message", "line"}, error
        assert isinstance(error["field"], str), error
        assert isinstance(error["message"], str), error
        assert looks_french(error["message"]), error


# -- the properties ---------------------------------------------------------------------------------


@FUZZ
@given(body=bodies)
async def test_a_declaration_body_is_accepted_exactly_when_valid(
    client: Client,
    auth: AuthSettings,
    events_table: psycopg.AsyncConnection[Any],
    body: Any,
) -> None:
    before = await count_events(events_table)
    response = await client.put(
        declaration_url(),
        content=json.dumps(body).encode(),
        headers={**bearer(auth, Role.DIRECTEUR, UAI), "content-type": "application/json"},
    )
    event(f"HTTP {response.status_code}")
    if acceptable(body):
        assert response.status_code == 200, response.text
        assert await count_events(events_table) == before + 1
        view = (
            await client.get(declaration_url(), headers=bearer(auth, Role.DIRECTEUR, UAI))
        ).json()
        assert view["answers"] == body["answers"]
    else:
        assert_refusal(response, {400, 413, 422})
        assert await count_events(events_table) == before


@FUZZ_SMALL
@given(raw=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
async def test_arbitrary_bytes_as_a_body_are_refused_cleanly(
    client: Client,
    auth: AuthSettings,
    events_table: psycopg.AsyncConnection[Any],
    raw: bytes,
) -> None:
    before = await count_events(events_table)
    response = await client.put(
        declaration_url(),
        content=raw,
        headers={**bearer(auth, Role.DIRECTEUR, UAI), "content-type": "application/json"},
    )
    assert_refusal(response, {400, 422})
    assert await count_events(events_table) == before


path_segments = st.one_of(
    st.text(max_size=12),
    st.sampled_from([UAI, "0340001X", "0340003U", YEAR, "2030-2031", "2024", "..", ".", "%"]),
)


@FUZZ_SMALL
@given(uai=path_segments, school_year=path_segments, method=st.sampled_from(["PUT", "GET", "POST"]))
async def test_arbitrary_path_segments_are_refused_cleanly(
    client: Client,
    auth: AuthSettings,
    events_table: psycopg.AsyncConnection[Any],
    uai: str,
    school_year: str,
    method: str,
) -> None:
    url = declaration_url(quote(uai, safe=""), quote(school_year, safe=""))
    if method == "POST":
        url += "/confirmation"
    before = await count_events(events_table)
    response = await client.request(
        method,
        url,
        json={"answers": {"A1": 8}},  # incomplete: a PUT that reaches the rules is refused
        headers=bearer(auth, Role.DIRECTEUR, UAI),
    )
    if response.status_code == 200:
        # A read of the director's own school, or a confirmation with nothing to confirm: never.
        assert method == "GET", response.text
    else:
        assert_refusal(response, {400, 403, 404, 405, 409, 422})
    assert await count_events(events_table) == before


@FUZZ_SMALL
@given(code=st.text(min_size=1, max_size=20), method=st.sampled_from(["PUT", "DELETE"]))
async def test_arbitrary_usage_codes_are_refused_cleanly(
    client: Client,
    auth: AuthSettings,
    events_table: psycopg.AsyncConnection[Any],
    code: str,
    method: str,
) -> None:
    before = await count_events(events_table)
    response = await client.request(
        method,
        f"/api/v1/schools/{UAI}/usages/{quote(code, safe='')}",
        headers=bearer(auth, Role.DIRECTEUR, UAI),
    )
    if method == "PUT" and code not in {u["code"] for u in CATALOGUE}:
        assert_refusal(response, {404, 405, 422})
        assert await count_events(events_table) == before
    else:
        # Removing a usage never declared, or adding one from the catalogue: fine.
        assert response.status_code in (200, 404, 405), response.text


@FUZZ_SMALL
@given(campaign=json_values, catalogue=json_values)
async def test_arbitrary_admin_bodies_are_refused_cleanly(
    client: Client,
    auth: AuthSettings,
    events_table: psycopg.AsyncConnection[Any],
    campaign: Any,
    catalogue: Any,
) -> None:
    admin = bearer(auth, Role.ADMIN, "academie:montpellier")
    before = await count_events(events_table)
    response = await client.put(
        "/api/v1/admin/academies/montpellier/campaigns/2026-2027",
        content=json.dumps(campaign).encode(),
        headers={**admin, "content-type": "application/json"},
    )
    assert_refusal(response, {400, 422})
    response = await client.put(
        "/api/v1/admin/academies/montpellier/usage-catalogue",
        content=json.dumps({"usages": catalogue}).encode(),
        headers={**admin, "content-type": "application/json"},
    )
    if response.status_code != 200:
        assert_refusal(response, {400, 422})
        assert await count_events(events_table) == before
