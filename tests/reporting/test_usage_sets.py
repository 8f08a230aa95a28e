"""Each school's set of usages after each change (`usage_sets`, what territories read) is the
set its changes give when replayed one by one, at every moment one was recorded, whatever the
batches the projector folded them in."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime

import asyncpg

from events.declarations import UsageAdded, UsageRemoved
from events.values import Role
from infra.auth import Principal
from infra.consumer import read_logs
from infra.relay import SOURCES
from infra.settings import DatabaseSettings
from services.declarations.app import open_application
from services.declarations.demo import CATALOGUE, demo_register, load_demo
from services.reporting.projector import ensure_read_models
from tests.reporting.test_rebuild import project_live


def replayed(changes: list[UsageAdded | UsageRemoved], until: datetime) -> list[str]:
    codes: set[str] = set()
    for c in changes:
        if c.recorded_at > until:
            break
        if isinstance(c, UsageAdded):
            codes.add(c.code)
        else:
            codes.discard(c.code)
    return sorted(codes)


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
        # The changes as the log holds them, in recording order.
        changes: dict[str, list[UsageAdded | UsageRemoved]] = defaultdict(list)
        async for chunk in read_logs(conn, [SOURCES["declarations"]], {}):
            for d in chunk:
                if isinstance(d.event, UsageAdded | UsageRemoved):
                    assert d.event.uai is not None
                    changes[d.event.uai].append(d.event)
        sets = await conn.fetch("SELECT uai, valid_from, codes FROM reporting.usage_sets")
        removals = sum(isinstance(c, UsageRemoved) for rows in changes.values() for c in rows)
        assert removals > 0
        moments = {(uai, c.recorded_at) for uai, rows in changes.items() for c in rows}
        assert {(s["uai"], s["valid_from"]) for s in sets} == moments
        for s in sets:
            codes = json.loads(s["codes"])
            assert codes == sorted(codes) == replayed(changes[s["uai"]], s["valid_from"])
    finally:
        await conn.close()
