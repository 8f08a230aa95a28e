"""Generated reads against the reporting API: whatever moment, year, page or territory a client
asks for, the answer is a profile or a 4xx in French, never a 5xx.

The moments run to the ends of the calendar and across every offset; the territory codes and
cursors are any text, control characters included, since they reach SQL as parameters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.values import Role
from infra.settings import AuthSettings
from tests.integration.test_declarations_http import looks_french
from tests.reporting.seeded_api import A, Client
from tests.support import bearer

FUZZ = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

zones: st.SearchStrategy[tzinfo] = st.sampled_from(
    [UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))]
)
offsets: st.SearchStrategy[tzinfo | None] = st.one_of(st.none(), zones)
# The first and last days of the calendar, where a moment east or west of Greenwich has no UTC.
first_days = (datetime(1, 1, 1), datetime(1, 1, 2))
last_days = (datetime(9999, 12, 30), datetime(9999, 12, 31, 23))
edges = st.one_of(
    *(st.datetimes(*days) for days in (first_days, last_days)),
    *(st.datetimes(*days, timezones=zones) for days in (first_days, last_days)),
)
moments = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.datetimes(timezones=offsets).map(lambda d: d.isoformat()),
    edges.map(lambda d: d.isoformat()),
    edges.map(lambda d: d.date().isoformat()),
    st.datetimes(min_value=datetime(2023, 1, 1), max_value=datetime(2027, 1, 1)).map(
        lambda d: d.isoformat(timespec="seconds")
    ),
    st.text(max_size=30),
)
years = st.one_of(
    st.integers(0, 9999).map(lambda y: f"{y:04d}-{y + 1:04d}"),
    st.builds(lambda a, b: f"{a}-{b}", st.integers(-5, 10**5), st.integers(-5, 10**5)),
    st.text(max_size=12),
)
queries = st.fixed_dictionaries(
    {},
    optional={
        "as_of": moments,
        "school_year": years,
        "limit": st.one_of(st.integers(-3, 600).map(str), st.text(max_size=5)),
        "cursor": st.text(max_size=40),
    },
)
levels = st.one_of(
    st.sampled_from(["circonscription", "bassin", "departement", "academie", "region"]),
    st.text(max_size=12),
)
codes = st.one_of(
    st.sampled_from(["34", "34-C1", "montpellier", "occitanie"]),
    st.text(max_size=70),
    st.text(st.characters(max_codepoint=0x9F), min_size=1, max_size=4),  # controls, NUL
)


def assert_answered(r: httpx.Response) -> None:
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        body = r.json()
        assert set(body) == {"errors"}, body
        assert body["errors"], body
        for error in body["errors"]:
            assert looks_french(error["message"]), error


@FUZZ
@given(view=st.sampled_from(["profile", "history", "profile.pdf"]), query=queries)
async def test_a_school_read_at_any_moment_is_answered(
    client: Client,
    auth: AuthSettings,
    view: str,
    query: dict[str, str],
) -> None:
    r = await client.get(
        f"/api/v1/schools/{A}/{view}", params=query, headers=bearer(auth, Role.AUDITEUR, "*")
    )
    assert_answered(r)


@FUZZ
@given(
    level=levels,
    code=codes,
    view=st.sampled_from(["profile", "schools.csv", "label"]),
    query=queries,
)
async def test_a_territory_read_of_any_code_at_any_moment_is_answered(
    client: Client,
    auth: AuthSettings,
    level: str,
    code: str,
    view: str,
    query: dict[str, str],
) -> None:
    r = await client.get(
        f"/api/v1/territories/{quote(level, safe='')}/{quote(code, safe='')}/{view}",
        params=query,
        headers=bearer(auth, Role.AUDITEUR, "*"),
    )
    assert_answered(r)
