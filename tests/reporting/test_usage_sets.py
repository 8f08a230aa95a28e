"""Each school's set of usages after each change (`usage_sets`, what territories read) is the
set its changes give when replayed one by one, at every moment one was recorded, whatever the
batches the projector folded them in."""

from __future__ import annotations

from collections import defaultdict

import asyncpg

from events.values import Role
from infra.auth import Principal
from infra.settings import DatabaseSettings
from services.declarations.app import open_application
from services.declarations.demo import CATALOGUE, demo_register, load_demo
from services.reporting.projector import ensure_read_models
from services.reporting.school_profile import usages_at
from tests.reporting.test_rebuild import project_live


async def test_usage_sets_are_the_changes_replayed(database: DatabaseSettings) -> None:
    app = open_application(database, pool_size=2)
    load_demo(app)
    # Removals, and a usage added back: the demo only adds.
    codes = [u.code for u in CATALOGUE]
    ecoles = [r.uai for r in demo_register() if r.details.kind == "ecole"]
    for uai in ecoles[:12]:
        director = Principal(f"directeur-{uai}", Role.DIRECTEUR, uai)
        for code in codes[:3]:
            app.add_usage(uai, code, director)
        app.remove_usage(uai, codes[0], director)
        app.remove_usage(uai, codes[1], director)
        app.add_usage(uai, codes[0], director)
    app.close()
    conn = await asyncpg.connect(database.url)
    try:
        await ensure_read_models(conn)
        await project_live(database, conn)
        changes: dict[str, list[asyncpg.Record]] = defaultdict(list)
        for c in await conn.fetch(
            "SELECT uai, code, added, recorded_at FROM reporting.usage_changes "
            "ORDER BY uai, recorded_at, event_id"
        ):
            changes[c["uai"]].append(c)
        sets = await conn.fetch("SELECT uai, valid_from, codes FROM reporting.usage_sets")
        removals = sum(not c["added"] for rows in changes.values() for c in rows)
        assert removals > 0
        moments = {(uai, c["recorded_at"]) for uai, rows in changes.items() for c in rows}
        assert {(s["uai"], s["valid_from"]) for s in sets} == moments
        for s in sets:
            assert sorted(s["codes"]) == sorted(usages_at(changes[s["uai"]], s["valid_from"]))
    finally:
        await conn.close()
