"""A rebuild from the logs gives the very read models the live projection built, and switches
over while the service keeps answering."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import uuid

import asyncpg
import msgspec
from litestar.testing import AsyncTestClient

import events
from bench.national_data import generate
from events.values import Role
from infra.auth import Principal
from infra.consumer import read_logs
from infra.progress import ProgressBar, log_size
from infra.relay import SOURCES
from infra.settings import AuthSettings, DatabaseSettings, NatsSettings
from services.declarations.app import open_application
from services.declarations.demo import ADMIN as DEMO_ADMIN
from services.declarations.demo import CATALOGUE, demo_register, load_demo
from services.label.demo import load_demo as load_label_demo
from services.reporting.app import create_app
from services.reporting.cell_projector import CellProjector
from services.reporting.projector import Projector, ensure_read_models
from services.reporting.rebuild import rebuild
from tests.support import bearer

UAI = "0340001S"
INDEXES = (
    "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'reporting' ORDER BY indexname"
)


async def checksums(conn: asyncpg.Connection, schema: str = "reporting") -> dict[str, str]:
    tables = await conn.fetch(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = $1 AND table_type = 'BASE TABLE' "
        "AND table_name NOT IN ('meta', 'tracking', 'parked', 'cell_tracking', 'cell_parked') "
        "ORDER BY table_name",
        schema,
    )
    sums = {}
    for t in tables:
        name = t["table_name"]
        sums[name] = await conn.fetchval(
            f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
            f"FROM {schema}.{name} t"
        )
        sums[f"{name}:rows"] = str(await conn.fetchval(f"SELECT count(*) FROM {schema}.{name}"))
    for tracking in ("tracking", "cell_tracking"):
        positions = await conn.fetch(
            f"SELECT source, position FROM {schema}.{tracking} ORDER BY source"
        )
        sums[tracking] = repr([tuple(p) for p in positions])
    return sums


async def project_live(
    database: DatabaseSettings,
    conn: asyncpg.Connection,
    interleaved: bool = True,
    after_positions: bool = False,
) -> None:
    """What the live projectors do (the reporting one and the territory figures'), in batches
    of an odd size: the logs interleaved as they were recorded (as the bus delivers them), or
    one after the other; from the start, or from where they stand."""
    unused = NatsSettings(url="nats://unused")
    projectors = (Projector(database, unused), CellProjector(database, unused))
    for projector in projectors:
        projector.generation = await conn.fetchval(
            "SELECT value FROM reporting.meta WHERE key = 'generation'"
        )
    sources = [
        s
        for s in SOURCES.values()
        if await conn.fetchval("SELECT to_regclass($1)", f"{s.schema}.{s.table}") is not None
    ]
    after = (
        {r["source"]: r["position"] for r in await conn.fetch("SELECT * FROM reporting.tracking")}
        if after_positions
        else {}
    )
    for logs in [sources] if interleaved else [[s] for s in sources]:
        async for chunk in read_logs(conn, logs, after):
            for start in range(0, len(chunk), 137):
                for projector in projectors:
                    await projector._apply_batch(conn, chunk[start : start + 137])


async def demo_projected(database: DatabaseSettings) -> asyncpg.Connection:
    """The demo recorded (the label log too: criterion steps and awards, folded in batches of
    another size), projected live; a connection to its database."""
    app = open_application(database, pool_size=2)
    load_demo(app)
    app.close()
    assert await asyncio.to_thread(load_label_demo, database) > 50
    conn: asyncpg.Connection = await asyncpg.connect(database.url)
    await ensure_read_models(conn)
    await project_live(database, conn)
    return conn


async def assert_imports_figured(conn: asyncpg.Connection, *, ent: int, gar: int) -> None:
    """More than `ent` ENT and `gar` GAR imports on record, which the territory figures the
    rebuild compares have counted (a school's own are read from the record)."""
    recorded = dict(
        await conn.fetch(
            f"SELECT topic, count(*) FROM {SOURCES['declarations'].qualified_table} "
            "WHERE topic IN ('EntConnectionsImported', 'GarAccessesImported') GROUP BY topic"
        )
    )
    assert recorded["EntConnectionsImported"] > ent
    assert recorded["GarAccessesImported"] > gar
    figured = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE ent_connections > 0) AS ent, "
        "count(*) FILTER (WHERE gar_accesses > 0) AS gar FROM reporting.cell_figures"
    )
    assert figured["ent"] > 0
    assert figured["gar"] > 0


async def test_a_rebuild_gives_identical_models_and_switches_over_while_serving(
    database: DatabaseSettings, auth: AuthSettings
) -> None:
    conn = await demo_projected(database)
    try:
        live = await checksums(conn)
        keys = await conn.fetch(INDEXES)
        assert int(live["declaration_versions:rows"]) > 300
        assert (
            await conn.fetchval(
                f"SELECT count(*) FROM {SOURCES['label'].qualified_table} "
                "WHERE topic LIKE 'Criterion%'"
            )
            > 200
        )  # label steps, on record
        assert int(live["label_standing:rows"]) > 50
        assert int(live["label_awards:rows"]) > 10
        assert int(live["school_ent_versions:rows"]) > 50
        await assert_imports_figured(conn, ent=100, gar=100)
        async with AsyncTestClient(create_app(database, auth)) as client:
            auditor = bearer(auth, Role.AUDITEUR, "*")
            before = await client.get(f"/api/v1/schools/{UAI}/profile", headers=auditor)
            assert before.status_code == 200, before.text
            # Rebuild with a progress bar, while the service keeps its connections open.
            shown = io.StringIO()
            report = await rebuild(
                database, ProgressBar(total=await log_size(database.url), out=shown)
            )
            after = await client.get(f"/api/v1/schools/{UAI}/profile", headers=auditor)
        assert report.applied == await log_size(database.url)
        assert report.parked == 0
        assert "/s" in shown.getvalue()
        assert "reste" in shown.getvalue()
        rebuilt = await checksums(conn)
        assert rebuilt == live
        # The keys and indexes, dropped for the copy, are back as the DDL defines them.
        assert await conn.fetch(INDEXES) == keys
        assert after.status_code == 200, after.text
        first, second = before.json(), after.json()
        first.pop("produced_at"), second.pop("produced_at")
        first.pop("as_of"), second.pop("as_of")
        assert first == second
        assert await conn.fetchval("SELECT to_regnamespace('reporting_next')") is None
    finally:
        await conn.close()


async def test_a_school_that_changes_kind_follows_its_new_referentiel_live_and_rebuilt(
    database: DatabaseSettings,
) -> None:
    conn = await demo_projected(database)
    try:
        labelled = await conn.fetchrow(
            "SELECT st.uai, st.referentiel_version FROM reporting.label_standing st "
            "JOIN reporting.schools s USING (uai) WHERE s.kind = 'ecole' ORDER BY st.uai LIMIT 1"
        )
        assert labelled is not None
        # The register now says it is a collège (a correction of the directory).
        rows = [r for r in demo_register() if r.uai == labelled["uai"]]
        moved = dataclasses.replace(
            rows[0], details=msgspec.structs.replace(rows[0].details, kind="college")
        )
        app = open_application(database, pool_size=2)
        app.import_register([moved], DEMO_ADMIN)
        app.close()
        await project_live(database, conn, after_positions=True)
        now = await conn.fetchrow(
            "SELECT referentiel_version, updated_at FROM reporting.label_standing WHERE uai = $1",
            labelled["uai"],
        )
        college = await conn.fetchval(
            "SELECT version FROM reporting.label_referentiels WHERE 'college' = ANY(kinds)"
        )
        assert now["referentiel_version"] == college != labelled["referentiel_version"]
        live = await checksums(conn)
        await rebuild(database)
        assert await checksums(conn) == live
    finally:
        await conn.close()


async def test_an_event_that_cannot_be_applied_is_parked_by_both_and_the_rest_is_identical(
    database: DatabaseSettings,
) -> None:
    app = open_application(database, pool_size=2)
    load_demo(app)
    app.close()
    conn = await asyncpg.connect(database.url)
    try:
        # A declaration about a school year that is no school year, amid the others: the whole
        # batch (or chunk) it is in fails, what came before it in memory is undone, then each
        # event is applied alone and this one parked.
        source = SOURCES["declarations"]
        row = await conn.fetchrow(
            f"SELECT originator_id, state FROM {source.qualified_table} "
            "WHERE topic = 'DeclarationSubmitted' ORDER BY notification_id DESC LIMIT 1"
        )
        version = await conn.fetchval(
            f"SELECT max(originator_version) FROM {source.qualified_table} "
            "WHERE originator_id = $1",
            row["originator_id"],
        )
        poison = msgspec.structs.replace(
            events.decode(row["state"]),
            event_id=uuid.uuid4(),
            originator_version=version + 1,
            school_year="pas une année",
        )
        await conn.execute(
            f"INSERT INTO {source.qualified_table} (originator_id, originator_version, topic, "
            "state) VALUES ($1, $2, $3, $4)",
            row["originator_id"],
            poison.originator_version,
            "DeclarationSubmitted",
            events.encode(poison),
        )
        # More events after it, of other schools.
        app = open_application(database, pool_size=2)
        for uai in [r.uai for r in demo_register() if r.details.kind == "ecole"][-5:]:
            director = Principal(f"directeur-{uai}", Role.DIRECTEUR, uai)
            app.add_usage(uai, CATALOGUE[-1].code, director)
        app.close()
        await ensure_read_models(conn)
        await project_live(database, conn)
        live = await checksums(conn)
        assert await conn.fetchval("SELECT count(*) FROM reporting.parked") == 1
        report = await rebuild(database)
        assert report.parked == 2  # the rebuild and its territory figures' process each park it
        reasons = [r["reason"] for r in await conn.fetch("SELECT reason FROM reporting.parked")]
        assert sum(r.startswith("territory figures:") for r in reasons) == 1
        assert await checksums(conn) == live
    finally:
        await conn.close()


async def test_a_rebuild_of_five_years_of_a_small_country_gives_the_live_models(
    database: DatabaseSettings,
) -> None:
    # The national bench's generator, 240 écoles: moves, closures, campaigns, declarations,
    # usages, ENT and GAR imports, label steps and awards, recorded over five years.
    await generate(database, 240, say=lambda _: None)
    conn = await asyncpg.connect(database.url)
    try:
        await ensure_read_models(conn)
        await project_live(database, conn)
        live = await checksums(conn)
        closed = await conn.fetchval(
            "SELECT count(*) FROM reporting.school_versions WHERE closed_on IS NOT NULL"
        )
        assert closed > 0
        assert int(live["school_versions:rows"]) > int(live["schools:rows"]) + closed
        assert int(live["label_awards:rows"]) > 20
        await assert_imports_figured(conn, ent=100, gar=100)
        report = await rebuild(database)
        assert report.parked == 0
        assert await checksums(conn) == live
    finally:
        await conn.close()
