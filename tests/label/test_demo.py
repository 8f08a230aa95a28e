"""The demo's label activity: both référentiels, boards in every state, January awards; loading
it twice adds nothing."""

from __future__ import annotations

import psycopg

from events.values import Role
from infra.auth import Principal
from infra.settings import DatabaseSettings
from services.declarations.app import open_application as open_declarations
from services.declarations.register_csv import parse_register
from services.label.demo import load_demo
from tests.support import REGISTER_CSV


def test_the_demo_records_label_activity_once(database: DatabaseSettings) -> None:
    declarations = open_declarations(database, pool_size=2)
    declarations.import_register(
        parse_register(REGISTER_CSV.encode()), Principal("admin", Role.ADMIN, "*")
    )
    declarations.close()
    # Every school of the register gets some activity (the register is caught up from the log).
    assert load_demo(database, share=1.0) == 4
    with psycopg.connect(database.url) as conn:
        topics: dict[str, int] = dict(
            conn.execute("SELECT topic, count(*) FROM label.label_events GROUP BY topic").fetchall()
        )
    assert topics["ReferentielPublished"] == 2
    assert topics["CriterionProposed"] >= topics.get("CriterionValidated", 0)
    # Loading again publishes nothing and records nothing.
    assert load_demo(database, share=1.0) == 0
    with psycopg.connect(database.url) as conn:
        again: dict[str, int] = dict(
            conn.execute("SELECT topic, count(*) FROM label.label_events GROUP BY topic").fetchall()
        )
    assert again == topics
