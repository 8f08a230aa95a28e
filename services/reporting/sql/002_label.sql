-- Label standing, projected from the label service's events. Disposable like the rest.
CREATE SCHEMA IF NOT EXISTS reporting;

-- Every published référentiel version, in publication order (`seq`); never rewritten.
CREATE TABLE IF NOT EXISTS reporting.label_referentiels (
    version text PRIMARY KEY,
    seq integer NOT NULL,
    title text NOT NULL,
    kinds text[] NOT NULL,
    domains jsonb NOT NULL,
    published_at timestamptz NOT NULL
);

-- The state of each criterion of each school, as of its last step.
CREATE TABLE IF NOT EXISTS reporting.label_criteria (
    uai text NOT NULL,
    code text NOT NULL,
    state text NOT NULL,
    referentiel_version text NOT NULL,
    updated_at timestamptz NOT NULL,
    updated_by text NOT NULL,
    updated_role text NOT NULL,
    PRIMARY KEY (uai, code)
);

-- A school's levels as known at any moment are folded from its steps, read from the record
-- itself (`services/reporting/on_record.py`).

-- Each school's levels now, against the référentiel in force for its kind.
CREATE TABLE IF NOT EXISTS reporting.label_standing (
    uai text PRIMARY KEY,
    referentiel_version text NOT NULL,
    domain_levels jsonb NOT NULL,
    global_level smallint NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS label_standing_level ON reporting.label_standing (global_level);

-- Awards: the global level when the school applied, valid from `rentree` to `valid_until_rentree`.
CREATE TABLE IF NOT EXISTS reporting.label_awards (
    uai text NOT NULL,
    school_year text NOT NULL,
    rentree integer NOT NULL,
    valid_until text NOT NULL,
    valid_until_rentree integer NOT NULL,
    level smallint NOT NULL,
    domain_levels jsonb NOT NULL,
    referentiel_version text NOT NULL,
    awarded_at timestamptz NOT NULL,
    awarded_by text NOT NULL,
    recorded_at timestamptz,  -- when the award was recorded (null: count it from awarded_at)
    -- An école's commune as it applied, and who signed for it (null: a collège, a lycée, or an
    -- award recorded before the commune was asked for).
    commune text,
    commune_signatory text,
    commune_office text,
    PRIMARY KEY (uai, school_year)
);
CREATE INDEX IF NOT EXISTS label_awards_validity
    ON reporting.label_awards (rentree, valid_until_rentree);
