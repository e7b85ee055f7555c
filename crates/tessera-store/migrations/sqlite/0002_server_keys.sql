-- Keys the server signs with (for example the login form's CSRF value),
-- made once by whichever node needs one first and shared by every node.
CREATE TABLE server_keys (
    name       TEXT    PRIMARY KEY,
    key        BLOB    NOT NULL
) STRICT;
