"""Every stored event is chained to the previous one of its school; `verify` finds tampering."""

from __future__ import annotations

import threading
import uuid
from datetime import date
from typing import Any

import msgspec
import psycopg
import pytest

import events
from bench.national_data import generate
from events.codec import UPCASTERS
from events.declarations import UsageAdded
from events.values import Role
from infra.auth import Principal
from infra.integrity import GENESIS, blanked, chain_value, link, seal_bytes
from infra.settings import DatabaseSettings
from infra.verify import verify
from services.declarations.app import open_application
from services.declarations.application import DeclarationsApplication
from services.declarations.register_csv import parse_register
from tests.support import REGISTER_CSV, answers

UAI = "0340001S"
ADMIN = Principal("drane", Role.ADMIN, "region:occitanie")
DIRECTOR = Principal("dir", Role.DIRECTEUR, UAI)
LOG = "declarations.declarations_events"


def register(pupils: int = 210) -> bytes:
    changed = REGISTER_CSV.replace(
        f"{UAI};École Jules Ferry;école;210;", f"{UAI};École Jules Ferry;école;{pupils};"
    )
    return changed.encode()


@pytest.fixture
def recorded(database: DatabaseSettings) -> DatabaseSettings:
    app: DeclarationsApplication = open_application(database, pool_size=1)
    app.import_register(parse_register(register()), ADMIN)
    app.open_campaign("montpellier", "2024-2025", date(2024, 6, 21), date(2024, 9, 27), ADMIN)
    for classes in (8, 9, 10):
        app.submit_declaration(UAI, "2024-2025", answers(A1=classes), DIRECTOR)
    app.close()
    return database


def tamper(database: DatabaseSettings, sql: str) -> None:
    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute(sql)


def position_of(database: DatabaseSettings, fragment: str) -> int:
    with psycopg.connect(database.url) as conn:
        rows = conn.execute(
            f"SELECT notification_id FROM {LOG} WHERE convert_from(state, 'UTF8') LIKE %s",
            (f"%{fragment}%",),
        ).fetchall()
    assert len(rows) == 1, rows
    return int(rows[0][0])


def declaration_position(database: DatabaseSettings, classes: int) -> int:
    return position_of(database, f'"A1":{classes},')


def stored_bytes(database: DatabaseSettings, position: int) -> bytes:
    with psycopg.connect(database.url) as conn:
        row = conn.execute(
            f"SELECT state FROM {LOG} WHERE notification_id = %s", (position,)
        ).fetchone()
    assert row is not None
    return bytes(row[0])


def stored(database: DatabaseSettings, position: int) -> events.Event:
    return events.decode(stored_bytes(database, position))


def school_log(database: DatabaseSettings, uai: str | None) -> list[events.Event]:
    return [e for e, _ in school_rows(database, uai)]


def school_rows(database: DatabaseSettings, uai: str | None) -> list[tuple[events.Event, bytes]]:
    with psycopg.connect(database.url) as conn:
        rows = conn.execute(f"SELECT state FROM {LOG} ORDER BY notification_id").fetchall()
    decoded = [(events.decode(r[0]), bytes(r[0])) for r in rows]
    return [(e, data) for e, data in decoded if e.uai == uai]


def unsealed(data: bytes) -> bytes:
    value = chain_value(data)
    assert value is not None
    return blanked(data, value)


async def test_an_untouched_log_verifies(recorded: DatabaseSettings) -> None:
    report = await verify(recorded.url)
    assert report.ok
    assert report.checked["declarations"] == 4 + 1 + 3  # register, campaign, declarations


def test_each_event_is_chained_to_the_previous_one_of_its_school(
    recorded: DatabaseSettings,
) -> None:
    # Across the school's streams (its register entry, then its declarations), in log order;
    # the campaign, about no school, starts a chain of its own.
    school = school_rows(recorded, UAI)
    assert [type(e).__name__ for e, _ in school] == (
        ["SchoolRegistered"] + 3 * ["DeclarationSubmitted"]
    )
    assert len({e.originator_id for e, _ in school}) == 2
    previous = GENESIS
    for event, data in school:
        assert event.chain == link(previous, unsealed(data))
        # For an event of its type's current version, the stored bytes with the chain blanked
        # are its encoding with an empty chain, as links were first defined.
        assert unsealed(data) == events.encode(msgspec.structs.replace(event, chain=""))
        previous = event.chain
    ((campaign, data),) = school_rows(recorded, None)
    assert campaign.chain == link(GENESIS, unsealed(data))


async def test_an_answer_changed_with_sql_is_caught_at_its_position(
    recorded: DatabaseSettings,
) -> None:
    position = declaration_position(recorded, 9)
    tamper(
        recorded,
        f"UPDATE {LOG} SET state = convert_to(replace("
        "convert_from(state, 'UTF8'), '\"A1\":9,', '\"A1\":12,'), 'UTF8') "
        f"WHERE notification_id = {position}",
    )
    report = await verify(recorded.url)
    assert not report.ok
    broken = report.broken[0]
    assert (broken.source, broken.position, broken.uai) == ("declarations", position, UAI)
    assert broken.type == "DeclarationSubmitted"
    previous = declaration_position(recorded, 8)
    assert broken.reason == (
        f"sa chaîne ne suit pas l'événement précédent de l'école {UAI} (position {previous}) : "
        f"cet événement a été modifié, ou un événement de l'école {UAI} enregistré entre les "
        "deux a été supprimé"
    )


async def test_a_changed_event_about_no_school_is_caught(recorded: DatabaseSettings) -> None:
    position = position_of(recorded, '"type":"CampaignOpened"')
    tamper(
        recorded,
        f"UPDATE {LOG} SET state = convert_to(replace(convert_from(state, 'UTF8'), "
        "'2024-09-27', '2024-10-27'), 'UTF8') "
        f"WHERE notification_id = {position}",
    )
    broken = (await verify(recorded.url)).broken[0]
    assert (broken.position, broken.uai, broken.type) == (position, None, "CampaignOpened")
    assert "des événements sans école" in broken.reason


async def test_a_deleted_event_is_caught_at_the_next_one_of_its_stream(
    recorded: DatabaseSettings,
) -> None:
    position = declaration_position(recorded, 9)
    tamper(recorded, f"DELETE FROM {LOG} WHERE notification_id = {position}")
    report = await verify(recorded.url)
    assert report.broken[0].position == declaration_position(recorded, 10)
    assert report.broken[0].reason == (
        "la version 3 de son flux suit la version 1 : un événement du flux a été supprimé"
    )


async def test_an_event_deleted_between_two_streams_of_its_school_is_caught(
    database: DatabaseSettings,
) -> None:
    # The school's register entry changes between two declarations: removing that change
    # leaves both streams whole (it was the last of its own), but not the school's chain.
    app: DeclarationsApplication = open_application(database, pool_size=1)
    app.import_register(parse_register(register()), ADMIN)
    app.open_campaign("montpellier", "2024-2025", date(2024, 6, 21), date(2024, 9, 27), ADMIN)
    app.submit_declaration(UAI, "2024-2025", answers(A1=8), DIRECTOR)
    app.import_register(parse_register(register(pupils=230)), ADMIN)
    app.submit_declaration(UAI, "2024-2025", answers(A1=9), DIRECTOR)
    app.close()
    assert (await verify(database.url)).ok
    removed = position_of(database, '"type":"SchoolDetailsChanged"')
    tamper(database, f"DELETE FROM {LOG} WHERE notification_id = {removed}")
    report = await verify(database.url)
    broken = report.broken[0]
    assert (broken.position, broken.uai, broken.type) == (
        declaration_position(database, 9),
        UAI,
        "DeclarationSubmitted",
    )
    assert broken.version == 2  # its own stream is whole
    assert f"(position {declaration_position(database, 8)})" in broken.reason
    assert broken.reason.endswith(
        f"position(s) absente(s) du journal entre les deux : {removed} "
        "(un événement supprimé, ou une écriture refusée)"
    )


async def test_a_rewritten_chain_still_breaks_the_link_after_it(recorded: DatabaseSettings) -> None:
    # Change the content and give the event a made-up chain: it no longer links to its
    # predecessor.
    position = declaration_position(recorded, 9)
    tamper(
        recorded,
        f"UPDATE {LOG} SET state = convert_to(regexp_replace("
        "replace(convert_from(state, 'UTF8'), '\"A1\":9,', '\"A1\":12,'), "
        '\'"chain":"[0-9a-f]+"\', \'"chain":"' + "0" * 64 + "\"'), 'UTF8') "
        f"WHERE notification_id = {position}",
    )
    report = await verify(recorded.url)
    assert report.broken[0].position == position


async def test_a_chain_recomputed_for_a_changed_event_breaks_the_next_link(
    recorded: DatabaseSettings,
) -> None:
    # Whoever alters an event and seals it again to its predecessor is caught at the
    # school's next event, which was sealed to the original.
    position = declaration_position(recorded, 9)
    previous = stored(recorded, declaration_position(recorded, 8))
    forged = stored_bytes(recorded, position).replace(b'"A1":9,', b'"A1":12,')
    assert previous.chain is not None
    resealed = seal_bytes(unsealed(forged), previous.chain)
    with psycopg.connect(recorded.url, autocommit=True) as conn:
        conn.execute(
            f"UPDATE {LOG} SET state = %s WHERE notification_id = %s",
            (resealed.data, position),
        )
    broken = (await verify(recorded.url)).broken[0]
    assert broken.position == declaration_position(recorded, 10)
    assert "cet événement a été modifié" in broken.reason


def usage_added_v0(raw: dict[str, Any]) -> dict[str, Any]:
    """A made-up v0 of UsageAdded (its field `usage`, in lowercase), upcast to v1."""
    raw = dict(raw)
    raw["code"] = raw.pop("usage").upper()
    return raw


async def test_an_event_stored_under_an_older_version_of_its_type_verifies(
    database: DatabaseSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No type has a version 2 yet: a made-up v0, with a test-only upcaster, stands for an
    # event stored (and sealed) by an older producer, which decodes into today's Struct.
    monkeypatch.setitem(UPCASTERS, ("UsageAdded", 0), usage_added_v0)
    app: DeclarationsApplication = open_application(database, pool_size=1)
    app.import_register(parse_register(register()), ADMIN)
    app.open_campaign("montpellier", "2024-2025", date(2024, 6, 21), date(2024, 9, 27), ADMIN)
    app.submit_declaration(UAI, "2024-2025", answers(A1=8), DIRECTOR)
    declared = stored(database, declaration_position(database, 8))
    assert declared.chain is not None
    envelope = msgspec.to_builtins(declared)
    old = msgspec.json.encode(
        {
            "type": "UsageAdded",
            "schema_version": 0,
            "event_id": str(uuid.uuid4()),
            "originator_id": envelope["originator_id"],
            "originator_version": 2,
            "uai": UAI,
            "school_year": "2024-2025",
            "occurred_at": envelope["occurred_at"],
            "recorded_at": envelope["recorded_at"],
            "actor": envelope["actor"],
            "chain": "",
            "usage": "robotique_pedagogique",
        }
    )
    data = seal_bytes(old, declared.chain).data
    with psycopg.connect(database.url, autocommit=True) as conn:
        row = conn.execute(
            f"INSERT INTO {LOG} (originator_id, originator_version, topic, state) "
            "VALUES (%s, 2, 'UsageAdded', %s) RETURNING notification_id",
            (declared.originator_id, data),
        ).fetchone()
    assert row is not None
    position = int(row[0])
    usage = stored(database, position)
    assert isinstance(usage, UsageAdded)
    assert (usage.schema_version, usage.code) == (1, "ROBOTIQUE_PEDAGOGIQUE")
    # Re-encoded, it is a v1 event: a link over that would not be the one it was sealed with.
    assert events.encode(msgspec.structs.replace(usage, chain="")) != unsealed(data)
    # The stream goes on after it, the next link sealed to its chain.
    app.submit_declaration(UAI, "2024-2025", answers(A1=9), DIRECTOR)
    app.close()
    assert stored(database, declaration_position(database, 9)).originator_version == 3
    report = await verify(database.url)
    assert report.ok, report.broken
    assert report.checked["declarations"] == 4 + 1 + 3
    # Its bytes altered, it no longer links.
    tamper(
        database,
        f"UPDATE {LOG} SET state = convert_to(replace(convert_from(state, 'UTF8'), "
        "'robotique_pedagogique', 'programmation'), 'UTF8') "
        f"WHERE notification_id = {position}",
    )
    broken = (await verify(database.url)).broken[0]
    assert (broken.position, broken.type, broken.version) == (position, "UsageAdded", 2)
    assert "cet événement a été modifié" in broken.reason


async def test_a_row_moved_to_another_version_is_caught(recorded: DatabaseSettings) -> None:
    position = declaration_position(recorded, 10)
    tamper(recorded, f"UPDATE {LOG} SET originator_version = 7 WHERE notification_id = {position}")
    broken = (await verify(recorded.url)).broken[0]
    assert (broken.position, broken.version) == (position, 7)
    assert "version 3" in broken.reason


async def test_concurrent_writers_to_two_streams_of_one_school_both_verify(
    database: DatabaseSettings,
) -> None:
    # Two applications (two connection pools) write the school's declarations and its register
    # entry at the same time: each event still follows the one stored just before it.
    setup: DeclarationsApplication = open_application(database, pool_size=1)
    setup.import_register(parse_register(register()), ADMIN)
    setup.open_campaign("montpellier", "2024-2025", date(2024, 6, 21), date(2024, 9, 27), ADMIN)
    setup.close()
    rounds = 15
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def declare() -> None:
        app: DeclarationsApplication = open_application(database, pool_size=1)
        try:
            start.wait()
            for i in range(rounds):
                app.submit_declaration(UAI, "2024-2025", answers(A1=8 + i % 5), DIRECTOR)
        except BaseException as exc:
            failures.append(exc)
        finally:
            app.close()

    def reregister() -> None:
        app: DeclarationsApplication = open_application(database, pool_size=1)
        try:
            start.wait()
            for i in range(rounds):
                app.import_register(parse_register(register(pupils=211 + i)), ADMIN)
        except BaseException as exc:
            failures.append(exc)
        finally:
            app.close()

    threads = [threading.Thread(target=declare), threading.Thread(target=reregister)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    report = await verify(database.url)
    assert report.ok, report.broken
    assert report.checked["declarations"] == 4 + 1 + 2 * rounds
    assert len(school_log(database, UAI)) == 1 + 2 * rounds


async def test_the_national_generator_seals_as_the_recorder_does(
    database: DatabaseSettings,
) -> None:
    await generate(database, 240, say=lambda _: None)
    report = await verify(database.url)
    assert report.ok, report.broken
    assert report.checked["declarations"] > 1000
    assert report.checked["label"] > 100
