-- Razorpay: the provider's payment id beside its order id, a `review` status for payments that do
-- not match our records, and provider webhook events stored once each.
ALTER TABLE payments ADD COLUMN provider_payment_id TEXT;
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check
    CHECK (status IN ('pending', 'authorized', 'captured', 'canceled', 'refunded', 'failed', 'review'));
-- A provider order id names one session.
CREATE UNIQUE INDEX payments_provider_session ON payments (provider, provider_id) WHERE provider_id IS NOT NULL;

CREATE TABLE webhook_events (
    id BIGSERIAL PRIMARY KEY,
    provider TEXT NOT NULL,
    -- The provider's event id (`X-Razorpay-Event-Id`): a replay finds this row and does nothing.
    event_id TEXT NOT NULL,
    event TEXT NOT NULL,
    payload JSONB NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    processed_at TIMESTAMPTZ,
    outcome TEXT,
    UNIQUE (provider, event_id)
);
