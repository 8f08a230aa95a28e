"""The school register file: one school a line, checked line by line before anything is stored."""

from __future__ import annotations

from dataclasses import dataclass

from events.declarations import SchoolDetails
from events.values import is_valid_uai
from infra.csv_files import normalize_name, read_rows
from infra.errors import FieldError, InvalidInput

COLUMNS: dict[str, tuple[str, ...]] = {
    "uai": ("identifiant_de_l_etablissement", "code_uai", "numero_uai", "uai_etablissement"),
    "nom": ("nom_etablissement", "appellation_officielle", "denomination"),
    "type": ("type_etablissement", "nature"),
    "eleves": ("nombre_d_eleves", "nb_eleves", "effectif"),
    "commune": ("nom_commune", "libelle_commune"),
    "circonscription": ("code_circonscription", "circonscription_1er_degre"),
    "bassin": ("code_bassin_formation", "bassin_formation", "code_bassin"),
    "departement": ("code_departement", "departement_code"),
    "academie": ("libelle_academie", "nom_academie"),
}
REQUIRED = ("uai", "nom", "type", "eleves", "commune", "departement", "academie")
KINDS = {"ecole": "ecole", "college": "college", "lycee": "lycee"}


@dataclass(frozen=True)
class RegisterRow:
    line: int
    uai: str
    details: SchoolDetails


def _kind(value: str) -> str | None:
    word = normalize_name(value).split("_")[0] if value else ""
    return KINDS.get(word)


def _departement(value: str) -> str:
    code = value.strip().upper()
    # The official directory writes `034`; the register keeps `34` (`2A`, `971` unchanged).
    return code[1:] if len(code) == 3 and code.startswith("0") else code


def parse_register(data: bytes) -> list[RegisterRow]:
    errors: list[FieldError] = []
    rows: list[RegisterRow] = []
    seen: dict[str, int] = {}
    for line, cells in read_rows(data, COLUMNS, REQUIRED):
        problems: list[FieldError] = []
        uai = cells["uai"].upper()
        if not is_valid_uai(uai):
            problems.append(FieldError("uai", f"UAI invalide : « {cells['uai']} ».", line))
        elif uai in seen:
            problems.append(
                FieldError("uai", f"UAI {uai} déjà présent à la ligne {seen[uai]}.", line)
            )
        else:
            # Recorded even if the line has other problems, so a repeat is reported too.
            seen[uai] = line
        kind = _kind(cells["type"])
        if kind is None:
            problems.append(
                FieldError(
                    "type",
                    f"Type d'établissement inconnu : « {cells['type']} » "
                    "(école, collège ou lycée).",
                    line,
                )
            )
        # Thousands may be separated by a space, a no-break space or a narrow one.
        pupils = "".join(cells["eleves"].replace("\u00a0", " ").replace("\u202f", " ").split())
        # ASCII digits only: `str.isdigit` accepts "²", which `int` refuses.
        if not (pupils.isascii() and pupils.isdigit()):
            problems.append(
                FieldError("eleves", f"Nombre d'élèves invalide : « {cells['eleves']} ».", line)
            )
        for column in ("nom", "commune", "departement", "academie"):
            if not cells[column]:
                problems.append(FieldError(column, f"La colonne {column} est vide.", line))
        circonscription = cells.get("circonscription") or None
        bassin = cells.get("bassin") or None
        if kind == "ecole" and circonscription is None:
            problems.append(
                FieldError("circonscription", "Une école doit avoir une circonscription.", line)
            )
        if kind in ("college", "lycee") and bassin is None:
            problems.append(
                FieldError("bassin", "Un collège ou un lycée doit avoir un bassin.", line)
            )
        if problems:
            errors.extend(problems)
            continue
        assert kind is not None
        rows.append(
            RegisterRow(
                line=line,
                uai=uai,
                details=SchoolDetails(
                    name=cells["nom"],
                    kind=kind,
                    pupils=int(pupils),
                    commune=cells["commune"],
                    circonscription=circonscription,
                    bassin=bassin,
                    departement=_departement(cells["departement"]),
                    academie=normalize_name(cells["academie"]),
                ),
            )
        )
    if errors:
        raise InvalidInput(errors)
    if not rows:
        raise InvalidInput([FieldError("fichier", "Le fichier ne contient aucune école.")])
    return rows
