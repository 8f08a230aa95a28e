"""Publishing référentiel versions: only admins, checked field by field, never rewritten."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.testing import AsyncTestClient

from events.label import CriterionProposed, CriterionValidated
from events.values import Role
from infra.settings import AuthSettings
from services.label.domain import board_id
from services.label.referentiels import shipped_referentiels
from tests.label.support import ECOLE, application
from tests.support import bearer

ADMIN = (Role.ADMIN, "academie:montpellier")


def ecole_body() -> dict[str, Any]:
    body: dict[str, Any] = msgspec.to_builtins(shipped_referentiels()[0])
    del body["version"]
    return body


async def test_only_an_admin_publishes_and_every_broken_rule_is_named(
    client: AsyncTestClient[Any], auth: AuthSettings
) -> None:
    url = "/api/v1/label/referentiels/ecole-2027"
    for role, scope in ((Role.LECTEUR, "academie:montpellier"), (Role.CHEF, "0340501K")):
        r = await client.put(url, json=ecole_body(), headers=bearer(auth, role, scope))
        assert r.status_code == 403, r.text
    admin = bearer(auth, *ADMIN)
    broken = ecole_body()
    broken["kinds"] = ["maternelle"]
    broken["domains"][0]["criteria"][0]["level"] = 5
    broken["domains"][1]["criteria"][0]["explanation"] = ""
    r = await client.put(url, json=broken, headers=admin)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == [
        "kinds[0]",
        "domains[0].criteria[0].level",
        "domains[1].criteria[0].explanation",
    ]
    # A value of the wrong type is a 422 naming the field too.
    broken = ecole_body()
    broken["domains"][0]["criteria"][1]["level"] = "deux"
    r = await client.put(url, json=broken, headers=admin)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "domains[0].criteria[1].level"
    r = await client.put("/api/v1/label/referentiels/Ecole 2027", json=ecole_body(), headers=admin)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "version"
    # A NUL character, which no text field of the database can hold, wherever it hides: the
    # database refuses the write whole, and the refusal is a 422 in French, not a crash.
    broken = ecole_body()
    broken["domains"][2]["criteria"][0]["explanation"] = "Un\x00 référent"
    r = await client.put(url, json=broken, headers=admin)
    assert r.status_code == 422, r.text
    assert "U+0000" in r.json()["errors"][0]["message"]
    r = await client.get(url, headers=admin)
    assert r.status_code == 404, r.text  # nothing was published


async def test_a_version_is_never_rewritten_and_a_new_one_keeps_the_history(
    client: AsyncTestClient[Any], auth: AuthSettings
) -> None:
    admin = bearer(auth, *ADMIN)
    director = bearer(auth, Role.DIRECTEUR, ECOLE)
    # Publishing the same version again, unchanged, records nothing.
    before = application(client).recorder.max_notification_id()
    r = await client.put("/api/v1/label/referentiels/ecole-2018", json=ecole_body(), headers=admin)
    assert r.status_code == 200
    assert r.json()["position"] == before
    # Changing it is refused.
    changed = ecole_body()
    changed["title"] = "Autre titre"
    r = await client.put("/api/v1/label/referentiels/ecole-2018", json=changed, headers=admin)
    assert r.status_code == 409
    assert "nouvelle version" in r.json()["errors"][0]["message"]
    # The director validates E-REF-1 under ecole-2018.
    base = f"/api/v1/schools/{ECOLE}/label/criteria"
    await client.post(f"{base}/E-REF-1/proposals", json={"comment": "Nommé."}, headers=director)
    await client.post(f"{base}/E-REF-1/validation", headers=director)
    # A new version drops E-PRJ-3 and adds E-PRJ-4.
    newer = ecole_body()
    projects = newer["domains"][2]["criteria"]
    projects[2] = {**projects[2], "code": "E-PRJ-4", "title": "Les élèves publient un projet"}
    r = await client.put("/api/v1/label/referentiels/ecole-2027", json=newer, headers=admin)
    assert r.status_code == 200, r.text
    board = (await client.get(f"/api/v1/schools/{ECOLE}/label", headers=director)).json()
    assert board["referentiel_version"] == "ecole-2027"
    codes = {c["code"]: c for d in board["domains"] for c in d["criteria"]}
    assert "E-PRJ-3" not in codes
    assert codes["E-PRJ-4"]["state"] == "not_proposed"
    # The kept criterion keeps its standing, and says under which version it was validated.
    assert codes["E-REF-1"]["state"] == "validated"
    assert codes["E-REF-1"]["validated"]["referentiel_version"] == "ecole-2018"
    r = await client.post(f"{base}/E-PRJ-3/proposals", json={"comment": "?"}, headers=director)
    assert r.status_code == 404
    # The recorded history is untouched.
    history = application(client).stream(board_id(ECOLE))
    assert [type(e) for e in history] == [CriterionProposed, CriterionValidated]
    assert all(getattr(e, "referentiel_version", None) == "ecole-2018" for e in history)
    # Both versions remain readable.
    listed = (await client.get("/api/v1/label/referentiels", headers=director)).json()
    assert [v["version"] for v in listed] == ["ecole-2018", "college-lycee-2022", "ecole-2027"]
    assert listed[1]["criteria"] == 50
    old = (await client.get("/api/v1/label/referentiels/ecole-2018", headers=director)).json()
    assert old["domains"][2]["criteria"][2]["code"] == "E-PRJ-3"
    r = await client.get("/api/v1/label/referentiels/nope", headers=director)
    assert r.status_code == 404
