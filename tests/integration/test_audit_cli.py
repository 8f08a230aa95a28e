"""The auditors' commands as a person runs them: `numecole verify`, `rebuild`, `replay`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date

import psycopg

from events.values import Role
from infra.auth import Principal
from infra.settings import DatabaseSettings
from services.declarations.app import open_application
from services.declarations.register_csv import parse_register
from tests.support import REGISTER_CSV, answers

UAI = "0340001S"


def numecole(database: DatabaseSettings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database.url, "NUMECOLE_LOG_LEVEL": "warning"}
    return subprocess.run(
        [sys.executable, "-m", "infra.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def record(database: DatabaseSettings) -> None:
    app = open_application(database, pool_size=1)
    admin = Principal("drane", Role.ADMIN, "region:occitanie")
    app.import_register(parse_register(REGISTER_CSV.encode()), admin)
    app.open_campaign("montpellier", "2024-2025", date(2024, 6, 21), date(2024, 9, 27), admin)
    app.submit_declaration(
        UAI, "2024-2025", answers(B1=8, B2=0, B3=8, C3=8), Principal("d", Role.DIRECTEUR, UAI)
    )
    app.close()


def test_verify_passes_then_names_the_tampered_event(database: DatabaseSettings) -> None:
    record(database)
    ok = numecole(database, "verify")
    assert ok.returncode == 0, ok.stderr
    assert "Intégrité vérifiée" in ok.stdout
    # Its progress, on the terminal's other stream.
    assert re.search(r"vérification \[#+\] 6/6 événements · .*/s · reste 0 s", ok.stderr)
    with psycopg.connect(database.url, autocommit=True) as conn:
        conn.execute(
            "UPDATE declarations.declarations_events SET state = convert_to(replace("
            "convert_from(state, 'UTF8'), '\"B1\":8', '\"B1\":7'), 'UTF8') WHERE topic = 'DeclarationSubmitted'"
        )
    broken = numecole(database, "verify")
    assert broken.returncode == 1
    assert "LIEN ROMPU" in broken.stderr
    assert f"école {UAI}, DeclarationSubmitted" in broken.stderr


def test_rebuild_then_replay_print_the_school_as_recorded(database: DatabaseSettings) -> None:
    record(database)
    rebuilt = numecole(database, "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "Modèles de lecture reconstruits : 6 événements" in rebuilt.stdout
    # Two processes side by side: the rebuild, and the territory figures'.
    assert re.search(r"Pic de mémoire : \d+ Mio .* \+ [1-9]\d* Mio", rebuilt.stdout)
    replay = numecole(
        database,
        "replay",
        "--school",
        UAI,
        "--school-year",
        "2024-2025",
        "--as-of",
        date.today().isoformat(),
    )
    assert replay.returncode == 0, replay.stderr
    profile = json.loads(replay.stdout)
    assert profile["equipment"]["index"] == 3
    territory = numecole(
        database, "replay", "--territory", "departement:34", "--as-of", date.today().isoformat()
    )
    assert territory.returncode == 0, territory.stderr
    assert json.loads(territory.stdout)["figures"]["schools"] == 3
    neither = numecole(database, "replay", "--as-of", "2024-01-01")
    assert neither.returncode == 2
