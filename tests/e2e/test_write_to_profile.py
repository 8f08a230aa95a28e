"""From an HTTP write to a NATS message to a profile read, with every component a real process."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import nats
import pytest

import events
from events.declarations import DeclarationSubmitted
from events.values import Role, parse_school_year, school_year_of_rentree, school_year_on
from infra.settings import AuthSettings, DatabaseSettings, NatsSettings
from tests.processes import Platform, running_platform
from tests.support import REGISTER_CSV, answers, bearer

UAI = "0340001S"
# The campaign of last year and the one running now: a profile of the current year is read now.
RENTREE = parse_school_year(school_year_on(datetime.now(UTC)))
LAST_YEAR, THIS_YEAR = school_year_of_rentree(RENTREE - 1), school_year_of_rentree(RENTREE)


def seed(platform: Platform, auth: AuthSettings) -> None:
    base = platform.url("declarations")
    r = httpx.post(
        f"{base}/api/v1/admin/register",
        content=REGISTER_CSV.encode(),
        headers={**bearer(auth, Role.ADMIN, "region:occitanie"), "content-type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    for year in (RENTREE - 1, RENTREE):
        r = httpx.put(
            f"{base}/api/v1/admin/academies/montpellier/campaigns/{year}-{year + 1}",
            json={"opens_on": str(date(year, 6, 21)), "closes_on": str(date(year, 9, 27))},
            headers=bearer(auth, Role.ADMIN, "academie:montpellier"),
        )
        assert r.status_code == 200, r.text


@pytest.fixture
def platform(
    database: DatabaseSettings, nats_settings: NatsSettings, auth: AuthSettings, tmp_path: Path
) -> Iterator[Platform]:
    with running_platform(database, nats_settings, auth, tmp_path) as p:
        seed(p, auth)
        yield p


async def test_a_director_sees_the_new_answers_in_the_profile(
    platform: Platform, auth: AuthSettings, nats_settings: NatsSettings
) -> None:
    director = bearer(auth, Role.DIRECTEUR, UAI)
    async with httpx.AsyncClient(base_url=platform.url("declarations"), headers=director) as w:
        # The director answers for last year, then confirms the same answers for this year.
        r = await w.put(
            f"/api/v1/schools/{UAI}/declarations/{LAST_YEAR}", json={"answers": answers()}
        )
        assert r.status_code == 200, r.text
        r = await w.post(f"/api/v1/schools/{UAI}/declarations/{THIS_YEAR}/confirmation")
        assert r.status_code == 200, r.text
        # Then updates this year's: every class now has everything.
        full = answers(B1=8, B2=0, B3=8, C3=8)
        r = await w.put(f"/api/v1/schools/{UAI}/declarations/{THIS_YEAR}", json={"answers": full})
        assert r.status_code == 200, r.text
        position = r.headers["x-numecole-position"]
    # The profile, read after that position, shows the new answers at once.
    async with httpx.AsyncClient(base_url=platform.url("reporting"), headers=director) as reads:
        r = await reads.get(
            f"/api/v1/schools/{UAI}/profile", params={"school_year": THIS_YEAR, "after": position}
        )
    assert r.status_code == 200, r.text
    assert r.headers["x-numecole-fresh"] == "true"
    profile = r.json()
    assert profile["equipment"]["index"] == 3
    assert profile["equipment"]["next_step"] is None
    assert profile["equipment"]["teacher_share"] == 100.0
    assert [p["equipment_index"] for p in profile["evolution"]] == [1, 3]
    assert profile["declaration"]["carried_forward"] is False
    # The same events are on the bus, under the school's own subject.
    nc = await nats.connect(nats_settings.url)
    sub = await nc.jetstream().subscribe(
        f"{nats_settings.subject_root}.*.{UAI}.>",
        stream=nats_settings.stream,
        ordered_consumer=True,
    )
    seen = [events.decode((await sub.next_msg(timeout=5)).data) for _ in range(4)]
    await nc.close()
    assert [type(e).__name__ for e in seen] == [
        "SchoolRegistered",
        "DeclarationSubmitted",
        "DeclarationConfirmed",
        "DeclarationSubmitted",
    ]
    assert isinstance(seen[3], DeclarationSubmitted)
    assert seen[3].answers["B3"] == 8
    assert seen[1].actor.role == "directeur"
    assert seen[0].actor.role == "admin"
