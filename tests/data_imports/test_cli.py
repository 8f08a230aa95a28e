"""`numecole import ent|gar`: the import, its report, and a refused file's report per line."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra import cli
from infra.settings import DatabaseSettings
from services.declarations.application import DeclarationsApplication
from services.declarations.data_imports import ent_id
from tests.data_imports.conftest import YEAR


@pytest.fixture
def on_database(
    app: DeclarationsApplication, database: DatabaseSettings, monkeypatch: pytest.MonkeyPatch
) -> DeclarationsApplication:
    """The command line pointed at the test database (seeded by `app`)."""
    monkeypatch.setenv("DATABASE_URL", database.url)
    monkeypatch.setattr(cli, "configure_logging", lambda service: None)
    return app


def write(tmp_path: Path, text: str, encoding: str = "utf-8") -> str:
    path = tmp_path / "import.csv"
    path.write_bytes(text.encode(encoding))
    return str(path)


def test_an_ent_period_is_imported_and_a_second_run_changes_nothing(
    on_database: DeclarationsApplication, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = write(tmp_path, "uai;eleves;parents;enseignants\n0340001S;150;50;20\n", "latin-1")
    argv = ["import", "ent", file, "--period", "2", "--school-year", YEAR]
    assert cli.main(argv) == 0
    assert "période 2 (2023-2024) importées : 1 école(s) enregistrée(s), 0 inchangée(s)" in (
        capsys.readouterr().out
    )
    assert cli.main(argv) == 0
    assert "0 école(s) enregistrée(s), 1 inchangée(s)" in capsys.readouterr().out
    assert len(on_database.stream(ent_id("0340001S", YEAR))) == 1


def test_gar_accesses_are_imported(
    on_database: DeclarationsApplication, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = write(tmp_path, "uai,ressource,acces\n0340001S,Lalilo,12\n0340002T,Lalilo,3\n")
    assert cli.main(["import", "gar", file, "--school-year", YEAR]) == 0
    assert "Accès GAR (2023-2024) importés : 2 école(s) enregistrée(s)" in capsys.readouterr().out


def test_a_refused_file_is_reported_per_line_and_exits_1(
    on_database: DeclarationsApplication, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = on_database.recorder.max_notification_id()
    bad = write(tmp_path, "uai;eleves;parents;enseignants\n0340001S;-1;0;0\n0340001S;1;0;0\n")
    assert cli.main(["import", "ent", bad, "--period", "8", "--school-year", YEAR]) == 1
    out = capsys.readouterr().out
    assert "Fichier refusé (3 erreur(s)), rien n'a été enregistré" in out
    assert "period : Période « 8 » invalide" in out
    assert "ligne 2, eleves : Le nombre de connexions des élèves est négatif" in out
    assert "ligne 3, uai : UAI 0340001S déjà présent à la ligne 2." in out
    # Well formed, but unknown to the register: refused by the import itself.
    unknown = write(tmp_path, "uai;ressource;acces\n0340003U;Lalilo;1\n")
    assert cli.main(["import", "gar", unknown, "--school-year", YEAR]) == 1
    assert "ligne 2, uai : Aucune école n'est enregistrée sous l'UAI 0340003U." in (
        capsys.readouterr().out
    )
    assert on_database.recorder.max_notification_id() == before


@pytest.mark.parametrize(
    "command", [["register"], ["gar", "--school-year", YEAR]], ids=["register", "gar"]
)
def test_a_missing_file_or_a_folder_is_reported_in_french(
    on_database: DeclarationsApplication,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    missing = str(tmp_path / "absent.csv")
    what, *options = command
    assert cli.main(["import", what, missing, *options]) == 1
    assert capsys.readouterr().out == f"Fichier introuvable : {missing}.\n"
    assert cli.main(["import", what, str(tmp_path), *options]) == 1
    assert capsys.readouterr().out == f"{tmp_path} est un dossier, pas un fichier.\n"
