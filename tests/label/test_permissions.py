"""Who may do what on a school's label: the whole matrix role × action × in/out of scope, both
as pure permission functions and over HTTP, generated from the roles table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar.testing import AsyncTestClient

from events.declarations import SchoolDetails
from events.label import CriterionDefinition, DomainDefinition
from events.values import Role
from infra.auth import (
    Principal,
    SchoolPlace,
    may_apply_for_label,
    may_propose_criterion,
    may_read_school,
    may_validate_criterion,
)
from infra.settings import AuthSettings, DatabaseSettings
from services.label.referentiels import ReferentielContent
from tests.label.matrix import Case, cases, expected, place_of
from tests.label.support import ECOLE, application, feed_register, moved, registered, uai
from tests.support import bearer

TEMPLATES = {"ecole": place_of("0340001S", "ecole"), "college": place_of("0340501K", "college")}
CHECKS: dict[str, Callable[[Principal, SchoolPlace, str], bool]] = {
    "read": lambda p, place, kind: may_read_school(p, place),
    "propose": may_propose_criterion,
    "withdraw": may_propose_criterion,
    "validate": may_validate_criterion,
    "reject": may_validate_criterion,
    "revoke": may_validate_criterion,
    "apply": may_apply_for_label,
}


def test_the_permission_functions_follow_the_roles_table() -> None:
    generated = cases(TEMPLATES)
    wrong = [
        c.label
        for c in generated
        if CHECKS[c.action](Principal("u", c.role, c.scope), TEMPLATES[c.kind], c.kind)
        != expected(c)
    ]
    assert wrong == []
    assert len(generated) > 300


# A small référentiel keeps each case's set-up short: two domains, level-1 criteria "A1", "B1".
MATRIX_REFERENTIEL = ReferentielContent(
    title="Référentiel de test",
    kinds=["ecole", "college", "lycee"],
    domains=[
        DomainDefinition(
            code=d,
            title=d,
            criteria=[
                CriterionDefinition(code=f"{d[0]}1", level=1, title="Niveau 1", explanation="…"),
                CriterionDefinition(code=f"{d[0]}2", level=2, title="Niveau 2", explanation="…"),
            ],
        )
        for d in ("ALPHA", "BETA")
    ],
)
ADMIN = Principal("admin", Role.ADMIN, "region:occitanie")
STATUS_ALLOWED = {"propose": 201, "apply": 201}


def details(kind: str, place: SchoolPlace) -> SchoolDetails:
    return SchoolDetails(
        name=f"{kind} {place.uai}",
        kind=kind,
        pupils=200,
        commune="Montpellier",
        circonscription=place.circonscription,
        bassin=place.bassin,
        departement=place.departement,
        academie=place.academie,
    )


async def test_every_role_action_and_scope_over_http(
    client: AsyncTestClient[Any], auth: AuthSettings, database: DatabaseSettings
) -> None:
    app = application(client)
    app.publish_referentiel("matrix-1", MATRIX_REFERENTIEL, ADMIN)
    # Each case acts on a school of its own, in the same territories.
    schools: list[tuple[Case, SchoolPlace]] = []
    for n, case in enumerate(cases(TEMPLATES)):
        prefix = "0347" if case.kind == "ecole" else "0348"
        place = place_of(uai(prefix, n), case.kind)
        scope = place.uai if case.scope == TEMPLATES[case.kind].uai else case.scope
        schools.append((Case(case.role, scope, case.kind, case.inside, case.action), place))
    await feed_register(database, [registered(p.uai, details(c.kind, p)) for c, p in schools])
    wrong: list[str] = []
    for case, place in schools:
        actor = Principal(f"{case.role.value}-{case.scope}", case.role, case.scope)
        referent = Principal("setup-referent", Role.REFERENT, place.uai)
        head = Principal(
            "setup-head", Role.DIRECTEUR if case.kind == "ecole" else Role.CHEF, place.uai
        )
        # Set up the state in which the action is allowed by the workflow.
        if case.action in ("validate", "reject", "revoke"):
            app.propose(place.uai, "A1", "Preuve jointe.", referent)
        if case.action == "revoke":
            app.validate(place.uai, "A1", head)
        if case.action == "withdraw":
            author = actor if expected(case) else referent
            app.propose(place.uai, "A1", "Preuve jointe.", author)
        if case.action == "apply":
            for code in ("A1", "B1"):
                app.propose(place.uai, code, "Preuve jointe.", referent)
                app.validate(place.uai, code, head)
        headers = bearer(auth, case.role, case.scope)
        base = f"/api/v1/schools/{place.uai}/label"
        step = {
            "propose": ("proposals", {"comment": "Preuve jointe."}),
            "validate": ("validation", None),
            "reject": ("rejection", {"reason": "Insuffisant."}),
            "withdraw": ("withdrawal", None),
            "revoke": ("revocation", {"reason": "Erreur."}),
        }
        if case.action == "read":
            r = await client.get(base, headers=headers)
        elif case.action == "apply":
            # An école applies with its commune; a collège or a lycée without.
            commune = {"signatory": "Marie Dupont", "office": "maire"}
            signed = {"commune": commune} if case.kind == "ecole" else None
            r = await client.post(f"{base}/applications", json=signed, headers=headers)
        else:
            path, body = step[case.action]
            r = await client.post(f"{base}/criteria/A1/{path}", json=body, headers=headers)
        want = STATUS_ALLOWED.get(case.action, 200) if expected(case) else 403
        if r.status_code != want:
            wrong.append(f"{case.label}: {r.status_code} instead of {want} {r.text[:120]}")
    assert wrong == []
    assert len(schools) > 300


async def test_a_school_that_moved_leaves_its_former_advisers_scope(
    client: AsyncTestClient[Any], auth: AuthSettings, database: DatabaseSettings
) -> None:
    old_erun = bearer(auth, Role.CONSEILLER, "circonscription:34-C1")
    new_erun = bearer(auth, Role.CONSEILLER, "circonscription:34-C2")
    base = f"/api/v1/schools/{ECOLE}/label/criteria"
    proposal = {"comment": "Animation suivie le 3 octobre."}
    r = await client.post(f"{base}/E-ACC-1/proposals", json=proposal, headers=old_erun)
    assert r.status_code == 201
    # The register moves the école to circonscription 34-C2.
    place = SchoolPlace(ECOLE, "34-C2", None, "34", "montpellier")
    after = SchoolDetails(
        name="École Jules Ferry", kind="ecole", pupils=210, commune="Montpellier",
        circonscription="34-C2", bassin=None, departement="34", academie="montpellier",
    )  # fmt: skip
    assert place.circonscription == after.circonscription
    await feed_register(database, [moved(ECOLE, after)])
    # The former ERUN may no longer validate, nor read; the new one validates.
    r = await client.post(f"{base}/E-ACC-1/validation", headers=old_erun)
    assert r.status_code == 403, r.text
    r = await client.get(f"/api/v1/schools/{ECOLE}/label", headers=old_erun)
    assert r.status_code == 403
    r = await client.post(f"{base}/E-ACC-1/validation", headers=new_erun)
    assert r.status_code == 200, r.text
    # The former ERUN's proposal is on record, but he may not withdraw it any more either.
    r = await client.post(f"{base}/E-ACC-1/withdrawal", headers=old_erun)
    assert r.status_code == 403
