"""`GET /api/v1/schools/{uai}/profile.pdf` in process, on read models seeded with SQL in a real
PostgreSQL: the PDF of the school's profile for those who may read it, and the JSON profile's
errors (401, 403, 404, 422) for the others."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from events.values import Role, uai_check_letter
from infra.settings import AuthSettings, DatabaseSettings
from services.reporting.app import create_app
from services.reporting.pdf.view import french_date
from tests.pdf.pdftext import page_count, pages_text
from tests.support import bearer

Client = AsyncTestClient[Litestar]

UAI = "0340001S"  # École Jules Ferry, circonscription 34-C1, académie de Montpellier
OTHER_UAI = "0340002T"  # École Marie Curie, circonscription 34-C2, same académie
TOULOUSE_UAI = "0310001H"
UNKNOWN_UAI = "0340003" + uai_check_letter("0340003")  # well formed, not in the register
YEAR = "2024-2025"
REGISTERED = datetime(2024, 6, 1, tzinfo=UTC)
DECLARED = datetime(2024, 10, 1, 9, tzinfo=UTC)

SCHOOLS = [
    (UAI, "École Jules Ferry", "34-C1", "34", "montpellier"),
    (OTHER_UAI, "École Marie Curie", "34-C2", "34", "montpellier"),
    (TOULOUSE_UAI, "École Jean Jaurès", "31-C1", "31", "toulouse"),
]
# uai, classes, teacher, pupil, index, robots, ent
DECLARATIONS = [(UAI, 8, 8, 8, 3, 2, True), (OTHER_UAI, 4, 2, 0, 1, 0, False)]
CATALOGUE = [
    (
        "COMMUNICATION_FAMILLES",
        "Communication avec les familles",
        "Utilisation d'une application pour la communication avec les familles.",
    ),
    ("CORRESPONDANCE_SCOLAIRE", "Correspondance scolaire", "Correspondance avec les outils."),
    ("PROGRAMMATION", "Programmation", "Les élèves programment des robots."),
]


async def seed(conn: asyncpg.Connection) -> None:
    """The read models as the projector would have left them for a few schools."""
    for uai, name, circonscription, departement, academie in SCHOOLS:
        for table, moment in (("schools", "registered_at"), ("school_versions", "valid_from")):
            await conn.execute(
                f"INSERT INTO reporting.{table} (uai, name, kind, pupils, commune, "
                f"circonscription, bassin, departement, academie, region, closed_on, {moment}) "
                "VALUES ($1, $2, 'ecole', 150, 'Montpellier', $3, NULL, $4, $5, 'occitanie', "
                "NULL, $6)",
                uai, name, circonscription, departement, academie, REGISTERED,
            )  # fmt: skip
    await conn.execute(
        "INSERT INTO reporting.campaign_versions (academie, school_year, rentree, opens_on, "
        "closes_on, recorded_at) VALUES ('montpellier', $1, 2024, '2024-06-21', '2024-09-27', $2)",
        YEAR,
        REGISTERED,
    )
    for uai, classes, teacher, pupil, index, robots, ent in DECLARATIONS:
        await conn.execute(
            "INSERT INTO reporting.declaration_versions (uai, rentree, valid_from, classes, "
            "teacher_classes, pupil_classes, equipment_index, robots, internet, web_radio, "
            "web_tv, fab_lab, ent, confirmed, recorded_by) VALUES ($1, 2024, $2, $3, $4, $5, "
            "$6, $7, 'FIBRE', true, false, true, $8, false, 'directeur')",
            uai, DECLARED, classes, teacher, pupil, index, robots, ent,
        )  # fmt: skip
    for code, title, summary in CATALOGUE:
        await conn.execute(
            "INSERT INTO reporting.usage_catalogue (academie, valid_from, code, title, summary, "
            "catalogue_version) VALUES ('montpellier', $1, $2, $3, $4, 1)",
            REGISTERED,
            code,
            title,
            summary,
        )
    await conn.execute(
        "INSERT INTO reporting.usage_sets (uai, valid_from, codes) VALUES ($1, $2, $3)",
        UAI,
        DECLARED,
        '["COMMUNICATION_FAMILLES", "CORRESPONDANCE_SCOLAIRE"]',
    )
    await conn.execute(
        "INSERT INTO reporting.label_standing (uai, referentiel_version, domain_levels, "
        "global_level, updated_at) VALUES ($1, '2024-1', '{}'::jsonb, 2, $2)",
        UAI,
        DECLARED,
    )
    await conn.execute(
        "INSERT INTO reporting.label_awards (uai, school_year, rentree, valid_until, "
        "valid_until_rentree, level, domain_levels, referentiel_version, awarded_at, "
        "awarded_by) VALUES ($1, $2, 2024, '2025-2026', 2025, 2, '{}'::jsonb, '2024-1', $3, "
        "'directeur')",
        UAI,
        YEAR,
        DECLARED,
    )


@pytest.fixture
async def client(database: DatabaseSettings, auth: AuthSettings) -> AsyncIterator[Client]:
    async with AsyncTestClient(create_app(database, auth)) as c:  # creates the read models
        conn = await asyncpg.connect(database.url)
        try:
            await seed(conn)
        finally:
            await conn.close()
        yield c


def url(uai: str = UAI) -> str:
    return f"/api/v1/schools/{uai}/profile.pdf"


async def test_the_director_gets_the_two_page_pdf_of_the_school(
    client: Client, auth: AuthSettings
) -> None:
    before = french_date(datetime.now(UTC))
    r = await client.get(
        url(), params={"school_year": YEAR}, headers=bearer(auth, Role.DIRECTEUR, UAI)
    )
    after = french_date(datetime.now(UTC))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == (
        f'inline; filename="profil-numerique-{UAI}-{YEAR}.pdf"'
    )
    assert page_count(r.content) == 2
    page1, page2 = pages_text(r.content)
    assert any(f"Ce profil a été édité le {day}" in page1 for day in (before, after))
    for phrase in (
        "École Jules Ferry",
        "UAI 0340001S · Montpellier · circonscription 34-C1 · année scolaire 2024-2025",
        "EQUIPEMENT INDICE 3/3",
        "Pour l'école (8 classes)",
        # The académie: 10 of 12 classes equipped for the teacher, 8 of 12 for the pupils.
        "Classes avec équipement enseignant 8 (100,00 %) 83,33 %",
        "Classes avec équipement élèves 8 (100,00 %) 66,67 %",
        "Nombre de robots École : 2 Académie : 50,00 % des écoles possèdent au moins un robot.",
        "Web radio : oui",
        "ENT (Indice 2024-2025)",
        "L'école déclare utiliser l'ENT-école.",
        "50,00 % d'écoles utilisatrices de l'ENT",
        "LABEL NUMERIQUE NIVEAU 2/3",
        "L'école est labellisée au niveau 2 (candidature 2024-2025), label valable jusqu'à la "
        "fin de l'année scolaire 2025-2026.",
        "50,00 % d'écoles labellisées dont : Niveau 1 : 0,00 % Niveau 2 : 100,00 %",
        "USAGES NOMBRE 2",
    ):
        assert phrase in page1, phrase
    assert (
        "1. COMMUNICATION AVEC LES FAMILLES Utilisation d'une application pour la communication "
        "avec les familles. 2. CORRESPONDANCE SCOLAIRE Correspondance avec les outils." in page2
    )
    assert "PROGRAMMATION" not in page2


async def test_readers_of_the_territory_get_it_too_and_the_year_defaults_to_the_campaign(
    client: Client, auth: AuthSettings
) -> None:
    for role, scope in (
        (Role.CONSEILLER, "circonscription:34-C1"),
        (Role.LECTEUR, "academie:montpellier"),
        (Role.AUDITEUR, "*"),
    ):
        r = await client.get(url(), headers=bearer(auth, role, scope))
        assert r.status_code == 200, (role, r.text)
        assert r.headers["content-type"] == "application/pdf"
        page1, _ = pages_text(r.content)
        assert "année scolaire 2024-2025" in page1


async def test_a_profile_as_it_stood_on_a_past_date(client: Client, auth: AuthSettings) -> None:
    # 1 July 2024: registered, not declared yet.
    r = await client.get(
        url(), params={"as_of": "2024-07-01"}, headers=bearer(auth, Role.DIRECTEUR, UAI)
    )
    assert r.status_code == 200, r.text
    page1, _ = pages_text(r.content)
    assert "Situation de l'école telle qu'enregistrée le 01/07/2024." in page1
    assert "L'école n'a pas encore déclaré son équipement" in page1
    assert "EQUIPEMENT INDICE –" in page1
    # 1 May 2024: not registered yet.
    r = await client.get(
        url(), params={"as_of": "2024-05-01"}, headers=bearer(auth, Role.DIRECTEUR, UAI)
    )
    assert r.status_code == 404
    assert r.json()["errors"] == [
        {"field": "", "message": f"L'école {UAI} n'était pas encore enregistrée à cette date."}
    ]


async def test_without_a_token_it_is_401(client: Client) -> None:
    r = await client.get(url())
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["errors"][0]["message"].startswith("Authentification requise")


async def test_outside_ones_scope_it_is_403(client: Client, auth: AuthSettings) -> None:
    for role, scope in (
        (Role.DIRECTEUR, OTHER_UAI),
        (Role.CONSEILLER, "circonscription:34-C2"),
        (Role.LECTEUR, "academie:toulouse"),
    ):
        r = await client.get(url(), headers=bearer(auth, role, scope))
        assert r.status_code == 403, (role, r.text)
        assert r.json()["errors"] == [
            {"field": "", "message": f"Votre périmètre ne permet pas de consulter l'école {UAI}."}
        ]


async def test_an_unknown_school_is_404(client: Client, auth: AuthSettings) -> None:
    r = await client.get(url(UNKNOWN_UAI), headers=bearer(auth, Role.AUDITEUR, "*"))
    assert r.status_code == 404
    assert r.json()["errors"] == [
        {"field": "", "message": f"Aucune école n'est enregistrée sous l'UAI {UNKNOWN_UAI}."}
    ]


@pytest.mark.parametrize("school_year", ["2024-2026", "2024", "deux-mille", "2024-2025 "])
async def test_a_bad_school_year_is_422(
    client: Client, auth: AuthSettings, school_year: str
) -> None:
    r = await client.get(
        url(), params={"school_year": school_year}, headers=bearer(auth, Role.DIRECTEUR, UAI)
    )
    assert r.status_code == 422
    [error] = r.json()["errors"]
    assert error["field"] == "school_year"
    assert f"« {school_year} »" in error["message"]


async def test_a_malformed_uai_is_422(client: Client, auth: AuthSettings) -> None:
    r = await client.get(url("0340001A"), headers=bearer(auth, Role.AUDITEUR, "*"))
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "uai", "message": "UAI invalide : « 0340001A »."}]
