"""The equipment index (0–3) against the socle numérique de base, and how to explain it.

A pure rule of the domain, shared by the services that show it (reporting, label)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

EXPLANATIONS = {
    0: (
        "Dans l'école, moins de la moitié des classes disposent soit d'un équipement pour "
        "l'enseignant (ordinateur et système de vidéoprojection), soit d'un équipement pour les "
        "élèves (3 ordinateurs en fond de classe ou accès à une classe mobile mutualisée entre "
        "4 classes)."
    ),
    1: (
        "Dans l'école, au moins la moitié des classes disposent d'un équipement pour l'enseignant "
        "(ordinateur et système de vidéoprojection) ou d'un équipement pour les élèves "
        "(3 ordinateurs en fond de classe ou accès à une classe mobile mutualisée entre 4 classes)."
    ),
    2: (
        "Dans l'école, au moins la moitié des classes disposent à la fois d'un équipement pour "
        "l'enseignant et d'un équipement pour les élèves."
    ),
    3: (
        "Toutes les classes de l'école disposent d'un équipement pour l'enseignant et d'un "
        "équipement pour les élèves : le socle numérique de base est atteint."
    ),
}


@dataclass(frozen=True)
class Equipment:
    classes: int
    teacher: int  # classes with a computer and a projection system
    pupil: int  # classes with three devices, or a share of a mobile class

    @property
    def index(self) -> int:
        return equipment_index(self.classes, self.teacher, self.pupil)

    @property
    def explanation(self) -> str:
        return EXPLANATIONS[self.index]

    @property
    def next_step(self) -> str | None:
        return next_step(self.classes, self.teacher, self.pupil)


def teacher_classes(a1: int, b1: int, b2: int, b3: int) -> int:
    return min(b1, b2 + b3, a1)


def pupil_classes(a1: int, c1: int, c2: int, c3: int) -> int:
    return min(a1, c3 + 4 * (c1 + c2))


def _count(answers: Mapping[str, object], code: str) -> int:
    value = answers.get(code, 0)
    # `type() is int` rather than isinstance: a yes/no answer (bool) is no count.
    return value if type(value) is int else 0


def equipment_of(answers: Mapping[str, object]) -> Equipment:
    # On the projector's hot path: one call an event.
    a1 = _count(answers, "A1")
    return Equipment(
        classes=a1,
        teacher=teacher_classes(
            a1, _count(answers, "B1"), _count(answers, "B2"), _count(answers, "B3")
        ),
        pupil=pupil_classes(
            a1, _count(answers, "C1"), _count(answers, "C2"), _count(answers, "C3")
        ),
    )


def half(classes: int) -> int:
    """Classes needed for "at least half" (exactly half counts as half)."""
    return (classes + 1) // 2


def equipment_index(classes: int, teacher: int, pupil: int) -> int:
    if classes <= 0:
        return 0
    if teacher >= classes and pupil >= classes:
        return 3
    h = half(classes)
    if teacher >= h and pupil >= h:
        return 2
    if teacher >= h or pupil >= h:
        return 1
    return 0


def _classes(n: int) -> str:
    return f"{n} classe{'s' if n > 1 else ''} de plus"


def next_step(classes: int, teacher: int, pupil: int) -> str | None:
    """What reaching the next index takes, in classes; None once the socle is reached."""
    index = equipment_index(classes, teacher, pupil)
    if index == 3:
        return None
    if index == 0:
        h = half(classes)
        return (
            f"Pour atteindre l'indice 1 : {_classes(h - teacher)} avec ordinateur et "
            f"vidéoprojection, ou {_classes(h - pupil)} avec équipement pour les élèves."
        )
    target = half(classes) if index == 1 else classes
    parts = []
    if teacher < target:
        parts.append(f"{_classes(target - teacher)} avec ordinateur et vidéoprojection")
    if pupil < target:
        parts.append(f"{_classes(target - pupil)} avec équipement pour les élèves")
    # In a one-class school, half the classes is every class: the step leads straight to 3.
    reached = equipment_index(classes, max(teacher, target), max(pupil, target))
    return f"Pour atteindre l'indice {reached} : " + " et ".join(parts) + "."
