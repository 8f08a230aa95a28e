"""The auditors' commands as a person runs them: `numecole verify`, `rebuild`, `replay`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import psycopg

from events.values import Role
from infra.auth import Principal
from infra.embedded import EmbeddedPostgres
from infra.settings import DatabaseSettings
from services.declarations.app import open_application
from services.declarations.register_csv import parse_register
from tests.conftest import Servers
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
    assert re.search(r"événements en \d+,\d s \(\d[\d\u202f]*/s\), 0 écarté\(s\)\.", rebuilt.stdout)
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


def test_replay_prints_only_json_and_says_when_there_are_no_read_models(
    tmp_path: Path, servers: Servers
) -> None:
    """With no server configured, the command starts an embedded PostgreSQL and logs it: on
    stderr, so that what it prints can be piped. A database without read models yet gets a
    French sentence, not a traceback."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {"NATS_URL": servers.nats_url, "NUMECOLE_LOG_LEVEL": "info"}
    try:
        replay = subprocess.run(
            [sys.executable, "-m", "infra.cli", "--data-dir", str(tmp_path), "replay",
             "--school", UAI, "--as-of", "2024-03-01"],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    finally:
        EmbeddedPostgres(tmp_path / "postgres").stop()
    assert replay.returncode == 1
    assert replay.stdout == ""
    assert "embedded_postgres.started" in replay.stderr
    assert "Traceback" not in replay.stderr
    assert replay.stderr.strip().endswith(
        "Les modèles de lecture n'existent pas encore dans cette base : lancez `numecole up` ou "
        "`numecole rebuild` pour les construire à partir des journaux."
    )
