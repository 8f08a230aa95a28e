"""Label standing in reporting: label events, relayed and projected for real, in the school
profile and in the territories' figures."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from events.values import Role
from infra.auth import Principal
from infra.relay import SOURCES, run_relay
from infra.settings import AuthSettings, DatabaseSettings, NatsSettings
from services.declarations.app import open_application as open_declarations
from services.declarations.register_csv import parse_register
from services.label.app import open_application as open_label
from services.label.application import CommuneSigner, LabelApplication
from services.label.referentiels import ReferentielContent, shipped_referentiels
from services.label.register_consumer import catch_up
from services.reporting.app import create_app as reporting_app
from services.reporting.label_standing import school_label
from services.reporting.projector import Projector
from tests.label.support import COLLEGE, ECOLE, ECOLE_2, Clock
from tests.pdf.pdftext import pages_text
from tests.support import REGISTER_CSV, answers, bearer

ADMIN = Principal("admin", Role.ADMIN, "region:occitanie")


def make_level_1(app: LabelApplication, uai: str, head: Principal) -> None:
    """Every level-1 criterion of the school's référentiel proposed and validated."""
    board = app.board(uai, head)
    for d in board.domains:
        for c in d.criteria:
            if c.level == 1:
                app.propose(uai, c.code, "Vu en commission numérique.", head)
                app.validate(uai, c.code, head)


@pytest.fixture
def recorded(database: DatabaseSettings) -> Iterator[LabelApplication]:
    declarations = open_declarations(database, pool_size=2)
    declarations.import_register(parse_register(REGISTER_CSV.encode()), ADMIN)
    declarations.open_campaign(
        "montpellier", "2026-2027", date(2026, 6, 21), date(2026, 9, 27), ADMIN
    )
    declarations.submit_declaration(
        ECOLE, "2026-2027", answers(), Principal("d", Role.DIRECTEUR, ECOLE)
    )
    declarations.close()
    app, register = open_label(database, pool_size=2, clock=Clock())
    try:
        yield app
    finally:
        app.close()
        register.close()


async def project(database: DatabaseSettings, nats: NatsSettings) -> None:
    """Run the relay and the projector until both logs are projected."""
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(run_relay(list(SOURCES.values()), database, nats, stop, 0.1)),
        asyncio.create_task(Projector(database, nats).run(stop, idle_timeout=0.2)),
    ]
    conn: asyncpg.Connection = await asyncpg.connect(database.url)
    try:
        logs = {
            s.service: await conn.fetchval(f"SELECT max(notification_id) FROM {s.qualified_table}")
            for s in SOURCES.values()
        }
        for _ in range(300):
            if await conn.fetchval("SELECT to_regclass('reporting.tracking')"):
                rows = await conn.fetch("SELECT source, position FROM reporting.tracking")
                reached = {r["source"]: r["position"] for r in rows}
                if all(reached.get(s, 0) >= (p or 0) for s, p in logs.items()):
                    break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"not projected: {logs}")
        assert await conn.fetchval("SELECT count(*) FROM reporting.parked") == 0
    finally:
        await conn.close()
        stop.set()
        await asyncio.gather(*tasks)


async def test_profiles_and_territories_show_label_standing(
    database: DatabaseSettings,
    nats_settings: NatsSettings,
    auth: AuthSettings,
    recorded: LabelApplication,
) -> None:
    app = recorded
    await catch_up(database)
    for ref in shipped_referentiels():
        app.publish_referentiel(
            ref.version,
            ReferentielContent(title=ref.title, kinds=ref.kinds, domains=ref.domains),
            ADMIN,
        )
    # The first école reaches level 1 and applies in January; the second has level 0.
    director = Principal("d.dupont", Role.DIRECTEUR, ECOLE)
    before_anything = datetime.now(UTC)
    make_level_1(app, ECOLE, director)
    before_award = datetime.now(UTC)
    app.apply_for_label(ECOLE, director, CommuneSigner("Marie Dupont", "maire"))
    app.propose(ECOLE_2, "E-REF-1", "Nommé.", Principal("r", Role.REFERENT, ECOLE_2))
    # The collège validates its whole PILOTAGE domain.
    chef = Principal("chef", Role.CHEF, COLLEGE)
    for c in app.board(COLLEGE, chef).domains[0].criteria:
        app.propose(COLLEGE, c.code, "Compte rendu de la commission.", chef)
        app.validate(COLLEGE, c.code, chef)
    await project(database, nats_settings)
    # As the record stood before the award, then before any step: nothing of what came later.
    conn: asyncpg.Connection = await asyncpg.connect(database.url)
    try:
        earlier = await school_label(conn, ECOLE, 2026, before_award)
        assert earlier is not None
        assert (earlier.level, earlier.global_level) == (None, 1)
        assert earlier.academie.labelled == 0
        earliest = await school_label(conn, ECOLE, 2026, before_anything)
        assert earliest is not None
        assert (earliest.global_level, earliest.domain_levels["REFERENTS"]) == (0, 0)
    finally:
        await conn.close()

    async with AsyncTestClient(reporting_app(database, auth)) as client:
        r = await client.get(
            f"/api/v1/schools/{ECOLE}/profile",
            params={"school_year": "2026-2027"},
            headers=bearer(auth, Role.DIRECTEUR, ECOLE),
        )
        assert r.status_code == 200, r.text
        label: dict[str, Any] = r.json()["label"]
        assert label["level"] == 1
        assert label["valid_until"] == "2027-2028"
        assert label["expires_on"] == "2028-08-31"
        assert label["global_level"] == 1
        assert label["referentiel_version"] == "ecole-2018"
        assert label["domain_levels"]["REFERENTS"] == 3
        # The commune it applied with, in the profile and in its PDF.
        assert label["commune"] == {
            "name": "Montpellier",
            "signatory": "Marie Dupont",
            "office": "maire",
        }
        r = await client.get(
            f"/api/v1/schools/{ECOLE}/profile.pdf",
            params={"school_year": "2026-2027"},
            headers=bearer(auth, Role.DIRECTEUR, ECOLE),
        )
        assert r.status_code == 200, r.text
        assert (
            "L'école est labellisée au niveau 1 (candidature 2026-2027 présentée avec la commune "
            "de Montpellier, signée par Marie Dupont, maire), label valable jusqu'à la fin de "
            "l'année scolaire 2027-2028." in pages_text(r.content)[0]
        )
        # The award's details, the commune's part with them, are in the school's history.
        r = await client.get(
            f"/api/v1/schools/{ECOLE}/history",
            params={"limit": 500},
            headers=bearer(auth, Role.DIRECTEUR, ECOLE),
        )
        assert r.status_code == 200, r.text
        (award,) = [e for e in r.json()["entries"] if e["type"] == "LabelAwarded"]
        assert award["content"]["commune"] == {
            "name": "Montpellier",
            "signatory": "Marie Dupont",
            "office": "maire",
        }
        # Its circonscription: itself only, labelled; its académie: 1 labelled school of 3.
        assert label["local"]["territory"] == "circonscription:34-C1"
        assert label["local"]["labelled_share"] == 100.0
        academie = label["academie"]
        assert (academie["schools"], academie["labelled"]) == (3, 1)
        assert academie["labelled_share"] == 33.33
        assert academie["level_distribution"] == {"1": 100.0, "2": 0.0, "3": 0.0}
        # The collège's standing: PILOTAGE at 3, the rest at 0.
        r = await client.get(
            f"/api/v1/schools/{COLLEGE}/profile", headers=bearer(auth, Role.CHEF, COLLEGE)
        )
        college = r.json()["label"]
        assert college["domain_levels"]["PILOTAGE"] == 3
        assert college["global_level"] == 0
        assert college["level"] is None
        assert college["commune"] is None
        assert college["local"]["territory"] == "bassin:34-B1"
        # The territory figures, for those who may read them.
        reader = bearer(auth, Role.LECTEUR, "departement:34")
        r = await client.get("/api/v1/territories/departement/34/label", headers=reader)
        assert r.status_code == 200, r.text
        figures = r.json()
        assert (figures["schools"], figures["labelled"]) == (3, 1)
        assert figures["current_levels"] == {"0": 66.67, "1": 33.33, "2": 0.0, "3": 0.0}
        assert figures["domain_averages"]["college-lycee-2022"]["PILOTAGE"] == 3.0
        assert figures["domain_averages"]["ecole-2018"]["REFERENTS"] == 1.5  # (3 + 0) / 2
        # The list of the schools, and its CSV, says which one holds a label and at which level.
        r = await client.get("/api/v1/territories/departement/34/profile", headers=reader)
        assert r.status_code == 200, r.text
        levels = {row["uai"]: row["label_level"] for row in r.json()["schools"]}
        assert levels == {ECOLE: 1, ECOLE_2: None, COLLEGE: None}
        r = await client.get("/api/v1/territories/departement/34/schools.csv", headers=reader)
        rows = [line.split(";") for line in r.content.decode("utf-8-sig").splitlines()]
        column = rows[0].index("niveau_label")
        assert {row[0]: row[column] for row in rows[1:]} == {ECOLE: "1", ECOLE_2: "", COLLEGE: ""}
        # Before the award, and once it has expired: no label in the list.
        for params in ({"as_of": before_award.isoformat()}, {"school_year": "2029-2030"}):
            r = await client.get(
                "/api/v1/territories/departement/34/profile",
                params=params,
                headers=bearer(auth, Role.AUDITEUR, "*"),
            )
            assert r.status_code == 200, r.text
            assert [row["label_level"] for row in r.json()["schools"]] == [None] * 3
        r = await client.get("/api/v1/territories/academie/toulouse/label", headers=reader)
        assert r.status_code == 403
        r = await client.get("/api/v1/territories/departement/99/label", headers=reader)
        assert r.status_code == 404
        r = await client.get("/api/v1/territories/commune/34/label", headers=reader)
        assert r.status_code == 422
        r = await client.get(
            "/api/v1/territories/academie/montpellier/label",
            params={"school_year": "2029-2030"},
            headers=bearer(auth, Role.AUDITEUR, "*"),
        )
        assert r.json()["labelled"] == 0  # the award has expired by then
        r = await client.get(
            "/api/v1/territories/academie/montpellier/label",
            params={"school_year": "2029"},
            headers=bearer(auth, Role.AUDITEUR, "*"),
        )
        assert r.status_code == 422
        assert r.json()["errors"] == [
            {
                "field": "school_year",
                "message": "Année scolaire « 2029 » invalide : attendu la forme 2024-2025.",
            }
        ]
