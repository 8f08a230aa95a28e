"""Who may do what where (DOMAIN.md, people and what they may do), and the signed tokens."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import replace
from itertools import product
from pathlib import Path
from typing import Any

import jwt
import pytest

from events.values import Role
from infra.auth import (
    SCOPES_BY_ROLE,
    InvalidToken,
    Principal,
    SchoolPlace,
    TokenService,
    may_administer,
    may_declare,
    may_read_school,
    valid_scope,
)
from infra.cli import main
from infra.settings import AuthSettings

KEY = "clé-de-développement-assez-longue-pour-hs256"
OTHER_KEY = "une-autre-clé-de-développement-tout-aussi-longue"
SETTINGS = AuthSettings(dev_key=KEY)

HERE = SchoolPlace(
    uai="0341234G",
    circonscription="34-MONTPELLIER-CENTRE",
    bassin="34-MONTPELLIER",
    departement="34",
    academie="montpellier",
)
SCOPE_OF_HERE = {
    "school": "0341234G",
    "circonscription": "circonscription:34-MONTPELLIER-CENTRE",
    "bassin": "bassin:34-MONTPELLIER",
    "departement": "departement:34",
    "academie": "academie:montpellier",
    "region": "region:occitanie",
    "*": "*",
}
# For each kind of scope, a school just outside it (same territory one level up).
ELSEWHERE = {
    "school": replace(HERE, uai="0340099Y"),
    "circonscription": replace(HERE, uai="0340099Y", circonscription="34-MONTPELLIER-NORD"),
    "bassin": replace(HERE, uai="0340099Y", bassin="34-LODEVE"),
    "departement": replace(
        HERE, uai="0301234D", circonscription="30-NIMES", bassin="30-NIMES", departement="30"
    ),
    "academie": SchoolPlace("0311234Y", "31-TOULOUSE", "31-TOULOUSE", "31", "toulouse"),
    "region": SchoolPlace("0351234B", "35-RENNES", "35-RENNES", "35", "rennes"),
}
KINDS = list(SCOPE_OF_HERE)

# The table of DOMAIN.md: the kinds of scope each role is given.
SCOPE_KINDS_OF_ROLE: dict[Role, set[str]] = {
    Role.DIRECTEUR: {"school"},
    Role.REFERENT: {"school"},
    Role.CHEF: {"school"},
    Role.CONSEILLER: {"circonscription", "bassin"},
    Role.LECTEUR: {"circonscription", "departement", "academie", "region"},
    Role.ADMIN: {"academie", "region"},
    Role.AUDITEUR: {"*"},
    Role.SYSTEME: set(),  # the platform acts without a token
}
GIVEN = [(role, kind) for role, kind in product(Role, KINDS) if kind in SCOPE_KINDS_OF_ROLE[role]]


@pytest.mark.parametrize(("role", "kind"), list(product(Role, KINDS)))
def test_each_role_has_scopes_of_its_own_kind(role: Role, kind: str) -> None:
    assert valid_scope(role, SCOPE_OF_HERE[kind]) == (kind in SCOPE_KINDS_OF_ROLE[role])


@pytest.mark.parametrize("scope", ["academie:", "territoire:34", "0341234A", "region", ""])
def test_malformed_scopes_fit_no_role(scope: str) -> None:
    assert not any(valid_scope(role, scope) for role in Role)


@pytest.mark.parametrize(("role", "kind"), GIVEN)
def test_everyone_reads_the_schools_of_their_scope_and_no_other(role: Role, kind: str) -> None:
    p = Principal("u1", role, SCOPE_OF_HERE[kind])
    assert may_read_school(p, HERE)
    if kind != "*":
        assert not may_read_school(p, ELSEWHERE[kind])


@pytest.mark.parametrize(("role", "kind"), GIVEN)
def test_only_the_director_of_the_school_declares(role: Role, kind: str) -> None:
    p = Principal("u1", role, SCOPE_OF_HERE[kind])
    assert may_declare(p, HERE) == (role is Role.DIRECTEUR)
    for place in ELSEWHERE.values():
        assert not may_declare(p, place)


@pytest.mark.parametrize(("role", "kind"), GIVEN)
def test_only_the_admin_of_the_academie_administers_it(role: Role, kind: str) -> None:
    p = Principal("u1", role, SCOPE_OF_HERE[kind])
    assert may_administer(p, "montpellier") == (role is Role.ADMIN)
    if kind != "*":
        assert not may_administer(p, ELSEWHERE["region"].academie)
    if kind == "academie":
        assert not may_administer(p, "toulouse")


def test_the_platform_itself_reads_no_school() -> None:
    assert not may_read_school(Principal("numecole", Role.SYSTEME, "*"), HERE)


# Tokens.


def test_an_issued_token_verifies_to_the_same_person_role_and_scope() -> None:
    tokens = TokenService(SETTINGS)
    token = tokens.issue("directrice-0341234G", Role.DIRECTEUR, "0341234G")
    assert tokens.verify(token) == Principal("directrice-0341234G", Role.DIRECTEUR, "0341234G")


def test_no_token_is_issued_for_a_scope_that_does_not_fit_the_role() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        TokenService(SETTINGS).issue("ien-34", Role.LECTEUR, "0341234G")


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.SYSTEME])
def test_the_token_command_tells_in_french_which_scope_a_role_takes(
    role: Role, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scope = "*" if role is not Role.AUDITEUR else "0341234G"
    assert main(["--data-dir", str(tmp_path), "token", "--role", role.value, "--scope", scope]) == 2
    told = capsys.readouterr().err
    assert f"Périmètre « {scope} » invalide pour le rôle {role.value} : attendu " in told
    assert SCOPES_BY_ROLE[role] in told


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "sub": "ien-34",
        "role": "lecteur",
        "scope": "departement:34",
        "iat": now,
        "exp": now + 600,
        "iss": "numecole",
        "aud": "numecole",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def signed(body: dict[str, Any], key: str = KEY) -> str:
    return jwt.encode(body, key, algorithm="HS256")


def unsigned(body: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        raw = json.dumps(value).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(body)}."


def test_a_token_built_by_hand_with_the_right_key_is_accepted() -> None:
    # The control for the refusals below: each changes one thing of this token.
    assert TokenService(SETTINGS).verify(signed(claims())).role is Role.LECTEUR


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(signed(claims(exp=int(time.time()) - 60)), id="expired"),
        pytest.param(signed(claims(), key=OTHER_KEY), id="another key"),
        pytest.param(unsigned(claims()), id="alg none"),
        pytest.param(signed(claims(aud="autre-service")), id="wrong audience"),
        pytest.param(signed(claims(iss="idp-inconnu")), id="wrong issuer"),
        pytest.param(signed(claims(exp=None)), id="no expiry"),
        pytest.param(signed(claims(sub=None)), id="no subject"),
        pytest.param(signed(claims(role="inspecteur")), id="unknown role"),
        pytest.param(signed(claims(role=None)), id="no role"),
        pytest.param(signed(claims(role="systeme", scope="*")), id="platform role"),
        pytest.param(signed(claims(role="directeur", scope="academie:montpellier")), id="scope"),
        pytest.param(signed(claims(scope="bassin:34-MONTPELLIER")), id="reader of a bassin"),
        pytest.param(signed(claims(scope=None)), id="no scope"),
        pytest.param("pas-un-jeton", id="garbage"),
    ],
)
def test_a_token_that_is_not_ours_or_does_not_fit_is_refused(token: str) -> None:
    with pytest.raises(InvalidToken):
        TokenService(SETTINGS).verify(token)


def test_a_token_issued_a_second_ago_with_no_lifetime_left_is_refused() -> None:
    tokens = TokenService(SETTINGS)
    token = tokens.issue("drane-1", Role.ADMIN, "region:occitanie", ttl_seconds=-1)
    with pytest.raises(InvalidToken, match="expired"):
        tokens.verify(token)


def test_a_token_from_another_issuer_settings_is_refused() -> None:
    theirs = TokenService(replace(SETTINGS, issuer="autre", audience="autre"))
    token = theirs.issue("drane-1", Role.ADMIN, "academie:montpellier")
    assert theirs.verify(token).role is Role.ADMIN
    with pytest.raises(InvalidToken):
        TokenService(SETTINGS).verify(token)
