-- Refunds (full or partial) of captured payments; the order's payment status says how much came
-- back.
CREATE TABLE refunds (
    id BIGSERIAL PRIMARY KEY,
    payment_id BIGINT NOT NULL REFERENCES payments (id),
    order_id BIGINT NOT NULL REFERENCES orders (id),
    provider_refund_id TEXT UNIQUE,
    amount BIGINT NOT NULL CHECK (amount > 0),
    status TEXT NOT NULL CHECK (status IN ('pending', 'processed', 'failed')),
    -- `staff:<id>`, or `provider` for one made outside the shop (the Razorpay dashboard).
    actor TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX refunds_order ON refunds (order_id, id);
ALTER TABLE orders DROP CONSTRAINT orders_payment_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_payment_status_check
    CHECK (payment_status IN ('authorized', 'captured', 'partially_refunded', 'refunded', 'canceled'));
