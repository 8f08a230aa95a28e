-- Read models of the reporting service. Disposable: everything here is rebuilt from the logs.
CREATE SCHEMA IF NOT EXISTS reporting;

CREATE TABLE IF NOT EXISTS reporting.tracking (
    source text PRIMARY KEY,
    position bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS reporting.parked (
    id bigserial PRIMARY KEY,
    source text,
    position bigint,
    subject text,
    reason text NOT NULL,
    data bytea,
    parked_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS reporting.schools (
    uai text PRIMARY KEY,
    name text NOT NULL,
    kind text NOT NULL,
    pupils integer NOT NULL,
    commune text NOT NULL,
    circonscription text,
    bassin text,
    departement text NOT NULL,
    academie text NOT NULL,
    region text NOT NULL,
    closed_on date,
    registered_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS schools_academie ON reporting.schools (academie);
CREATE INDEX IF NOT EXISTS schools_departement ON reporting.schools (departement);
CREATE INDEX IF NOT EXISTS schools_circonscription ON reporting.schools (circonscription);
CREATE INDEX IF NOT EXISTS schools_bassin ON reporting.schools (bassin);

CREATE TABLE IF NOT EXISTS reporting.campaigns (
    academie text NOT NULL,
    school_year text NOT NULL,
    opens_on date NOT NULL,
    closes_on date NOT NULL,
    PRIMARY KEY (academie, school_year)
);

-- Every version of each académie's usage catalogue, from the moment it was recorded: a profile
-- of a past moment names its usages as the catalogue did then.
CREATE TABLE IF NOT EXISTS reporting.usage_catalogue (
    academie text NOT NULL,
    valid_from timestamptz NOT NULL,
    code text NOT NULL,
    title text NOT NULL,
    summary text NOT NULL,
    catalogue_version integer NOT NULL,
    PRIMARY KEY (academie, code, valid_from)
);

-- Each school's whole set of usages after each moment it changed: its usages at a moment are
-- one lookup, not a replay of its changes. The set is a JSON array of codes, sorted: a rebuild
-- copies ~1 M of them, and the driver encodes a JSON text six times faster than a text[] (which
-- it encodes element by element).
CREATE TABLE IF NOT EXISTS reporting.usage_sets (
    uai text NOT NULL,
    valid_from timestamptz NOT NULL,
    codes jsonb NOT NULL,
    PRIMARY KEY (uai, valid_from)
);

-- As the record stood at any moment: each version of a school is valid from the time it was
-- recorded until the next one was (valid_to NULL: the current one). A declaration's version in
-- force at a moment is the latest recorded by then (append-only: no closing write).
CREATE TABLE IF NOT EXISTS reporting.school_versions (
    uai text NOT NULL,
    valid_from timestamptz NOT NULL,
    valid_to timestamptz,
    name text NOT NULL,
    kind text NOT NULL,
    pupils integer NOT NULL,
    commune text NOT NULL,
    circonscription text,
    bassin text,
    departement text NOT NULL,
    academie text NOT NULL,
    region text NOT NULL,
    closed_on date,
    PRIMARY KEY (uai, valid_from)
);
CREATE INDEX IF NOT EXISTS school_versions_academie ON reporting.school_versions (academie, valid_from);
CREATE INDEX IF NOT EXISTS school_versions_departement ON reporting.school_versions (departement, valid_from);
CREATE INDEX IF NOT EXISTS school_versions_circonscription ON reporting.school_versions (circonscription, valid_from);
CREATE INDEX IF NOT EXISTS school_versions_bassin ON reporting.school_versions (bassin, valid_from);
CREATE INDEX IF NOT EXISTS school_versions_region ON reporting.school_versions (region, valid_from);

CREATE TABLE IF NOT EXISTS reporting.declaration_versions (
    uai text NOT NULL,
    rentree integer NOT NULL,
    valid_from timestamptz NOT NULL,
    classes integer NOT NULL,
    teacher_classes integer NOT NULL,
    pupil_classes integer NOT NULL,
    equipment_index smallint NOT NULL,
    robots integer NOT NULL,
    internet text NOT NULL,
    web_radio boolean NOT NULL,
    web_tv boolean NOT NULL,
    fab_lab boolean NOT NULL,
    ent boolean NOT NULL,
    confirmed boolean NOT NULL,
    recorded_by text NOT NULL,
    PRIMARY KEY (uai, rentree, valid_from)
);
CREATE INDEX IF NOT EXISTS declaration_versions_rentree ON reporting.declaration_versions (rentree, uai);

CREATE TABLE IF NOT EXISTS reporting.campaign_versions (
    academie text NOT NULL,
    school_year text NOT NULL,
    rentree integer NOT NULL,
    opens_on date NOT NULL,
    closes_on date NOT NULL,
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (academie, school_year, recorded_at)
);

-- A school's history is read from the logs themselves (`services/reporting/history.py`).

CREATE OR REPLACE VIEW reporting.declarations AS
SELECT DISTINCT ON (uai, rentree)
    uai, rentree || '-' || (rentree + 1) AS school_year, rentree, classes, teacher_classes,
    pupil_classes, equipment_index, robots, internet, web_radio, web_tv, fab_lab, ent, confirmed,
    valid_from AS recorded_at, recorded_by
FROM reporting.declaration_versions
ORDER BY uai, rentree, valid_from DESC;
