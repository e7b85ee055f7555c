-- A member's tokens have distinct names (as Groundlight's do): the list,
-- the CLI and the audit log name a token, and two alike are a trap.
-- Tokens that already share a name with an older one of the same member
-- keep working; their name gains their id, so it becomes unique.
UPDATE tokens SET name = name || ' (' || id || ')'
WHERE EXISTS (
    SELECT 1 FROM tokens AS older
    WHERE older.member_id = tokens.member_id
      AND older.name = tokens.name
      AND older.id < tokens.id
);
CREATE UNIQUE INDEX tokens_member_name ON tokens (member_id, name);
