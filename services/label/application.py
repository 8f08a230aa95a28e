"""The label service's use cases: publish a référentiel; propose, validate, reject, withdraw and
revoke a criterion; apply for the label; read a school's board."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

import msgspec

from events.envelope import Event
from events.label import (
    CommuneSignature,
    CriterionProposed,
    CriterionRejected,
    CriterionValidated,
    LabelAwarded,
    ProposalWithdrawn,
    ReferentielPublished,
    ValidationRevoked,
    domain_levels,
    global_level,
)
from events.values import Role, is_valid_uai, school_year_on
from infra.auth import (
    Principal,
    may_apply_for_label,
    may_propose_criterion,
    may_publish_referentiel,
    may_read_school,
    may_validate_criterion,
)
from infra.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from infra.event_store import ConcurrentWriteError, ContractApplication, new_event
from infra.text import control_error
from services.label.board import BoardOut, board_view
from services.label.domain import (
    APPLICATION_MONTH,
    Action,
    LabelBoard,
    State,
    board_id,
    check_transition,
    project_board,
    valid_until,
)
from services.label.referentiels import (
    Referentiel,
    ReferentielContent,
    Referentiels,
    catalogue_id,
    check_referentiel,
)
from services.label.register import RegisteredSchool, SchoolData, SchoolRegister

MAX_TEXT = 4000
MAX_NAME = 200  # a signatory's name or office
# A write that lost a race is re-checked against the board as it now stands, a few times.
ATTEMPTS = 5

EVENT_OF_ACTION: dict[Action, type[Event]] = {
    Action.PROPOSE: CriterionProposed,
    Action.VALIDATE: CriterionValidated,
    Action.REJECT: CriterionRejected,
    Action.WITHDRAW: ProposalWithdrawn,
    Action.REVOKE: ValidationRevoked,
}
# The written text each action requires, and the name of its field.
TEXT_OF_ACTION = {Action.PROPOSE: "comment", Action.REJECT: "reason", Action.REVOKE: "reason"}
REFUSALS = {
    Action.PROPOSE: "proposer",
    Action.WITHDRAW: "retirer une proposition pour",
    Action.VALIDATE: "valider",
    Action.REJECT: "rejeter",
    Action.REVOKE: "retirer une validation pour",
}


@dataclass(frozen=True)
class Receipt:
    position: int
    code: str | None
    state: str | None
    level: int | None = None


@dataclass(frozen=True)
class CommuneSigner:
    """Who signs an école's application for its commune, as sent (checked by the use case)."""

    signatory: str | None = None
    office: str | None = None


OF_KIND = {"college": "d'un collège", "lycee": "d'un lycée"}


def _commune_part(
    school: RegisteredSchool, signer: CommuneSigner | None
) -> CommuneSignature | None:
    """The commune's part of the application: required of an école, refused of the others (the
    commune is no party to a collège's or a lycée's label)."""
    if school.kind != "ecole":
        if signer is not None:
            raise InvalidInput(
                [
                    FieldError(
                        "commune",
                        f"La candidature {OF_KIND.get(school.kind, 'de cet établissement')} "
                        "se dépose sans la commune : retirez le champ « commune ».",
                    )
                ]
            )
        return None
    where = f"la commune de {school.commune}"
    if signer is None:
        raise InvalidInput(
            [
                FieldError(
                    "commune",
                    f"Une école candidate au label avec sa commune : indiquez qui signe pour "
                    f"{where} (« commune.signatory ») et sa fonction (« commune.office », par "
                    "exemple maire ou adjoint au numérique).",
                )
            ]
        )
    sent = {
        "commune.signatory": (
            (signer.signatory or "").strip(),
            f"Indiquez le nom de la personne qui signe la candidature pour {where}.",
        ),
        "commune.office": (
            (signer.office or "").strip(),
            f"Indiquez la fonction de la personne qui signe pour {where} (par exemple maire "
            "ou adjoint au numérique).",
        ),
    }
    errors = [
        error
        for name, (value, missing) in sent.items()
        if (error := _text_error(name, value, missing, MAX_NAME)) is not None
    ]
    if errors:
        raise InvalidInput(errors)
    signatory, office = (value for value, _ in sent.values())
    return CommuneSignature(name=school.commune, signatory=signatory, office=office)


def _text_error(name: str, value: str, missing: str, limit: int) -> FieldError | None:
    """What is wrong with the (stripped) text of field `name`: `missing` when empty, its length
    above `limit`; None when it will do."""
    if not value:
        return FieldError(name, missing)
    if len(value) > limit:
        return FieldError(name, f"Le texte dépasse {limit} caractères ({len(value)}).")
    return control_error(name, value)


def _required_text(action: Action, text: str | None) -> dict[str, str]:
    name = TEXT_OF_ACTION.get(action)
    if name is None:
        return {}
    value = (text or "").strip()
    what = "un commentaire ou une preuve" if name == "comment" else "un motif"
    missing = f"Écrivez {what} : une action sans texte est refusée."
    if (error := _text_error(name, value, missing, MAX_TEXT)) is not None:
        raise InvalidInput([error])
    return {name: value}


class LabelApplication(ContractApplication):
    name = "label"

    def __init__(
        self,
        env: Mapping[str, str],
        register: SchoolRegister,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(env=env)
        self.register = register
        # The day the rules read (January applications, school years): the present as the
        # application records it, unless a test sets another.
        self.clock = clock or self.now
        self._referentiels = Referentiels()
        self._referentiels_lock = threading.Lock()

    # -- reading ---------------------------------------------------------------------------------

    def referentiels(self) -> Referentiels:
        """Every published version; cached, and brought up to date with one small query."""
        seen = self._referentiels.version
        newer = [e for e in self.events.get(catalogue_id(), gt=seen) if isinstance(e, Event)]
        if newer:
            with self._referentiels_lock:  # another thread may have folded some already
                cached = self._referentiels
                unseen = [e for e in newer if e.originator_version > cached.version]
                if unseen:
                    self._referentiels = cached.folded(unseen)
        return self._referentiels

    def _school(self, uai: str) -> tuple[RegisteredSchool, SchoolData | None]:
        if not is_valid_uai(uai):
            raise InvalidInput([FieldError("uai", f"UAI invalide : « {uai} ».")])
        found = self.register.lookup(uai)
        if found is None:
            raise NotFound(f"Aucun établissement n'est enregistré sous l'UAI {uai}.")
        return found

    def _referentiel_for(self, school: RegisteredSchool) -> Referentiel:
        ref = self.referentiels().current_for(school.kind)
        if ref is None:
            raise NotFound(
                f"Aucun référentiel du label n'est publié pour les établissements de type "
                f"{school.kind}."
            )
        return ref

    def _board(self, uai: str) -> LabelBoard:
        board = project_board(None, self.stream(board_id(uai)))
        return board or LabelBoard(board_id(uai), 0, uai)

    def board(self, uai: str, by: Principal) -> BoardOut:
        school, data = self._school(uai)
        if not may_read_school(by, school.place):
            raise Forbidden(f"Votre périmètre ne permet pas de consulter l'établissement {uai}.")
        ref = self._referentiel_for(school)
        return board_view(school, data, ref, self._board(uai), school_year_on(self.clock()))

    def _write(self, build: Callable[[], Event]) -> int:
        """Record what `build` decides from the board as it stands; when someone else wrote
        first, decide again (the state may no longer allow it: then Conflict)."""
        for attempt in range(ATTEMPTS):
            try:
                return self.record(build())
            except ConcurrentWriteError:
                if attempt == ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    # -- the académie admin ----------------------------------------------------------------------

    def publish_referentiel(self, version: str, content: ReferentielContent, by: Principal) -> int:
        if not may_publish_referentiel(by):
            raise Forbidden("Seul un administrateur d'académie publie les référentiels du label.")
        errors = check_referentiel(version, content)
        if errors:
            raise InvalidInput(errors)

        def build() -> Event:
            refs = self.referentiels()
            existing = refs.by_version.get(version)
            if existing is not None:
                raise Conflict(
                    f"La version {version} du référentiel est déjà publiée et ne peut pas être "
                    "modifiée : publiez une nouvelle version."
                )
            return new_event(
                ReferentielPublished,
                originator_id=catalogue_id(),
                originator_version=refs.version + 1,
                uai=None,
                school_year=school_year_on(self.clock()),
                actor=by.actor,
                occurred_at=self.clock(),
                referentiel_version=version,
                title=content.title,
                kinds=content.kinds,
                domains=content.domains,
            )

        existing = self.referentiels().by_version.get(version)
        if existing is not None and existing.content == content:
            return self.recorder.max_notification_id() or 0  # published already: nothing to do
        return self._write(build)

    # -- the workflow of a criterion -------------------------------------------------------------

    def _allowed(self, action: Action, by: Principal, school: RegisteredSchool) -> None:
        proposing = action in (Action.PROPOSE, Action.WITHDRAW)
        may = may_propose_criterion if proposing else may_validate_criterion
        if may(by, school.place, school.kind):
            return
        if by.role is Role.REFERENT and by.scope == school.uai:
            raise Forbidden(
                "Un référent numérique propose les critères ; seuls le chef d'établissement "
                "(le directeur pour une école) et le conseiller du bassin ou de la "
                "circonscription les valident, les rejettent ou retirent une validation."
            )
        raise Forbidden(
            f"Votre rôle ({by.role.value}, périmètre {by.scope}) ne permet pas de "
            f"{REFUSALS[action]} les critères du label de l'établissement {school.uai}."
        )

    def act(
        self, action: Action, uai: str, code: str, by: Principal, text: str | None = None
    ) -> Receipt:
        school, _ = self._school(uai)
        self._allowed(action, by, school)
        if school.closed_on is not None:
            raise Conflict(f"L'établissement {uai} est fermé depuis le {school.closed_on}.")
        ref = self._referentiel_for(school)
        if ref.criterion(code) is None:
            raise NotFound(
                f"Le critère {code} n'existe pas dans le référentiel en vigueur ({ref.version})."
            )
        payload = _required_text(action, text)
        outcome: list[State] = []

        def build() -> Event:
            board = self._board(uai)
            outcome[:] = [check_transition(action, board.criterion(code), by.user_id)]
            now = self.clock()
            return new_event(
                EVENT_OF_ACTION[action],
                originator_id=board.id,
                originator_version=board.version + 1,
                uai=uai,
                school_year=school_year_on(now),
                actor=by.actor,
                occurred_at=now,
                referentiel_version=ref.version,
                code=code,
                **payload,
            )

        position = self._write(build)
        return Receipt(position, code, outcome[0].value)

    def propose(self, uai: str, code: str, comment: str | None, by: Principal) -> Receipt:
        return self.act(Action.PROPOSE, uai, code, by, comment)

    def validate(self, uai: str, code: str, by: Principal) -> Receipt:
        return self.act(Action.VALIDATE, uai, code, by)

    def reject(self, uai: str, code: str, reason: str | None, by: Principal) -> Receipt:
        return self.act(Action.REJECT, uai, code, by, reason)

    def withdraw(self, uai: str, code: str, by: Principal) -> Receipt:
        return self.act(Action.WITHDRAW, uai, code, by)

    def revoke(self, uai: str, code: str, reason: str | None, by: Principal) -> Receipt:
        return self.act(Action.REVOKE, uai, code, by, reason)

    # -- the application in January --------------------------------------------------------------

    def apply_for_label(
        self, uai: str, by: Principal, commune: CommuneSigner | None = None
    ) -> Receipt:
        school, _ = self._school(uai)
        if not may_apply_for_label(by, school.place, school.kind):
            head = (
                "le directeur de l'école" if school.kind == "ecole" else "le chef d'établissement"
            )
            raise Forbidden(f"Seul {head} dépose la candidature au label pour {uai}.")
        if school.closed_on is not None:
            raise Conflict(f"L'établissement {uai} est fermé depuis le {school.closed_on}.")
        if self.clock().month != APPLICATION_MONTH:
            raise Conflict("Les candidatures au label numérique se déposent en janvier.")
        part = _commune_part(school, commune)
        ref = self._referentiel_for(school)
        awarded: list[int] = []

        def build() -> Event:
            board = self._board(uai)
            now = self.clock()
            year = school_year_on(now)
            already = board.award_of(year)
            if already is not None:
                raise Conflict(
                    f"L'établissement a déjà candidaté pour l'année {year} : label de niveau "
                    f"{already.level}, valable jusqu'au {already.expires_on:%d/%m/%Y}."
                )
            levels = domain_levels(ref.domains, board.validated_codes())
            level = global_level(levels)
            if level == 0:
                weakest = ", ".join(code for code, lvl in levels.items() if lvl == 0)
                raise Conflict(
                    "Le niveau global de l'établissement est 0 : chaque domaine doit atteindre "
                    f"au moins le niveau 1 pour obtenir le label (domaines à compléter : "
                    f"{weakest})."
                )
            awarded[:] = [level]
            return new_event(
                LabelAwarded,
                originator_id=board.id,
                originator_version=board.version + 1,
                uai=uai,
                school_year=year,
                actor=by.actor,
                occurred_at=now,
                referentiel_version=ref.version,
                level=level,
                domain_levels=levels,
                valid_until=valid_until(year),
                commune=part or msgspec.UNSET,
            )

        position = self._write(build)
        return Receipt(position, None, None, awarded[0])
