"""Reading the ENT and GAR files: every broken rule of every line, before anything is stored."""

from __future__ import annotations

import hashlib

import pytest

from events.data_imports import EntConnections, GarResourceAccesses
from infra.errors import FieldError, InvalidInput
from services.declarations.data_imports import parse_ent, parse_gar

YEAR = "2024-2025"
ENT_HEADER = "uai;eleves;parents;enseignants"
FERRY = "0340001S;1250;310;95"
CURIE = "0340002T;80;10;4"
JAURES = "0310001H;0;0;0"
GAR_HEADER = "uai;ressource;acces"


def csv(*lines: str, header: str = ENT_HEADER) -> bytes:
    return "\n".join([header, *lines, ""]).encode()


def ent_refusal(data: bytes, period: str | int = 2, school_year: str = YEAR) -> list[FieldError]:
    with pytest.raises(InvalidInput) as caught:
        parse_ent(data, period, school_year)
    return caught.value.errors


def gar_refusal(data: bytes, school_year: str = YEAR) -> list[FieldError]:
    with pytest.raises(InvalidInput) as caught:
        parse_gar(data, school_year)
    return caught.value.errors


def where(errors: list[FieldError]) -> list[tuple[int | None, str]]:
    return [(e.line, e.field) for e in errors]


# -- ENT: what a good file gives ---------------------------------------------------------------


def test_an_ent_file_gives_one_row_per_school_with_its_line_and_connections() -> None:
    data = csv(FERRY, CURIE, JAURES)
    file = parse_ent(data, 2, YEAR)
    assert (file.school_year, file.period, file.sha256) == (
        YEAR,
        2,
        hashlib.sha256(data).hexdigest(),
    )
    assert [(r.line, r.uai) for r in file.rows] == [
        (2, "0340001S"),
        (3, "0340002T"),
        (4, "0310001H"),
    ]
    assert file.rows[0].connections == EntConnections(pupils=1250, parents=310, teachers=95)
    assert file.rows[0].enrolled_pupils is None  # the register's count will be used


def test_the_pupils_enrolled_come_from_the_file_when_it_has_them() -> None:
    file = parse_ent(csv(FERRY + ";212", CURIE + ";", header=ENT_HEADER + ";effectif"), "3", YEAR)
    assert [r.enrolled_pupils for r in file.rows] == [212, None]
    assert file.period == 3


def test_commas_separate_as_well_as_semicolons() -> None:
    data = csv(FERRY.replace(";", ","), header=ENT_HEADER.replace(";", ","))
    assert parse_ent(data, 1, YEAR).rows == parse_ent(csv(FERRY), 1, YEAR).rows


def test_a_latin_1_file_with_the_usual_column_names_reads_like_its_utf_8_twin() -> None:
    header = "Code UAI;Connexions élèves;Connexions parents;Connexions enseignants;Élèves inscrits"
    text = csv("0340001s;1 250;310;95;212", header=header).decode()
    from_latin_1 = parse_ent(text.encode("latin-1"), 1, YEAR)
    from_utf_8 = parse_ent(text.encode("utf-8"), 1, YEAR)
    assert from_latin_1.rows == from_utf_8.rows
    (row,) = from_latin_1.rows
    assert (row.uai, row.connections.pupils, row.enrolled_pupils) == ("0340001S", 1250, 212)


def test_a_byte_order_mark_windows_line_ends_and_blank_lines_are_read() -> None:
    data = b"\xef\xbb\xbf" + csv(FERRY, "", CURIE).replace(b"\n", b"\r\n")
    assert [(r.line, r.uai) for r in parse_ent(data, 1, YEAR).rows] == [
        (2, "0340001S"),
        (4, "0340002T"),
    ]


@pytest.mark.parametrize(("written", "count"), [("1 234", 1234), ("1\u00a0234", 1234), ("0", 0)])
def test_counts_may_group_thousands(written: str, count: int) -> None:
    (row,) = parse_ent(csv(f"0340001S;{written};0;0"), 1, YEAR).rows
    assert row.connections.pupils == count


def test_period_and_year_columns_are_accepted_when_they_agree_with_the_import() -> None:
    header = ENT_HEADER + ";periode;annee_scolaire"
    file = parse_ent(csv(FERRY + ";2;2024-2025", CURIE + ";2;2024/2025", header=header), 2, YEAR)
    assert len(file.rows) == 2


# -- ENT: every bad line ---------------------------------------------------------------------------


def test_every_bad_line_is_reported_with_its_number_and_nothing_is_returned() -> None:
    header = ENT_HEADER + ";effectif;periode;annee_scolaire"
    errors = ent_refusal(
        csv(
            "0340001S;1250;310;95;210;2;2024-2025",
            "0340001X;10;10;10;100;2;2024-2025",  # check letter
            "0340002T;-5;10;10;100;2;2024-2025",  # negative
            "0340001S;10;10;10;100;2;2024-2025",  # the same school again
            "0310001H;12,5;;deux;0;3;2023-2024",  # six problems
            "0340501K;1²;10;10;100;2;2024-2025",  # not plain digits
            "0341234G;10;10;10;-40;2;2024-2025",  # negative pupils
            "0341235H;10;10;10;10000000000;2;2024-2025",  # absurd
            header=header,
        )
    )
    assert where(errors) == [
        (3, "uai"),
        (4, "eleves"),
        (5, "uai"),
        (6, "eleves"),
        (6, "parents"),
        (6, "enseignants"),
        (6, "effectif"),
        (6, "periode"),
        (6, "annee_scolaire"),
        (7, "eleves"),
        (8, "effectif"),
        (9, "effectif"),
    ]
    messages = [e.message for e in errors]
    assert "0340001X" in messages[0]
    assert "négatif" in messages[1]
    assert "ligne 2" in messages[2]
    assert "n'est pas un entier" in messages[3]
    assert "absent" in messages[4]
    assert "nul" in messages[6]
    assert "période « 3 »" in messages[7]
    assert "2023-2024" in messages[8]
    assert "démesuré" in messages[11]


@pytest.mark.parametrize("period", [0, 6, "6", "deux", "", "1.5", "-1", "²"])
def test_a_period_other_than_1_to_5_is_refused(period: str | int) -> None:
    errors = ent_refusal(csv(FERRY), period=period)
    assert where(errors) == [(None, "period")]
    assert "1 à 5" in errors[0].message


@pytest.mark.parametrize("school_year", ["2024", "2024-2026", "24-25", "2025-2024", ""])
def test_a_school_year_not_of_the_form_2024_2025_is_refused(school_year: str) -> None:
    errors = ent_refusal(csv(FERRY), school_year=school_year)
    assert where(errors) == [(None, "school_year")]
    assert "2024-2025" in errors[0].message
    assert where(gar_refusal(csv("0340001S;Lalilo;3", header=GAR_HEADER), school_year)) == [
        (None, "school_year")
    ]


def test_a_wrong_period_and_year_are_reported_with_the_bad_lines() -> None:
    errors = ent_refusal(csv(FERRY, "0340001X;1;1;1"), period=9, school_year="2024")
    assert where(errors) == [(None, "school_year"), (None, "period"), (3, "uai")]


def test_a_missing_column_is_reported_on_the_header_line() -> None:
    errors = ent_refusal(csv("0340001S;1250;95", header="uai;eleves;enseignants"), period=7)
    assert where(errors) == [(None, "period"), (1, "entete")]
    assert "parents" in errors[1].message


def test_a_file_separated_by_tabs_is_refused_on_its_header_line() -> None:
    errors = ent_refusal(csv(FERRY.replace(";", "\t"), header=ENT_HEADER.replace(";", "\t")))
    assert where(errors) == [(1, "fichier")]
    assert "tabulations" in errors[0].message


def test_a_line_with_another_separator_is_reported_on_its_line() -> None:
    errors = ent_refusal(csv(FERRY, CURIE.replace(";", ",")))
    assert {(e.line, e.field) for e in errors} >= {(3, "uai"), (3, "parents")}


def test_a_utf_16_file_is_refused_with_its_encoding_named() -> None:
    errors = ent_refusal(csv(FERRY).decode().encode("utf-16"))
    assert where(errors) == [(None, "fichier")]
    assert "UTF-16" in errors[0].message


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b" \r\n"])
def test_an_empty_file_is_called_empty_not_utf_16(data: bytes) -> None:
    errors = ent_refusal(data)
    assert where(errors) == [(None, "fichier")]
    assert errors[0].message == "Le fichier est vide."


def test_a_control_character_in_a_cell_is_reported_on_its_line_and_column() -> None:
    # A NUL byte or two in a UTF-8 file are characters of its cells, not a UTF-16 file.
    errors = ent_refusal(csv(FERRY, CURIE.replace("80", "8\x000"), JAURES))
    assert where(errors) == [(3, "eleves")]
    assert errors[0].message == "Le texte contient un caractère de contrôle (U+0000) : retirez-le."
    errors = gar_refusal(csv("0340001S;Lal\x01ilo;12", header=GAR_HEADER))
    assert where(errors) == [(2, "ressource")]
    assert "U+0001" in errors[0].message


def test_a_file_without_schools_is_refused() -> None:
    assert where(ent_refusal(b"")) == [(None, "fichier")]
    assert where(ent_refusal(csv())) == [(None, "fichier")]
    assert where(gar_refusal(csv(header=GAR_HEADER))) == [(None, "fichier")]


# -- GAR ------------------------------------------------------------------------------------------


def test_a_gar_file_gives_each_school_its_resources_sorted_with_their_lines() -> None:
    data = csv(
        "0340001S;Lalilo;1 310",
        "0340002T;Lalilo;12",
        "0340001S;  Éduthèque  ;42",
        "0340001S;Banque de ressources   numériques;0",
        header=GAR_HEADER,
    )
    file = parse_gar(data, YEAR)
    assert (file.school_year, file.sha256) == (YEAR, hashlib.sha256(data).hexdigest())
    ferry, curie = file.schools
    assert (ferry.uai, ferry.lines) == ("0340001S", (2, 4, 5))
    assert ferry.resources == (
        GarResourceAccesses(resource="Banque de ressources numériques", accesses=0),
        GarResourceAccesses(resource="Lalilo", accesses=1310),
        GarResourceAccesses(resource="Éduthèque", accesses=42),
    )
    assert (curie.uai, curie.lines, len(curie.resources)) == ("0340002T", (3,), 1)


def test_a_latin_1_gar_file_with_the_usual_column_names_is_read() -> None:
    header = "UAI;Nom ressource;Nombre d'accès;Année"
    data = csv("0340001S;Éduthèque;42;2024-2025", header=header).decode().encode("cp1252")
    (school,) = parse_gar(data, YEAR).schools
    assert school.resources == (GarResourceAccesses(resource="Éduthèque", accesses=42),)


def test_every_bad_gar_line_is_reported_with_its_number() -> None:
    errors = gar_refusal(
        csv(
            "0340001S;Lalilo;10",
            "0340002T;Lalilo;10",  # another school: fine
            "0340001S;LALILO;3",  # the same resource again
            "0340001S;;3",  # no resource
            "0340001S;Éduthèque;-1",  # negative
            "03400;Éduthèque;1",  # bad UAI
            "0340002T;" + "x" * 201 + ";1",  # name too long
            "0340002T;Éduthèque;beaucoup",
            header=GAR_HEADER,
        )
    )
    assert where(errors) == [
        (4, "ressource"),
        (5, "ressource"),
        (6, "acces"),
        (7, "uai"),
        (8, "ressource"),
        (9, "acces"),
    ]
    assert "ligne 2" in errors[0].message
    assert "négatif" in errors[2].message


def test_a_gar_line_of_another_year_is_reported() -> None:
    header = GAR_HEADER + ";annee_scolaire"
    errors = gar_refusal(
        csv("0340001S;Lalilo;10;2024-2025", "0340002T;Lalilo;1;2023-2024", header=header)
    )
    assert where(errors) == [(3, "annee_scolaire")]


def test_a_gar_file_without_its_columns_is_refused_on_the_header_line() -> None:
    errors = gar_refusal(csv("0340001S;Lalilo", header="uai;ressource"))
    assert where(errors) == [(1, "entete")]
    assert "acces" in errors[0].message
