-- Single sign-on. An org's settings (absent: no domain admits anyone,
-- passwords work); each allowed domain is a row, so a sign-in finds the
-- orgs admitting an email's domain by index. Both go with their org.
CREATE TABLE org_sso (
    org_id         TEXT NOT NULL PRIMARY KEY REFERENCES orgs (id) ON DELETE CASCADE,
    default_role   TEXT    NOT NULL CHECK (default_role IN ('reader', 'writer', 'admin')),
    password_login INTEGER NOT NULL CHECK (password_login IN (0, 1))
);

CREATE TABLE org_sso_domains (
    org_id TEXT NOT NULL REFERENCES org_sso (org_id) ON DELETE CASCADE,
    domain TEXT NOT NULL,
    PRIMARY KEY (org_id, domain)
);
CREATE INDEX org_sso_domains_domain ON org_sso_domains (domain);

-- A sign-in under way (state, nonce, PKCE verifier), or a signed-in person
-- choosing among their orgs: kept by the hash of its key, read once
-- (deleted as it is read), whichever node the browser comes back to.
CREATE TABLE sso_flows (
    id_hash    BLOB   NOT NULL PRIMARY KEY CHECK (length(id_hash) = 32),
    data       TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sso_flows_expires ON sso_flows (expires_at);
