"""Reading the school register from the official directory's CSV (DOMAIN.md, schools)."""

from __future__ import annotations

import pytest

from infra.errors import FieldError, InvalidInput
from services.declarations.register_csv import parse_register

HEADER = "uai;nom;type;eleves;commune;circonscription;bassin;departement;academie"
JULES_FERRY = "0341234G;École Jules Ferry;école;212;Montpellier;34-C1;;34;Montpellier"
BOUCHER = "0340501K;Collège Hélène Boucher;collège;540;Montpellier;;34-B1;34;Montpellier"
JAURES = "0310001H;École Jean Jaurès;école;150;Toulouse;31-C1;;31;Toulouse"


def csv(*lines: str, header: str = HEADER) -> bytes:
    return "\n".join([header, *lines, ""]).encode()


def refusal(data: bytes) -> list[FieldError]:
    with pytest.raises(InvalidInput) as caught:
        parse_register(data)
    return caught.value.errors


def test_a_register_gives_one_row_per_school_with_its_line() -> None:
    rows = parse_register(csv(JULES_FERRY, BOUCHER, JAURES))
    assert [(r.line, r.uai) for r in rows] == [(2, "0341234G"), (3, "0340501K"), (4, "0310001H")]
    ferry = rows[0].details
    assert (ferry.name, ferry.kind, ferry.pupils, ferry.commune) == (
        "École Jules Ferry",
        "ecole",
        212,
        "Montpellier",
    )
    assert (ferry.circonscription, ferry.bassin, ferry.departement, ferry.academie) == (
        "34-C1",
        None,
        "34",
        "montpellier",
    )
    assert rows[1].details.kind == "college"
    assert rows[1].details.bassin == "34-B1"


def test_commas_separate_as_well_as_semicolons() -> None:
    data = csv(
        "0341234G,École Jules Ferry,école,212,Montpellier,34-C1,,34,Montpellier",
        header=HEADER.replace(";", ","),
    )
    assert parse_register(data)[0].details == parse_register(csv(JULES_FERRY))[0].details


def test_a_latin_1_file_reads_like_its_utf_8_twin() -> None:
    text = csv(
        JULES_FERRY,
        BOUCHER,
        "0310001H;Lycée Cœur d’Occitanie;lycée;980;Toulouse;;31-B2;31;Toulouse",
    ).decode()
    from_utf8 = parse_register(text.encode("utf-8"))
    from_cp1252 = parse_register(text.encode("cp1252"))
    assert from_cp1252 == from_utf8
    assert from_cp1252[2].details.name == "Lycée Cœur d’Occitanie"


def test_a_utf_8_file_with_a_byte_order_mark_and_windows_line_ends_is_read() -> None:
    data = b"\xef\xbb\xbf" + csv(JULES_FERRY, BOUCHER).replace(b"\n", b"\r\n")
    assert [r.uai for r in parse_register(data)] == ["0341234G", "0340501K"]


def test_the_official_directory_column_names_are_accepted() -> None:
    header = (
        "Identifiant_de_l_etablissement;Nom_etablissement;Type_etablissement;Nombre_d_eleves;"
        "Nom_commune;Code_circonscription;Code_bassin_formation;Code_departement;Libelle_academie"
    )
    line = "0341234G;École Jules Ferry;Ecole élémentaire;212;Montpellier;34-C1;;034;MONTPELLIER"
    (row,) = parse_register(csv(line, header=header))
    assert row.details == parse_register(csv(JULES_FERRY))[0].details


@pytest.mark.parametrize(
    ("written", "kept"), [("034", "34"), ("34", "34"), ("009", "09"), ("02A", "2A"), ("971", "971")]
)
def test_the_departement_is_kept_as_the_register_writes_it(written: str, kept: str) -> None:
    line = f"0341234G;École Jules Ferry;école;212;Montpellier;34-C1;;{written};Montpellier"
    assert parse_register(csv(line))[0].details.departement == kept


def test_every_bad_line_is_reported_with_its_number_and_nothing_is_returned() -> None:
    errors = refusal(
        csv(
            JULES_FERRY,
            "0341234A;École Sans Lettre;école;100;Sète;34-C3;;34;Montpellier",  # check letter
            "0340501K;Collège Hélène Boucher;collège;540;Montpellier;;;34;Montpellier",  # no bassin
            JAURES,
            "0340002T;École Marie Curie;crèche;deux cents;;34-C2;;34;Montpellier",  # three problems
        )
    )
    assert [(e.line, e.field) for e in errors] == [
        (3, "uai"),
        (4, "bassin"),
        (6, "type"),
        (6, "eleves"),
        (6, "commune"),
    ]
    assert all(e.message for e in errors)


def test_blank_lines_and_multi_line_names_keep_line_numbers_true() -> None:
    errors = refusal(
        csv(
            JULES_FERRY,
            "",
            '0340501K;"Collège\nHélène Boucher";collège;540;Montpellier;;34-B1;34;Montpellier',
            "0340002T;École Marie Curie;école;beaucoup;Lodève;34-C2;;34;Montpellier",
        )
    )
    assert [(e.line, e.field) for e in errors] == [(6, "eleves")]


def test_a_school_listed_twice_is_reported_on_the_second_line() -> None:
    errors = refusal(csv(JULES_FERRY, BOUCHER, JULES_FERRY.replace("212", "213")))
    assert [(e.line, e.field) for e in errors] == [(4, "uai")]
    assert "ligne 2" in errors[0].message


def test_a_repeat_is_reported_even_when_the_first_line_is_also_wrong() -> None:
    errors = refusal(csv(JULES_FERRY.replace("école", "crèche"), JULES_FERRY))
    assert [(e.line, e.field) for e in errors] == [(2, "type"), (3, "uai")]


def test_a_lowercase_uai_is_read_in_capitals() -> None:
    assert parse_register(csv(JULES_FERRY.lower()))[0].uai == "0341234G"


@pytest.mark.parametrize(("written", "count"), [("1 234", 1234), ("1\u00a0234", 1234), ("0", 0)])
def test_pupil_counts_may_group_thousands(written: str, count: int) -> None:
    line = JULES_FERRY.replace(";212;", f";{written};")
    assert parse_register(csv(line))[0].details.pupils == count


@pytest.mark.parametrize("written", ["2²", "-5", "12.5", "", "١٢"])
def test_a_pupil_count_that_is_not_plain_digits_is_an_error_not_a_crash(written: str) -> None:
    line = JULES_FERRY.replace(";212;", f";{written};")
    assert [e.field for e in refusal(csv(line))] == ["eleves"]


def test_a_missing_required_column_is_reported_on_the_header_line() -> None:
    header = HEADER.replace("eleves;", "").replace(";academie", "")
    errors = refusal(csv("0341234G;École Jules Ferry;école;Montpellier;34-C1;;34", header=header))
    assert [(e.line, e.field) for e in errors] == [(1, "entete"), (1, "entete")]
    assert "eleves" in errors[0].message
    assert "academie" in errors[1].message


def test_a_file_without_schools_is_refused() -> None:
    assert [e.field for e in refusal(b"")] == ["fichier"]
    assert [e.field for e in refusal(csv())] == ["fichier"]


def test_a_control_character_in_a_name_is_reported_on_its_line() -> None:
    errors = refusal(csv(JULES_FERRY, BOUCHER.replace("Hélène", "H\x00élène"), JAURES))
    assert [(e.line, e.field) for e in errors] == [(3, "nom")]
    assert "U+0000" in errors[0].message


def test_a_utf_16_register_is_refused_with_its_encoding_named() -> None:
    errors = refusal(csv(JULES_FERRY, BOUCHER).decode().encode("utf-16"))
    assert [(e.line, e.field) for e in errors] == [(None, "fichier")]
    assert "UTF-16" in errors[0].message


def test_a_register_separated_by_tabs_is_refused_on_its_header_line() -> None:
    errors = refusal(csv(JULES_FERRY.replace(";", "\t"), header=HEADER.replace(";", "\t")))
    assert [(e.line, e.field) for e in errors] == [(1, "fichier")]
    assert "tabulations" in errors[0].message
