DROP TABLE webhook_events;
DROP INDEX payments_provider_session;
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check
    CHECK (status IN ('pending', 'authorized', 'captured', 'canceled', 'refunded', 'failed'));
ALTER TABLE payments DROP COLUMN provider_payment_id;
