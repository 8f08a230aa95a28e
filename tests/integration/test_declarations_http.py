"""The declarations API over HTTP, in process, with a real PostgreSQL behind it.

Every bad input gets its status, the field(s) at fault and a French sentence, and leaves nothing
stored (the rows of `declarations.declarations_events` are counted before and after). Then the
stories of the happy path, the roles, and two writers racing on the same school.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jwt
import psycopg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from litestar.types import HTTPRequestEvent, Message

from events.declarations import SchoolDetailsChanged
from events.values import Role, uai_check_letter
from infra.auth import Principal
from infra.event_store import ConcurrentWriteError
from infra.settings import AuthSettings, DatabaseSettings
from services.declarations.app import create_app
from services.declarations.application import DeclarationsApplication
from services.declarations.domain import SchoolDeclarations, school_id
from tests.support import REGISTER_CSV, answers, bearer

Client = AsyncTestClient[Litestar]

UAI = "0340001S"  # École Jules Ferry, circonscription 34-C1, Montpellier
OTHER_UAI = "0340002T"  # École Marie Curie, same académie
TOULOUSE_UAI = "0310001H"
UNKNOWN_UAI = "0340003" + uai_check_letter("0340003")  # well formed, not in the register
LAST_YEAR = "2023-2024"
YEAR = "2024-2025"
CATALOGUE = [
    {
        "code": "PROGRAMMATION",
        "title": "Programmation",
        "summary": "Les élèves programment des robots ou des logiciels.",
    },
    {
        "code": "CORRESPONDANCE_SCOLAIRE",
        "title": "Correspondance scolaire",
        "summary": "Correspondance avec les outils numériques.",
    },
]
FRENCH_MARKERS = (
    " la ", " le ", " les ", " de ", " du ", " des ", " un ", " une ", " doit ", " est ", " pas ",
    " aucun", " à ", "introuvable", "invalide", "requise",
)  # fmt: skip


def looks_french(message: str) -> bool:
    """A sentence for a French reader, not an English library message."""
    text = f" {message.lower()} "
    return bool(message.strip()) and (
        any(word in text for word in FRENCH_MARKERS) or any(c in text for c in "éèêàçô«")
    )


def declaration_url(uai: str = UAI, school_year: str = YEAR) -> str:
    return f"/api/v1/schools/{uai}/declarations/{school_year}"


def director(auth: AuthSettings, uai: str = UAI) -> dict[str, str]:
    return bearer(auth, Role.DIRECTEUR, uai)


def admin(auth: AuthSettings, scope: str = "academie:montpellier") -> dict[str, str]:
    return bearer(auth, Role.ADMIN, scope)


def assert_errors(
    response: httpx.Response, status: int, fields: set[str] | None = None
) -> list[dict[str, Any]]:
    """The response is `status` with `{"errors": [...]}`, each error a French sentence; when
    `fields` is given, exactly those fields are at fault."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"errors"}, body
    errors: list[dict[str, Any]] = body["errors"]
    assert errors, body
    for error in errors:
        assert isinstance(error["field"], str), error
        assert looks_french(error["message"]), error
    if fields is not None:
        assert {e["field"] for e in errors} == fields, errors
    return errors


async def stored_events(database: DatabaseSettings) -> int:
    async with await psycopg.AsyncConnection.connect(database.url) as conn:
        cursor = await conn.execute("SELECT count(*) FROM declarations.declarations_events")
        row = await cursor.fetchone()
    assert row is not None
    count: int = row[0]
    return count


@asynccontextmanager
async def nothing_stored(database: DatabaseSettings) -> AsyncIterator[None]:
    before = await stored_events(database)
    yield
    assert await stored_events(database) == before, "a refused request stored something"


async def asgi_request(
    app: Litestar, method: str, path: str, headers: dict[str, str], chunks: list[bytes]
) -> tuple[int, bytes]:
    """One request straight to the ASGI app, its body in `chunks` and without content-length
    (chunked transfer). Unlike the test client, which serves one request at a time, several of
    these run concurrently on the event loop."""
    pending = list(chunks)
    sent: list[Message] = []

    async def receive() -> HTTPRequestEvent:
        body = pending.pop(0) if pending else b""
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    async def send(message: Message) -> None:
        sent.append(message)

    all_headers = {**headers, "content-type": "application/json"}
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in all_headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver.local", 80),
        "state": {},
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return int(start["status"]), body


@pytest.fixture
async def client(database: DatabaseSettings, auth: AuthSettings) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(database, auth)) as test_client:
        yield test_client


async def import_register(c: Client, auth: AuthSettings, csv: str) -> httpx.Response:
    return await c.post(
        "/api/v1/admin/register",
        content=csv.encode(),
        headers={**admin(auth, "region:occitanie"), "content-type": "text/csv"},
    )


async def open_campaign(c: Client, auth: AuthSettings, school_year: str) -> httpx.Response:
    rentree = int(school_year[:4])
    return await c.put(
        f"/api/v1/admin/academies/montpellier/campaigns/{school_year}",
        json={"opens_on": f"{rentree}-06-21", "closes_on": f"{rentree}-09-27"},
        headers=admin(auth),
    )


@pytest.fixture
async def seeded(client: Client, auth: AuthSettings) -> Client:
    """The register, the campaigns 2023-2024 and 2024-2025 of Montpellier, its catalogue."""
    assert (await import_register(client, auth, REGISTER_CSV)).status_code == 200
    for school_year in (LAST_YEAR, YEAR):
        r = await open_campaign(client, auth, school_year)
        assert r.status_code == 200, r.text
    r = await client.put(
        "/api/v1/admin/academies/montpellier/usage-catalogue",
        json={"usages": CATALOGUE},
        headers=admin(auth),
    )
    assert r.status_code == 200, r.text
    return client


def application_of(c: Client) -> DeclarationsApplication:
    app: DeclarationsApplication = c.app.state.declarations
    return app


# -- bad input: each refused with its status, its field and a French sentence, nothing stored ---


@pytest.mark.parametrize(
    "uai",
    [
        "0340001X",  # the check letter of 0340001 is S
        "034001S",  # six digits
        "0340001",  # no letter
        "0340001s",  # lower case
        "A340001S",
        "03400011S",
    ],
)
async def test_an_invalid_uai_is_refused(
    seeded: Client, auth: AuthSettings, database: DatabaseSettings, uai: str
) -> None:
    async with nothing_stored(database):
        r = await seeded.put(
            declaration_url(uai), json={"answers": answers()}, headers=director(auth)
        )
    [error] = assert_errors(r, 422, {"uai"})
    assert "UAI invalide" in error["message"]


async def test_an_unknown_school_is_not_found(
    seeded: Client, auth: AuthSettings, database: DatabaseSettings
) -> None:
    async with nothing_stored(database):
        r = await seeded.put(
            declaration_url(UNKNOWN_UAI),
            json={"answers": answers()},
            headers=director(auth, UNKNOWN_UAI),
        )
        [error] = assert_errors(r, 404)
        assert UNKNOWN_UAI in error["message"]
        r = await seeded.get(declaration_url(UNKNOWN_UAI), headers=director(auth, UNKNOWN_UAI))
        assert_errors(r, 404)


@pytest.mark.parametrize("school_year", ["2024", "2024-2026", "24-25", "2024_2025", "2025-2024"])
async def test_a_school_year_not_of_the_form_2024_2025_is_refused(
    seeded: Client, auth: AuthSettings, database: DatabaseSettings, school_year: str
) -> None:
    async with nothing_stored(database):
        r = await seeded.put(
            declaration_url(school_year=school_year),
            json={"answers": answers()},
            headers=director(auth),
        )
    [error] = assert_errors(r, 422, {"school_year"})
    assert "2024-2025" in error["message"]


async def test_a_school_year_without_campaign_is_refused(
    seeded: Client, auth: AuthSettings, database: DatabaseSettings
) -> None:
    async with nothing_stored(database):
        r = await seeded.put(
            declaration_url(school_year="2030-2031"),
            json={"answers": answers()},
            headers=director(auth),
        )
        [error] = assert_errors(r, 422, {"school_year"})
        assert "Aucune campagne" in error["message"]
        r = await seeded.post(
            declaration_url(school_year="2030-2031") + "/confirmation", headers=director(auth)
        )
        assert_errors(r, 422, {"school_year"})


async def test_a_college_does_not_declare_even_with_a_directors_token(
    seeded: Client, auth: AuthSettings, database: DatabaseSettings
) -> None:
    college = "0340501K"
    async with nothing_stored(database):
        r = await seeded.put(
            declaration_url(college), json={"answers": answers()}, headers=director(auth, college)
        )
        [error] = assert_errors(r, 422, {"uai"})
        assert error["message"] == (
            "L'établissement 0340501K est un collège : seules les écoles déclarent leur "
            "équipement et leurs usages."
        )
        r = await seeded.put(
            f"/api/v1/schools/{college}/usages/PROGRAMMATION", headers=director(auth, college)
        )
        assert_errors(r, 422, {"uai"})


@pytest.mark.parametrize("missing", ["A1", "B1", "C3"])
async def test_a_missing_question_is_refused(
    seeded: Client, auth: AuthSettings, database: DatabaseSettings, missing: str
) -> None:
    given = answers()
    del given[missing]
    async with nothing_stored(database):
        r = await seeded.put(declaration_url(), json={"answers": given}, headers=director(auth))
    [error] = assert_errors(r, 422, {missing})
    assert "sans réponse" in error["message"]


@pytest.mark.parametrize(
    ("code", "value", "expected"),
    [
        ("A1", "8", "nombre entier"),
        ("A3", 1.5, "nombre entier"),
        ("C1", True, "nombre entier"),
        ("B1", None, "nombre entier"),
        ("A4", "oui", "oui (true) ou non (false)"),
        ("A7", 1, "oui (true) ou non (false)"),
        ("A2", 1, "ADSL, FIBRE ou NE_SAIT_PAS"),
        ("A5", {"valeur": True}, "oui (true) ou non (false)"),
        ("C2", [1], "nombre entier"),
    ],
)
async def test_a_value_of_the_wrong_type_is_refused(
    seeded: Client,
    auth: AuthSettings,
    database: DatabaseSettings,
    code: str,
    value: Any,
    expected: str,
) -> None:
    async with nothing_stored(database):
        r = await seeded.put(
            declaration_url(), json={"answers": answers(**{code: value})}, headers=director(auth)
        )
    [error] = assert_errors(r, 422, {code})
    assert expected in error["message"]


@pytest.mark.parametrize("code", ["A3", "B1", "B2", "B3", "C1", "C2", "C3"])
async def test_a_negative_number_is_refused(
    seeded: Client, auth: AuthSettings, database: DatabaseSettings, code: str
) -> None:
    async with nothing_stored(database):
        r = await seeded.put(
            declaration_url(), json={"answers": answers(**{code: -1})}, headers=director(auth)
        )
    [error] = assert_errors(r, 422, {code})
    assert "négative" in error["message"]


@pytest.mark.parametrize("classes", [0, 61, 100])
async def test_a_number_of_classes_outside_1_to_60_is_refused(
    seeded: Client, auth: AuthSettings, database: DatabaseSettings, classes: int
) -> None:
    given = answers(A1=classes, B1=0, B2=0, B3=0, C3=0)
    async with nothing_stored(database):
        r = await seeded.put(declaration_url(), json={"answers": given}, headers=director(auth))
    [error] = assert_errors(r, 422, {"A1"})
    assert "entre 1 et 60" in error["message"]


@pytest.mark.parametrize("code", ["B1", "B2", "B3", "C3"])
async def test_classes_equipped_above_the_number_of_classes_are_refused(
    seeded: Client, auth: AuthSettings, database: DatabaseSettings, code: str
) -> None:
    given = answers(A1=8, B1=0, B2=0, B3=0, C3=0)
    given[code] = 9
    async with nothing_stored(database):
        r = await seeded.put(declaration_url(), json={"answers": given}, headers=director(auth))
    # B2 or B3 alone above A1 also breaks B2 + B3 <= A1 (reported on B2).
    errors = assert_errors(r, 422, {code} | ({"B2"} if code in ("B2", "B3") else set()))
    assert any(
        e["field"] == code
        and "ne peut dépasser le nombre de classes de l'école (8)" in e["message"]
        for e in errors
    )


async def test_simple_and_interactive_projectors_above_the_number_of_classes_are_refused(
    seeded: Client, auth: AuthSettings, database: DatabaseSettings
) -> None:
    given = answers(A1=8, B2=5, B3=4)  # each alone fits, together 9 > 8
    async with nothing_stored(database):
        r = await seeded.put(declaration_url(), json={"answers": given}, headers=director(auth))
    [error] = assert_errors(r, 422, {"B2"})
    assert "B2 + B3 (9)" in error["message"]


@pytest.mark.parametrize("internet", ["4G", "fibre", "", "SATELLITE"])
async def test_an_unknown_internet_value_is_refused(
    seeded: Client, auth: AuthSettings, database: DatabaseSettings, internet: str
) -> None:
    async with nothing_stored(database):
        r = await seeded.put(
            declaration_url(), json={"answers": answers(A2=internet)}, headers=director(auth)
        )
    [error] = assert_errors(r, 422, {"A2"})
    assert "ADSL, FIBRE ou NE_SAIT_PAS" in error["message"]


async def test_unknown_questions_and_usages_within_the_answers_are_refused(
    seeded: Client, auth: AuthSettings, database: DatabaseSettings
) -> None:
    given = answers(Z9=1, D1=["PROGRAMMATION"])
    async with nothing_stored(database):
        r = await seeded.put(declaration_url(), json={"answers": given}, headers=director(auth))
    errors = assert_errors(r, 422, {"Z9", "D1"})
    assert any("n'existe pas" in e["message"] for e in errors)


async def test_every_broken_rule_is_reported_at_once(
    seeded: Client, auth: AuthSettings, database: DatabaseSettings
) -> None:
    given = answers(A1=8, A2="4G", A3=-2, A4="non", B1=9, B2=2, B3=7, C3=12, X1=0)
    del given["C2"]
    async with nothing_stored(database):
        r = await seeded.put(
            declaration_url(school_year="2030-2031"),
            json={"answers": given},
            headers=director(auth),
        )
    errors = assert_errors(r, 422)
    assert {e["field"] for e in errors} == {
        "school_year", "X1", "A2", "A3", "A4", "B1", "B2", "C2", "C3",
    }  # fmt: skip


@pytest.mark.parametrize("code", ["NOPE", "programmation", "ROBOTIQUE_PEDAGOGIQUE"])
async def test_an_unknown_usage_code_is_refused(
    seeded: Client, auth: AuthSettings, database: DatabaseSettings, code: str
) -> None:
    async with nothing_stored(database):
        r = await seeded.put(f"/api/v1/schools/{UAI}/usages/{code}", headers=director(auth))
    [error] = assert_errors(r, 422, {"code"})
    assert "Usage inconnu" in error["message"]


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"answers": {"A1": 8,}}',
        b'{"answers": {}} trailing',
        b"\xef\xbb\xbf{}",  # a byte order mark
        b'{"answers": {"\xe9": 1}}',  # not UTF-8
        b'{"answers": {"A1": ' + b"[" * 5000 + b"]" * 5000 + b"}}",  # nested past any stack
        b'{"answers": {"A2": "\\ud800"}}',  # a lone surrogate
        b"NaN",
        b"   ",
    ],
)
async def test_a_body_that_is_not_json_is_refused(
    seeded: Client, auth: AuthSettings, database: DatabaseSettings, body: bytes
) -> None:
    async with nothing_stored(database):
        r = await seeded.put(
            declaration_url(),
            content=body,
            headers={**director(auth), "content-type": "application/json"},
        )
    [error] = assert_errors(r, 400, {"body"})
    assert "JSON valide" in error["message"]


@pytest.mark.parametrize(
    ("body", "field", "expected"),
    [
        ([answers()], "body", "doit être un objet JSON, pas un tableau JSON"),
        (None, "body", "est vide"),  # httpx sends no body at all
        ("answers", "body", "doit être un objet JSON"),
        (8, "body", "doit être un objet JSON"),
        ({}, "answers", "« answers » est obligatoire"),
        ({"reponses": answers()}, "reponses", "n'est pas attendu"),
        ({"answers": answers(), "usages": ["PROGRAMMATION"]}, "usages", "n'est pas attendu"),
        ({"answers": list(answers().items())}, "answers", "doit être un objet JSON"),
        ({"answers": None}, "answers", "doit être un objet JSON"),
    ],
)
async def test_json_of_the_wrong_shape_is_refused(
    seeded: Client,
    auth: AuthSettings,
    database: DatabaseSettings,
    body: Any,
    field: str,
    expected: str,
) -> None:
    async with nothing_stored(database):
        r = await seeded.put(declaration_url(), json=body, headers=director(auth))
    [error] = assert_errors(r, 422, {field})
    assert expected in error["message"]


@pytest.mark.parametrize(
    ("number", "field", "expected"),
    [
        (b"1" + b"0" * 400, "A1", "ne peut dépasser 9999"),
        (b"-" + b"9" * 30, "A1", "ne peut pas être négative"),
        (b"1e400", "body", "dépasse les limites"),
        (b"9" * 5000, "body", "dépasse les limites"),  # more digits than Python converts
    ],
)
async def test_a_number_no_answer_can_hold_is_refused(
    seeded: Client,
    auth: AuthSettings,
    database: DatabaseSettings,
    number: bytes,
    field: str,
    expected: str,
) -> None:
    body = b'{"answers": {"A1": ' + number + b', "A2": "FIBRE"}}'
    async with nothing_stored(database):
        r = await seeded.put(
            declaration_url(),
            content=body,
            headers={**director(auth), "content-type": "application/json"},
        )
    errors = assert_errors(r, 422)
    assert any(e["field"] == field and expected in e["message"] for e in errors), errors


async def test_a_json_null_body_is_refused(
    seeded: Client, auth: AuthSettings, database: DatabaseSettings
) -> None:
    async with nothing_stored(database):
        r = await seeded.put(
            declaration_url(),
            content=b"null",
            headers={**director(auth), "content-type": "application/json"},
        )
    [error] = assert_errors(r, 422, {"body"})
    assert "doit être un objet JSON, pas la valeur null" in error["message"]


async def test_a_body_above_64_kib_is_refused(
    seeded: Client, auth: AuthSettings, database: DatabaseSettings
) -> None:
    padded = answers(A2="FIBRE" + " " * (64 * 1024))
    async with nothing_stored(database):
        r = await seeded.put(declaration_url(), json={"answers": padded}, headers=director(auth))
    [error] = assert_errors(r, 413, {"body"})
    assert "64 Kio" in error["message"]


async def test_a_streamed_body_above_64_kib_without_length_is_refused(
    seeded: Client, auth: AuthSettings, database: DatabaseSettings
) -> None:
    """Chunked transfer: no content-length to refuse up front, the limit holds while reading."""
    chunks = [b'{"answers": {"A2": "', *[b"x" * 4096] * 20, b'"}}']
    async with nothing_stored(database):
        status, body = await asgi_request(
            seeded.app, "PUT", declaration_url(), director(auth), chunks
        )
    assert status == 413, body
    assert "64 Kio" in json.loads(body)["errors"][0]["message"]


async def test_a_director_may_not_write_for_another_school(
    seeded: Client, auth: AuthSettings, database: DatabaseSettings
) -> None:
    async with nothing_stored(database):
        r = await seeded.put(
            declaration_url(OTHER_UAI), json={"answers": answers()}, headers=director(auth)
        )
        [error] = assert_errors(r, 403)
        assert OTHER_UAI in error["message"]
        r = await seeded.post(declaration_url(OTHER_UAI) + "/confirmation", headers=director(auth))
        assert_errors(r, 403)
        r = await seeded.put(
            f"/api/v1/schools/{OTHER_UAI}/usages/PROGRAMMATION", headers=director(auth)
        )
        assert_errors(r, 403)
        r = await seeded.delete(
            f"/api/v1/schools/{OTHER_UAI}/usages/PROGRAMMATION", headers=director(auth)
        )
        assert_errors(r, 403)
        r = await seeded.get(declaration_url(OTHER_UAI), headers=director(auth))
        assert_errors(r, 403)


def _token(claims: dict[str, Any], key: str, algorithm: str = "HS256") -> str:
    base = {
        "sub": "directeur-0340001S",
        "role": "directeur",
        "scope": UAI,
        "iss": "numecole",
        "aud": "numecole",
        "iat": int(time.time()),
        "exp": int(time.time()) + 3600,
    }
    return jwt.encode({**base, **claims}, key, algorithm=algorithm)


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="no-token"),
        pytest.param(lambda key: "Bearer", id="empty-bearer"),
        pytest.param(lambda key: "Basic dXNlcjpwYXNz", id="basic"),
        pytest.param(lambda key: "Bearer not.a.token", id="garbage"),
        pytest.param(
            lambda key: "Bearer " + _token({"exp": int(time.time()) - 60}, key), id="expired"
        ),
        pytest.param(lambda key: "Bearer " + _token({}, "", "none"), id="unsigned"),
        pytest.param(
            lambda key: "Bearer " + _token({}, "une-autre-clé-" + "x" * 32), id="other-key"
        ),
        pytest.param(lambda key: "Bearer " + _token({"aud": "ailleurs"}, key), id="audience"),
        pytest.param(lambda key: "Bearer " + _token({"role": "roi"}, key), id="unknown-role"),
        pytest.param(
            lambda key: "Bearer " + _token({"scope": "departement:34"}, key), id="scope-role"
        ),
    ],
)
async def test_a_request_without_a_valid_token_is_refused(
    seeded: Client,
    auth: AuthSettings,
    database: DatabaseSettings,
    authorization: Callable[[str], str] | None,
) -> None:
    assert auth.dev_key is not None
    headers = {} if authorization is None else {"Authorization": authorization(auth.dev_key)}
    async with nothing_stored(database):
        r = await seeded.put(declaration_url(), json={"answers": answers()}, headers=headers)
        [error] = assert_errors(r, 401)
        assert "Authentification requise" in error["message"]
        r = await seeded.get(declaration_url(), headers=headers)
        assert_errors(r, 401)


# -- the director's stories ---------------------------------------------------------------------


async def test_a_first_declaration_is_stored_and_read_back(
    seeded: Client, auth: AuthSettings, database: DatabaseSettings
) -> None:
    before = await stored_events(database)
    given = answers(A2="ADSL", B1=8, C1=1)
    r = await seeded.put(declaration_url(), json={"answers": given}, headers=director(auth))
    assert r.status_code == 200, r.text
    receipt = r.json()
    assert receipt["source"] == "declarations"
    assert r.headers["x-numecole-position"] == f"declarations:{receipt['position']}"
    assert await stored_events(database) == before + 1

    r = await seeded.get(declaration_url(), headers=director(auth))
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["declared"] is True
    assert view["answers"] == given
    assert list(view["answers"]) == [*answers()]  # in question order
    assert view["confirmed"] is False
    assert view["recorded_by"] == f"directeur-{UAI}"
    assert view["recorded_at"]
    assert view["prefill"] is None
    assert view["usages"] == []


async def test_a_school_that_has_not_answered_reads_an_empty_declaration(
    seeded: Client, auth: AuthSettings
) -> None:
    r = await seeded.get(declaration_url(), headers=director(auth))
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["declared"] is False
    assert view["answers"] is None
    assert view["prefill"] is None


async def test_confirming_next_year_repeats_the_last_answers(
    seeded: Client, auth: AuthSettings, database: DatabaseSettings
) -> None:
    last = answers(A1=10, B1=3, B2=4, B3=1, C3=2)
    r = await seeded.put(
        declaration_url(school_year=LAST_YEAR), json={"answers": last}, headers=director(auth)
    )
    assert r.status_code == 200, r.text

    r = await seeded.get(declaration_url(), headers=director(auth))
    view = r.json()
    assert view["declared"] is False
    assert view["prefill"] == last
    assert view["prefill_from"] == LAST_YEAR

    before = await stored_events(database)
    r = await seeded.post(declaration_url() + "/confirmation", headers=director(auth))
    assert r.status_code == 200, r.text
    assert await stored_events(database) == before + 1

    r = await seeded.get(declaration_url(), headers=director(auth))
    view = r.json()
    assert view["declared"] is True
    assert view["confirmed"] is True
    assert view["answers"] == last
    assert view["prefill"] is None
    # The year before keeps its own answers.
    r = await seeded.get(declaration_url(school_year=LAST_YEAR), headers=director(auth))
    assert r.json()["answers"] == last
    assert r.json()["confirmed"] is False


async def test_changing_some_answers_next_year_is_an_update(
    seeded: Client, auth: AuthSettings
) -> None:
    await seeded.put(
        declaration_url(school_year=LAST_YEAR), json={"answers": answers()}, headers=director(auth)
    )
    changed = answers(B1=8, B3=6, B2=0)
    r = await seeded.put(declaration_url(), json={"answers": changed}, headers=director(auth))
    assert r.status_code == 200, r.text
    view = (await seeded.get(declaration_url(), headers=director(auth))).json()
    assert view["answers"] == changed
    assert view["confirmed"] is False


async def test_confirming_with_nothing_before_is_a_conflict(
    seeded: Client, auth: AuthSettings, database: DatabaseSettings
) -> None:
    async with nothing_stored(database):
        r = await seeded.post(declaration_url() + "/confirmation", headers=director(auth))
    [error] = assert_errors(r, 409)
    assert "Aucune déclaration antérieure à 2024-2025" in error["message"]


async def test_confirming_the_first_year_answered_is_a_conflict(
    seeded: Client, auth: AuthSettings, database: DatabaseSettings
) -> None:
    """Answers of the same year, or of a later one, are not what a confirmation repeats."""
    await seeded.put(declaration_url(), json={"answers": answers()}, headers=director(auth))
    async with nothing_stored(database):
        r = await seeded.post(
            declaration_url(school_year=LAST_YEAR) + "/confirmation", headers=director(auth)
        )
    assert_errors(r, 409)


async def test_confirming_a_year_already_answered_does_not_undo_the_answers(
    seeded: Client, auth: AuthSettings, database: DatabaseSettings
) -> None:
    """A second click on « confirmer » after an update must not bring last year's back."""
    await seeded.put(
        declaration_url(school_year=LAST_YEAR), json={"answers": answers()}, headers=director(auth)
    )
    updated = answers(B1=8, B2=0, B3=8)
    await seeded.put(declaration_url(), json={"answers": updated}, headers=director(auth))
    async with nothing_stored(database):
        r = await seeded.post(declaration_url() + "/confirmation", headers=director(auth))
    [error] = assert_errors(r, 409)
    assert "déjà répondu pour 2024-2025" in error["message"]
    view = (await seeded.get(declaration_url(), headers=director(auth))).json()
    assert view["answers"] == updated


async def test_a_whole_academie_register_is_imported_in_one_request(
    client: Client, auth: AuthSettings
) -> None:
    """Far above the 64 KiB of ordinary requests: a register of 3,000 écoles."""
    lines = [REGISTER_CSV.splitlines()[0]]
    for n in range(3000):
        digits = f"034{n + 1000:04d}"
        uai = digits + uai_check_letter(digits)
        lines.append(f"{uai};École {n};école;120;Montpellier;34-C{n % 20};;34;Montpellier")
    body = "\n".join(lines) + "\n"
    assert len(body.encode()) > 64 * 1024
    r = await import_register(client, auth, body)
    assert r.status_code == 200, r.text
    assert r.json()["registered"] == 3000


async def test_usages_are_added_and_removed_idempotently(
    seeded: Client, auth: AuthSettings, database: DatabaseSettings
) -> None:
    url = f"/api/v1/schools/{UAI}/usages/PROGRAMMATION"
    before = await stored_events(database)
    r = await seeded.put(url, headers=director(auth))
    assert r.status_code == 200, r.text
    assert await stored_events(database) == before + 1
    async with nothing_stored(database):  # already there: nothing new
        r = await seeded.put(url, headers=director(auth))
    assert r.status_code == 200, r.text
    r = await seeded.put(
        f"/api/v1/schools/{UAI}/usages/CORRESPONDANCE_SCOLAIRE", headers=director(auth)
    )
    assert r.status_code == 200, r.text
    view = (await seeded.get(declaration_url(), headers=director(auth))).json()
    assert view["usages"] == ["CORRESPONDANCE_SCOLAIRE", "PROGRAMMATION"]

    r = await seeded.delete(url, headers=director(auth))
    assert r.status_code == 200, r.text
    assert await stored_events(database) == before + 3
    async with nothing_stored(database):  # already gone: nothing new
        r = await seeded.delete(url, headers=director(auth))
        assert r.status_code == 200, r.text
        r = await seeded.delete(
            f"/api/v1/schools/{UAI}/usages/JAMAIS_DECLARE", headers=director(auth)
        )
        assert r.status_code == 200, r.text
    view = (await seeded.get(declaration_url(), headers=director(auth))).json()
    assert view["usages"] == ["CORRESPONDANCE_SCOLAIRE"]


# -- the académie's admin ---------------------------------------------------------------------


async def test_an_admin_opens_a_campaign_once(
    seeded: Client, auth: AuthSettings, database: DatabaseSettings
) -> None:
    url = "/api/v1/admin/academies/montpellier/campaigns/2025-2026"
    body = {"opens_on": "2025-06-20", "closes_on": "2025-09-26"}
    r = await seeded.put(url, json=body, headers=admin(auth))
    assert r.status_code == 200, r.text
    r = await seeded.put(
        declaration_url(school_year="2025-2026"),
        json={"answers": answers()},
        headers=director(auth),
    )
    assert r.status_code == 200, r.text
    async with nothing_stored(database):
        r = await seeded.put(url, json=body, headers=admin(auth))
        [error] = assert_errors(r, 409)
        assert "déjà ouverte" in error["message"]


@pytest.mark.parametrize(
    ("school_year", "body", "fields"),
    [
        ("2026-2027", {"opens_on": "2026-09-27", "closes_on": "2026-06-21"}, {"closes_on"}),
        ("2026-2027", {"opens_on": "2030-06-21", "closes_on": "2030-09-27"}, {"opens_on"}),
        ("2026", {"opens_on": "2026-06-21", "closes_on": "2026-09-27"}, {"school_year"}),
        ("2026-2027", {"opens_on": "21/06/2026", "closes_on": "2026-09-27"}, {"opens_on"}),
        ("2026-2027", {"opens_on": "2026-02-30", "closes_on": "2026-09-27"}, {"opens_on"}),
        ("2026-2027", {"opens_on": "2026-06-21"}, {"closes_on"}),
        ("2026-2027", {"opens_on": 20260621, "closes_on": "2026-09-27"}, {"opens_on"}),
    ],
)
async def test_a_campaign_with_bad_dates_is_refused(
    seeded: Client,
    auth: AuthSettings,
    database: DatabaseSettings,
    school_year: str,
    body: dict[str, Any],
    fields: set[str],
) -> None:
    async with nothing_stored(database):
        r = await seeded.put(
            f"/api/v1/admin/academies/montpellier/campaigns/{school_year}",
            json=body,
            headers=admin(auth),
        )
    assert_errors(r, 422, fields)
    if "school_year" in fields:
        message = "Année scolaire « 2026 » invalide : attendu la forme 2024-2025."
        assert message in [e["message"] for e in r.json()["errors"]]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda auth: admin(auth, "academie:toulouse"), id="other-academie"),
        pytest.param(lambda auth: director(auth), id="director"),
        pytest.param(lambda auth: bearer(auth, Role.LECTEUR, "region:occitanie"), id="reader"),
        pytest.param(lambda auth: bearer(auth, Role.AUDITEUR, "*"), id="auditor"),
    ],
)
async def test_only_the_academie_admin_administers_it(
    seeded: Client,
    auth: AuthSettings,
    database: DatabaseSettings,
    headers: Callable[[AuthSettings], dict[str, str]],
) -> None:
    async with nothing_stored(database):
        r = await seeded.put(
            "/api/v1/admin/academies/montpellier/campaigns/2025-2026",
            json={"opens_on": "2025-06-20", "closes_on": "2025-09-26"},
            headers=headers(auth),
        )
        assert_errors(r, 403)
        r = await seeded.put(
            "/api/v1/admin/academies/montpellier/usage-catalogue",
            json={"usages": CATALOGUE[:1]},
            headers=headers(auth),
        )
        assert_errors(r, 403)
        r = await seeded.post(
            "/api/v1/admin/register",
            content=REGISTER_CSV.replace("34-C1", "34-C9").encode(),
            headers={**headers(auth), "content-type": "text/csv"},
        )
        assert_errors(r, 403)


async def test_the_usage_catalogue_is_versioned(
    seeded: Client, auth: AuthSettings, database: DatabaseSettings
) -> None:
    url = "/api/v1/admin/academies/montpellier/usage-catalogue"
    r = await seeded.get("/api/v1/academies/montpellier/usage-catalogue", headers=director(auth))
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 1
    assert [u["code"] for u in r.json()["usages"]] == [u["code"] for u in CATALOGUE]
    async with nothing_stored(database):  # the same catalogue again: no new version
        r = await seeded.put(url, json={"usages": CATALOGUE}, headers=admin(auth))
        assert r.status_code == 200, r.text
    robots = {"code": "ROBOTIQUE_PEDAGOGIQUE", "title": "Robotique", "summary": "Des robots."}
    r = await seeded.put(url, json={"usages": [*CATALOGUE, robots]}, headers=admin(auth))
    assert r.status_code == 200, r.text
    r = await seeded.get("/api/v1/academies/montpellier/usage-catalogue", headers=director(auth))
    assert r.json()["version"] == 2
    r = await seeded.put(
        f"/api/v1/schools/{UAI}/usages/ROBOTIQUE_PEDAGOGIQUE", headers=director(auth)
    )
    assert r.status_code == 200, r.text
    r = await seeded.get("/api/v1/academies/toulouse/usage-catalogue", headers=director(auth))
    assert_errors(r, 404)


@pytest.mark.parametrize(
    ("usages", "fields"),
    [
        ([], {"usages"}),
        ([{"code": "bas de casse", "title": "T", "summary": "S"}], {"usages[0].code"}),
        ([CATALOGUE[0], CATALOGUE[0]], {"usages[1].code"}),
        ([{"code": "VIDE", "title": "  ", "summary": "S"}], {"usages[0].title"}),
        ([{"code": "SANS_TITRE", "summary": "S"}], {"usages[0].title"}),
        ([{"code": "NUL", "title": "Robotique\x00", "summary": "S"}], {"usages[0].title"}),
        ([{"code": "BIP", "title": "R", "summary": "Des robots\x07"}], {"usages[0].summary"}),
        ("PROGRAMMATION", {"usages"}),
    ],
)
async def test_a_bad_usage_catalogue_is_refused(
    seeded: Client,
    auth: AuthSettings,
    database: DatabaseSettings,
    usages: Any,
    fields: set[str],
) -> None:
    async with nothing_stored(database):
        r = await seeded.put(
            "/api/v1/admin/academies/montpellier/usage-catalogue",
            json={"usages": usages},
            headers=admin(auth),
        )
    assert_errors(r, 422, fields)


async def test_the_register_import_records_only_changes(
    client: Client, auth: AuthSettings, database: DatabaseSettings
) -> None:
    r = await import_register(client, auth, REGISTER_CSV)
    assert r.status_code == 200, r.text
    assert r.json() | {"position": 0} == {
        "registered": 4, "changed": 0, "unchanged": 0, "position": 0,
    }  # fmt: skip
    assert await stored_events(database) == 4

    # The same file again, even in Latin-1 with `,`: nothing changes.
    async with nothing_stored(database):
        r = await import_register(client, auth, REGISTER_CSV)
        assert r.status_code == 200, r.text
        assert r.json()["unchanged"] == 4
        assert r.json()["registered"] == r.json()["changed"] == 0
        r = await client.post(
            "/api/v1/admin/register",
            content=REGISTER_CSV.replace(";", ",").encode("latin-1"),
            headers={**admin(auth, "region:occitanie"), "content-type": "text/csv"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["unchanged"] == 4

    # Jules Ferry moves to circonscription 34-C2: one change, recorded as such.
    moved = REGISTER_CSV.replace("Montpellier;34-C1", "Montpellier;34-C2")
    r = await import_register(client, auth, moved)
    assert r.status_code == 200, r.text
    assert (r.json()["registered"], r.json()["changed"], r.json()["unchanged"]) == (0, 1, 3)
    assert await stored_events(database) == 5
    history = application_of(client).stream(school_id(UAI))
    assert len(history) == 2
    change = history[-1]
    assert isinstance(change, SchoolDetailsChanged)
    assert change.changed == ["circonscription"]
    assert change.details.circonscription == "34-C2"
    assert change.actor.role == "admin"


@pytest.mark.parametrize(
    ("csv", "fields"),
    [
        pytest.param(REGISTER_CSV.replace("0340002T", "0340002X"), {"uai"}, id="check-letter"),
        pytest.param(REGISTER_CSV.replace(";210;", ";deux cents;"), {"eleves"}, id="pupils"),
        pytest.param(REGISTER_CSV.replace("école;95", "crèche;95"), {"type"}, id="kind"),
        pytest.param(REGISTER_CSV.replace("34-C2", ""), {"circonscription"}, id="no-circo"),
        pytest.param(
            REGISTER_CSV + "0340001S;Doublon;école;1;X;34-C1;;34;Montpellier\n", {"uai"}, id="twice"
        ),
        pytest.param("uai;nom\n0340001S;X\n", {"entete"}, id="header"),
        pytest.param("", {"fichier"}, id="empty"),
        pytest.param(REGISTER_CSV.splitlines()[0] + "\n", {"fichier"}, id="no-school"),
    ],
)
async def test_a_bad_register_stores_nothing(
    client: Client,
    auth: AuthSettings,
    database: DatabaseSettings,
    csv: str,
    fields: set[str],
) -> None:
    assert (await import_register(client, auth, REGISTER_CSV)).status_code == 200
    async with nothing_stored(database):
        r = await import_register(client, auth, csv)
    assert_errors(r, 422, fields)


async def test_a_register_with_a_non_ascii_digit_is_refused(
    client: Client, auth: AuthSettings, database: DatabaseSettings
) -> None:
    async with nothing_stored(database):
        r = await import_register(client, auth, REGISTER_CSV.replace(";210;", ";2²;"))
    assert_errors(r, 422, {"eleves"})


# -- who may do what --------------------------------------------------------------------------


async def test_a_territory_reader_may_read_but_not_declare(
    seeded: Client, auth: AuthSettings, database: DatabaseSettings
) -> None:
    await seeded.put(declaration_url(), json={"answers": answers()}, headers=director(auth))
    reader = bearer(auth, Role.LECTEUR, "departement:34")
    r = await seeded.get(declaration_url(), headers=reader)
    assert r.status_code == 200, r.text
    assert r.json()["answers"] == answers()
    async with nothing_stored(database):
        r = await seeded.put(declaration_url(), json={"answers": answers(A3=5)}, headers=reader)
        assert_errors(r, 403)
        r = await seeded.post(declaration_url() + "/confirmation", headers=reader)
        assert_errors(r, 403)
        r = await seeded.put(f"/api/v1/schools/{UAI}/usages/PROGRAMMATION", headers=reader)
        assert_errors(r, 403)
        # Outside the reader's département: not even a read.
        r = await seeded.get(declaration_url(TOULOUSE_UAI), headers=reader)
        assert_errors(r, 403)


@pytest.mark.parametrize(
    ("role", "scope"),
    [
        (Role.REFERENT, UAI),
        (Role.CHEF, UAI),
        (Role.CONSEILLER, "circonscription:34-C1"),
        (Role.ADMIN, "academie:montpellier"),
        (Role.AUDITEUR, "*"),
    ],
)
async def test_only_the_director_declares(
    seeded: Client, auth: AuthSettings, database: DatabaseSettings, role: Role, scope: str
) -> None:
    headers = bearer(auth, role, scope)
    async with nothing_stored(database):
        r = await seeded.put(declaration_url(), json={"answers": answers()}, headers=headers)
        [error] = assert_errors(r, 403)
        assert role.value in error["message"]
        r = await seeded.put(f"/api/v1/schools/{UAI}/usages/PROGRAMMATION", headers=headers)
        assert_errors(r, 403)
    r = await seeded.get(declaration_url(), headers=headers)
    assert r.status_code == 200, r.text


# -- two writers racing on the same school ------------------------------------------------------


def _after_reading_wait_for(
    application: DeclarationsApplication, barrier: threading.Barrier
) -> Callable[[str], SchoolDeclarations]:
    """`_declarations`, then wait until the other writer has read the same version."""
    read = application._declarations

    def both_read(uai: str) -> SchoolDeclarations:
        state = read(uai)
        barrier.wait(timeout=10)
        return state

    return both_read


async def test_two_racing_writers_one_wins_the_other_conflicts(
    seeded: Client, auth: AuthSettings, database: DatabaseSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    application = application_of(seeded)
    monkeypatch.setattr(
        application, "_declarations", _after_reading_wait_for(application, threading.Barrier(2))
    )
    before = await stored_events(database)
    # Straight to the ASGI app: the test client would serve the two one after the other.
    first, second = await asyncio.gather(
        *(
            asgi_request(
                seeded.app,
                "PUT",
                declaration_url(),
                director(auth),
                [json.dumps({"answers": answers(A3=robots)}).encode()],
            )
            for robots in (1, 2)
        )
    )
    assert sorted([first[0], second[0]]) == [200, 409], (first, second)
    loser = first if first[0] == 409 else second
    [error] = json.loads(loser[1])["errors"]
    assert "en même temps" in error["message"]
    assert looks_french(error["message"])
    assert await stored_events(database) == before + 1
    winner_a3 = 1 if first[0] == 200 else 2
    monkeypatch.undo()
    view = (await seeded.get(declaration_url(), headers=director(auth))).json()
    assert view["answers"]["A3"] == winner_a3


async def test_two_racing_threads_on_the_application_one_wins(
    seeded: Client, database: DatabaseSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    application = application_of(seeded)
    monkeypatch.setattr(
        application, "_declarations", _after_reading_wait_for(application, threading.Barrier(2))
    )
    by = Principal(user_id="directeur-jf", role=Role.DIRECTEUR, scope=UAI)
    before = await stored_events(database)

    def submit(robots: int) -> int:
        return application.submit_declaration(UAI, YEAR, answers(A3=robots), by)

    def run() -> list[int | BaseException]:
        with ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(submit, robots) for robots in (1, 2)]
            return [f.exception() or f.result() for f in futures]

    outcomes = await asyncio.to_thread(run)
    won = [o for o in outcomes if isinstance(o, int)]
    lost = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(won) == 1, outcomes
    assert len(lost) == 1, outcomes
    assert isinstance(lost[0], ConcurrentWriteError)
    assert await stored_events(database) == before + 1


@pytest.mark.parametrize("code", ["health", "schema", "x-health"])
async def test_paths_that_contain_a_public_word_still_require_a_token(
    seeded: Client, auth: AuthSettings, code: str
) -> None:
    anonymous = await seeded.put(f"/api/v1/schools/{UAI}/usages/{code}")
    assert anonymous.status_code == 401
    r = await seeded.put(f"/api/v1/schools/{UAI}/usages/{code}", headers=director(auth))
    assert r.status_code == 422, r.text
    assert (await seeded.get("/health")).status_code == 200
    assert (await seeded.get("/schema/openapi.json")).status_code == 200
