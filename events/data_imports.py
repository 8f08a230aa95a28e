"""Events of the académie's data imports: ENT connections and GAR accesses, per school and year.

Both are recorded by the declarations service (its log, its subjects), in one aggregate per
school and school year for each source (`stream_id("ent", uai, school_year)`,
`stream_id("gar", uai, school_year)`). The raw figures are kept as imported, so the ENT index
(`events.ent`) can be computed again under any later rule.
"""

from __future__ import annotations

import msgspec

from events.envelope import Event

SERVICE = "declarations"

# Where the pupil count of an ENT period comes from.
PUPILS_FROM_FILE = "fichier"  # the file's `effectif` column
PUPILS_FROM_REGISTER = "registre"  # the register's pupil count when the file was imported


class EntConnections(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Connections to the ENT during one period, by profile."""

    pupils: int
    parents: int
    teachers: int

    @property
    def total(self) -> int:
        """What the ENT index counts: every profile's connections (DOMAIN.md, decision)."""
        return self.pupils + self.parents + self.teachers


class EntConnectionsImported(Event, frozen=True, kw_only=True):
    """The ENT connections of one school during one period (1–5) of `school_year`.

    A later event for the same period supersedes this one (a corrected file); importing the
    same figures again records nothing. `enrolled_pupils` is the divisor of the period's ratio,
    taken from the file when it has an `effectif` column, from the register otherwise
    (`pupils_source`)."""

    period: int
    connections: EntConnections
    enrolled_pupils: int
    pupils_source: str
    file_sha256: str


class GarResourceAccesses(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One digital resource and its accesses (successful connections opening a GAR session)."""

    resource: str
    accesses: int


class GarAccessesImported(Event, frozen=True, kw_only=True):
    """The GAR resources a school used in `school_year`, with their accesses so far.

    Each event is the whole year's figures for the school as the last file gave them: it
    replaces the previous one. Resources are sorted by name."""

    resources: list[GarResourceAccesses]
    file_sha256: str


DATA_IMPORT_EVENTS: tuple[type[Event], ...] = (EntConnectionsImported, GarAccessesImported)
