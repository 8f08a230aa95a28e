"""The declarations service's use cases: what an admin and a director can do."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from events.declarations import (
    AnswerValue,
    CampaignOpened,
    DeclarationConfirmed,
    DeclarationSubmitted,
    SchoolDetailsChanged,
    SchoolRegistered,
    UsageAdded,
    UsageCatalogueRevised,
    UsageDefinition,
    UsageRemoved,
)
from events.envelope import Event
from events.values import is_valid_uai, parse_school_year, school_year_on
from infra.auth import Principal, SchoolPlace, may_administer, may_declare, may_read_school
from infra.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from infra.event_store import ContractApplication, new_event
from infra.school_years import school_year_errors
from infra.text import control_error
from services.declarations.data_imports import DataImports
from services.declarations.domain import (
    Campaign,
    SchoolDeclarations,
    SchoolRecord,
    UsageCatalogue,
    campaign_id,
    catalogue_id,
    declarations_id,
    project_campaign,
    project_catalogue,
    project_declarations,
    project_school,
    school_id,
)
from services.declarations.questions import normalized, validate_answers
from services.declarations.register_csv import RegisterRow

USAGE_CODE = re.compile(r"^[A-Z][A-Z0-9_]{1,63}$")


@dataclass(frozen=True)
class RegisterImport:
    registered: int
    changed: int
    unchanged: int
    position: int


@dataclass(frozen=True)
class DeclarationView:
    uai: str
    school_year: str
    answers: dict[str, AnswerValue] | None
    confirmed: bool
    recorded_at: datetime | None
    recorded_by: str | None
    prefill: dict[str, AnswerValue] | None
    prefill_from: str | None
    usages: list[str]


def _place(school: SchoolRecord) -> SchoolPlace:
    d = school.details
    return SchoolPlace(school.uai, d.circonscription, d.bassin, d.departement, d.academie)


class DeclarationsApplication(DataImports, ContractApplication):
    name = "declarations"

    # -- reading aggregates -------------------------------------------------------------------

    def _get_school(self, uai: str) -> SchoolRecord:
        if not is_valid_uai(uai):
            raise InvalidInput([FieldError("uai", f"UAI invalide : « {uai} ».")])
        school = self.find(school_id(uai), project_school)
        if school is None:
            raise NotFound(f"Aucune école n'est enregistrée sous l'UAI {uai}.")
        return school

    def _declarations(self, uai: str) -> SchoolDeclarations:
        found = self.find(declarations_id(uai), project_declarations)
        return found if found is not None else SchoolDeclarations(declarations_id(uai), 0, uai)

    def catalogue(self, academie: str) -> UsageCatalogue | None:
        return self.find(catalogue_id(academie), project_catalogue)

    def campaign(self, academie: str, school_year: str) -> Campaign | None:
        return self.find(campaign_id(academie, school_year), project_campaign)

    def place(self, uai: str) -> SchoolPlace:
        return _place(self._get_school(uai))

    def _school_for(self, uai: str, by: Principal, *, write: bool) -> SchoolRecord:
        school = self._get_school(uai)
        allowed = may_declare(by, _place(school)) if write else may_read_school(by, _place(school))
        if not allowed:
            raise Forbidden(
                f"Votre rôle ({by.role.value}, périmètre {by.scope}) ne permet pas "
                f"{'de déclarer pour' if write else 'de consulter'} l'école {uai}."
            )
        if write and school.details.kind != "ecole":
            kind = "un collège" if school.details.kind == "college" else "un lycée"
            raise InvalidInput(
                [
                    FieldError(
                        "uai",
                        f"L'établissement {uai} est {kind} : seules les écoles déclarent leur "
                        "équipement et leurs usages.",
                    )
                ]
            )
        return school

    def _year_errors(self, school: SchoolRecord, school_year: str) -> list[FieldError]:
        """What is wrong with the school year of a request: its form, or no campaign for it."""
        if errors := school_year_errors(school_year):
            return errors
        if self.campaign(school.details.academie, school_year) is None:
            return [
                FieldError(
                    "school_year",
                    f"Aucune campagne n'a été ouverte pour l'année scolaire {school_year} "
                    f"dans l'académie de {school.details.academie.capitalize()}.",
                )
            ]
        return []

    def _known_year(self, school: SchoolRecord, school_year: str) -> None:
        if errors := self._year_errors(school, school_year):
            raise InvalidInput(errors)

    def _no_change_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    # -- the académie's admin --------------------------------------------------------------------

    def import_register(self, rows: Sequence[RegisterRow], by: Principal) -> RegisterImport:
        refused = sorted(
            {r.details.academie for r in rows if not may_administer(by, r.details.academie)}
        )
        if refused:
            raise Forbidden(
                "Votre périmètre ne permet pas d'importer des écoles des académies : "
                + ", ".join(refused)
                + "."
            )
        today = school_year_on(self.now())
        new: list[Event] = []
        registered = changed = 0
        for row in rows:
            school = self.find(school_id(row.uai), project_school)
            if school is None:
                registered += 1
                new.append(
                    new_event(
                        SchoolRegistered,
                        originator_id=school_id(row.uai),
                        originator_version=1,
                        uai=row.uai,
                        school_year=today,
                        actor=by.actor,
                        details=row.details,
                    )
                )
                continue
            if school.details == row.details:
                continue
            changed += 1
            fields = [
                name
                for name in row.details.__struct_fields__
                if getattr(row.details, name) != getattr(school.details, name)
            ]
            new.append(
                new_event(
                    SchoolDetailsChanged,
                    originator_id=school.id,
                    originator_version=school.version + 1,
                    uai=row.uai,
                    school_year=today,
                    actor=by.actor,
                    details=row.details,
                    changed=fields,
                )
            )
        position = self.record(*new) if new else self._no_change_position()
        return RegisterImport(registered, changed, len(rows) - registered - changed, position)

    def open_campaign(
        self, academie: str, school_year: str, opens_on: date, closes_on: date, by: Principal
    ) -> int:
        if not may_administer(by, academie):
            raise Forbidden(
                f"Seul l'administrateur de l'académie de {academie} ouvre ses campagnes."
            )
        errors = school_year_errors(school_year)
        rentree = None if errors else parse_school_year(school_year)
        if closes_on <= opens_on:
            errors.append(FieldError("closes_on", "La clôture doit suivre l'ouverture."))
        if rentree is not None and not (rentree - 1 <= opens_on.year <= rentree + 1):
            errors.append(
                FieldError("opens_on", f"L'ouverture doit être proche de la rentrée {rentree}.")
            )
        if errors:
            raise InvalidInput(errors)
        if self.campaign(academie, school_year) is not None:
            raise Conflict(
                f"La campagne {school_year} de l'académie de {academie} est déjà ouverte."
            )
        return self.record(
            new_event(
                CampaignOpened,
                originator_id=campaign_id(academie, school_year),
                originator_version=1,
                uai=None,
                school_year=school_year,
                actor=by.actor,
                academie=academie,
                opens_on=opens_on,
                closes_on=closes_on,
            )
        )

    def revise_catalogue(
        self, academie: str, usages: Sequence[UsageDefinition], by: Principal
    ) -> int:
        if not may_administer(by, academie):
            raise Forbidden(
                f"Seul l'administrateur de l'académie de {academie} gère son catalogue."
            )
        errors: list[FieldError] = []
        seen: set[str] = set()
        for i, u in enumerate(usages):
            if not USAGE_CODE.match(u.code):
                errors.append(
                    FieldError(
                        f"usages[{i}].code",
                        f"Code d'usage invalide : « {u.code} » (majuscules, chiffres et _).",
                    )
                )
            if u.code in seen:
                errors.append(
                    FieldError(
                        f"usages[{i}].code",
                        f"Le code d'usage {u.code} figure deux fois dans le catalogue.",
                    )
                )
            seen.add(u.code)
            if not u.title.strip():
                errors.append(FieldError(f"usages[{i}].title", "Le titre de l'usage est vide."))
            errors += [
                error
                for name, text in (("title", u.title), ("summary", u.summary))
                if (error := control_error(f"usages[{i}].{name}", text))
            ]
        if not usages:
            errors.append(FieldError("usages", "Le catalogue ne peut pas être vide."))
        if errors:
            raise InvalidInput(errors)
        current = self.catalogue(academie)
        if current is not None and list(current.usages.values()) == list(usages):
            return self._no_change_position()
        version = (current.version if current else 0) + 1
        return self.record(
            new_event(
                UsageCatalogueRevised,
                originator_id=catalogue_id(academie),
                originator_version=version,
                uai=None,
                school_year=school_year_on(self.now()),
                actor=by.actor,
                academie=academie,
                catalogue_version=version,
                usages=list(usages),
            )
        )

    # -- the director ----------------------------------------------------------------------------

    def submit_declaration(
        self, uai: str, school_year: str, answers: Mapping[str, Any], by: Principal
    ) -> int:
        school = self._school_for(uai, by, write=True)
        # Every broken rule at once: the school year's and the answers'.
        errors = self._year_errors(school, school_year) + validate_answers(answers)
        if errors:
            raise InvalidInput(errors)
        state = self._declarations(uai)
        return self.record(
            new_event(
                DeclarationSubmitted,
                originator_id=state.id,
                originator_version=state.version + 1,
                uai=uai,
                school_year=school_year,
                actor=by.actor,
                answers=normalized(answers),
            )
        )

    def confirm_declaration(self, uai: str, school_year: str, by: Principal) -> int:
        school = self._school_for(uai, by, write=True)
        self._known_year(school, school_year)
        state = self._declarations(uai)
        if school_year in state.years:
            # Confirming would replace this year's answers with an older year's: a second click
            # after an update must not undo it.
            raise Conflict(
                f"L'école a déjà répondu pour {school_year} : modifiez ces réponses plutôt que "
                "de confirmer celles d'une année antérieure."
            )
        last = state.last_answers_before(school_year)
        if last is None:
            raise Conflict(
                f"Aucune déclaration antérieure à {school_year} n'est à confirmer : "
                "répondez aux 13 questions."
            )
        from_year, answered = last
        return self.record(
            new_event(
                DeclarationConfirmed,
                originator_id=state.id,
                originator_version=state.version + 1,
                uai=uai,
                school_year=school_year,
                actor=by.actor,
                answers=answered.answers,
                confirmed_from=from_year,
            )
        )

    def declaration(self, uai: str, school_year: str, by: Principal) -> DeclarationView:
        school = self._school_for(uai, by, write=False)
        self._known_year(school, school_year)
        state = self._declarations(uai)
        answered = state.years.get(school_year)
        last = state.last_answers_before(school_year)
        return DeclarationView(
            uai=uai,
            school_year=school_year,
            answers=answered.answers if answered else None,
            confirmed=answered.confirmed if answered else False,
            recorded_at=answered.recorded_at if answered else None,
            recorded_by=answered.actor.user_id if answered else None,
            prefill=last[1].answers if last and not answered else None,
            prefill_from=last[0] if last and not answered else None,
            usages=sorted(state.usages),
        )

    def add_usage(self, uai: str, code: str, by: Principal) -> int:
        return self._change_usage(uai, code, by, add=True)

    def remove_usage(self, uai: str, code: str, by: Principal) -> int:
        return self._change_usage(uai, code, by, add=False)

    def _change_usage(self, uai: str, code: str, by: Principal, *, add: bool) -> int:
        school = self._school_for(uai, by, write=True)
        state = self._declarations(uai)
        if add:
            catalogue = self.catalogue(school.details.academie)
            if catalogue is None or code not in catalogue.usages:
                raise InvalidInput(
                    [FieldError("code", f"Usage inconnu du catalogue de l'académie : « {code} ».")]
                )
        if (code in state.usages) == add:
            return self._no_change_position()
        return self.record(
            new_event(
                UsageAdded if add else UsageRemoved,
                originator_id=state.id,
                originator_version=state.version + 1,
                uai=uai,
                school_year=school_year_on(self.now()),
                actor=by.actor,
                code=code,
            )
        )
