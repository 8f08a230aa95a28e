"""Every operation of the three services' OpenAPI documents, with requests generated from them
(schemathesis): whatever a client sends, with whichever role, never a 5xx.

The services run as real processes on a database and a stream of their own, with a register,
campaigns and the label register's copy of the schools, so that requests reach the rules and
the database rather than stopping at an unknown school."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode
from schemathesis.schemas import APIOperation

from events.values import Role
from infra.settings import AuthSettings
from services.label.referentiels import shipped_referentiels
from tests.conftest import Servers, drop_stream, fresh_database, fresh_stream
from tests.e2e.test_write_to_profile import THIS_YEAR, UAI, seed
from tests.label.test_e2e import wait_until_registered
from tests.processes import Platform, running_platform
from tests.support import bearer

SERVICES = ("declarations", "label", "reporting")
COMPONENTS = (*SERVICES, "relay", "label-register")
# Each request is sent as each of these, so that every operation is reached past its
# authorisation by someone and refused to someone else.
ROLES = {
    "admin": (Role.ADMIN, "academie:montpellier"),
    "directeur": (Role.DIRECTEUR, UAI),
    "auditeur": (Role.AUDITEUR, "*"),
}
# What each service's path parameters name that exists in the seeded platform.
KNOWN = {
    "declarations": {
        "uai": UAI,
        "school_year": THIS_YEAR,
        "academie": "montpellier",
        "code": "ROBOTIQUE",
    },
    "label": {"uai": UAI, "code": "E-REF-1", "version": "ecole-2018"},
    "reporting": {"uai": UAI, "level": "academie", "code": "montpellier"},
}
Operation = APIOperation[Any, Any, Any, Any]
FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def platform(
    servers: Servers, auth: AuthSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    stream = fresh_stream(servers)
    try:
        with (
            fresh_database(servers) as database,
            running_platform(
                database, stream, auth, tmp_path_factory.mktemp("openapi-fuzz"), COMPONENTS
            ) as p,
        ):
            seed(p, auth)
            for referentiel in shipped_referentiels():
                r = httpx.put(
                    f"{p.url('label')}/api/v1/label/referentiels/{referentiel.version}",
                    content=msgspec.json.encode(referentiel),
                    headers=bearer(auth, *ROLES["admin"]),
                )
                assert r.status_code == 200, r.text
            wait_until_registered(p, auth)
            yield p
    finally:
        asyncio.run(drop_stream(stream))


def operations(platform: Platform, service: str) -> list[Operation]:
    schema = schemathesis.openapi.from_url(f"{platform.url(service)}/schema/openapi.json")
    found = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # every operation's definition can be read
        found.append(result.ok())
    return found


def never_a_server_error(platform: Platform, service: str, auth: AuthSettings) -> int:
    """Generated requests for every operation of the service, each sent as each role; how many
    operations were exercised."""
    found = operations(platform, service)
    for operation in found:
        known = {name: KNOWN[service][name] for name in re.findall(r"{(\w+)", operation.path)}

        @FUZZ
        @given(
            case=st.one_of(
                operation.as_strategy(GenerationMode.POSITIVE),
                operation.as_strategy(GenerationMode.NEGATIVE),
                # The school and the territory that exist: the rest of the request reaches
                # the rules and the database.
                operation.as_strategy(GenerationMode.POSITIVE, path_parameters=known),
                operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=known),
            )
        )
        def sent_by_everyone(case: Case[Operation]) -> None:
            for role in ROLES.values():
                case.headers.update(bearer(auth, *role))
                case.call_and_validate(base_url=platform.url(service), checks=[not_a_server_error])

        sent_by_everyone()
    return len(found)


@pytest.mark.parametrize(
    ("service", "at_least"), [("declarations", 11), ("label", 10), ("reporting", 6)]
)
def test_no_request_to_any_operation_gets_a_server_error(
    platform: Platform, auth: AuthSettings, service: str, at_least: int
) -> None:
    # The count is the control: an empty document would make the property pass vacuously.
    assert never_a_server_error(platform, service, auth) >= at_least
