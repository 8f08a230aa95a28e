-- ENT connections and GAR accesses imported by the académie (events.data_imports).
-- Disposable like every read model: rebuilt from the declarations log. Append-only, so a read
-- can answer as the record stood at any moment: the figures in force at a moment are the latest
-- recorded by then. The ENT index itself is not stored: it is computed from the raw figures
-- under the rule of the year (events.ent), so a new rule needs no replay.
CREATE SCHEMA IF NOT EXISTS reporting;

-- Each import of a period's connections of a school (a corrected file adds a later row).
CREATE TABLE IF NOT EXISTS reporting.ent_connections (
    uai text NOT NULL,
    school_year text NOT NULL,
    rentree integer NOT NULL,
    period smallint NOT NULL,
    recorded_at timestamptz NOT NULL,
    pupil_connections bigint NOT NULL,
    parent_connections bigint NOT NULL,
    teacher_connections bigint NOT NULL,
    enrolled_pupils integer NOT NULL,
    pupils_source text NOT NULL,
    file_sha256 text NOT NULL,
    PRIMARY KEY (uai, rentree, period, recorded_at)
);
CREATE INDEX IF NOT EXISTS ent_connections_rentree ON reporting.ent_connections (rentree, uai);

-- Each import of a school's GAR list for a school year: the whole list at `recorded_at`, its
-- resources and their accès side by side (an empty list is not recorded: the previous one stays).
CREATE TABLE IF NOT EXISTS reporting.gar_accesses (
    uai text NOT NULL,
    school_year text NOT NULL,
    rentree integer NOT NULL,
    recorded_at timestamptz NOT NULL,
    resources text[] NOT NULL,
    accesses bigint[] NOT NULL,
    file_sha256 text NOT NULL,
    PRIMARY KEY (uai, rentree, recorded_at)
);
