-- The persisted-query allow-list: operations registered from a storefront's manifest. Durable
-- here; Redis and each instance's memory only cache it, so a flushed or unreachable Redis, a
-- restart or a new instance never loses it.
CREATE TABLE registered_operations (
    hash TEXT PRIMARY KEY CHECK (hash ~ '^[0-9a-f]{64}$'),
    name TEXT,
    document TEXT NOT NULL,
    registered_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
