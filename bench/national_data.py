"""The synthetic national dataset of the `national` bench, written as the write path records it.

48 000 écoles (`--quick`: 4 800) in 30 académies, 101 départements and ~1 500 circonscriptions
(32 écoles each), over five school years, 2021-2022 to 2025-2026. The events are the real event
classes made with `infra.event_store.new_event`, sealed per school with `infra.integrity.seal`
(each to the previous event of its school in its log, as the recorder does) and stored as the
bytes sealing gives, with their type as topic, in the eventsourcing tables the two
applications create (`declarations.declarations_events`, `label.label_events`), in the order
they were recorded (notification ids from the tables' sequences). That is the bulk
equivalent of the write path: the same rows, without the use cases' checks and round trips.

What happens, and when (UTC):

- May 2021: both label référentiels are published; each académie imports its register (one
  `SchoolRegistered` a school) and publishes its usage catalogue (14 usages).
- Each school year (rentrée Y = 2021…2025):
  - 21 June Y: every académie opens its campaign for Y-(Y+1); most écoles answer between 22 June
    and 10 July, some in late August and September, a few late (October–December). About a
    third update their answers later in the year; from 2022 a quarter of those that had answered
    before confirm last year's answers instead of answering again. 7 % never answer.
  - 25 August Y (from 2022): each académie adds a usage to its catalogue.
  - 10 September Y: the register is imported again: a third of the écoles change pupil count,
    1 % move to another circonscription, 0.2 % close (and record nothing more).
  - September–May: usages added (0–6 a year) and removed (0–2); label steps for the écoles
    engaged in the label (55 %, from a rentrée between 2021 and 2025): 2–5 criteria a year are
    proposed by the référent, then validated (82 %), rejected (10 %, then often proposed again
    and validated) or withdrawn (8 %), and some validations are revoked; every January the
    écoles at global level ≥ 1 apply (75 %) with their commune and are awarded their level.
  - ENT (the 60 % of écoles that declare one, A7): the académie imports the connections of
    period 1 in November, 2 in January, 3 in March, 4 in May and 5 in July (Y+1), one file for
    all its écoles (a corrected file for one file in ten, a few days later, changing a fifth of
    the lines); GAR (70 % of écoles): the year's resources in February and July (Y+1).

Each import (a register, an ENT or GAR file) is one moment of the record, as the write path
records it: its events share one recording time.

About 3.1 million events at full scale, 1.8 GB of event bytes (2.4 GB on disk with the indexes),
generated in ~5 minutes on 2 cores. Generation streams one window of a year (June to June) at a
time: the events of a window are planned as small tuples, sorted by their moment, then made,
sealed and copied in batches of 20 000; memory is bounded by a window (~740 MiB peak at full
scale), not by the number of years.

    python -m bench.national_data [--quick | --schools N]   # generate (or find) the dataset
    python -m bench.national_data --drop [--quick | --schools N]

The dataset is cached in the database `numecole_national_<schools>` of the server: a marker
table (`public.national_dataset`) records that it is complete and which generator made it
(`DATASET_VERSION`); a database without it, or of another version, is dropped and generated
again.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
import psycopg

from events.data_imports import (
    PUPILS_FROM_FILE,
    PUPILS_FROM_REGISTER,
    EntConnections,
    EntConnectionsImported,
    GarAccessesImported,
    GarResourceAccesses,
)
from events.declarations import (
    AnswerValue,
    CampaignOpened,
    DeclarationConfirmed,
    DeclarationSubmitted,
    SchoolClosed,
    SchoolDetails,
    SchoolDetailsChanged,
    SchoolRegistered,
    UsageAdded,
    UsageCatalogueRevised,
    UsageDefinition,
    UsageRemoved,
)
from events.envelope import Actor, Event
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
from events.values import Role, school_year_of_rentree, school_year_on, uai_check_letter
from infra.event_store import new_event
from infra.integrity import seal
from infra.relay import SOURCES
from infra.settings import DatabaseSettings
from services.declarations.data_imports import ent_id, gar_id
from services.declarations.domain import campaign_id, catalogue_id, declarations_id, school_id
from services.label.domain import board_id, valid_until
from services.label.referentiels import catalogue_id as referentiels_id
from services.label.referentiels import shipped_referentiels

# Bump when what is generated changes: a cached dataset of another version is made again.
DATASET_VERSION = "5"
FULL_SCHOOLS = 48_000
QUICK_SCHOOLS = 4_800
RENTREES = (2021, 2022, 2023, 2024, 2025)
SCHOOLS_PER_CIRCONSCRIPTION = 32
BATCH = 20_000  # events made, sealed and copied at a time
MARKER = "public.national_dataset"
COLUMNS = ("originator_id", "originator_version", "topic", "state")

ACADEMIES = (
    "aix-marseille", "amiens", "besancon", "bordeaux", "clermont-ferrand", "corse", "creteil",
    "dijon", "grenoble", "guadeloupe", "guyane", "la-reunion", "lille", "limoges", "lyon",
    "martinique", "mayotte", "montpellier", "nancy-metz", "nantes", "nice", "normandie",
    "orleans-tours", "paris", "poitiers", "reims", "rennes", "strasbourg", "toulouse",
    "versailles",
)  # fmt: skip
OVERSEAS = {"corse": ("2A", "2B"), "guadeloupe": ("971",), "martinique": ("972",),
            "guyane": ("973",), "la-reunion": ("974",), "mayotte": ("976",)}  # fmt: skip
UAI_PREFIX = {"2A": "620", "2B": "720"}
USAGES = (
    "ENT_VIE_SCOLAIRE", "ROBOTIQUE", "WEB_RADIO", "PROGRAMMATION", "CLASSE_MOBILE",
    "BALADODIFFUSION", "TNI_PEDAGOGIE", "LECTURE_NUMERIQUE", "CARTOGRAPHIE", "PHOTO_VIDEO",
    "CODE_DEBRANCHE", "EXAO", "CORRESPONDANCE", "CAHIER_MULTIMEDIA", "BLOG_ECOLE",
    "VISIOCONFERENCE", "MUSIQUE_ASSISTEE", "LANGUES_VIVANTES", "IMPRESSION_3D",
)  # fmt: skip
# When the académie imports each ENT period: (years after the rentrée, month, day).
ENT_DAYS = {1: (0, 11, 8), 2: (1, 1, 10), 3: (1, 3, 12), 4: (1, 5, 14), 5: (1, 7, 9)}
FIRST_CATALOGUE = 14  # usages of the first catalogue; one more each August from 2022
GAR_RESOURCES = (
    "BRNE Français cycle 3", "BRNE Mathématiques cycle 3", "Bayard Jeunesse", "Belin Éducation",
    "Canopé — Les fondamentaux", "Classe numérique Nathan", "Corrigés Magnard", "Digischool",
    "Éduthèque", "Édumédia", "Encyclopédie Universalis Junior", "English for Schools",
    "Europresse Éducation", "Fluence", "Gallimard Jeunesse", "Hachette Éducation", "Kiosque ONISEP",
    "La Classe des Mots", "Lalilo", "Le Robert Junior", "Lelivrescolaire.fr", "Lumni",
    "Maskott Tactileo", "Mathador", "MathsMentales", "Maxicours", "Mon quotidien",
    "Musée du Louvre — Petite Galerie", "Pix Orga", "Qwant Junior", "Retz numérique",
    "Sésamath", "Storyplay'r", "Tralalere", "Vikidia", "Ya+K",
)  # fmt: skip
COMMENTS = (
    "Compte rendu du conseil des maîtres joint : l'équipe a validé le plan d'action numérique.",
    "Voir le projet d'école, volet numérique, adopté en conseil d'école.",
    "Les classes utilisent l'outil chaque semaine ; exemples de productions en pièce jointe.",
    "Formation suivie par trois enseignants (attestations jointes).",
    "Inventaire du matériel et convention avec la commune en annexe.",
)  # fmt: skip
SIGNATORIES = (
    ("Claire Martin", "maire"), ("Jean-Marc Roux", "adjoint au numérique"),
    ("Nadia Benali", "adjointe à l'éducation"), ("Pierre Fabre", "maire"),
)  # fmt: skip
REASONS = (
    "La pièce jointe ne montre pas l'usage en classe : merci de préciser.",
    "Le critère demande une action de toute l'équipe, pas d'une seule classe.",
    "Le document fourni date d'une année antérieure.",
)  # fmt: skip

# What an intent makes (see `Making.event`).
(
    REFERENTIEL, REGISTER, DETAILS, CLOSED, CATALOGUE, CAMPAIGN, DECLARE, CONFIRM, USAGE, ENT,
    GAR, PROPOSE, VALIDATE, REJECT, WITHDRAW, REVOKE, AWARD,
) = range(17)  # fmt: skip
LABEL_KINDS = frozenset({REFERENTIEL, PROPOSE, VALIDATE, REJECT, WITHDRAW, REVOKE, AWARD})

# (moment in µs since the epoch, tie-breaker, kind, subject, payload): a school index for most.
Intent = tuple[int, int, int, int, Any]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY = 86_400_000_000
MINUTE = 60_000_000


def us(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def on(year: int, month: int, day: int, hour: int = 8, minute: int = 0) -> int:
    return us(datetime(year, month, day, hour, minute, tzinfo=UTC))


def moment_of(t: int) -> datetime:
    return EPOCH + timedelta(microseconds=t)


def database_name(schools: int) -> str:
    return f"numecole_national_{schools}"


def with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


# -------------------------------------------------------------------------------- the country


@dataclass(slots=True)
class School:
    n: int
    uai: str
    academie: int  # index in ACADEMIES
    departement: str
    details: SchoolDetails
    ent: bool  # declares an ENT (A7): the académie imports its connections
    gar: bool
    label_from: int | None  # the rentrée it engages in the label, if it does
    pupils_from_file: bool  # its académie's ENT files carry the `effectif` column
    school: uuid.UUID = field(init=False)
    declarations: uuid.UUID = field(init=False)
    board: uuid.UUID = field(init=False)
    closed: int | None = None  # the rentrée from which it is closed
    classes: int = 0
    equipped: float = 0.0  # share of its classes equipped, growing year after year
    answers: dict[str, AnswerValue] | None = None
    answered_in: int | None = None  # the last rentrée it answered for
    usages: set[str] = field(default_factory=set)
    resources: list[str] = field(default_factory=list)
    criteria: dict[str, str] = field(default_factory=dict)  # code -> state
    priority: list[str] = field(default_factory=list)  # the order it works on criteria

    def __post_init__(self) -> None:
        self.school = school_id(self.uai)
        self.declarations = declarations_id(self.uai)
        self.board = board_id(self.uai)


def departements() -> list[tuple[str, int]]:
    """101 départements (code, académie index): the overseas ones and Corsica in their own
    académies, the 94 others shared among the 24 remaining ones."""
    metro = [f"{n:02d}" for n in range(1, 96) if n != 20]
    mainland = [i for i, a in enumerate(ACADEMIES) if a not in OVERSEAS]
    found: list[tuple[str, int]] = []
    for k, code in enumerate(metro):
        found.append((code, mainland[k * len(mainland) // len(metro)]))
    for name, codes in OVERSEAS.items():
        found += [(code, ACADEMIES.index(name)) for code in codes]
    return found


def build_schools(count: int, rng: random.Random) -> list[School]:
    """`count` écoles over the départements (unevenly), with valid UAIs, ~32 per
    circonscription."""
    depts = departements()
    weights = [rng.uniform(0.4, 1.6) for _ in depts]
    total = sum(weights)
    sizes = [max(1, int(count * w / total)) for w in weights]
    k = 0
    while sum(sizes) < count:
        sizes[k % len(sizes)] += 1
        k += 1
    while sum(sizes) > count:
        if sizes[k % len(sizes)] > 1:
            sizes[k % len(sizes)] -= 1
        k += 1
    schools: list[School] = []
    file_academies = {a for a in range(len(ACADEMIES)) if a % 2 == 0}
    for (dept, academie), size in zip(depts, sizes, strict=True):
        prefix = UAI_PREFIX.get(dept, dept.rjust(3, "0"))
        for i in range(size):
            digits = f"{prefix}{1000 + i:04d}"
            circ = f"{dept}-C{i // SCHOOLS_PER_CIRCONSCRIPTION + 1:02d}"
            commune = f"Commune {dept}-{i * 2 // 3 + 1:03d}"
            label_from = (
                rng.choices(RENTREES, weights=(40, 25, 20, 10, 5))[0]
                if rng.random() < 0.55
                else None
            )
            school = School(
                n=len(schools),
                uai=digits + uai_check_letter(digits),
                academie=academie,
                departement=dept,
                details=SchoolDetails(
                    name=f"École {('Jules Ferry', 'Jean Jaurès', 'Victor Hugo', 'des Tilleuls', 'Marie Curie', 'du Centre')[i % 6]} — {commune}",
                    kind="ecole",
                    pupils=rng.randint(40, 420),
                    commune=commune,
                    circonscription=circ,
                    bassin=f"{dept}-B{i // (SCHOOLS_PER_CIRCONSCRIPTION * 3) + 1}",
                    departement=dept,
                    academie=ACADEMIES[academie],
                ),
                ent=rng.random() < 0.6,
                gar=rng.random() < 0.7,
                label_from=label_from,
                pupils_from_file=academie in file_academies,
            )
            school.classes = max(1, min(30, school.details.pupils // 24 + rng.randint(0, 2)))
            school.equipped = rng.uniform(0.0, 0.5)
            school.resources = rng.sample(GAR_RESOURCES, rng.randint(3, 10))
            schools.append(school)
    return schools


# -------------------------------------------------------------------------------- planning


class Planner:
    """Decides what happens to every school, one window of a year (June to June) at a time;
    each school's own decisions are taken in the order of their moments."""

    def __init__(self, count: int, seed: str) -> None:
        self.rng = random.Random(seed)
        self.schools = build_schools(count, self.rng)
        self.by_academie: list[list[School]] = [[] for _ in ACADEMIES]
        for s in self.schools:
            self.by_academie[s.academie].append(s)
        self.referentiels = shipped_referentiels()
        ecole = next(r for r in self.referentiels if "ecole" in r.kinds)
        self.ecole_version = ecole.version
        self.domains = list(ecole.domains)
        self.levels = {c.code: c.level for d in self.domains for c in d.criteria}
        self.circonscriptions: dict[str, list[str]] = {}
        for s in self.schools:
            assert s.details.circonscription is not None
            circs = self.circonscriptions.setdefault(s.departement, [])
            if s.details.circonscription not in circs:
                circs.append(s.details.circonscription)
        self.seq = 0
        self.out: list[Intent] = []

    def add(self, t: int, kind: int, subject: int, payload: Any = None) -> None:
        self.out.append((t, self.seq, kind, subject, payload))
        self.seq += 1

    def between(self, start: int, end: int) -> int:
        return self.rng.randrange(start, max(end, start + 1))

    def take(self) -> list[Intent]:
        out, self.out = self.out, []
        out.sort()
        return out

    # -- the windows -------------------------------------------------------------------------

    def prelude(self) -> list[Intent]:
        """May 2021: référentiels, registers and catalogues."""
        for i in range(len(self.referentiels)):
            self.add(on(2021, 5, 3, 7, i), REFERENTIEL, i)
        for a, schools in enumerate(self.by_academie):
            start = on(2021, 5, 3, 8) + a * 10 * MINUTE
            self.add(start, CATALOGUE, a, FIRST_CATALOGUE)
            for s in schools:
                self.add(start + MINUTE, REGISTER, s.n, s.details)
        return self.take()

    def window(self, rentree: int) -> list[Intent]:
        """From 1 June of `rentree` to 1 June of the next year: the campaign of `rentree`, its
        year's activity, and the July imports of the year before."""
        if rentree - 1 in RENTREES:
            self.july_imports(rentree - 1)
        if rentree in RENTREES:
            self.campaigns(rentree)
            if rentree > RENTREES[0]:
                self.catalogues(rentree)
            self.register(rentree)
            for s in self.schools:
                if s.closed is not None:
                    continue
                self.declarations(s, rentree)
                self.usages(s, rentree)
                if s.label_from is not None and s.label_from <= rentree:
                    self.label(s, rentree)
            self.ent_imports(rentree, (1, 2, 3, 4))
            self.gar_imports(rentree, on(rentree + 1, 2, 15, 9))
        return self.take()

    # -- the académies -----------------------------------------------------------------------

    def campaigns(self, rentree: int) -> None:
        for a in range(len(ACADEMIES)):
            self.add(on(rentree, 6, 21, 8) + a * 7 * MINUTE, CAMPAIGN, a, rentree)

    def catalogues(self, rentree: int) -> None:
        size = min(len(USAGES), FIRST_CATALOGUE + rentree - RENTREES[0])
        for a in range(len(ACADEMIES)):
            self.add(on(rentree, 8, 25, 9) + a * 5 * MINUTE, CATALOGUE, a, size)

    def catalogue_size(self, rentree: int) -> int:
        return min(len(USAGES), FIRST_CATALOGUE + rentree - RENTREES[0])

    def register(self, rentree: int) -> None:
        """10 September: pupils change, some schools move, a few close."""
        rng = self.rng
        for a, schools in enumerate(self.by_academie):
            start = on(rentree, 9, 10, 8) + a * 11 * MINUTE
            for s in schools:
                if s.closed is not None:
                    continue
                t = start
                if rng.random() < 0.002:
                    s.closed = rentree
                    self.add(t, CLOSED, s.n, date(rentree, 7, 6))
                    continue
                changed: list[str] = []
                details = s.details
                if rng.random() < 0.35:
                    pupils = max(20, details.pupils + rng.randint(-25, 25))
                    if pupils != details.pupils:
                        details = msgspec.structs.replace(details, pupils=pupils)
                        changed.append("pupils")
                if rng.random() < 0.01:
                    others = [
                        c
                        for c in self.circonscriptions[s.departement]
                        if c != details.circonscription
                    ]
                    if others:
                        details = msgspec.structs.replace(
                            details, circonscription=rng.choice(others)
                        )
                        changed.append("circonscription")
                if changed:
                    s.details = details
                    self.add(t, DETAILS, s.n, (details, changed))

    # -- a school's declarations and usages --------------------------------------------------

    def answers(self, s: School) -> dict[str, AnswerValue]:
        rng = self.rng
        a1 = s.classes
        equipped = min(a1, round(a1 * s.equipped))
        b3 = rng.randint(equipped // 2, equipped)
        b2 = rng.randint(0, a1 - b3)
        c3 = rng.randint(max(0, equipped - 2), equipped)
        return {
            "A1": a1, "A2": rng.choice(("ADSL", "FIBRE", "FIBRE", "NE_SAIT_PAS")),
            "A3": rng.choice((0, 0, 0, 2, 4, 6, 12)), "A4": rng.random() < 0.2,
            "A5": rng.random() < 0.08, "A6": rng.random() < 0.05, "A7": s.ent,
            "B1": rng.randint(equipped, a1), "B2": b2, "B3": b3,
            "C1": rng.choice((0, 0, 1, 1, 2)), "C2": rng.choice((0, 0, 0, 1)), "C3": c3,
        }  # fmt: skip

    def declarations(self, s: School, rentree: int) -> None:
        rng = self.rng
        s.classes = max(1, min(30, s.classes + rng.choice((-1, 0, 0, 0, 1))))
        s.equipped = min(1.0, s.equipped + rng.uniform(0.0, 0.15))
        if rng.random() < 0.07:
            return
        r = rng.random()
        if r < 0.70:
            t = self.between(on(rentree, 6, 22, 7), on(rentree, 7, 10, 19))
        elif r < 0.95:
            t = self.between(on(rentree, 8, 25, 7), on(rentree, 9, 27, 19))
        else:
            t = self.between(on(rentree, 10, 1, 7), on(rentree, 12, 15, 19))
        if s.answers is not None and s.answered_in is not None and rng.random() < 0.25:
            self.add(t, CONFIRM, s.n, (rentree, s.answers, s.answered_in))
        else:
            s.answers = self.answers(s)
            self.add(t, DECLARE, s.n, (rentree, s.answers))
        s.answered_in = rentree
        if rng.random() < 0.33:
            s.answers = self.answers(s)
            later = self.between(t + 2 * DAY, on(rentree + 1, 5, 20, 19))
            self.add(later, DECLARE, s.n, (rentree, s.answers))

    def usages(self, s: School, rentree: int) -> None:
        rng = self.rng
        offered = USAGES[: self.catalogue_size(rentree)]
        moves = [True] * rng.randint(0, 6) + [False] * rng.randint(0, 2)
        moments = sorted(
            self.between(on(rentree, 9, 5, 7), on(rentree + 1, 5, 31, 19)) for _ in moves
        )
        rng.shuffle(moves)
        for t, add in zip(moments, moves, strict=True):
            if add:
                candidates = [c for c in offered if c not in s.usages]
                if not candidates:
                    continue
                code = rng.choice(candidates)
                s.usages.add(code)
            else:
                if not s.usages:
                    continue
                code = rng.choice(sorted(s.usages))
                s.usages.discard(code)
            self.add(t, USAGE, s.n, (code, add))

    # -- the académie's ENT and GAR imports --------------------------------------------------

    def ent_imports(self, rentree: int, periods: Sequence[int]) -> None:
        rng = self.rng
        year = school_year_of_rentree(rentree)
        for period in periods:
            after, month, day = ENT_DAYS[period]
            for a, schools in enumerate(self.by_academie):
                start = on(rentree + after, month, day + a % 5, 9) + a * 3 * MINUTE
                sha = hashlib.sha256(f"ent:{a}:{year}:{period}".encode()).hexdigest()
                users = [s for s in schools if s.ent and (s.closed is None or s.closed > rentree)]
                for s in users:
                    self.add(start, ENT, s.n, self.ent_figures(s, rentree, period, sha))
                if rng.random() < 0.1:  # a corrected file, a few days later
                    fixed = start + rng.randint(2, 6) * DAY
                    sha = hashlib.sha256(f"ent:{a}:{year}:{period}:fix".encode()).hexdigest()
                    for s in users:
                        if rng.random() < 0.2:
                            figures = self.ent_figures(s, rentree, period, sha)
                            self.add(fixed, ENT, s.n, figures)

    def ent_figures(self, s: School, rentree: int, period: int, sha: str) -> tuple[Any, ...]:
        rng = self.rng
        enrolled = max(20, s.details.pupils + (rng.randint(-10, 10) if s.pupils_from_file else 0))
        total = int(enrolled * rng.lognormvariate(0.0, 0.6))
        pupils = total * 7 // 10
        parents = total * 2 // 10
        return (rentree, period, pupils, parents, total - pupils - parents, enrolled, sha)

    def gar_imports(self, rentree: int, moment: int) -> None:
        rng = self.rng
        year = school_year_of_rentree(rentree)
        growth = 1 if moment < on(rentree + 1, 6, 1) else 2
        for a, schools in enumerate(self.by_academie):
            start = moment + a * 4 * MINUTE
            sha = hashlib.sha256(f"gar:{a}:{year}:{growth}".encode()).hexdigest()
            users = [s for s in schools if s.gar and (s.closed is None or s.closed > rentree)]
            for s in users:
                if rng.random() < 0.15:  # the school swaps a resource for another
                    s.resources[rng.randrange(len(s.resources))] = rng.choice(GAR_RESOURCES)
                names = sorted(set(s.resources))
                resources = tuple(
                    (name, rng.randint(0, 400) * growth + rng.randint(0, 50)) for name in names
                )
                self.add(start, GAR, s.n, (rentree, resources, sha))

    def july_imports(self, rentree: int) -> None:
        """Period 5 and the year's last GAR list, in July after the school year."""
        self.ent_imports(rentree, (5,))
        self.gar_imports(rentree, on(rentree + 1, 7, 12, 9))

    # -- a school's label board --------------------------------------------------------------

    def label(self, s: School, rentree: int) -> None:
        rng = self.rng
        if not s.priority:
            codes = list(self.levels)
            rng.shuffle(codes)
            s.priority = sorted(codes, key=lambda c: self.levels[c])
            s.criteria = dict.fromkeys(codes, "not_proposed")
        start, end = on(rentree, 9, 15, 8), on(rentree + 1, 5, 31, 18)
        steps: list[tuple[int, int, str]] = []  # (moment, kind, code)
        open_codes = [c for c in s.priority if s.criteria[c] != "validated"]
        for code in open_codes[: rng.randint(2, 5)]:
            proposed = self.between(start, on(rentree + 1, 4, 30, 18))
            steps.append((proposed, PROPOSE, code))
            decided = min(end, proposed + rng.randint(2, 40) * DAY + rng.randrange(DAY))
            r = rng.random()
            if r < 0.82:
                steps.append((decided, VALIDATE, code))
            elif r < 0.92:
                steps.append((decided, REJECT, code))
                if rng.random() < 0.6 and decided + 5 * DAY < end:
                    again = self.between(decided + DAY, min(end, decided + 30 * DAY))
                    steps.append((again, PROPOSE, code))
                    steps.append((min(end, again + rng.randint(2, 20) * DAY), VALIDATE, code))
            else:
                steps.append((decided, WITHDRAW, code))
        if rng.random() < 0.04:
            steps.append((self.between(on(rentree + 1, 2, 1), end), REVOKE, ""))
        steps.append(
            (self.between(on(rentree + 1, 1, 8, 8), on(rentree + 1, 1, 31, 18)), AWARD, "")
        )
        after = {PROPOSE: "proposed", VALIDATE: "validated", REJECT: "rejected",
                 WITHDRAW: "not_proposed", REVOKE: "revoked"}  # fmt: skip
        for t, kind, code in sorted(steps):
            if kind == AWARD:
                validated = {c for c, state in s.criteria.items() if state == "validated"}
                levels = domain_levels(self.domains, validated)
                level = global_level(levels)
                if level >= 1 and rng.random() < 0.75:
                    self.add(t, AWARD, s.n, (rentree, level, levels))
                continue
            if kind == REVOKE:
                validated_codes = sorted(c for c, st in s.criteria.items() if st == "validated")
                if not validated_codes:
                    continue
                code = rng.choice(validated_codes)
            s.criteria[code] = after[kind]
            text = (
                rng.choice(COMMENTS)
                if kind == PROPOSE
                else rng.choice(REASONS)
                if kind in (REJECT, REVOKE)
                else None
            )
            self.add(t, kind, s.n, (code, text))


# -------------------------------------------------------------------------------- making


class Making:
    """Makes the planned events in order: each stream's next version, sealed to the chain of its
    school in its log."""

    def __init__(self, planner: Planner) -> None:
        self.planner = planner
        self.versions: dict[uuid.UUID, int] = {}
        # The last chain of each school (None: the events about no school), in each log.
        self.chains: dict[str, dict[str | None, str]] = {"declarations": {}, "label": {}}
        self.yearly: dict[int, list[uuid.UUID]] = {}  # ENT/GAR streams of each rentrée
        self.last = 0
        self.counts: Counter[str] = Counter()
        self.bytes = 0
        self.ref_versions = [r.version for r in planner.referentiels]

    def forget_years_before(self, rentree: int) -> None:
        """ENT and GAR streams of years whose imports are all made are done with."""
        for r in [r for r in self.yearly if r < rentree]:
            for stream in self.yearly.pop(r):
                self.versions.pop(stream, None)

    def _next(self, stream: uuid.UUID) -> int:
        version = self.versions.get(stream, 0) + 1
        self.versions[stream] = version
        return version

    def _yearly(self, stream: uuid.UUID, rentree: int) -> int:
        version = self._next(stream)
        if version == 1:
            self.yearly.setdefault(rentree, []).append(stream)
        return version

    def event(self, intent: Intent) -> Event:
        t, _, kind, subject, payload = intent
        t = max(t, self.last)  # never back in log order; an import's events share theirs
        self.last = t
        when = moment_of(t)
        made = self._event(kind, subject, payload, when)
        return msgspec.structs.replace(made, recorded_at=when)

    def _event(self, kind: int, subject: int, payload: Any, when: datetime) -> Event:
        p = self.planner
        today = school_year_on(when)
        if kind == REFERENTIEL:
            ref = p.referentiels[subject]
            stream = referentiels_id()
            return new_event(
                ReferentielPublished, originator_id=stream, originator_version=self._next(stream),
                uai=None, school_year=today, actor=Actor("admin-national", Role.ADMIN),
                occurred_at=when, referentiel_version=ref.version, title=ref.title,
                kinds=ref.kinds, domains=ref.domains,
            )  # fmt: skip
        if kind in (CATALOGUE, CAMPAIGN):
            academie = ACADEMIES[subject]
            admin = Actor(f"admin-{academie}", Role.ADMIN)
            if kind == CATALOGUE:
                stream = catalogue_id(academie)
                version = self._next(stream)
                return new_event(
                    UsageCatalogueRevised, originator_id=stream, originator_version=version,
                    uai=None, school_year=today, actor=admin, occurred_at=when,
                    academie=academie, catalogue_version=version,
                    usages=[UsageDefinition(code=c, title=c.replace("_", " ").capitalize(),
                                            summary=f"Usage {c.lower()}")
                            for c in USAGES[:payload]],
                )  # fmt: skip
            year = school_year_of_rentree(payload)
            stream = campaign_id(academie, year)
            return new_event(
                CampaignOpened, originator_id=stream, originator_version=self._next(stream),
                uai=None, school_year=year, actor=admin, occurred_at=when, academie=academie,
                opens_on=date(payload, 6, 21), closes_on=date(payload, 9, 27),
            )  # fmt: skip
        s = p.schools[subject]
        admin = Actor(f"admin-{ACADEMIES[s.academie]}", Role.ADMIN)
        director = Actor(f"directeur-{s.uai}", Role.DIRECTEUR)
        if kind == REGISTER:
            return new_event(
                SchoolRegistered, originator_id=s.school, originator_version=self._next(s.school),
                uai=s.uai, school_year=today, actor=admin, occurred_at=when, details=payload,
            )  # fmt: skip
        if kind == DETAILS:
            details, changed = payload
            return new_event(
                SchoolDetailsChanged, originator_id=s.school,
                originator_version=self._next(s.school), uai=s.uai, school_year=today,
                actor=admin, occurred_at=when, details=details, changed=changed,
            )  # fmt: skip
        if kind == CLOSED:
            return new_event(
                SchoolClosed, originator_id=s.school, originator_version=self._next(s.school),
                uai=s.uai, school_year=today, actor=admin, occurred_at=when, closed_on=payload,
            )  # fmt: skip
        if kind == DECLARE:
            rentree, answers = payload
            return new_event(
                DeclarationSubmitted, originator_id=s.declarations,
                originator_version=self._next(s.declarations), uai=s.uai,
                school_year=school_year_of_rentree(rentree), actor=director, occurred_at=when,
                answers=answers,
            )  # fmt: skip
        if kind == CONFIRM:
            rentree, answers, confirmed_from = payload
            return new_event(
                DeclarationConfirmed, originator_id=s.declarations,
                originator_version=self._next(s.declarations), uai=s.uai,
                school_year=school_year_of_rentree(rentree), actor=director, occurred_at=when,
                answers=answers, confirmed_from=school_year_of_rentree(confirmed_from),
            )  # fmt: skip
        if kind == USAGE:
            code, added = payload
            return new_event(
                UsageAdded if added else UsageRemoved, originator_id=s.declarations,
                originator_version=self._next(s.declarations), uai=s.uai, school_year=today,
                actor=director, occurred_at=when, code=code,
            )  # fmt: skip
        if kind == ENT:
            rentree, period, pupils, parents, teachers, enrolled, sha = payload
            year = school_year_of_rentree(rentree)
            stream = ent_id(s.uai, year)
            return new_event(
                EntConnectionsImported, originator_id=stream,
                originator_version=self._yearly(stream, rentree), uai=s.uai, school_year=year,
                actor=admin, occurred_at=when, period=period,
                connections=EntConnections(pupils=pupils, parents=parents, teachers=teachers),
                enrolled_pupils=enrolled,
                pupils_source=PUPILS_FROM_FILE if s.pupils_from_file else PUPILS_FROM_REGISTER,
                file_sha256=sha,
            )  # fmt: skip
        if kind == GAR:
            rentree, resources, sha = payload
            year = school_year_of_rentree(rentree)
            stream = gar_id(s.uai, year)
            return new_event(
                GarAccessesImported, originator_id=stream,
                originator_version=self._yearly(stream, rentree), uai=s.uai, school_year=year,
                actor=admin, occurred_at=when,
                resources=[GarResourceAccesses(resource=r, accesses=n) for r, n in resources],
                file_sha256=sha,
            )  # fmt: skip
        board: dict[str, Any] = dict(originator_id=s.board, originator_version=self._next(s.board), uai=s.uai,
                     occurred_at=when, referentiel_version=p.ecole_version)  # fmt: skip
        referent = Actor(f"referent-{s.uai}", Role.REFERENT)
        adviser = Actor(f"conseiller-{s.details.circonscription}", Role.CONSEILLER)
        if kind == AWARD:
            rentree, level, levels = payload
            year = school_year_of_rentree(rentree)
            signatory, office = SIGNATORIES[s.n % len(SIGNATORIES)]
            commune = CommuneSignature(name=s.details.commune, signatory=signatory, office=office)
            return new_event(
                LabelAwarded, school_year=year, actor=director, level=level,
                domain_levels=levels, valid_until=valid_until(year), commune=commune, **board,
            )  # fmt: skip
        code, text = payload
        if kind == PROPOSE:
            return new_event(CriterionProposed, school_year=today, actor=referent, code=code,
                             comment=text, **board)  # fmt: skip
        if kind == VALIDATE:
            return new_event(CriterionValidated, school_year=today, actor=adviser, code=code,
                             **board)  # fmt: skip
        if kind == REJECT:
            return new_event(CriterionRejected, school_year=today, actor=adviser, code=code,
                             reason=text, **board)  # fmt: skip
        if kind == WITHDRAW:
            return new_event(ProposalWithdrawn, school_year=today, actor=referent, code=code,
                             **board)  # fmt: skip
        if kind == REVOKE:
            return new_event(ValidationRevoked, school_year=today, actor=adviser, code=code,
                             reason=text, **board)  # fmt: skip
        raise ValueError(f"unknown intent kind {kind}")

    def batches(self, intents: Sequence[Intent]) -> Iterator[dict[str, list[tuple[Any, ...]]]]:
        """Rows for each log (`declarations`, `label`), `BATCH` events at a time, sealed."""
        for start in range(0, len(intents), BATCH):
            chunk = intents[start : start + BATCH]
            made: dict[str, list[Event]] = {"declarations": [], "label": []}
            for intent in chunk:
                made["label" if intent[2] in LABEL_KINDS else "declarations"].append(
                    self.event(intent)
                )
            rows: dict[str, list[tuple[Any, ...]]] = {}
            for log, unsealed in made.items():
                rows[log] = []
                for e, state in zip(unsealed, self._sealed(log, unsealed), strict=True):
                    self.bytes += len(state)
                    topic = e.type_name()
                    self.counts[topic] += 1
                    rows[log].append((e.originator_id, e.originator_version, topic, state))
            yield rows

    def _sealed(self, log: str, unsealed: list[Event]) -> list[bytes]:
        """The events' bytes to store, sealed (the log's chains moved along)."""
        return [s.data for s in seal(unsealed, self.chains[log])]


def windows(planner: Planner) -> Iterator[tuple[str, int, list[Intent]]]:
    """The windows of the dataset, in order: (name, rentrée, sorted intents); once a window is
    made, the ENT and GAR streams of the years before its rentrée are complete."""
    yield "prelude (May 2021)", RENTREES[0], planner.prelude()
    for rentree in (*RENTREES, RENTREES[-1] + 1):
        yield f"June {rentree} → June {rentree + 1}", rentree, planner.window(rentree)


# -------------------------------------------------------------------------------- loading


@dataclass
class Dataset:
    database: DatabaseSettings
    schools: int
    events: dict[str, int]  # per log
    counts: dict[str, int]  # per event type
    state_bytes: int  # the events' bytes, as stored
    generated_seconds: float
    cached: bool
    first: datetime
    last: datetime

    @property
    def total(self) -> int:
        return sum(self.events.values())


def _open_applications(database: DatabaseSettings) -> None:
    """Let the eventsourcing library create its tables (the DDL is the library's own)."""
    from services.declarations.app import open_application as open_declarations
    from services.label.app import open_application as open_label

    declarations = open_declarations(database, pool_size=1)
    declarations.close()
    label, register = open_label(database, pool_size=1)
    label.close()
    register.close()


async def _read_marker(url: str) -> dict[str, str] | None:
    conn: asyncpg.Connection = await asyncpg.connect(url)
    try:
        if await conn.fetchval("SELECT to_regclass($1)", MARKER) is None:
            return None
        rows = await conn.fetch(f"SELECT key, value FROM {MARKER}")
        return {r["key"]: r["value"] for r in rows}
    finally:
        await conn.close()


def _dataset_of(database: DatabaseSettings, marker: dict[str, str], cached: bool) -> Dataset:
    return Dataset(
        database=database,
        schools=int(marker["schools"]),
        events=json.loads(marker["events"]),
        counts=json.loads(marker["counts"]),
        state_bytes=int(marker["state_bytes"]),
        generated_seconds=float(marker["generated_seconds"]),
        cached=cached,
        first=datetime.fromisoformat(marker["first"]),
        last=datetime.fromisoformat(marker["last"]),
    )


def database_exists(maintenance_url: str, name: str) -> bool:
    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return row is not None


def drop_dataset(maintenance_url: str, schools: int) -> bool:
    name = database_name(schools)
    existed = database_exists(maintenance_url, name)
    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return existed


async def ensure_dataset(
    maintenance_url: str, schools: int, say: Callable[[str], None] = print
) -> Dataset:
    """The cached dataset of `schools` écoles, generated first when missing or stale."""
    name = database_name(schools)
    database = DatabaseSettings(url=with_database(maintenance_url, name))
    if database_exists(maintenance_url, name):
        marker = await _read_marker(database.url)
        if marker is not None and marker.get("version") == DATASET_VERSION:
            return _dataset_of(database, marker, cached=True)
        say(f"{name}: incomplete or of another generator version, made again")
        drop_dataset(maintenance_url, schools)
    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        marker = await generate(database, schools, say)
    except BaseException:
        drop_dataset(maintenance_url, schools)
        raise
    return _dataset_of(database, marker, cached=False)


async def generate(
    database: DatabaseSettings, schools: int, say: Callable[[str], None] = print
) -> dict[str, str]:
    """Write the dataset into an empty database; returns what its marker records."""
    started = time.perf_counter()
    await asyncio.to_thread(_open_applications, database)
    conn: asyncpg.Connection = await asyncpg.connect(database.url)
    try:
        await conn.execute("SET synchronous_commit = off")
        planner = Planner(schools, f"numecole-national-{schools}-v{DATASET_VERSION}")
        making = Making(planner)
        logs = {"declarations": SOURCES["declarations"], "label": SOURCES["label"]}
        copied = {"declarations": 0, "label": 0}
        first: datetime | None = None
        for window, rentree, intents in windows(planner):
            for rows in making.batches(intents):
                for log, records in rows.items():
                    if records:
                        source = logs[log]
                        await conn.copy_records_to_table(
                            source.table, schema_name=source.schema, columns=COLUMNS,
                            records=records,
                        )  # fmt: skip
                        copied[log] += len(records)
            if first is None and intents:
                first = moment_of(intents[0][0])
            making.forget_years_before(rentree)
            say(
                f"  {window}: {len(intents):,} events; {sum(copied.values()):,} in all, "
                f"{time.perf_counter() - started:,.0f} s".replace(",", " ")
            )
        say("  vacuum and analyze…")
        for source in logs.values():
            await conn.execute(f"VACUUM (FREEZE, ANALYZE) {source.qualified_table}")
        marker = {
            "version": DATASET_VERSION,
            "schools": str(schools),
            "events": json.dumps(copied),
            "counts": json.dumps(dict(making.counts.most_common())),
            "state_bytes": str(making.bytes),
            "generated_seconds": f"{time.perf_counter() - started:.1f}",
            "first": (first or EPOCH).isoformat(),
            "last": moment_of(making.last).isoformat(),
            "generated_on": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        await conn.execute(f"CREATE TABLE {MARKER} (key text PRIMARY KEY, value text NOT NULL)")
        await conn.executemany(f"INSERT INTO {MARKER} VALUES ($1, $2)", list(marker.items()))
        return marker
    finally:
        await conn.close()


async def sizes(database: DatabaseSettings) -> dict[str, int]:
    """Bytes on disk of each log (table, TOAST and indexes), and of the whole database."""
    conn: asyncpg.Connection = await asyncpg.connect(database.url)
    try:
        found = {
            name: int(
                await conn.fetchval(
                    "SELECT pg_total_relation_size($1::regclass)", f"{s.schema}.{s.table}"
                )
            )
            for name, s in SOURCES.items()
        }
        found["database"] = int(await conn.fetchval("SELECT pg_database_size(current_database())"))
        return found
    finally:
        await conn.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.national_data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_SCHOOLS} écoles")
    parser.add_argument("--schools", type=int, help=f"écoles (default {FULL_SCHOOLS})")
    parser.add_argument("--drop", action="store_true", help="drop the cached dataset")
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL")
    if not url:
        print("DATABASE_URL is not set", file=sys.stderr)
        return 2
    schools = args.schools or (QUICK_SCHOOLS if args.quick else FULL_SCHOOLS)
    if args.drop:
        dropped = drop_dataset(url, schools)
        print(f"{database_name(schools)}: {'dropped' if dropped else 'not there'}")
        return 0
    dataset = asyncio.run(ensure_dataset(url, schools))
    on_disk = asyncio.run(sizes(dataset.database))
    print(
        f"{database_name(schools)}: {dataset.total:,} events "
        f"({', '.join(f'{k} {v:,}' for k, v in dataset.events.items())}), "
        f"{dataset.state_bytes / 1e9:.2f} GB of event bytes, {on_disk['database'] / 1e9:.2f} GB "
        f"on disk; {'cached' if dataset.cached else 'generated'} "
        f"(generation took {dataset.generated_seconds:.0f} s)".replace(",", " ")
    )
    for topic, n in dataset.counts.items():
        print(f"  {topic:24} {n:>10,}".replace(",", " "))
    return 0


if __name__ == "__main__":
    sys.exit(main())
