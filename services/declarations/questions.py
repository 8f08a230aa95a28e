"""The 13 questions of the yearly declaration and the rules their answers must follow."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from events.declarations import AnswerValue
from infra.errors import FieldError

INTERNET_CHOICES = ("ADSL", "FIBRE", "NE_SAIT_PAS")
# No school has more; the bound keeps absurd counts out of the record (decision).
MAX_COUNT = 9999


@dataclass(frozen=True)
class Question:
    code: str
    label: str
    kind: str  # "count", "yes_no", "choice"


QUESTIONS: tuple[Question, ...] = (
    Question("A1", "nombre de classes", "count"),
    Question("A2", "internet pour l'école", "choice"),
    Question("A3", "nombre de robots dans l'école", "count"),
    Question("A4", "web radio dans l'école", "yes_no"),
    Question("A5", "web TV dans l'école", "yes_no"),
    Question("A6", "fab lab dans l'école", "yes_no"),
    Question("A7", "l'école utilise un ENT", "yes_no"),
    Question("B1", "classes disposant d'un ordinateur avec accès à internet", "count"),
    Question("B2", "classes disposant d'un vidéoprojecteur simple", "count"),
    Question("B3", "classes disposant d'un système de vidéoprojection interactif", "count"),
    Question("C1", "classes mobiles de tablettes", "count"),
    Question("C2", "classes mobiles d'ordinateurs portables", "count"),
    Question(
        "C3", "classes disposant d'au moins 3 ordinateurs ou tablettes pour les élèves", "count"
    ),
)
QUESTION_BY_CODE = {q.code: q for q in QUESTIONS}
PER_CLASS = ("B1", "B2", "B3", "C3")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_type(q: Question, value: Any) -> str | None:
    if q.kind == "count":
        if not _is_int(value):
            return f"La réponse à la question {q.code} ({q.label}) doit être un nombre entier."
        if value < 0:
            return f"La réponse à la question {q.code} ({q.label}) ne peut pas être négative."
        if value > MAX_COUNT:
            return f"La réponse à la question {q.code} ({q.label}) ne peut dépasser {MAX_COUNT}."
    elif q.kind == "yes_no":
        if not isinstance(value, bool):
            return f"La réponse à la question {q.code} ({q.label}) doit être oui (true) ou non (false)."
    elif value not in INTERNET_CHOICES:
        return (
            f"La réponse à la question {q.code} ({q.label}) doit être l'une des valeurs "
            "ADSL, FIBRE ou NE_SAIT_PAS."
        )
    return None


def validate_answers(answers: Mapping[str, Any]) -> list[FieldError]:
    """Every broken rule, in question order; an empty list means the answers may be stored."""
    errors: list[FieldError] = []
    for code in answers:
        if code == "D1":
            errors.append(
                FieldError(
                    "D1",
                    "Les usages (D1) se déclarent un par un, à tout moment, et non avec "
                    "les réponses au questionnaire.",
                )
            )
        elif code not in QUESTION_BY_CODE:
            errors.append(FieldError(str(code), f"La question {code} n'existe pas."))
    typed_ok: dict[str, bool] = {}
    for q in QUESTIONS:
        if q.code not in answers:
            errors.append(FieldError(q.code, f"La question {q.code} ({q.label}) est sans réponse."))
            continue
        problem = _check_type(q, answers[q.code])
        typed_ok[q.code] = problem is None
        if problem:
            errors.append(FieldError(q.code, problem))
    a1 = answers.get("A1")
    if typed_ok.get("A1") and not 1 <= a1 <= 60:  # type: ignore[operator]
        errors.append(
            FieldError("A1", "Le nombre de classes (A1) doit être compris entre 1 et 60.")
        )
        return _in_question_order(errors)
    if not typed_ok.get("A1"):
        return _in_question_order(errors)
    assert isinstance(a1, int)
    for code in PER_CLASS:
        value = answers.get(code)
        if typed_ok.get(code) and isinstance(value, int) and value > a1:
            errors.append(
                FieldError(
                    code,
                    f"La réponse à la question {code} ({QUESTION_BY_CODE[code].label}) ne peut "
                    f"dépasser le nombre de classes de l'école ({a1}).",
                )
            )
    b2, b3 = answers.get("B2"), answers.get("B3")
    if (
        typed_ok.get("B2")
        and typed_ok.get("B3")
        and isinstance(b2, int)
        and isinstance(b3, int)
        and b2 + b3 > a1
    ):
        errors.append(
            FieldError(
                "B2",
                f"Une classe compte une seule fois, avec son meilleur système de projection : "
                f"B2 + B3 ({b2 + b3}) ne peut dépasser le nombre de classes ({a1}).",
            )
        )
    return _in_question_order(errors)


def _in_question_order(errors: list[FieldError]) -> list[FieldError]:
    order = {q.code: i for i, q in enumerate(QUESTIONS)}
    return sorted(errors, key=lambda e: order.get(e.field, -1))


def normalized(answers: Mapping[str, Any]) -> dict[str, AnswerValue]:
    """The answers in question order (call only after `validate_answers` found nothing)."""
    return {q.code: answers[q.code] for q in QUESTIONS}
