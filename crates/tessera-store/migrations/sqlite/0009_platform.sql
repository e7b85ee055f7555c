-- The platform API: a host product manages orgs and their people from its
-- backend (the PostgreSQL migration explains each part).

ALTER TABLE members ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX members_external_id ON members (org_id, external_id)
    WHERE external_id IS NOT NULL;

ALTER TABLE orgs ADD COLUMN suspended_at INTEGER;

CREATE TABLE platform_keys (
    id           TEXT    NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL,
    snippet      TEXT    NOT NULL,
    secret_hash  BLOB    NOT NULL CHECK (length(secret_hash) = 32),
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
) STRICT;

CREATE TABLE platform_audit (
    id          TEXT    NOT NULL PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor_key   TEXT,
    action      TEXT    NOT NULL,
    org_key     TEXT,
    external_id TEXT,
    ip          TEXT,
    details     TEXT    NOT NULL
) STRICT;

CREATE TABLE login_links (
    id_hash    BLOB    NOT NULL PRIMARY KEY CHECK (length(id_hash) = 32),
    org_id     TEXT    NOT NULL,
    member_id  TEXT    NOT NULL,
    return_to  TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    FOREIGN KEY (org_id, member_id) REFERENCES members (org_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX login_links_member ON login_links (member_id);
CREATE INDEX login_links_expires ON login_links (expires_at);
