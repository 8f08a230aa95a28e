"""What everyone in scope sees of a school's label: each criterion with its state, who proposed
and validated it and when, the data that supports it, each domain's level, the global level and
the current award."""

from __future__ import annotations

from datetime import date, datetime

import msgspec

from events.label import (
    DATA_ENT_USE,
    DATA_EQUIPMENT_INDEX,
    CommuneSignature,
    CriterionDefinition,
    domain_levels,
    global_level,
)
from services.label.domain import STATE_LABELS, Award, LabelBoard, Step
from services.label.referentiels import Referentiel
from services.label.register import RegisteredSchool, SchoolData


class StepOut(msgspec.Struct, omit_defaults=True):
    action: str
    user_id: str
    role: str
    at: datetime
    referentiel_version: str
    text: str | None = None  # the comment of a proposal, the reason of a rejection or revocation


class DataOut(msgspec.Struct):
    """Platform data shown beside a criterion: `supports` says whether it bears the criterion
    out (None when the data cannot tell)."""

    kind: str
    school_year: str | None
    value: int | bool | None
    supports: bool | None
    summary: str


class CriterionOut(msgspec.Struct):
    code: str
    level: int
    title: str
    explanation: str
    state: str
    state_label: str
    proposed: StepOut | None
    validated: StepOut | None
    closed: StepOut | None  # the rejection, withdrawal or revocation that ended the last round
    data: DataOut | None


class DomainOut(msgspec.Struct):
    code: str
    title: str
    level: int
    criteria: list[CriterionOut]


class AwardOut(msgspec.Struct):
    level: int
    school_year: str
    valid_until: str
    expires_on: date
    awarded_at: datetime
    awarded_by: str
    referentiel_version: str
    domain_levels: dict[str, int]
    commune: CommuneSignature | None  # an école's commune and who signed for it


class BoardOut(msgspec.Struct):
    uai: str
    name: str
    kind: str
    school_year: str
    referentiel_version: str
    referentiel_title: str
    global_level: int
    domains: list[DomainOut]
    award: AwardOut | None  # the label currently held, if any
    awards: list[AwardOut]
    board_version: int


def step_out(step: Step | None) -> StepOut | None:
    if step is None:
        return None
    return StepOut(
        step.action.value,
        step.actor.user_id,
        step.actor.role,
        step.at,
        step.referentiel_version,
        step.text,
    )


def award_out(a: Award) -> AwardOut:
    return AwardOut(
        a.level,
        a.school_year,
        a.valid_until,
        a.expires_on,
        a.awarded_at,
        a.actor.user_id,
        a.referentiel_version,
        a.domain_levels,
        a.commune,
    )


def data_out(c: CriterionDefinition, data: SchoolData | None) -> DataOut | None:
    if c.data is None:
        return None
    if data is None:
        return DataOut(
            c.data, None, None, None, "Aucune déclaration de l'établissement n'est enregistrée."
        )
    if c.data == DATA_EQUIPMENT_INDEX:
        eq = data.equipment
        return DataOut(
            c.data,
            data.school_year,
            eq.index,
            eq.index >= c.level,
            f"Indice d'équipement {eq.index} (déclaration {data.school_year}) : "
            f"{eq.teacher} classe(s) sur {eq.classes} avec ordinateur et vidéoprojection, "
            f"{eq.pupil} avec équipement pour les élèves.",
        )
    assert c.data == DATA_ENT_USE
    said = "déclare utiliser un ENT" if data.ent else "déclare ne pas utiliser d'ENT"
    return DataOut(
        c.data,
        data.school_year,
        data.ent,
        data.ent,
        f"L'établissement {said} ({data.school_year}).",
    )


def board_view(
    school: RegisteredSchool,
    data: SchoolData | None,
    ref: Referentiel,
    board: LabelBoard,
    school_year: str,
) -> BoardOut:
    levels = domain_levels(ref.domains, board.validated_codes())
    domains = []
    for d in ref.domains:
        criteria = []
        for c in d.criteria:
            record = board.criterion(c.code)
            criteria.append(
                CriterionOut(
                    c.code,
                    c.level,
                    c.title,
                    c.explanation,
                    record.state.value,
                    STATE_LABELS[record.state],
                    step_out(record.proposed),
                    step_out(record.validated),
                    step_out(record.closed),
                    data_out(c, data),
                )
            )
        domains.append(DomainOut(d.code, d.title, levels[d.code], criteria))
    current = board.current_award(school_year)
    return BoardOut(
        uai=school.uai,
        name=school.name,
        kind=school.kind,
        school_year=school_year,
        referentiel_version=ref.version,
        referentiel_title=ref.title,
        global_level=global_level(levels),
        domains=domains,
        award=award_out(current) if current else None,
        awards=[award_out(a) for a in board.awards],
        board_version=board.version,
    )
