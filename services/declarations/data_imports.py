"""The académie's ENT and GAR imports: the files, checked line by line, and the use cases.

**ENT file** — the connections of one period (1–5) of one school year, one line per school:
`uai;eleves;parents;enseignants` with optional `effectif`, `periode` and `annee_scolaire`.
`eleves`, `parents` and `enseignants` are the period's connections of each profile; `effectif`
is the pupils enrolled (the register's pupil count is used when the column is absent or the
cell empty); `periode` and `annee_scolaire`, when present, must be the period and year the
import is for. Example::

    uai;eleves;parents;enseignants;effectif
    0340001S;1 250;310;95;210

**GAR file** — the resources used during one school year, one line per school and resource:
`uai;ressource;acces` with optional `annee_scolaire`; `acces` counts the successful
connections that opened a GAR session, for the year so far. Example::

    uai;ressource;acces
    0340001S;Éduthèque;42
    0340001S;Lalilo;1 310

Both: `;` or `,`, UTF-8 or Latin-1 (Windows-1252), a header line whose names may be the usual
aliases (`UAI`, `Code UAI`, `Connexions élèves`, `Nombre d'accès`…); counts are non-negative
integers, thousands may be grouped with spaces. Every broken rule of every line is reported
with its line number, and nothing of a refused file is stored.

**Recording** — one aggregate per school and school year for each source. An ENT line records
`EntConnectionsImported` unless the period already holds the same connections and pupils; a
corrected file for the same period records the new figures, which supersede the old ones. A
GAR school records `GarAccessesImported` (the year's whole list of resources for that school)
unless it is the list already recorded; a school absent from a later file keeps its figures.
So importing the same file again records nothing. Only the admin of every listed school's
académie may import; schools must be in the register (and open during the year), and the
year must be known to the school's académie (a campaign was opened for it, as for
declarations); an ENT period cannot be imported before it could have begun.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from events.data_imports import (
    PUPILS_FROM_FILE,
    PUPILS_FROM_REGISTER,
    EntConnections,
    EntConnectionsImported,
    GarAccessesImported,
    GarResourceAccesses,
)
from events.ent import PERIODS, period_earliest_start, period_has_begun
from events.envelope import Event
from events.values import Role, is_valid_uai, school_year_bounds
from infra.auth import Principal, may_administer
from infra.csv_files import read_rows
from infra.errors import FieldError, Forbidden, InvalidInput
from infra.event_store import ContractApplication, new_event, stream_id
from infra.school_years import school_year_errors
from services.declarations.domain import (
    SchoolRecord,
    campaign_id,
    project_campaign,
    project_school,
    school_id,
)

UAI_ALIASES = ("code_uai", "numero_uai", "uai_etablissement", "identifiant_de_l_etablissement")
YEAR_ALIASES = ("annee", "annee_scolaire_concernee")
ENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "uai": UAI_ALIASES,
    "eleves": ("connexions_eleves", "nb_connexions_eleves", "profil_eleve", "eleve"),
    "parents": (
        "connexions_parents",
        "nb_connexions_parents",
        "profil_parent",
        "parent",
        "responsables",
        "connexions_responsables",
    ),
    "enseignants": (
        "connexions_enseignants",
        "nb_connexions_enseignants",
        "profil_enseignant",
        "enseignant",
        "professeurs",
    ),
    "effectif": ("effectifs", "eleves_inscrits", "nombre_d_eleves", "nb_eleves_inscrits"),
    "periode": ("numero_periode", "num_periode"),
    "annee_scolaire": YEAR_ALIASES,
}
ENT_REQUIRED = ("uai", "eleves", "parents", "enseignants")
GAR_COLUMNS: dict[str, tuple[str, ...]] = {
    "uai": UAI_ALIASES,
    "ressource": ("nom_ressource", "libelle_ressource", "titre_ressource", "id_ressource"),
    "acces": ("nb_acces", "nombre_d_acces", "nombre_acces", "nombre_de_sessions", "sessions"),
    "annee_scolaire": YEAR_ALIASES,
}
GAR_REQUIRED = ("uai", "ressource", "acces")
MAX_COUNT = 1_000_000_000  # beyond this a count is a mistake (and would not fit the read model)
MAX_RESOURCE_NAME = 200
PROFILES = {"eleves": "des élèves", "parents": "des parents", "enseignants": "des enseignants"}


# -- the files ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntRow:
    line: int
    uai: str
    connections: EntConnections
    enrolled_pupils: int | None  # None: the register's pupil count


@dataclass(frozen=True)
class EntFile:
    school_year: str
    period: int
    sha256: str
    rows: tuple[EntRow, ...]


@dataclass(frozen=True)
class GarSchool:
    """One school's lines of a GAR file."""

    uai: str
    lines: tuple[int, ...]
    resources: tuple[GarResourceAccesses, ...]  # sorted by name


@dataclass(frozen=True)
class GarFile:
    school_year: str
    sha256: str
    schools: tuple[GarSchool, ...]


def _period(value: str | int) -> int | None:
    text = str(value).strip()
    if text.isascii() and text.isdigit() and int(text) in PERIODS:
        return int(text)
    return None


def _rows(
    data: bytes,
    columns: dict[str, tuple[str, ...]],
    required: tuple[str, ...],
    errors: list[FieldError],
) -> list[tuple[int, dict[str, str]]]:
    """The file's rows; an unreadable file, or one without its header columns, is refused
    with `errors` so far."""
    try:
        return read_rows(data, columns, required)
    except InvalidInput as exc:
        raise InvalidInput(errors + exc.errors) from None


def _count(
    cells: dict[str, str], column: str, what: str, line: int, errors: list[FieldError]
) -> int | None:
    """A non-negative integer, thousands grouped by spaces; an error otherwise."""
    raw = cells.get(column, "")
    text = "".join(raw.replace("\u00a0", " ").replace("\u202f", " ").split())
    if not text:
        errors.append(FieldError(column, f"Le nombre {what} est absent.", line))
        return None
    negative = text.startswith("-") and text[1:].isascii() and text[1:].isdigit()
    if negative:
        errors.append(FieldError(column, f"Le nombre {what} est négatif : « {raw} ».", line))
        return None
    # ASCII digits only: `str.isdigit` accepts "²", which `int` refuses.
    if not (text.isascii() and text.isdigit()):
        errors.append(
            FieldError(column, f"Le nombre {what} n'est pas un entier : « {raw} ».", line)
        )
        return None
    value = int(text)
    if value >= MAX_COUNT:
        errors.append(FieldError(column, f"Le nombre {what} est démesuré : « {raw} ».", line))
        return None
    return value


def _uai(cells: dict[str, str], line: int, errors: list[FieldError]) -> str | None:
    uai = cells["uai"].strip().upper()
    if not is_valid_uai(uai):
        errors.append(FieldError("uai", f"UAI invalide : « {cells['uai']} ».", line))
        return None
    return uai


def _same_year(
    cells: dict[str, str], school_year: str, year_ok: bool, line: int, errors: list[FieldError]
) -> None:
    written = cells.get("annee_scolaire", "").replace("/", "-").replace(" ", "")
    if written and year_ok and written != school_year:
        errors.append(
            FieldError(
                "annee_scolaire",
                f"La ligne est de l'année scolaire « {cells['annee_scolaire']} », "
                f"l'import est pour {school_year}.",
                line,
            )
        )


def parse_ent(data: bytes, period: str | int, school_year: str) -> EntFile:
    """The ENT file of one period; InvalidInput with every broken rule otherwise."""
    errors = school_year_errors(school_year)
    year_ok = not errors
    number = _period(period)
    if number is None:
        errors.append(
            FieldError("period", f"Période « {period} » invalide : attendu un nombre de 1 à 5.")
        )
    rows: list[EntRow] = []
    seen: dict[str, int] = {}
    for line, cells in _rows(data, ENT_COLUMNS, ENT_REQUIRED, errors):
        problems: list[FieldError] = []
        uai = _uai(cells, line, problems)
        if uai is not None:
            if uai in seen:
                problems.append(
                    FieldError("uai", f"UAI {uai} déjà présent à la ligne {seen[uai]}.", line)
                )
            else:
                seen[uai] = line
        counts = {
            c: _count(cells, c, f"de connexions {w}", line, problems) for c, w in PROFILES.items()
        }
        enrolled: int | None = None
        if cells.get("effectif"):
            enrolled = _count(cells, "effectif", "d'élèves inscrits", line, problems)
            if enrolled == 0:
                problems.append(
                    FieldError("effectif", "L'effectif d'une école ne peut pas être nul.", line)
                )
        written = cells.get("periode", "")
        if written and number is not None and _period(written) != number:
            problems.append(
                FieldError(
                    "periode",
                    f"La ligne est de la période « {written} », l'import est pour la période "
                    f"{number}.",
                    line,
                )
            )
        _same_year(cells, school_year, year_ok, line, problems)
        if problems:
            errors += problems
            continue
        assert uai is not None
        rows.append(
            EntRow(
                line,
                uai,
                EntConnections(
                    pupils=counts["eleves"] or 0,
                    parents=counts["parents"] or 0,
                    teachers=counts["enseignants"] or 0,
                ),
                enrolled,
            )
        )
    if errors:
        raise InvalidInput(errors)
    if not rows:
        raise InvalidInput([FieldError("fichier", "Le fichier ne contient aucune école.")])
    assert number is not None
    return EntFile(school_year, number, hashlib.sha256(data).hexdigest(), tuple(rows))


def _resource_name(raw: str) -> str:
    return " ".join(raw.split())


def parse_gar(data: bytes, school_year: str) -> GarFile:
    """The GAR file of one school year; InvalidInput with every broken rule otherwise."""
    errors = school_year_errors(school_year)
    year_ok = not errors
    lines: dict[str, list[int]] = {}
    resources: dict[str, dict[str, GarResourceAccesses]] = {}
    seen: dict[tuple[str, str], int] = {}
    for line, cells in _rows(data, GAR_COLUMNS, GAR_REQUIRED, errors):
        problems: list[FieldError] = []
        uai = _uai(cells, line, problems)
        name = _resource_name(cells["ressource"])
        if not name:
            problems.append(FieldError("ressource", "Le nom de la ressource est vide.", line))
        elif len(name) > MAX_RESOURCE_NAME:
            problems.append(
                FieldError(
                    "ressource",
                    f"Le nom de la ressource dépasse {MAX_RESOURCE_NAME} caractères.",
                    line,
                )
            )
        elif uai is not None:
            key = (uai, name.casefold())
            if key in seen:
                problems.append(
                    FieldError(
                        "ressource",
                        f"La ressource « {name} » de l'UAI {uai} figure déjà à la ligne "
                        f"{seen[key]}.",
                        line,
                    )
                )
            else:
                seen[key] = line
        accesses = _count(cells, "acces", "d'accès", line, problems)
        _same_year(cells, school_year, year_ok, line, problems)
        if problems:
            errors += problems
            continue
        assert uai is not None
        assert accesses is not None
        lines.setdefault(uai, []).append(line)
        resources.setdefault(uai, {})[name] = GarResourceAccesses(resource=name, accesses=accesses)
    if errors:
        raise InvalidInput(errors)
    if not lines:
        raise InvalidInput([FieldError("fichier", "Le fichier ne contient aucune école.")])
    schools = tuple(
        GarSchool(uai, tuple(lines[uai]), tuple(resources[uai][n] for n in sorted(resources[uai])))
        for uai in lines
    )
    return GarFile(school_year, hashlib.sha256(data).hexdigest(), schools)


# -- the aggregates ----------------------------------------------------------------------------


def ent_id(uai: str, school_year: str) -> uuid.UUID:
    return stream_id("ent", uai, school_year)


def gar_id(uai: str, school_year: str) -> uuid.UUID:
    return stream_id("gar", uai, school_year)


@dataclass
class EntYear:
    """A school's ENT connections of one school year: the last figures of each period."""

    id: uuid.UUID
    version: int
    uai: str
    school_year: str
    periods: dict[int, EntConnectionsImported] = field(default_factory=dict)

    def holds(self, period: int, connections: EntConnections, pupils: int) -> bool:
        known = self.periods.get(period)
        return known is not None and (known.connections, known.enrolled_pupils) == (
            connections,
            pupils,
        )


def project_ent_year(state: EntYear | None, events_: Iterable[Event]) -> EntYear | None:
    for e in events_:
        if isinstance(e, EntConnectionsImported):
            if state is None:
                assert e.uai is not None
                state = EntYear(e.originator_id, 0, e.uai, e.school_year)
            state.periods[e.period] = e
            state.version = e.originator_version
    return state


@dataclass
class GarYear:
    """A school's GAR resources of one school year, as the last file gave them."""

    id: uuid.UUID
    version: int
    uai: str
    school_year: str
    resources: tuple[GarResourceAccesses, ...] = ()


def project_gar_year(state: GarYear | None, events_: Iterable[Event]) -> GarYear | None:
    for e in events_:
        if isinstance(e, GarAccessesImported):
            if state is None:
                assert e.uai is not None
                state = GarYear(e.originator_id, 0, e.uai, e.school_year)
            state.resources = tuple(e.resources)
            state.version = e.originator_version
    return state


# -- the use cases -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DataImport:
    """`recorded` schools got new figures, `unchanged` already had them; `position` is the
    record's position after the import."""

    recorded: int
    unchanged: int
    position: int


def ensure_may_import(by: Principal) -> None:
    """Data imports are for an académie's admin (which académie is checked per school)."""
    if by.role is not Role.ADMIN:
        raise Forbidden(
            f"Votre rôle ({by.role.value}) ne permet pas d'importer les données ENT et GAR : "
            "seul l'administrateur de l'académie le peut."
        )


class DataImports(ContractApplication):
    """The ENT and GAR imports, mixed into `DeclarationsApplication` (they share its log)."""

    def find_school(self, uai: str) -> SchoolRecord | None:
        """The register's school, or None when the UAI is unknown (or malformed)."""
        return self.find(school_id(uai), project_school) if is_valid_uai(uai) else None

    def ent_year(self, uai: str, school_year: str) -> EntYear:
        found = self.find(ent_id(uai, school_year), project_ent_year)
        return (
            found if found is not None else EntYear(ent_id(uai, school_year), 0, uai, school_year)
        )

    def gar_year(self, uai: str, school_year: str) -> GarYear:
        found = self.find(gar_id(uai, school_year), project_gar_year)
        return (
            found if found is not None else GarYear(gar_id(uai, school_year), 0, uai, school_year)
        )

    def _schools_of(
        self, lines: Sequence[tuple[int, str]], school_year: str, by: Principal
    ) -> tuple[dict[str, SchoolRecord], list[FieldError]]:
        """The register's schools of a file's lines; refused when the importer does not
        administer them all; the lines of unknown or closed schools and the académies without
        a campaign for the year as errors."""
        ensure_may_import(by)
        first_day, _ = school_year_bounds(school_year)
        found: dict[str, SchoolRecord | None] = {}
        schools: dict[str, SchoolRecord] = {}
        errors: list[FieldError] = []
        for line, uai in lines:
            if uai not in found:
                found[uai] = self.find_school(uai)
            school = found[uai]
            if school is None:
                errors.append(
                    FieldError("uai", f"Aucune école n'est enregistrée sous l'UAI {uai}.", line)
                )
            elif school.closed_on is not None and school.closed_on < first_day:
                errors.append(
                    FieldError(
                        "uai",
                        f"L'école {uai} est fermée depuis le {school.closed_on:%d/%m/%Y}, "
                        f"avant l'année scolaire {school_year}.",
                        line,
                    )
                )
            else:
                schools[uai] = school
        academies = sorted({s.details.academie for s in schools.values()})
        refused = [a for a in academies if not may_administer(by, a)]
        if refused:
            raise Forbidden(
                "Votre périmètre ne permet pas d'importer des données des écoles des académies : "
                + ", ".join(refused)
                + "."
            )
        year_errors: list[FieldError] = []
        for academie in academies:
            if self.find(campaign_id(academie, school_year), project_campaign) is None:
                year_errors.append(
                    FieldError(
                        "school_year",
                        f"Aucune campagne n'a été ouverte pour l'année scolaire {school_year} "
                        f"dans l'académie de {academie.capitalize()}.",
                    )
                )
        return schools, year_errors + errors

    def _recorded(self, new: list[Event], total: int) -> DataImport:
        position = self.record(*new) if new else (self.recorder.max_notification_id() or 0)
        return DataImport(recorded=len(new), unchanged=total - len(new), position=position)

    def import_ent(self, file: EntFile, by: Principal, today: date | None = None) -> DataImport:
        """Record the connections of `file.period` for every school of the file."""
        schools, errors = self._schools_of(
            [(r.line, r.uai) for r in file.rows], file.school_year, by
        )
        if not period_has_begun(file.school_year, file.period, today or self.now().date()):
            errors.insert(
                0,
                FieldError(
                    "period",
                    f"La période {file.period} de l'année scolaire {file.school_year} ne peut "
                    f"pas avoir commencé avant le "
                    f"{period_earliest_start(file.school_year, file.period):%d/%m/%Y} : "
                    "ses connexions ne sont pas encore connues.",
                ),
            )
        if errors:
            raise InvalidInput(errors)
        new: list[Event] = []
        for row in file.rows:
            school = schools[row.uai]
            pupils = school.details.pupils if row.enrolled_pupils is None else row.enrolled_pupils
            state = self.ent_year(row.uai, file.school_year)
            if state.holds(file.period, row.connections, pupils):
                continue
            new.append(
                new_event(
                    EntConnectionsImported,
                    originator_id=state.id,
                    originator_version=state.version + 1,
                    uai=row.uai,
                    school_year=file.school_year,
                    actor=by.actor,
                    period=file.period,
                    connections=row.connections,
                    enrolled_pupils=pupils,
                    pupils_source=(
                        PUPILS_FROM_REGISTER if row.enrolled_pupils is None else PUPILS_FROM_FILE
                    ),
                    file_sha256=file.sha256,
                )
            )
        return self._recorded(new, len(file.rows))

    def import_gar(self, file: GarFile, by: Principal) -> DataImport:
        """Record the year's GAR resources of every school of the file."""
        lines = [(line, s.uai) for s in file.schools for line in s.lines]
        _, errors = self._schools_of(lines, file.school_year, by)
        if errors:
            raise InvalidInput(errors)
        new: list[Event] = []
        for school in file.schools:
            state = self.gar_year(school.uai, file.school_year)
            if state.version and state.resources == school.resources:
                continue
            new.append(
                new_event(
                    GarAccessesImported,
                    originator_id=state.id,
                    originator_version=state.version + 1,
                    uai=school.uai,
                    school_year=file.school_year,
                    actor=by.actor,
                    resources=list(school.resources),
                    file_sha256=file.sha256,
                )
            )
        return self._recorded(new, len(file.schools))
