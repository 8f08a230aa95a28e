"""Helpers the tests share: tokens, a valid declaration, a small register."""

from __future__ import annotations

from typing import Any

from events.values import Role
from infra.auth import TokenService
from infra.settings import AuthSettings

REGISTER_CSV = """uai;nom;type;eleves;commune;circonscription;bassin;departement;academie
0340001S;École Jules Ferry;école;210;Montpellier;34-C1;;34;Montpellier
0340002T;École Marie Curie;école;95;Lodève;34-C2;;34;Montpellier
0310001H;École Jean Jaurès;école;150;Toulouse;31-C1;;31;Toulouse
0340501K;Collège Hélène Boucher;collège;540;Montpellier;;34-B1;34;Montpellier
"""


def answers(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "A1": 8, "A2": "FIBRE", "A3": 1, "A4": False, "A5": False, "A6": False, "A7": True,
        "B1": 4, "B2": 2, "B3": 2, "C1": 0, "C2": 0, "C3": 1,
    }  # fmt: skip
    base.update(overrides)
    return base


def bearer(auth: AuthSettings, role: Role, scope: str, user: str | None = None) -> dict[str, str]:
    token = TokenService(auth).issue(user or f"{role.value}-{scope}", role, scope)
    return {"Authorization": f"Bearer {token}"}
