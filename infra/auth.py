"""Who the caller is (a signed token) and what a role may do where (pure functions)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from functools import cached_property

import jwt

from events.envelope import Actor
from events.values import Role, is_valid_uai, region_of
from infra.settings import AuthSettings

TERRITORY_LEVELS = ("circonscription", "bassin", "departement", "academie", "region")
SCHOOL_ROLES = (Role.DIRECTEUR, Role.REFERENT, Role.CHEF)


class InvalidToken(Exception):
    """Missing, expired, unsigned or wrongly signed token (the message is for logs)."""


@dataclass(frozen=True)
class SchoolPlace:
    """Where a school stands in the territories, as the register says now."""

    uai: str
    circonscription: str | None
    bassin: str | None
    departement: str
    academie: str

    @property
    def region(self) -> str:
        return region_of(self.academie)

    def territory(self, level: str) -> str | None:
        return {
            "circonscription": self.circonscription,
            "bassin": self.bassin,
            "departement": self.departement,
            "academie": self.academie,
            "region": self.region,
        }.get(level)


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: Role
    scope: str

    @cached_property
    def actor(self) -> Actor:
        return Actor(user_id=self.user_id, role=self.role.value)

    @property
    def scope_level(self) -> str:
        if self.scope == "*":
            return "*"
        if ":" in self.scope:
            return self.scope.split(":", 1)[0]
        return "school"

    def covers(self, place: SchoolPlace) -> bool:
        """Whether the principal's scope contains the school."""
        level = self.scope_level
        if level == "*":
            return True
        if level == "school":
            return self.scope == place.uai
        return place.territory(level) == self.scope.split(":", 1)[1]

    def covers_academie(self, academie: str) -> bool:
        return self.scope == "*" or self.scope in (
            f"academie:{academie}",
            f"region:{region_of(academie)}",
        )


def valid_scope(role: Role, scope: str) -> bool:
    """Each role has scopes of its own kind (DOMAIN.md, people and what they may do)."""
    if role is Role.AUDITEUR:
        return scope == "*"
    if role in SCHOOL_ROLES:
        return is_valid_uai(scope)
    level, _, code = scope.partition(":")
    if not code or level not in TERRITORY_LEVELS:
        return False
    if role is Role.CONSEILLER:
        return level in ("circonscription", "bassin")
    if role is Role.ADMIN:
        return level in ("academie", "region")
    # A territory reader reads a circonscription, département, académie or région: a bassin
    # is not one of the territories with a profile (DOMAIN.md).
    return role is Role.LECTEUR and level != "bassin"


# What `valid_scope` accepts for each role, told in French to whoever asks for a token.
SCOPES_BY_ROLE = {
    Role.DIRECTEUR: "l'UAI de l'école (ex. 0340001S)",
    Role.REFERENT: "l'UAI de l'école (ex. 0340001S)",
    Role.CHEF: "l'UAI de l'établissement (ex. 0340001S)",
    Role.CONSEILLER: "circonscription:<code> ou bassin:<code>",
    Role.LECTEUR: "circonscription:<code>, departement:<code>, academie:<code> ou region:<code>",
    Role.ADMIN: "academie:<code> ou region:<code>",
    Role.AUDITEUR: "* (toutes les écoles)",
}


def may_read_school(p: Principal, place: SchoolPlace) -> bool:
    return p.role is not Role.SYSTEME and p.covers(place)


def may_declare(p: Principal, place: SchoolPlace) -> bool:
    """Only the director of the école declares its equipment and usages."""
    return p.role is Role.DIRECTEUR and p.scope == place.uai


def may_administer(p: Principal, academie: str) -> bool:
    """Campaigns, catalogues, register and data imports: the académie's admin."""
    return p.role is Role.ADMIN and p.covers_academie(academie)


def is_head_of(p: Principal, place: SchoolPlace, kind: str) -> bool:
    """The director heads an école; the chef d'établissement a collège or lycée."""
    head = Role.DIRECTEUR if kind == "ecole" else Role.CHEF
    return p.role is head and p.scope == place.uai


def is_adviser_of(p: Principal, place: SchoolPlace) -> bool:
    """The bassin adviser, or the ERUN of an école's circonscription, as the register now says."""
    return p.role is Role.CONSEILLER and p.covers(place)


def may_propose_criterion(p: Principal, place: SchoolPlace, kind: str) -> bool:
    """Label criteria are proposed by a référent numérique, the head or the adviser."""
    return (
        (p.role is Role.REFERENT and p.scope == place.uai)
        or is_head_of(p, place, kind)
        or is_adviser_of(p, place)
    )


def may_validate_criterion(p: Principal, place: SchoolPlace, kind: str) -> bool:
    """Validate, reject or revoke: the head or the adviser, never a référent."""
    return is_head_of(p, place, kind) or is_adviser_of(p, place)


def may_apply_for_label(p: Principal, place: SchoolPlace, kind: str) -> bool:
    """In January, the head applies for the school (with its commune, for an école)."""
    return is_head_of(p, place, kind)


def may_publish_referentiel(p: Principal) -> bool:
    """Référentiels are managed by an académie admin."""
    return p.role is Role.ADMIN


class TokenService:
    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self._jwks = jwt.PyJWKClient(settings.jwks_url) if settings.jwks_url else None

    def issue(self, user_id: str, role: Role, scope: str, ttl_seconds: int = 8 * 3600) -> str:
        """A development token, signed with the local key."""
        if self.settings.dev_key is None:
            raise RuntimeError("tokens are issued by the identity provider in production")
        if not valid_scope(role, scope):
            raise ValueError(f"scope {scope!r} does not fit role {role.value}")
        now = int(time.time())
        claims = {
            "sub": user_id,
            "role": role.value,
            "scope": scope,
            "iat": now,
            "exp": now + ttl_seconds,
            "iss": self.settings.issuer,
            "aud": self.settings.audience,
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(claims, self.settings.dev_key, algorithm="HS256")

    def verify(self, token: str) -> Principal:
        try:
            if self._jwks is not None:
                key: object = self._jwks.get_signing_key_from_jwt(token).key
            else:
                key = self.settings.dev_key
            claims = jwt.decode(
                token,
                key,  # type: ignore[arg-type]
                algorithms=list(self.settings.algorithms),
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        try:
            role = Role(str(claims.get("role")))
        except ValueError as exc:
            raise InvalidToken(f"unknown role {claims.get('role')!r}") from exc
        scope = claims.get("scope")
        if role is Role.SYSTEME or not isinstance(scope, str) or not valid_scope(role, scope):
            raise InvalidToken(f"scope {scope!r} does not fit role {role.value}")
        return Principal(user_id=str(claims["sub"]), role=role, scope=scope)
