"""The label workflow over HTTP: stories of a school's board, and every refusal."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from events.values import Role
from infra.settings import AuthSettings, DatabaseSettings
from tests.label.support import COLLEGE, ECOLE, OCTOBER, Clock, declared, feed_register
from tests.support import answers, bearer

BOARD = f"/api/v1/schools/{ECOLE}/label"
COMMUNE = {"commune": {"signatory": "Marie Dupont", "office": "maire"}}


def criterion_url(code: str, step: str, uai: str = ECOLE) -> str:
    return f"/api/v1/schools/{uai}/label/criteria/{code}/{step}"


def find(board: dict[str, Any], code: str) -> dict[str, Any]:
    return next(c for d in board["domains"] for c in d["criteria"] if c["code"] == code)


def domain(board: dict[str, Any], code: str) -> dict[str, Any]:
    return next(d for d in board["domains"] if d["code"] == code)


async def test_a_referent_proposes_and_the_director_validates(
    client: AsyncTestClient[Any], auth: AuthSettings
) -> None:
    referent = bearer(auth, Role.REFERENT, ECOLE, "r.martin")
    director = bearer(auth, Role.DIRECTEUR, ECOLE, "d.dupont")
    # The référent proposes the école referent criterion, with the evidence.
    r = await client.post(
        criterion_url("E-REF-1", "proposals"),
        json={"comment": "Mme Martin nommée en conseil des maîtres du 12 septembre."},
        headers=referent,
    )
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "proposed"
    assert r.headers["x-numecole-position"] == f"label:{r.json()['position']}"
    # The director validates it, and the commune referent one after its proposal.
    r = await client.post(criterion_url("E-REF-1", "validation"), headers=director)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "validated"
    r = await client.post(
        criterion_url("E-REF-2", "proposals"),
        json={"comment": "M. Roux, adjoint au maire, référent de la commune."},
        headers=director,
    )
    assert r.status_code == 201, r.text
    await client.post(criterion_url("E-REF-2", "validation"), headers=director)
    # The board shows who proposed and validated, and when; the referents domain is complete.
    r = await client.get(BOARD, headers=referent)
    assert r.status_code == 200, r.text
    board = r.json()
    assert board["referentiel_version"] == "ecole-2018"
    assert board["kind"] == "ecole"
    ref1 = find(board, "E-REF-1")
    assert ref1["state"] == "validated"
    assert ref1["state_label"] == "validé"
    assert ref1["proposed"]["user_id"] == "r.martin"
    assert ref1["proposed"]["role"] == "referent"
    assert ref1["proposed"]["text"].startswith("Mme Martin")
    assert ref1["validated"]["user_id"] == "d.dupont"
    assert ref1["validated"]["at"].startswith("2027-01-15")
    assert domain(board, "REFERENTS")["level"] == 3  # only level-1 criteria: they count for all
    assert domain(board, "ENT")["level"] == 0
    assert board["global_level"] == 0
    assert board["award"] is None
    assert find(board, "E-PRJ-1")["state"] == "not_proposed"


async def test_every_refusal_of_the_state_machine_is_a_409_in_french(
    client: AsyncTestClient[Any], auth: AuthSettings
) -> None:
    referent = bearer(auth, Role.REFERENT, ECOLE, "r.martin")
    other_referent = bearer(auth, Role.REFERENT, ECOLE, "r.autre")
    director = bearer(auth, Role.DIRECTEUR, ECOLE)

    async def refused(url: str, headers: dict[str, str], body: Any = None) -> str:
        r = await client.post(url, json=body, headers=headers)
        assert r.status_code == 409, r.text
        errors = r.json()["errors"]
        assert len(errors) == 1
        message: str = errors[0]["message"]
        return message

    # Validate, reject or withdraw what is not proposed; revoke what is not validated.
    assert "n'est pas proposé" in await refused(criterion_url("E-PRJ-1", "validation"), director)
    assert "n'est pas proposé" in await refused(
        criterion_url("E-PRJ-1", "rejection"), director, {"reason": "Non."}
    )
    assert "n'est pas proposé" in await refused(criterion_url("E-PRJ-1", "withdrawal"), referent)
    assert "n'est pas validé" in await refused(
        criterion_url("E-PRJ-1", "revocation"), director, {"reason": "Non."}
    )
    # Propose what is already proposed.
    proposal = {"comment": "Projet robotique en CM1 avec les Blue-Bot."}
    r = await client.post(criterion_url("E-PRJ-1", "proposals"), json=proposal, headers=referent)
    assert r.status_code == 201
    assert "déjà proposé" in await refused(
        criterion_url("E-PRJ-1", "proposals"), director, proposal
    )
    # Withdraw what someone else proposed.
    assert "Seul l'auteur" in await refused(criterion_url("E-PRJ-1", "withdrawal"), other_referent)
    # Propose what is validated; validate twice.
    r = await client.post(criterion_url("E-PRJ-1", "validation"), headers=director)
    assert r.status_code == 200
    assert "déjà validé" in await refused(criterion_url("E-PRJ-1", "proposals"), referent, proposal)
    assert "déjà validé" in await refused(criterion_url("E-PRJ-1", "validation"), director)


async def test_rejected_withdrawn_and_revoked_criteria_can_be_proposed_again(
    client: AsyncTestClient[Any], auth: AuthSettings
) -> None:
    referent = bearer(auth, Role.REFERENT, ECOLE, "r.martin")
    erun = bearer(auth, Role.CONSEILLER, "circonscription:34-C1", "erun.c1")
    proposal = {"comment": "Trois classes ont suivi l'animation « programmer avec Scratch »."}
    url = criterion_url("E-ACC-1", "proposals")

    async def state(code: str = "E-ACC-1") -> dict[str, Any]:
        r = await client.get(BOARD, headers=referent)
        return find(r.json(), code)

    # Proposed, then rejected with a reason by the circonscription's ERUN.
    assert (await client.post(url, json=proposal, headers=referent)).status_code == 201
    r = await client.post(
        criterion_url("E-ACC-1", "rejection"),
        json={"reason": "L'animation date de l'an dernier."},
        headers=erun,
    )
    assert r.status_code == 200, r.text
    seen = await state()
    assert seen["state"] == "rejected"
    assert seen["closed"]["action"] == "reject"
    assert seen["closed"]["text"] == "L'animation date de l'an dernier."
    assert seen["closed"]["role"] == "conseiller"
    # Proposed again, and withdrawn by its author.
    assert (await client.post(url, json=proposal, headers=referent)).status_code == 201
    r = await client.post(criterion_url("E-ACC-1", "withdrawal"), headers=referent)
    assert r.status_code == 200
    assert r.json()["state"] == "not_proposed"
    # Proposed a third time, validated, then the validation is revoked with a reason.
    assert (await client.post(url, json=proposal, headers=referent)).status_code == 201
    assert (
        await client.post(criterion_url("E-ACC-1", "validation"), headers=erun)
    ).status_code == 200
    r = await client.post(
        criterion_url("E-ACC-1", "revocation"),
        json={"reason": "Validé par erreur : autre école."},
        headers=erun,
    )
    assert r.status_code == 200
    assert r.json()["state"] == "revoked"
    seen = await state()
    assert seen["state"] == "revoked"
    assert seen["validated"]["user_id"] == "erun.c1"
    assert seen["closed"]["action"] == "revoke"
    # ... and can be proposed once more.
    assert (await client.post(url, json=proposal, headers=referent)).status_code == 201
    assert (await state())["state"] == "proposed"


async def test_bad_input_is_a_422_and_unknown_things_a_404(
    client: AsyncTestClient[Any], auth: AuthSettings
) -> None:
    referent = bearer(auth, Role.REFERENT, ECOLE)
    director = bearer(auth, Role.DIRECTEUR, ECOLE)
    url = criterion_url("E-REF-1", "proposals")
    # A bare click, an empty comment, a comment that is not text.
    for body in (None, {}, {"comment": "   "}, {"comment": 12}, {"comment": "Nommée\x00."}):
        r = await client.post(url, json=body, headers=referent)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["errors"][0]["field"] == "comment"
    # A rejection or revocation without reason.
    await client.post(url, json={"comment": "Nommée."}, headers=referent)
    r = await client.post(criterion_url("E-REF-1", "rejection"), headers=director)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "reason"
    # Too long a comment.
    r = await client.post(
        criterion_url("E-REF-2", "proposals"), json={"comment": "x" * 4001}, headers=referent
    )
    assert r.status_code == 422
    # Malformed JSON stays a 400 in French.
    r = await client.post(
        url, content=b"{oops", headers={**referent, "content-type": "application/json"}
    )
    assert r.status_code == 400
    assert r.json()["errors"][0]["message"].startswith("La requête")
    # An invalid UAI, an unknown school, an unknown criterion.
    r = await client.get("/api/v1/schools/0340001X/label", headers=referent)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "uai"
    r = await client.get("/api/v1/schools/0340009A/label", headers=bearer(auth, Role.AUDITEUR, "*"))
    assert r.status_code == 404, r.text
    r = await client.post(
        criterion_url("C-PIL-01", "proposals"), json={"comment": "?"}, headers=referent
    )
    assert r.status_code == 404
    assert "ecole-2018" in r.json()["errors"][0]["message"]
    # No token.
    assert (await client.get(BOARD)).status_code == 401


async def test_the_board_shows_the_data_beside_the_criteria_it_supports(
    client: AsyncTestClient[Any], auth: AuthSettings, database: DatabaseSettings
) -> None:
    # Half the classes have teacher equipment: index 1; the school uses an ENT.
    await feed_register(database, [declared(ECOLE, answers(A7=True))])
    r = await client.get(BOARD, headers=bearer(auth, Role.LECTEUR, "departement:34"))
    assert r.status_code == 200, r.text
    board = r.json()
    eq1, eq2 = find(board, "E-EQU-1")["data"], find(board, "E-EQU-2")["data"]
    assert eq1["kind"] == "equipment_index"
    assert eq1["value"] == 1
    assert (eq1["supports"], eq2["supports"]) == (True, False)
    assert "Indice d'équipement 1" in eq1["summary"]
    ent = find(board, "E-ENT-1")["data"]
    assert (ent["kind"], ent["value"], ent["supports"]) == ("ent_use", True, True)
    assert find(board, "E-PRJ-1")["data"] is None
    # A collège that declared nothing: the board says so.
    r = await client.get(
        f"/api/v1/schools/{COLLEGE}/label", headers=bearer(auth, Role.CHEF, COLLEGE)
    )
    board = r.json()
    assert board["referentiel_version"] == "college-lycee-2022"
    assert len([c for d in board["domains"] for c in d["criteria"]]) == 50
    data = find(board, "C-EQU-01")["data"]
    assert data["value"] is None
    assert data["summary"].startswith("Aucune déclaration")


async def test_in_january_the_head_applies_and_the_award_lasts_two_school_years(
    client: AsyncTestClient[Any], auth: AuthSettings, clock: Clock
) -> None:
    director = bearer(auth, Role.DIRECTEUR, ECOLE)
    apply = f"/api/v1/schools/{ECOLE}/label/applications"
    # With nothing validated, the global level is 0: no label.
    r = await client.post(apply, json=COMMUNE, headers=director)
    assert r.status_code == 409
    assert "niveau global" in r.json()["errors"][0]["message"]
    # Every level-1 criterion validated: level 1 everywhere.
    board = (await client.get(BOARD, headers=director)).json()
    for d in board["domains"]:
        for c in d["criteria"]:
            if c["level"] == 1:
                await client.post(
                    criterion_url(c["code"], "proposals"),
                    json={"comment": "Fait."},
                    headers=director,
                )
                await client.post(criterion_url(c["code"], "validation"), headers=director)
    # A référent does not apply; the director does.
    r = await client.post(apply, json=COMMUNE, headers=bearer(auth, Role.REFERENT, ECOLE))
    assert r.status_code == 403
    r = await client.post(apply, json=COMMUNE, headers=director)
    assert r.status_code == 201, r.text
    assert r.json()["level"] == 1
    # Once a year.
    r = await client.post(apply, json=COMMUNE, headers=director)
    assert r.status_code == 409
    assert "déjà candidaté" in r.json()["errors"][0]["message"]
    board = (await client.get(BOARD, headers=director)).json()
    award = board["award"]
    assert award["level"] == 1
    assert award["school_year"] == "2026-2027"
    assert award["valid_until"] == "2027-2028"
    assert award["expires_on"] == "2028-08-31"
    assert award["domain_levels"]["REFERENTS"] == 3
    # Revoking a criterion afterwards lowers the board, not the award.
    r = await client.post(
        criterion_url("E-ENT-1", "revocation"), json={"reason": "Erreur."}, headers=director
    )
    assert r.status_code == 200
    board = (await client.get(BOARD, headers=director)).json()
    assert board["global_level"] == 0
    assert board["award"]["level"] == 1
    # Outside January, applications are refused.
    clock.now = OCTOBER
    r = await client.post(
        f"/api/v1/schools/{COLLEGE}/label/applications", headers=bearer(auth, Role.CHEF, COLLEGE)
    )
    assert r.status_code == 409
    assert "janvier" in r.json()["errors"][0]["message"]


async def test_the_openapi_document_names_every_label_operation(
    client: AsyncTestClient[Any],
) -> None:
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200, r.text
    operations = {op["operationId"] for path in r.json()["paths"].values() for op in path.values()}
    assert operations >= {
        "getLabelBoard",
        "proposeCriterion",
        "validateCriterion",
        "rejectCriterion",
        "withdrawProposal",
        "revokeValidation",
        "applyForLabel",
        "publishReferentiel",
        "listReferentiels",
        "getReferentiel",
    }
