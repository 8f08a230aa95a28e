"""The admin's ENT and GAR imports over HTTP, in process, with a real PostgreSQL behind it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from events.values import Role
from infra.settings import AuthSettings, DatabaseSettings
from services.declarations.app import create_app
from services.declarations.application import DeclarationsApplication
from services.declarations.register_csv import parse_register
from tests.data_imports.conftest import REGION_ADMIN, YEAR
from tests.support import REGISTER_CSV, bearer

Client = AsyncTestClient[Litestar]

ENT = "uai;eleves;parents;enseignants;effectif\n0340001S;150;50;20;210\n0340002T;60;20;5;\n"
GAR = "uai;ressource;acces\n0340001S;Lalilo;1310\n0340001S;Éduthèque;42\n0340002T;Lalilo;7\n"


@pytest.fixture
async def client(database: DatabaseSettings, auth: AuthSettings) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(database, auth)) as test_client:
        app: DeclarationsApplication = test_client.app.state.declarations
        app.import_register(parse_register(REGISTER_CSV.encode()), REGION_ADMIN)
        app.open_campaign("montpellier", YEAR, date(2023, 6, 21), date(2023, 9, 27), REGION_ADMIN)
        yield test_client


def admin(auth: AuthSettings, scope: str = "academie:montpellier") -> dict[str, str]:
    return {**bearer(auth, Role.ADMIN, scope), "content-type": "text/csv"}


def stored(c: Client) -> int:
    app: DeclarationsApplication = c.app.state.declarations
    return app.recorder.max_notification_id() or 0


async def post_ent(
    c: Client, headers: dict[str, str], body: bytes, period: str = "1", year: str = YEAR
) -> httpx.Response:
    return await c.post(
        "/api/v1/admin/ent",
        params={"school_year": year, "period": period},
        content=body,
        headers=headers,
    )


async def post_gar(c: Client, headers: dict[str, str], body: bytes) -> httpx.Response:
    return await c.post(
        "/api/v1/admin/gar", params={"school_year": YEAR}, content=body, headers=headers
    )


def errors_of(r: httpx.Response, status: int) -> list[dict[str, Any]]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"errors"}
    errors: list[dict[str, Any]] = body["errors"]
    assert errors
    assert all(e["message"] for e in errors)
    return errors


async def test_the_admin_imports_an_ent_period_then_the_same_file_changes_nothing(
    client: Client, auth: AuthSettings
) -> None:
    r = await post_ent(client, admin(auth), ENT.encode())
    assert r.status_code == 200, r.text
    position = stored(client)
    assert r.json() == {
        "source": "declarations",
        "position": position,
        "recorded": 2,
        "unchanged": 0,
    }
    assert r.headers["X-Numecole-Position"] == f"declarations:{position}"
    # The same file again, in Latin-1 this time: nothing new is recorded.
    r = await post_ent(client, admin(auth), ENT.encode("latin-1"))
    assert r.json() == {
        "source": "declarations",
        "position": position,
        "recorded": 0,
        "unchanged": 2,
    }
    assert stored(client) == position


async def test_the_admin_imports_gar_accesses(client: Client, auth: AuthSettings) -> None:
    r = await post_gar(client, admin(auth, "region:occitanie"), GAR.encode())
    assert r.status_code == 200, r.text
    assert (r.json()["recorded"], r.json()["unchanged"]) == (2, 0)


async def test_a_gar_file_larger_than_an_ordinary_request_is_accepted(
    client: Client, auth: AuthSettings
) -> None:
    lines = [f"0340001S;Ressource numérique n° {i:05};{i}" for i in range(4_000)]
    body = ("uai;ressource;acces\n" + "\n".join(lines) + "\n").encode()
    assert len(body) > 64 * 1024
    r = await post_gar(client, admin(auth), body)
    assert r.status_code == 200, r.text
    assert r.json()["recorded"] == 1


async def test_a_bad_file_is_reported_per_line_and_nothing_is_stored(
    client: Client, auth: AuthSettings
) -> None:
    before = stored(client)
    body = ENT + "0340002T;1;1;1;\n0340003U;-4;1;1;\n0340004V;1;1;1;\n"
    errors = errors_of(await post_ent(client, admin(auth), body.encode()), 422)
    assert [(e["line"], e["field"]) for e in errors] == [(4, "uai"), (5, "eleves")]
    # Well formed, but a school the register does not know.
    body = ENT + "0340003U;4;1;1;\n"
    errors = errors_of(await post_ent(client, admin(auth), body.encode()), 422)
    assert [(e["line"], e["field"]) for e in errors] == [(4, "uai")]
    assert "Aucune école" in errors[0]["message"]
    assert stored(client) == before


@pytest.mark.parametrize(("period", "year", "field"), [("6", YEAR, "period"), ("1", "2023", "school_year"), ("1", "2022-2023", "school_year")])  # fmt: skip
async def test_a_wrong_period_or_year_is_refused(
    client: Client, auth: AuthSettings, period: str, year: str, field: str
) -> None:
    before = stored(client)
    errors = errors_of(await post_ent(client, admin(auth), ENT.encode(), period, year), 422)
    assert [e["field"] for e in errors] == [field]
    assert stored(client) == before


async def test_without_the_school_year_or_the_period_the_request_is_refused(
    client: Client, auth: AuthSettings
) -> None:
    r = await client.post("/api/v1/admin/gar", content=GAR.encode(), headers=admin(auth))
    assert [e["field"] for e in errors_of(r, 422)] == ["school_year"]
    r = await client.post("/api/v1/admin/ent", content=ENT.encode(), headers=admin(auth))
    assert [e["field"] for e in errors_of(r, 422)] == ["school_year", "period"]
    assert "1 à 5" in errors_of(r, 422)[1]["message"]


@pytest.mark.parametrize(
    ("role", "scope"),
    [(Role.DIRECTEUR, "0340001S"), (Role.LECTEUR, "academie:montpellier"),
     (Role.ADMIN, "academie:toulouse")],
)  # fmt: skip
async def test_only_the_admin_of_the_schools_academie_may_import(
    client: Client, auth: AuthSettings, role: Role, scope: str
) -> None:
    before = stored(client)
    headers = {**bearer(auth, role, scope), "content-type": "text/csv"}
    errors_of(await post_ent(client, headers, ENT.encode()), 403)
    errors_of(await post_gar(client, headers, GAR.encode()), 403)
    assert stored(client) == before


async def test_without_a_token_nothing_is_imported(client: Client) -> None:
    errors_of(await post_gar(client, {"content-type": "text/csv"}, GAR.encode()), 401)
