-- Tessera's SQLite schema.
--
-- Times are whole Unix seconds (INTEGER). Ids are KSUID text; keys are the
-- people-chosen keys of tessera-core. JSON columns hold serde_json text.
-- Tables are STRICT so a wrongly typed bind fails loudly instead of being
-- stored as something else.
--
-- Rows that belong to a member carry (org_id, member_id) and reference
-- members (org_id, id): a token, session or role grant can never point at a
-- member of another org, and a custom role held in one org can never be one
-- of another org's.

CREATE TABLE orgs (
    id                 TEXT    NOT NULL PRIMARY KEY,
    key                TEXT    NOT NULL UNIQUE,
    name               TEXT    NOT NULL,
    require_expiration INTEGER NOT NULL CHECK (require_expiration IN (0, 1)),
    max_lifetime_days  INTEGER,
    created_at         INTEGER NOT NULL
) STRICT;

CREATE TABLE members (
    id            TEXT    NOT NULL PRIMARY KEY,
    org_id        TEXT    NOT NULL REFERENCES orgs (id),
    email         TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('reader', 'writer', 'admin', 'owner')),
    password_hash TEXT,
    created_at    INTEGER NOT NULL,
    UNIQUE (org_id, email),
    -- The parent key for the composite references below.
    UNIQUE (org_id, id)
) STRICT;

CREATE INDEX members_email ON members (email);

CREATE TABLE custom_roles (
    org_id     TEXT    NOT NULL REFERENCES orgs (id),
    key        TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    policy     TEXT    NOT NULL, -- JSON list of statements
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, key)
) STRICT;

CREATE TABLE member_custom_roles (
    org_id    TEXT    NOT NULL,
    member_id TEXT    NOT NULL,
    role_key  TEXT    NOT NULL,
    position  INTEGER NOT NULL, -- keeps the order the roles were given in
    PRIMARY KEY (org_id, member_id, role_key),
    FOREIGN KEY (org_id, member_id) REFERENCES members (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, role_key) REFERENCES custom_roles (org_id, key) ON DELETE RESTRICT
) STRICT;

CREATE INDEX member_custom_roles_role ON member_custom_roles (org_id, role_key);

CREATE TABLE projects (
    org_id     TEXT    NOT NULL REFERENCES orgs (id),
    key        TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, key)
) STRICT;

CREATE TABLE tokens (
    id                   TEXT    NOT NULL PRIMARY KEY,
    org_id               TEXT    NOT NULL,
    member_id            TEXT    NOT NULL,
    name                 TEXT    NOT NULL,
    snippet              TEXT    NOT NULL,
    secret_hash          BLOB    NOT NULL CHECK (length(secret_hash) = 32),
    scope_kind           TEXT    NOT NULL
        CHECK (scope_kind IN ('inherit', 'role', 'custom_roles', 'policy')),
    scope_role           TEXT CHECK (scope_role IN ('reader', 'writer', 'admin', 'owner')),
    scope_policy         TEXT, -- JSON list of statements
    projects             TEXT    NOT NULL, -- JSON list of project keys
    created_at           INTEGER NOT NULL,
    expires_at           INTEGER,
    last_used_at         INTEGER,
    last_used_ip         TEXT,
    rotated_at           INTEGER,
    previous_hash        BLOB CHECK (length(previous_hash) = 32),
    previous_valid_until INTEGER,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, member_id) REFERENCES members (org_id, id) ON DELETE CASCADE,
    CHECK ((scope_kind = 'role') = (scope_role IS NOT NULL)),
    CHECK ((scope_kind = 'policy') = (scope_policy IS NOT NULL)),
    CHECK ((previous_hash IS NULL) = (previous_valid_until IS NULL))
) STRICT;

-- Serves list_tokens (newest first) and the cascade from members.
CREATE INDEX tokens_member ON tokens (member_id, created_at);

CREATE TABLE token_custom_roles (
    org_id   TEXT    NOT NULL,
    token_id TEXT    NOT NULL,
    role_key TEXT    NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (org_id, token_id, role_key),
    FOREIGN KEY (org_id, token_id) REFERENCES tokens (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, role_key) REFERENCES custom_roles (org_id, key) ON DELETE RESTRICT
) STRICT;

CREATE INDEX token_custom_roles_role ON token_custom_roles (org_id, role_key);

CREATE TABLE sessions (
    id_hash    BLOB    NOT NULL PRIMARY KEY CHECK (length(id_hash) = 32),
    org_id     TEXT    NOT NULL,
    member_id  TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    FOREIGN KEY (org_id, member_id) REFERENCES members (org_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX sessions_member ON sessions (member_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- The audit log has no foreign keys: it outlives what it talks about.
CREATE TABLE audit (
    id           TEXT    NOT NULL PRIMARY KEY, -- sortable, chosen by the caller
    org_id       TEXT    NOT NULL,
    at           INTEGER NOT NULL,
    actor_member TEXT,
    actor_token  TEXT,
    action       TEXT    NOT NULL,
    target       TEXT    NOT NULL,
    ip           TEXT,
    details      TEXT    NOT NULL -- JSON
) STRICT;

CREATE INDEX audit_org ON audit (org_id, id);
