"""The commune's part in an école's application: who signs for the commune is required of an
école and recorded in the award with the commune's name from the register; a collège applies
without it; awards recorded before the field existed still decode, show and verify."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import psycopg
from litestar.testing import AsyncTestClient

import events
from events.envelope import Actor
from events.label import CommuneSignature, LabelAwarded
from events.values import Role
from infra.auth import Principal
from infra.event_store import new_event
from infra.settings import AuthSettings, DatabaseSettings
from infra.verify import verify
from services.label.application import LabelApplication
from services.label.domain import board_id, valid_until
from tests.label.support import COLLEGE, ECOLE, ECOLE_2, YEAR, application
from tests.support import bearer

SAMPLES = Path(events.__file__).parent / "samples"
SIGNED = {"signatory": "Marie Dupont", "office": "adjointe au numérique"}


def apply_url(uai: str) -> str:
    return f"/api/v1/schools/{uai}/label/applications"


def make_level_1(app: LabelApplication, uai: str, kind: str) -> None:
    """Every level-1 criterion of the school's référentiel proposed and validated by its head."""
    head = Principal(f"head-{uai}", Role.DIRECTEUR if kind == "ecole" else Role.CHEF, uai)
    for d in app.board(uai, head).domains:
        for c in d.criteria:
            if c.level == 1:
                app.propose(uai, c.code, "Vu en commission numérique.", head)
                app.validate(uai, c.code, head)


def stored_awards(database: DatabaseSettings) -> list[bytes]:
    with psycopg.connect(database.url) as conn:
        rows = conn.execute(
            "SELECT state FROM label.label_events WHERE topic = 'LabelAwarded' "
            "ORDER BY notification_id"
        ).fetchall()
    return [bytes(r[0]) for r in rows]


async def test_an_ecole_applies_only_with_who_signs_for_its_commune(
    client: AsyncTestClient[Any], auth: AuthSettings, database: DatabaseSettings
) -> None:
    app = application(client)
    make_level_1(app, ECOLE, "ecole")
    director = bearer(auth, Role.DIRECTEUR, ECOLE)
    version = app.board(ECOLE, Principal("a", Role.AUDITEUR, "*")).board_version

    async def refused(body: Any) -> list[dict[str, str]]:
        r = await client.post(apply_url(ECOLE), json=body, headers=director)
        assert r.status_code == 422, r.text
        errors: list[dict[str, str]] = r.json()["errors"]
        return errors

    # No body, no commune, or a null one: the commune's part is missing, said in French.
    for body in (None, {}, {"commune": None}):
        (error,) = await refused(body)
        assert error["field"] == "commune"
        assert "commune de Montpellier" in error["message"]
        assert "commune.signatory" in error["message"]
    # Each missing or blank field is named.
    errors = await refused({"commune": {}})
    assert [e["field"] for e in errors] == ["commune.signatory", "commune.office"]
    assert errors[0]["message"].startswith("Indiquez le nom de la personne")
    assert "maire" in errors[1]["message"]
    errors = await refused({"commune": {"signatory": "  ", "office": "maire"}})
    assert [e["field"] for e in errors] == ["commune.signatory"]
    errors = await refused({"commune": {"signatory": "Marie Dupont", "office": ""}})
    assert [e["field"] for e in errors] == ["commune.office"]
    errors = await refused({"commune": {"signatory": "x" * 201, "office": "maire"}})
    assert errors[0]["message"] == "Le texte dépasse 200 caractères (201)."
    errors = await refused({"commune": {"signatory": "Marie\u0000Dupont", "office": "maire"}})
    assert [e["field"] for e in errors] == ["commune.signatory"]
    assert "U+0000" in errors[0]["message"]
    # A wrong shape, a field of another name: refused, in French, naming the field.
    (error,) = await refused({"commune": "Montpellier"})
    assert error["field"] == "commune"
    assert error["message"] == (
        "La valeur de « commune » doit être un objet JSON ou la valeur null, "
        "pas une chaîne de caractères."
    )
    (error,) = await refused({"commune": {"signatory": 3, "office": "maire"}})
    assert error["field"] == "commune.signatory"
    assert "chaîne de caractères" in error["message"]
    (error,) = await refused({"commune": {"signataire": "Marie Dupont", "office": "maire"}})
    assert error == {
        "field": "commune.signataire",
        "message": "Le champ « commune.signataire » n'est pas attendu ici.",
    }
    # Nothing was recorded by any of these.
    assert app.board(ECOLE, Principal("a", Role.AUDITEUR, "*")).board_version == version
    assert stored_awards(database) == []

    # With it: the award names the commune (from the register) and who signed for it.
    r = await client.post(
        apply_url(ECOLE),
        json={"commune": {"signatory": " Marie Dupont ", "office": "adjointe au numérique"}},
        headers=director,
    )
    assert r.status_code == 201, r.text
    assert r.json()["level"] == 1
    part = {"name": "Montpellier", **SIGNED}
    (data,) = stored_awards(database)
    assert msgspec.json.decode(data)["commune"] == part
    award = events.decode(data)
    assert isinstance(award, LabelAwarded)
    assert award.commune == CommuneSignature(**part)
    board = (await client.get(f"/api/v1/schools/{ECOLE}/label", headers=director)).json()
    assert board["award"]["commune"] == part
    assert [a["commune"] for a in board["awards"]] == [part]
    # The commune is the école's own: another école names its own.
    make_level_1(app, ECOLE_2, "ecole")
    r = await client.post(
        apply_url(ECOLE_2),
        json={"commune": {"signatory": "Paul Roux", "office": "maire"}},
        headers=bearer(auth, Role.DIRECTEUR, ECOLE_2),
    )
    assert r.status_code == 201, r.text
    r = await client.get(
        f"/api/v1/schools/{ECOLE_2}/label", headers=bearer(auth, Role.DIRECTEUR, ECOLE_2)
    )
    assert r.json()["award"]["commune"]["name"] == "Lodève"
    assert (await verify(database.url)).ok


async def test_a_college_applies_without_its_commune(
    client: AsyncTestClient[Any], auth: AuthSettings, database: DatabaseSettings
) -> None:
    app = application(client)
    make_level_1(app, COLLEGE, "college")
    chef = bearer(auth, Role.CHEF, COLLEGE)
    # A commune's part is refused, in French: it is no party to a collège's label.
    r = await client.post(apply_url(COLLEGE), json={"commune": SIGNED}, headers=chef)
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        {
            "field": "commune",
            "message": "La candidature d'un collège se dépose sans la commune : "
            "retirez le champ « commune ».",
        }
    ]
    assert stored_awards(database) == []
    # Without it (no body, or no commune in it), the collège is awarded its level.
    r = await client.post(apply_url(COLLEGE), json={"commune": None}, headers=chef)
    assert r.status_code == 201, r.text
    (data,) = stored_awards(database)
    assert "commune" not in msgspec.json.decode(data)
    board = (await client.get(f"/api/v1/schools/{COLLEGE}/label", headers=chef)).json()
    assert board["award"]["level"] == 1
    assert board["award"]["commune"] is None


def test_the_stored_sample_without_the_commune_decodes_and_reencodes_as_it_was() -> None:
    # Awards recorded before the commune's part was: the golden sample of that form.
    data = (SAMPLES / "LabelAwarded.v1.json").read_bytes()
    assert b'"commune"' not in data
    award = events.decode(data)
    assert isinstance(award, LabelAwarded)
    assert award.commune is msgspec.UNSET
    # The very bytes come back.
    assert msgspec.json.format(events.encode(award), indent=2) + b"\n" == data
    with_commune = events.decode((SAMPLES / "LabelAwarded.v1.commune.json").read_bytes())
    assert isinstance(with_commune, LabelAwarded)
    assert with_commune.commune == CommuneSignature(
        name="Montpellier", signatory="Marie Dupont", office="adjointe au numérique"
    )


async def test_an_award_recorded_without_the_commune_still_shows_and_verifies(
    client: AsyncTestClient[Any], auth: AuthSettings, database: DatabaseSettings
) -> None:
    app = application(client)
    make_level_1(app, ECOLE, "ecole")
    board = app.board(ECOLE, Principal("a", Role.AUDITEUR, "*"))
    # As the application recorded an award before the commune's part existed.
    app.record(
        new_event(
            LabelAwarded,
            originator_id=board_id(ECOLE),
            originator_version=board.board_version + 1,
            uai=ECOLE,
            school_year=YEAR,
            actor=Actor(f"directeur-{ECOLE}", "directeur"),
            referentiel_version=board.referentiel_version,
            level=1,
            domain_levels={d.code: d.level for d in board.domains},
            valid_until=valid_until(YEAR),
        )
    )
    (data,) = stored_awards(database)
    assert b'"commune"' not in data
    director = bearer(auth, Role.DIRECTEUR, ECOLE)
    r = await client.get(f"/api/v1/schools/{ECOLE}/label", headers=director)
    assert r.status_code == 200, r.text
    award = r.json()["award"]
    assert (award["level"], award["commune"]) == (1, None)
    # The stream goes on after it, and every link of the chain still holds.
    app.propose(ECOLE, "E-PRJ-2", "Projet robotique.", Principal("r", Role.REFERENT, ECOLE))
    report = await verify(database.url)
    assert report.ok, report.broken
