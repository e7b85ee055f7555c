-- The platform API: a host product manages orgs and their people from its
-- backend.
--
-- `members.external_id` is the product's id for a person: unique in an
-- org, NULL for members made in Tessera (a partial index, so any number of
-- those). `orgs.suspended_at` is set while the product has suspended the
-- org. Platform keys are stored as tokens are: id (the KSUID inside the
-- key), a snippet, and the SHA-256 of the secret. The platform audit log
-- belongs to no org and has no foreign keys: it outlives the orgs it names
-- (by key) and the keys that acted. A login link is kept by the hash of
-- its secret; `used_at` is set by the one conditional UPDATE that spends
-- it, so it opens at most one session even across nodes, and the row stays
-- (until purged after expiry) so a second use can be told "already used".

ALTER TABLE members ADD COLUMN external_id TEXT COLLATE "C";
CREATE UNIQUE INDEX members_external_id ON members (org_id, external_id)
    WHERE external_id IS NOT NULL;

ALTER TABLE orgs ADD COLUMN suspended_at BIGINT;

CREATE TABLE platform_keys (
    id           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name         TEXT   NOT NULL,
    snippet      TEXT   NOT NULL,
    secret_hash  BYTEA  NOT NULL CHECK (length(secret_hash) = 32),
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
);

CREATE TABLE platform_audit (
    id          TEXT COLLATE "C" NOT NULL PRIMARY KEY, -- sortable, chosen by the caller
    at          BIGINT NOT NULL,
    actor_key   TEXT COLLATE "C",
    action      TEXT   NOT NULL,
    org_key     TEXT COLLATE "C",
    external_id TEXT COLLATE "C",
    ip          TEXT,
    details     TEXT   NOT NULL -- JSON
);

CREATE TABLE login_links (
    id_hash    BYTEA  NOT NULL PRIMARY KEY CHECK (length(id_hash) = 32),
    org_id     TEXT COLLATE "C" NOT NULL,
    member_id  TEXT COLLATE "C" NOT NULL,
    return_to  TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    FOREIGN KEY (org_id, member_id) REFERENCES members (org_id, id) ON DELETE CASCADE
);

CREATE INDEX login_links_member ON login_links (member_id);
CREATE INDEX login_links_expires ON login_links (expires_at);
