"""Every stored event is chained to the previous one of its stream; `verify` finds tampering."""

from __future__ import annotations

from datetime import date

import psycopg
import pytest

from events.values import Role
from infra.auth import Principal
from infra.settings import DatabaseSettings
from infra.verify import verify
from services.declarations.app import open_application
from services.declarations.application import DeclarationsApplication
from services.declarations.register_csv import parse_register
from tests.support import REGISTER_CSV, answers

UAI = "0340001S"
ADMIN = Principal("drane", Role.ADMIN, "region:occitanie")
DIRECTOR = Principal("dir", Role.DIRECTEUR, UAI)


@pytest.fixture
def recorded(database: DatabaseSettings) -> DatabaseSettings:
    app: DeclarationsApplication = open_application(database, pool_size=1)
    app.import_register(parse_register(REGISTER_CSV.encode()), ADMIN)
    app.open_campaign("montpellier", "2024-2025", date(2024, 6, 21), date(2024, 9, 27), ADMIN)
    for classes in (8, 9, 10):
        app.submit_declaration(UAI, "2024-2025", answers(A1=classes), DIRECTOR)
    app.close()
    return database


def tamper(database: DatabaseSettings, sql: str) -> None:
    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute(sql)


def declaration_position(database: DatabaseSettings, classes: int) -> int:
    with psycopg.connect(database.url) as conn:
        row = conn.execute(
            "SELECT notification_id FROM declarations.declarations_events "
            "WHERE convert_from(state, 'UTF8') LIKE %s",
            (f'%"A1":{classes},%',),
        ).fetchone()
    assert row is not None
    return int(row[0])


async def test_an_untouched_log_verifies(recorded: DatabaseSettings) -> None:
    report = await verify(recorded.url)
    assert report.ok
    assert report.checked["declarations"] == 4 + 1 + 3  # register, campaign, declarations


async def test_an_answer_changed_with_sql_is_caught_at_its_position(
    recorded: DatabaseSettings,
) -> None:
    position = declaration_position(recorded, 9)
    tamper(
        recorded,
        "UPDATE declarations.declarations_events SET state = convert_to(replace("
        "convert_from(state, 'UTF8'), '\"A1\":9,', '\"A1\":12,'), 'UTF8') "
        f"WHERE notification_id = {position}",
    )
    report = await verify(recorded.url)
    assert not report.ok
    broken = report.broken[0]
    assert (broken.source, broken.position, broken.uai) == ("declarations", position, UAI)
    assert broken.type == "DeclarationSubmitted"
    assert "chain" in broken.reason


async def test_a_deleted_event_is_caught_at_the_next_one(recorded: DatabaseSettings) -> None:
    position = declaration_position(recorded, 9)
    tamper(
        recorded, f"DELETE FROM declarations.declarations_events WHERE notification_id = {position}"
    )
    report = await verify(recorded.url)
    assert report.broken[0].position == declaration_position(recorded, 10)
    assert "version 3 follows version 1" in report.broken[0].reason


async def test_a_rewritten_chain_still_breaks_the_link_after_it(recorded: DatabaseSettings) -> None:
    # Change the content and give the event a made-up chain: the next event no longer links.
    position = declaration_position(recorded, 9)
    tamper(
        recorded,
        "UPDATE declarations.declarations_events SET state = convert_to(regexp_replace("
        "replace(convert_from(state, 'UTF8'), '\"A1\":9,', '\"A1\":12,'), "
        '\'"chain":"[0-9a-f]+"\', \'"chain":"' + "0" * 64 + "\"'), 'UTF8') "
        f"WHERE notification_id = {position}",
    )
    report = await verify(recorded.url)
    assert report.broken[0].position == position
