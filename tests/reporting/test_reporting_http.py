"""The reporting API: who reads what, at which moment, and the errors people get."""

from __future__ import annotations

import asyncpg
import pytest

from events.values import Role
from infra.settings import AuthSettings, DatabaseSettings
from services.reporting.freshness import projected_through
from tests.reporting.seeded_api import A, B, Client
from tests.reporting.timeline import Timeline, at
from tests.support import bearer


async def test_a_past_school_year_is_read_as_it_ended(client: Client, auth: AuthSettings) -> None:
    director = bearer(auth, Role.DIRECTEUR, A)
    ended = await client.get(
        f"/api/v1/schools/{A}/profile", params={"school_year": "2024-2025"}, headers=director
    )
    today = await client.get(
        f"/api/v1/schools/{A}/profile",
        params={"school_year": "2024-2025", "as_of": "2026-01-01"},
        headers=director,
    )
    assert ended.status_code == 200, ended.text
    assert ended.json()["equipment"]["index"] == 3  # as it stood on 31 August 2025
    assert today.json()["equipment"]["index"] == 0  # the correction of October 2025 counts


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"as_of": "2999-01-01"}, 422, "as_of"),
        ({"as_of": "hier"}, 422, "as_of"),
        ({"school_year": "2024/2025"}, 422, "school_year"),
        ({"as_of": "2023-01-01"}, 404, ""),
        # The ends of the calendar: before any record, and in the future.
        ({"as_of": "0001-01-01T00:00:00+05:00"}, 404, ""),
        ({"as_of": "9999-12-31"}, 422, "as_of"),
        ({"as_of": "9999-12-31T23:00:00-05:00"}, 422, "as_of"),
    ],
)
async def test_bad_moments_get_a_clear_error(
    client: Client,
    auth: AuthSettings,
    params: dict[str, str],
    status: int,
    field: str,
) -> None:
    r = await client.get(
        f"/api/v1/schools/{A}/profile", params=params, headers=bearer(auth, Role.AUDITEUR, "*")
    )
    assert r.status_code == status, r.text
    error = r.json()["errors"][0]
    assert error["field"] == field
    assert error["message"]


async def test_territory_readers_read_their_territory_and_what_it_contains(
    client: Client,
    auth: AuthSettings,
) -> None:
    academie = bearer(auth, Role.LECTEUR, "academie:montpellier")
    r = await client.get(
        "/api/v1/territories/departement/34/profile",
        params={"as_of": "2025-01-01"},
        headers=academie,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["figures"]["schools"] == 2
    assert body["figures"]["answered"] == 1
    assert body["figures"]["index_distribution"]["3"] == 100.0
    assert [s["uai"] for s in body["schools"]] == [A, B]
    # One point a school year, from the first campaign, with ENT, GAR and label figures.
    [year] = body["evolution"]
    assert year["school_year"] == "2024-2025"
    assert year["label"]["schools"] == 2
    assert year["ent"]["schools_declared"] == 1
    assert year["gar_accesses"] == 0
    # Toulouse is outside Montpellier's scope; a circonscription reader cannot read the département.
    outside = await client.get("/api/v1/territories/academie/toulouse/profile", headers=academie)
    narrower = await client.get(
        "/api/v1/territories/departement/34/profile",
        headers=bearer(auth, Role.LECTEUR, "circonscription:34-C1"),
    )
    director = await client.get(
        "/api/v1/territories/departement/34/profile", headers=bearer(auth, Role.DIRECTEUR, A)
    )
    assert (outside.status_code, narrower.status_code, director.status_code) == (403, 403, 403)


async def test_unknown_territories_are_refused_clearly(client: Client, auth: AuthSettings) -> None:
    auditor = bearer(auth, Role.AUDITEUR, "*")
    level = await client.get("/api/v1/territories/canton/12/profile", headers=auditor)
    code = await client.get("/api/v1/territories/departement/99/profile", headers=auditor)
    assert level.status_code == 422
    assert level.json()["errors"][0]["field"] == "level"
    assert code.status_code == 404


@pytest.mark.parametrize("code", ["34%00", "%01", "x" * 65, "%20"])
@pytest.mark.parametrize("view", ["profile", "schools.csv", "label"])
async def test_a_code_no_territory_can_have_is_refused_before_any_lookup(
    client: Client, auth: AuthSettings, code: str, view: str
) -> None:
    r = await client.get(
        f"/api/v1/territories/departement/{code}/{view}", headers=bearer(auth, Role.AUDITEUR, "*")
    )
    assert r.status_code == 422, r.text
    (error,) = r.json()["errors"]
    assert error["field"] == "code"
    assert error["message"].startswith(("Code de territoire invalide", "Le texte contient"))


async def test_the_label_board_of_a_territory_refuses_a_past_moment_it_cannot_show(
    client: Client, auth: AuthSettings
) -> None:
    r = await client.get(
        "/api/v1/territories/departement/34/label",
        params={"as_of": "2025-01-01"},
        headers=bearer(auth, Role.AUDITEUR, "*"),
    )
    assert r.status_code == 422, r.text
    (error,) = r.json()["errors"]
    assert error["field"] == "as_of"
    assert "/api/v1/territories/departement/34/profile?as_of=" in error["message"]


async def test_the_school_rows_export_as_a_french_csv(client: Client, auth: AuthSettings) -> None:
    r = await client.get(
        "/api/v1/territories/circonscription/34-C1/schools.csv",
        params={"as_of": "2025-01-01"},
        headers=bearer(auth, Role.LECTEUR, "departement:34"),
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    lines = r.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("uai;nom;type;commune;a_repondu;indice_equipement")
    assert lines[1].startswith(f"{A};École Jules Ferry;ecole;Montpellier;oui;3;8;8;8;")
    # A school's usages as they stood then, and later.
    for moment, usages in (("2025-01-01", 2), ("2025-03-01", 1)):
        other = await client.get(
            "/api/v1/territories/circonscription/34-C2/schools.csv",
            params={"as_of": moment},
            headers=bearer(auth, Role.LECTEUR, "departement:34"),
        )
        row = other.content.decode("utf-8-sig").splitlines()[1]
        assert row.startswith(f"{B};")
        assert row.endswith(f";{usages};;")  # and no label, no ENT index


@pytest.mark.parametrize(
    ("limit", "told"),
    [
        ("0", "il doit valoir au moins 1"),
        ("501", "il doit valoir au plus 500"),
        ("dix", "un nombre entier est attendu"),
    ],
)
async def test_a_page_size_out_of_bounds_is_told_in_french(
    client: Client, auth: AuthSettings, limit: str, told: str
) -> None:
    r = await client.get(
        f"/api/v1/schools/{A}/history",
        params={"limit": limit},
        headers=bearer(auth, Role.AUDITEUR, "*"),
    )
    assert r.status_code == 400, r.text
    assert r.json()["errors"] == [
        {"field": "limit", "message": f"Paramètre limit invalide : {told}."}
    ]


async def test_the_history_is_for_auditors_admins_and_the_school_head(
    client: Client,
    auth: AuthSettings,
) -> None:
    url = f"/api/v1/schools/{A}/history"
    auditor = await client.get(url, params={"limit": 2}, headers=bearer(auth, Role.AUDITEUR, "*"))
    director = await client.get(url, headers=bearer(auth, Role.DIRECTEUR, A))
    reader = await client.get(url, headers=bearer(auth, Role.LECTEUR, "academie:montpellier"))
    other_admin = await client.get(url, headers=bearer(auth, Role.ADMIN, "academie:toulouse"))
    assert auditor.status_code == 200, auditor.text
    page = auditor.json()
    assert [e["type"] for e in page["entries"]] == ["SchoolRegistered", "DeclarationSubmitted"]
    assert page["next_cursor"]
    nxt = await client.get(
        url, params={"cursor": page["next_cursor"]}, headers=bearer(auth, Role.AUDITEUR, "*")
    )
    assert [e["type"] for e in nxt.json()["entries"]] == ["DeclarationSubmitted"]
    assert director.status_code == 200
    assert (reader.status_code, other_admin.status_code) == (403, 403)
    bad = await client.get(url, params={"cursor": "???"}, headers=bearer(auth, Role.AUDITEUR, "*"))
    assert bad.status_code == 422
    # Before the school's first event, its history is refused as its profile is.
    before = await client.get(
        url, params={"as_of": "2024-01-09"}, headers=bearer(auth, Role.AUDITEUR, "*")
    )
    assert before.status_code == 404, before.text
    assert before.json()["errors"][0]["message"] == (
        f"L'école {A} n'était pas encore enregistrée à cette date."
    )
    registered = await client.get(
        url, params={"as_of": "2024-01-10"}, headers=bearer(auth, Role.AUDITEUR, "*")
    )
    assert [e["type"] for e in registered.json()["entries"]] == ["SchoolRegistered"]


async def test_a_past_moment_is_answered_only_once_the_read_models_hold_all_of_it(
    database: DatabaseSettings,
) -> None:
    from services.declarations.app import open_application
    from services.declarations.demo import ADMIN
    from services.declarations.register_csv import parse_register
    from tests.support import REGISTER_CSV

    # An event recorded in the log but not yet projected.
    app = open_application(database, pool_size=1)
    app.import_register(parse_register(REGISTER_CSV.encode()), ADMIN)
    app.close()
    conn = await asyncpg.connect(database.url)
    try:
        await Timeline(conn).start(database)
        assert await projected_through(conn, at("2020-01-01T00:00:00"))
        assert not await projected_through(conn, at("2999-01-01T00:00:00"))
    finally:
        await conn.close()
