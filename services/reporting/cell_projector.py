"""The territory figures' projector: a durable JetStream consumer of its own (`infra.consumer`),
beside the reporting projector, keeping the cells (`cell_projection.py`).

Its work is most of a batch's Python: apart, the school profiles and histories are never held
back by it, and each has its own positions (`reporting.cell_tracking`). Reads use the cells for a
past moment only once they hold everything recorded by then (`sums_from_cells.covered`).
"""

from __future__ import annotations

import asyncpg

from events.envelope import Event
from services.reporting.cell_projection import CellFigures
from services.reporting.projector import ReadModelConsumer

DURABLE = "reporting-cells"
# Held by each batch's transaction; `rebuild` takes it, with the projector's, to switch.
CELLS_LOCK = 4244
TRACKING = "reporting.cell_tracking"
PARKED = "reporting.cell_parked"
# What it writes (`sql/004_territory_figures.sql`), all but its positions and parked events.
TABLES = (
    "cells", "figure_years", "cell_figures", "cell_usages",
    "cell_gar_resources", "cell_disorder", "school_facts", "cell_sums", "cell_campaigns",
    "school_ent_versions", "school_ent_disorder",
)  # fmt: skip


class CellApplier:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.fold = CellFigures()

    async def apply(self, event: Event, source: str, position: int, data: bytes) -> None:
        if type(event) in CellFigures.types:
            self.fold.add(event)

    async def flush(self) -> None:
        if self.fold:
            await self.fold.flush(self.conn)


class CellProjector(ReadModelConsumer):
    name = "territories"
    durable = DURABLE
    tracking = TRACKING
    parked = PARKED
    lock = CELLS_LOCK

    def applier(self, conn: asyncpg.Connection) -> CellApplier:
        return CellApplier(conn)
