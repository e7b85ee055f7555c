-- Tessera's PostgreSQL schema: the SQLite schema, column for column, so
-- the two backends store and return exactly the same records.
--
-- Times are whole Unix seconds (BIGINT), as in SQLite, not TIMESTAMPTZ:
-- the records and the conformance suite stay identical on both backends.
-- Every integer is BIGINT so it binds and decodes as Rust's i64.
-- Ids, keys and emails are TEXT COLLATE "C": they sort and compare byte by
-- byte, as SQLite does and as Rust compares strings (KSUIDs mix upper and
-- lower case; a locale collation would order them differently).
-- JSON columns hold serde_json text (TEXT, not JSONB): JSONB would reorder
-- keys and refuses "\u0000", TEXT gives back exactly what was written.
-- Hashes are BYTEA of exactly 32 bytes.
--
-- Rows that belong to a member carry (org_id, member_id) and reference
-- members (org_id, id): a token, session or role grant can never point at a
-- member of another org, and a custom role held in one org can never be one
-- of another org's.

CREATE TABLE orgs (
    id                 TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    key                TEXT COLLATE "C" NOT NULL UNIQUE,
    name               TEXT    NOT NULL,
    require_expiration BOOLEAN NOT NULL,
    max_lifetime_days  BIGINT,
    created_at         BIGINT  NOT NULL
);

CREATE TABLE members (
    id            TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    org_id        TEXT COLLATE "C" NOT NULL REFERENCES orgs (id),
    email         TEXT COLLATE "C" NOT NULL,
    name          TEXT   NOT NULL,
    role          TEXT   NOT NULL CHECK (role IN ('reader', 'writer', 'admin', 'owner')),
    password_hash TEXT,
    created_at    BIGINT NOT NULL,
    UNIQUE (org_id, email),
    -- The parent key for the composite references below.
    UNIQUE (org_id, id)
);

CREATE INDEX members_email ON members (email);
-- Serves the owner count of the last-owner rule.
CREATE INDEX members_org_role ON members (org_id, role);

CREATE TABLE custom_roles (
    org_id     TEXT COLLATE "C" NOT NULL REFERENCES orgs (id),
    key        TEXT COLLATE "C" NOT NULL,
    name       TEXT   NOT NULL,
    policy     TEXT   NOT NULL, -- JSON list of statements
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, key)
);

CREATE TABLE member_custom_roles (
    org_id    TEXT COLLATE "C" NOT NULL,
    member_id TEXT COLLATE "C" NOT NULL,
    role_key  TEXT COLLATE "C" NOT NULL,
    position  BIGINT NOT NULL, -- keeps the order the roles were given in
    PRIMARY KEY (org_id, member_id, role_key),
    FOREIGN KEY (org_id, member_id) REFERENCES members (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, role_key) REFERENCES custom_roles (org_id, key) ON DELETE RESTRICT
);

CREATE INDEX member_custom_roles_role ON member_custom_roles (org_id, role_key);

CREATE TABLE projects (
    org_id     TEXT COLLATE "C" NOT NULL REFERENCES orgs (id),
    key        TEXT COLLATE "C" NOT NULL,
    name       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, key)
);

CREATE TABLE tokens (
    id                   TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    org_id               TEXT COLLATE "C" NOT NULL,
    member_id            TEXT COLLATE "C" NOT NULL,
    name                 TEXT   NOT NULL,
    snippet              TEXT   NOT NULL,
    secret_hash          BYTEA  NOT NULL CHECK (octet_length(secret_hash) = 32),
    scope_kind           TEXT   NOT NULL
        CHECK (scope_kind IN ('inherit', 'role', 'custom_roles', 'policy')),
    scope_role           TEXT CHECK (scope_role IN ('reader', 'writer', 'admin', 'owner')),
    scope_policy         TEXT, -- JSON list of statements
    projects             TEXT   NOT NULL, -- JSON list of project keys
    created_at           BIGINT NOT NULL,
    expires_at           BIGINT,
    last_used_at         BIGINT,
    last_used_ip         TEXT,
    rotated_at           BIGINT,
    previous_hash        BYTEA CHECK (octet_length(previous_hash) = 32),
    previous_valid_until BIGINT,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, member_id) REFERENCES members (org_id, id) ON DELETE CASCADE,
    CHECK ((scope_kind = 'role') = (scope_role IS NOT NULL)),
    CHECK ((scope_kind = 'policy') = (scope_policy IS NOT NULL)),
    CHECK ((previous_hash IS NULL) = (previous_valid_until IS NULL))
);

-- Serves list_tokens (newest first) and the cascade from members.
CREATE INDEX tokens_member ON tokens (member_id, created_at);

CREATE TABLE token_custom_roles (
    org_id   TEXT COLLATE "C" NOT NULL,
    token_id TEXT COLLATE "C" NOT NULL,
    role_key TEXT COLLATE "C" NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (org_id, token_id, role_key),
    FOREIGN KEY (org_id, token_id) REFERENCES tokens (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, role_key) REFERENCES custom_roles (org_id, key) ON DELETE RESTRICT
);

CREATE INDEX token_custom_roles_role ON token_custom_roles (org_id, role_key);

CREATE TABLE sessions (
    id_hash    BYTEA  NOT NULL PRIMARY KEY CHECK (octet_length(id_hash) = 32),
    org_id     TEXT COLLATE "C" NOT NULL,
    member_id  TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    FOREIGN KEY (org_id, member_id) REFERENCES members (org_id, id) ON DELETE CASCADE
);

CREATE INDEX sessions_member ON sessions (member_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- The audit log has no foreign keys: it outlives what it talks about.
CREATE TABLE audit (
    id           TEXT COLLATE "C" NOT NULL PRIMARY KEY, -- sortable, chosen by the caller
    org_id       TEXT COLLATE "C" NOT NULL,
    at           BIGINT NOT NULL,
    actor_member TEXT COLLATE "C",
    actor_token  TEXT COLLATE "C",
    action       TEXT COLLATE "C" NOT NULL,
    target       TEXT COLLATE "C" NOT NULL,
    ip           TEXT,
    details      TEXT   NOT NULL -- JSON
);

CREATE INDEX audit_org ON audit (org_id, id);
