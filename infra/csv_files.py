"""Reading the CSV files French administrations produce: `;` or `,`, UTF-8 or Latin-1."""

from __future__ import annotations

import csv
import io
import unicodedata

from infra.errors import FieldError, InvalidInput
from infra.text import control_error


def decode_text(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidInput([FieldError("fichier", "Le fichier n'est ni en UTF-8 ni en Latin-1.")])


def normalize_name(name: str) -> str:
    """`Nom_établissement ` -> `nom_etablissement`: header names compared without accents."""
    stripped = "".join(
        c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)
    )
    return "_".join(stripped.strip().lower().replace("'", "_").replace("-", "_").split())


def _format_errors(data: bytes) -> list[FieldError]:
    """What makes a file unreadable as a CSV of ours before its header is even looked at."""
    # A few NUL bytes are characters of cells, reported there; one byte in four or more is
    # a UTF-16 file, whose ASCII characters each carry a NUL.
    if data and data.count(b"\x00") * 4 >= len(data):
        return [
            FieldError(
                "fichier",
                "Le fichier n'est ni en UTF-8 ni en Latin-1 (il semble encodé en UTF-16) : "
                "enregistrez-le en CSV UTF-8.",
            )
        ]
    text = decode_text(data)
    if not text.strip():
        return [FieldError("fichier", "Le fichier est vide.")]
    first = text.splitlines()[0]
    if "\t" in first and ";" not in first and "," not in first:
        return [
            FieldError(
                "fichier",
                "Les colonnes sont séparées par des tabulations : le séparateur attendu est "
                "« ; » ou « , ».",
                line=1,
            )
        ]
    return []


def read_rows(
    data: bytes, columns: dict[str, tuple[str, ...]], required: tuple[str, ...]
) -> list[tuple[int, dict[str, str]]]:
    """Rows keyed by canonical column name, with their line number in the file.

    `columns` maps each canonical name to its accepted aliases (already normalized).
    """
    if errors := _format_errors(data):
        raise InvalidInput(errors)
    text = decode_text(data)
    first_line = text.splitlines()[0]
    delimiter = ";" if first_line.count(";") >= first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [normalize_name(h) for h in next(reader)]
    index: dict[str, int] = {}
    for canonical, aliases in columns.items():
        for i, name in enumerate(header):
            if name == canonical or name in aliases:
                index[canonical] = i
                break
    missing = [c for c in required if c not in index]
    if missing:
        raise InvalidInput(
            [
                FieldError(
                    "entete",
                    f"Colonne obligatoire absente de la ligne d'en-tête : {c} "
                    f"(séparateur détecté : « {delimiter} »).",
                    line=1,
                )
                for c in missing
            ]
        )
    rows: list[tuple[int, dict[str, str]]] = []
    unreadable: list[FieldError] = []
    while True:
        # The line a record starts on (a quoted cell may span several lines).
        line_no = reader.line_num + 1
        record = next(reader, None)
        if record is None:
            break
        if not any(cell.strip() for cell in record):
            continue
        cells = {c: (record[i].strip() if i < len(record) else "") for c, i in index.items()}
        unreadable += [
            error for c, cell in cells.items() if (error := control_error(c, cell, line_no))
        ]
        rows.append((line_no, cells))
    if unreadable:
        raise InvalidInput(unreadable)
    return rows
