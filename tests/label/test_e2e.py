"""The label workflow with every component a real process: register from declarations over
NATS, steps over HTTP, events on the bus naming actor and role, standing in the profile."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec
import nats
import pytest

import events
from events.label import CriterionProposed, CriterionValidated
from events.values import Role
from infra.settings import AuthSettings, DatabaseSettings, NatsSettings
from services.label.referentiels import shipped_referentiels
from tests.processes import Platform, running_platform
from tests.support import REGISTER_CSV, bearer

UAI = "0340001S"
NAMES = ("declarations", "label", "reporting", "relay", "projector", "label-register")


@pytest.fixture
def platform(
    database: DatabaseSettings, nats_settings: NatsSettings, auth: AuthSettings, tmp_path: Path
) -> Iterator[Platform]:
    with running_platform(database, nats_settings, auth, tmp_path, names=NAMES) as p:
        yield p


def seed(platform: Platform, auth: AuthSettings) -> None:
    r = httpx.post(
        f"{platform.url('declarations')}/api/v1/admin/register",
        content=REGISTER_CSV.encode(),
        headers={**bearer(auth, Role.ADMIN, "region:occitanie"), "content-type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    ecole = shipped_referentiels()[0]
    r = httpx.put(
        f"{platform.url('label')}/api/v1/label/referentiels/{ecole.version}",
        content=msgspec.json.encode(ecole),
        headers=bearer(auth, Role.ADMIN, "academie:montpellier"),
    )
    assert r.status_code == 200, r.text


def wait_until_registered(platform: Platform, auth: AuthSettings) -> None:
    """The label service learns of the school from the declarations events on the bus."""
    deadline = time.monotonic() + 30
    url = f"{platform.url('label')}/api/v1/schools/{UAI}/label"
    while time.monotonic() < deadline:
        r = httpx.get(url, headers=bearer(auth, Role.AUDITEUR, "*"))
        if r.status_code == 200:
            return
        assert r.status_code == 404, r.text
        time.sleep(0.2)
    raise AssertionError("the school never reached the label register")


async def test_a_proposal_validated_by_one_of_two_validators_reaches_the_profile(
    platform: Platform, auth: AuthSettings, nats_settings: NatsSettings
) -> None:
    seed(platform, auth)
    await asyncio.to_thread(wait_until_registered, platform, auth)
    referent = bearer(auth, Role.REFERENT, UAI, "r.martin")
    director = bearer(auth, Role.DIRECTEUR, UAI, "d.dupont")
    erun = bearer(auth, Role.CONSEILLER, "circonscription:34-C1", "erun.c1")
    criteria = f"/api/v1/schools/{UAI}/label/criteria"
    async with httpx.AsyncClient(base_url=platform.url("label")) as label:
        # The référent proposes; the director and the ERUN validate at the same time.
        for code in ("E-REF-1", "E-REF-2"):
            r = await label.post(
                f"{criteria}/{code}/proposals",
                json={"comment": "Désigné en conseil des maîtres."},
                headers=referent,
            )
            assert r.status_code == 201, r.text
            answers = await asyncio.gather(
                label.post(f"{criteria}/{code}/validation", headers=director),
                label.post(f"{criteria}/{code}/validation", headers=erun),
            )
            assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
            position = next(a for a in answers if a.status_code == 200).headers[
                "x-numecole-position"
            ]
    # The profile, read after that position, shows the referents domain complete.
    async with httpx.AsyncClient(base_url=platform.url("reporting")) as reporting:
        r = await reporting.get(
            f"/api/v1/schools/{UAI}/profile", params={"after": position}, headers=director
        )
    assert r.status_code == 200, r.text
    label_standing = r.json()["label"]
    assert label_standing["domain_levels"]["REFERENTS"] == 3
    assert label_standing["global_level"] == 0
    assert label_standing["referentiel_version"] == "ecole-2018"
    # Each step is an event on NATS, under the school's label subject, naming actor and role.
    nc = await nats.connect(nats_settings.url)
    sub = await nc.jetstream().subscribe(
        f"{nats_settings.subject_root}.label.{UAI}.>",
        stream=nats_settings.stream,
        ordered_consumer=True,
    )
    seen = [events.decode((await sub.next_msg(timeout=5)).data) for _ in range(4)]
    await nc.close()
    assert [type(e) for e in seen] == [
        CriterionProposed,
        CriterionValidated,
        CriterionProposed,
        CriterionValidated,
    ]
    assert (seen[0].actor.user_id, seen[0].actor.role) == ("r.martin", "referent")
    assert {seen[1].actor.role, seen[3].actor.role} <= {"directeur", "conseiller"}
