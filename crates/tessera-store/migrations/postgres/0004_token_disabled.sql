-- A token can be disabled (by hand, or by the org's inactivity rule) and
-- enabled again: `disabled_at` is when, NULL while it is enabled.
ALTER TABLE tokens ADD COLUMN disabled_at BIGINT;

-- The org's inactivity rule: tokens unused `inactive_days` days (counted
-- from creation when never used) are disabled or revoked; NULL is off.
ALTER TABLE orgs ADD COLUMN inactive_days BIGINT;
ALTER TABLE orgs ADD COLUMN inactive_action TEXT NOT NULL DEFAULT 'disable'
    CHECK (inactive_action IN ('disable', 'revoke'));

-- Serves the org-wide token inventory (newest first) and its pages.
CREATE INDEX tokens_org_created ON tokens (org_id, created_at, id);

-- When the token was last enabled by hand: the inactivity rule counts
-- from then too, so a token someone just enabled is not disabled again
-- at the next sweep before it had a chance to be used.
ALTER TABLE tokens ADD COLUMN enabled_at BIGINT;
