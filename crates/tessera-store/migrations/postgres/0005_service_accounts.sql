-- Service accounts: org-owned identities for automation, whose tokens
-- outlive the member who made them.
--
-- A token now belongs to exactly one of a member (`member_id`) or a
-- service account (`service_account_id`). Each owner's foreign key
-- cascades on its own: removing a member removes that member's tokens and
-- never a service account's (not even one the member made), and deleting
-- a service account removes its tokens. `created_by` is a plain id, not a
-- reference, because the account outlives its creator.

CREATE TABLE service_accounts (
    id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    org_id      TEXT COLLATE "C" NOT NULL REFERENCES orgs (id),
    name        TEXT   NOT NULL,
    description TEXT,
    role        TEXT   NOT NULL CHECK (role IN ('reader', 'writer', 'admin', 'owner')),
    created_at  BIGINT NOT NULL,
    created_by  TEXT COLLATE "C",
    UNIQUE (org_id, name),
    -- The parent key for the composite references below.
    UNIQUE (org_id, id)
);

CREATE TABLE service_account_custom_roles (
    org_id             TEXT COLLATE "C" NOT NULL,
    service_account_id TEXT COLLATE "C" NOT NULL,
    role_key           TEXT COLLATE "C" NOT NULL,
    position           BIGINT NOT NULL,
    PRIMARY KEY (org_id, service_account_id, role_key),
    FOREIGN KEY (org_id, service_account_id)
        REFERENCES service_accounts (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, role_key) REFERENCES custom_roles (org_id, key) ON DELETE RESTRICT
);

CREATE INDEX service_account_custom_roles_role
    ON service_account_custom_roles (org_id, role_key);

ALTER TABLE tokens ALTER COLUMN member_id DROP NOT NULL;
ALTER TABLE tokens ADD COLUMN service_account_id TEXT COLLATE "C";
ALTER TABLE tokens ADD CONSTRAINT tokens_service_account
    FOREIGN KEY (org_id, service_account_id)
    REFERENCES service_accounts (org_id, id) ON DELETE CASCADE;
ALTER TABLE tokens ADD CONSTRAINT tokens_one_owner
    CHECK ((member_id IS NULL) <> (service_account_id IS NULL));

-- Serves listing an account's tokens and the cascade from it; an
-- account's tokens have distinct names, as a member's do.
CREATE UNIQUE INDEX tokens_service_account_name ON tokens (service_account_id, name);
CREATE INDEX tokens_service_account ON tokens (service_account_id, created_at);
