ALTER TABLE orders DROP CONSTRAINT orders_payment_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_payment_status_check
    CHECK (payment_status IN ('authorized', 'captured', 'refunded', 'canceled'));
DROP TABLE refunds;
