-- Territory figures kept by the projection, so that a territory's figures at any moment are a
-- few index lookups instead of a pass over its member schools (`cell_projection.py`).
-- Disposable like every read model: rebuilt from the logs.
CREATE SCHEMA IF NOT EXISTS reporting;

-- A cell: the schools of one département in one académie. A département, an académie and a
-- région are each a union of cells, and a school is in one cell at a time. Circonscriptions
-- and bassins, a few dozen schools each, are read from their members.
CREATE TABLE IF NOT EXISTS reporting.cells (
    cell bigint PRIMARY KEY,
    departement text NOT NULL,
    academie text NOT NULL,
    region text NOT NULL
);
CREATE INDEX IF NOT EXISTS cells_departement ON reporting.cells (departement);
CREATE INDEX IF NOT EXISTS cells_academie ON reporting.cells (academie);
CREATE INDEX IF NOT EXISTS cells_region ON reporting.cells (region);

-- The school years the cells hold figures for, each from the moment it was added: a read of
-- a year at an earlier moment is answered from the members instead.
CREATE TABLE IF NOT EXISTS reporting.figure_years (
    rentree integer PRIMARY KEY,
    since timestamptz NOT NULL
);

-- The sums of a cell's open schools for one school year, from the moment they were recorded
-- until the next version (the fields of `services/reporting/contribution.py` but the usages').
CREATE TABLE IF NOT EXISTS reporting.cell_figures (
    cell bigint NOT NULL,
    rentree integer NOT NULL,
    valid_from timestamptz NOT NULL,
    schools integer NOT NULL,
    asked integer NOT NULL,  -- the écoles: the schools a campaign asks to declare
    answered integer NOT NULL,
    on_time integer NOT NULL,
    declared integer NOT NULL,
    classes bigint NOT NULL,
    teacher bigint NOT NULL,
    pupil bigint NOT NULL,
    with_robots integer NOT NULL,
    with_ent integer NOT NULL,
    i0 integer NOT NULL,
    i1 integer NOT NULL,
    i2 integer NOT NULL,
    i3 integer NOT NULL,
    ent_figures integer NOT NULL,
    e0 integer NOT NULL,
    e1 integer NOT NULL,
    e2 integer NOT NULL,
    e3 integer NOT NULL,
    ent_connections bigint NOT NULL,
    gar_accesses bigint NOT NULL,
    labelled integer NOT NULL,
    l1 integer NOT NULL,
    l2 integer NOT NULL,
    l3 integer NOT NULL,
    PRIMARY KEY (cell, rentree, valid_from)
);

-- How many of a cell's schools declared each usage, as the school year ended (or now), and their
-- sum, the cell's usage total, from each moment one of them changed.
CREATE TABLE IF NOT EXISTS reporting.cell_usages (
    cell bigint NOT NULL,
    rentree integer NOT NULL,
    valid_from timestamptz NOT NULL,
    code text NOT NULL,
    schools integer NOT NULL,
    total integer NOT NULL,  -- the cell's usage total from that moment, the same on its every row
    PRIMARY KEY (cell, rentree, valid_from, code)
);

-- The GAR resources a cell's schools used in a school year, each time that set changed.
CREATE TABLE IF NOT EXISTS reporting.cell_gar_resources (
    cell bigint NOT NULL,
    rentree integer NOT NULL,
    valid_from timestamptz NOT NULL,
    resources text[] NOT NULL,
    PRIMARY KEY (cell, rentree, valid_from)
);

-- Moments at which a cell's versions may be inexact, because events were applied in another
-- order than they were recorded: reads of a territory with such a cell at such a moment are
-- answered from the members instead. The versions from `valid_to` on are exact.
CREATE TABLE IF NOT EXISTS reporting.cell_disorder (
    cell bigint NOT NULL,
    valid_from timestamptz NOT NULL,
    valid_to timestamptz NOT NULL,
    PRIMARY KEY (cell, valid_from, valid_to)
);

-- Each school's ENT index of a school year (`events.ent`), from each moment it changed, for the
-- territories' lists of schools; NULL: none (the school does not use the ENT, or no connections
-- were imported for the year). Over a span of `school_ent_disorder`, events of the school were
-- applied in another order than they were recorded: the versions there may be inexact, and
-- reads compute the index from the record instead. The versions from `valid_to` on are exact.
CREATE TABLE IF NOT EXISTS reporting.school_ent_versions (
    uai text NOT NULL,
    rentree integer NOT NULL,
    valid_from timestamptz NOT NULL,
    ent_index smallint,
    PRIMARY KEY (uai, rentree, valid_from)
);
CREATE TABLE IF NOT EXISTS reporting.school_ent_disorder (
    uai text NOT NULL,
    valid_from timestamptz NOT NULL,
    valid_to timestamptz NOT NULL,
    PRIMARY KEY (uai, valid_from, valid_to)
);
-- Reads of a past moment look for the spans that cover it: most spans are short and long past.
CREATE INDEX IF NOT EXISTS school_ent_disorder_valid_to ON reporting.school_ent_disorder (valid_to);

-- The last day of each académie's campaign for a school year, as the cells' projection knows it
-- (it follows its own consumer: the reporting projector's tables may be behind it).
CREATE TABLE IF NOT EXISTS reporting.cell_campaigns (
    academie text NOT NULL,
    rentree integer NOT NULL,
    closes_on date NOT NULL,
    PRIMARY KEY (academie, rentree)
);

-- What the projection keeps between batches to compute the above: each school's facts and
-- each cell's current sums (msgpack of `SchoolFacts` and `CellSums`).
CREATE TABLE IF NOT EXISTS reporting.school_facts (
    uai text PRIMARY KEY,
    academie text,  -- the schools a campaign concerns
    facts bytea NOT NULL
);
CREATE INDEX IF NOT EXISTS school_facts_academie ON reporting.school_facts (academie);
CREATE TABLE IF NOT EXISTS reporting.cell_sums (
    cell bigint NOT NULL,
    rentree integer NOT NULL,
    sums bytea NOT NULL,
    PRIMARY KEY (cell, rentree)
);

-- The territory figures are kept by a consumer of their own (`cell_projector.py`): its
-- positions in each log, and the events it could not apply.
CREATE TABLE IF NOT EXISTS reporting.cell_tracking (
    source text PRIMARY KEY,
    position bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS reporting.cell_parked (
    id bigserial PRIMARY KEY,
    source text,
    position bigint,
    subject text,
    reason text NOT NULL,
    data bytea,
    parked_at timestamptz NOT NULL DEFAULT now()
);
