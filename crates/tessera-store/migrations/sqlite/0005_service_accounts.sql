-- Service accounts: org-owned identities for automation, whose tokens
-- outlive the member who made them (the PostgreSQL migration explains the
-- columns).
--
-- SQLite cannot make `tokens.member_id` nullable in place, so `tokens` is
-- rebuilt (https://www.sqlite.org/lang_altertable.html#otheralter): a new
-- table, every row copied, the old one dropped, the new one renamed. The
-- drop would cascade to `token_custom_roles`, so its rows are kept aside
-- and put back. The migration is one transaction; foreign keys are
-- checked when it commits.
--
-- The copy names every column `tokens` has at this point: a column an
-- earlier migration adds to `tokens` must be added to `tokens_new` and to
-- both column lists below, or the rebuild drops it.

PRAGMA defer_foreign_keys = ON;

CREATE TABLE service_accounts (
    id          TEXT    NOT NULL PRIMARY KEY,
    org_id      TEXT    NOT NULL REFERENCES orgs (id),
    name        TEXT    NOT NULL,
    description TEXT,
    role        TEXT    NOT NULL CHECK (role IN ('reader', 'writer', 'admin', 'owner')),
    created_at  INTEGER NOT NULL,
    created_by  TEXT,
    UNIQUE (org_id, name),
    UNIQUE (org_id, id)
) STRICT;

CREATE TABLE service_account_custom_roles (
    org_id             TEXT    NOT NULL,
    service_account_id TEXT    NOT NULL,
    role_key           TEXT    NOT NULL,
    position           INTEGER NOT NULL,
    PRIMARY KEY (org_id, service_account_id, role_key),
    FOREIGN KEY (org_id, service_account_id)
        REFERENCES service_accounts (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, role_key) REFERENCES custom_roles (org_id, key) ON DELETE RESTRICT
) STRICT;

CREATE INDEX service_account_custom_roles_role
    ON service_account_custom_roles (org_id, role_key);

CREATE TEMP TABLE kept_token_custom_roles AS SELECT * FROM token_custom_roles;

CREATE TABLE tokens_new (
    id                   TEXT    NOT NULL PRIMARY KEY,
    org_id               TEXT    NOT NULL,
    member_id            TEXT,
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
    service_account_id   TEXT,
    disabled_at          INTEGER,
    enabled_at           INTEGER,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, member_id) REFERENCES members (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, service_account_id)
        REFERENCES service_accounts (org_id, id) ON DELETE CASCADE,
    CHECK ((member_id IS NULL) <> (service_account_id IS NULL)),
    CHECK ((scope_kind = 'role') = (scope_role IS NOT NULL)),
    CHECK ((scope_kind = 'policy') = (scope_policy IS NOT NULL)),
    CHECK ((previous_hash IS NULL) = (previous_valid_until IS NULL))
) STRICT;

INSERT INTO tokens_new (id, org_id, member_id, name, snippet, secret_hash, scope_kind,
    scope_role, scope_policy, projects, created_at, expires_at, last_used_at, last_used_ip,
    rotated_at, previous_hash, previous_valid_until, disabled_at, enabled_at)
SELECT id, org_id, member_id, name, snippet, secret_hash, scope_kind,
    scope_role, scope_policy, projects, created_at, expires_at, last_used_at, last_used_ip,
    rotated_at, previous_hash, previous_valid_until, disabled_at, enabled_at
FROM tokens;

DROP TABLE tokens;
ALTER TABLE tokens_new RENAME TO tokens;

CREATE INDEX tokens_member ON tokens (member_id, created_at);
CREATE UNIQUE INDEX tokens_member_name ON tokens (member_id, name);
CREATE UNIQUE INDEX tokens_service_account_name ON tokens (service_account_id, name);
CREATE INDEX tokens_service_account ON tokens (service_account_id, created_at);
CREATE INDEX tokens_org_created ON tokens (org_id, created_at, id);

DELETE FROM token_custom_roles;
INSERT INTO token_custom_roles SELECT * FROM kept_token_custom_roles;
DROP TABLE kept_token_custom_roles;
