-- Not idempotent on purpose: applying it twice fails on the primary key.
INSERT INTO items (id, name) VALUES (1, 'first');
