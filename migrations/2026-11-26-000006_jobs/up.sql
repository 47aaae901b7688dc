-- The durable job queue (outbox): a row is inserted in the same transaction as the change that
-- causes it, and run after the commit by a worker (`techpotli serve` or `techpotli worker`).
CREATE TABLE jobs (
    id BIGSERIAL PRIMARY KEY,
    -- Which handler runs it, e.g. `mail`.
    kind TEXT NOT NULL,
    -- Idempotency key: enqueueing the same (kind, key) twice makes one job.
    key TEXT NOT NULL,
    payload JSONB NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'dead')),
    attempts INT NOT NULL DEFAULT 0,
    max_attempts INT NOT NULL DEFAULT 10 CHECK (max_attempts > 0),
    -- Not before: set by retries (backoff) and by delayed jobs.
    run_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The claim of the worker running it, and until when that claim holds (the lease).
    locked_by TEXT,
    locked_until TIMESTAMPTZ,
    last_error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ,
    UNIQUE (kind, key)
);

-- What workers claim: queued jobs that are due, and running ones whose lease ran out.
CREATE INDEX jobs_due ON jobs (run_at) WHERE state = 'queued';
CREATE INDEX jobs_leased ON jobs (locked_until) WHERE state = 'running';
CREATE INDEX jobs_dead ON jobs (updated_at DESC, id DESC) WHERE state = 'dead';
CREATE INDEX jobs_done ON jobs (finished_at) WHERE state = 'done';
