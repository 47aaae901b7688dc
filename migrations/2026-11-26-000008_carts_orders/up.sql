-- Carts, shipping options, payments and orders.

-- Flat-rate shipping per region, managed by staff.
CREATE TABLE shipping_options (
    id BIGSERIAL PRIMARY KEY,
    region_id BIGINT NOT NULL REFERENCES regions (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    amount BIGINT NOT NULL CHECK (amount >= 0),
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX shipping_options_region ON shipping_options (region_id, id);

CREATE TABLE carts (
    id BIGSERIAL PRIMARY KEY,
    -- The unguessable id clients hold (256 random bits, URL-safe).
    token TEXT NOT NULL UNIQUE,
    region_id BIGINT NOT NULL REFERENCES regions (id),
    -- Set when made while signed in, or claimed: then only that customer can reach it.
    customer_id BIGINT REFERENCES customers (id) ON DELETE SET NULL,
    email TEXT,
    shipping_address JSONB,
    billing_address JSONB,
    shipping_option_id BIGINT REFERENCES shipping_options (id) ON DELETE SET NULL,
    completed_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX carts_customer ON carts (customer_id) WHERE customer_id IS NOT NULL;

CREATE TABLE cart_lines (
    id BIGSERIAL PRIMARY KEY,
    cart_id BIGINT NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    variant_id BIGINT NOT NULL REFERENCES product_variants (id),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (cart_id, variant_id)
);

-- Payment sessions, one provider each; `history` lists every status with its time.
CREATE TABLE payments (
    id BIGSERIAL PRIMARY KEY,
    cart_id BIGINT NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    provider_id TEXT,
    amount BIGINT NOT NULL CHECK (amount >= 0),
    currency_code TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'authorized', 'captured', 'canceled', 'refunded', 'failed')),
    history JSONB NOT NULL DEFAULT '[]',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX payments_cart ON payments (cart_id, id DESC);

CREATE SEQUENCE order_display_numbers START 1001;

CREATE TABLE orders (
    id BIGSERIAL PRIMARY KEY,
    -- What people say on the phone: #1001, #1002, …
    display_number BIGINT NOT NULL UNIQUE DEFAULT nextval('order_display_numbers'),
    -- One order per cart: completing a cart twice finds this row.
    cart_id BIGINT NOT NULL UNIQUE REFERENCES carts (id),
    customer_id BIGINT REFERENCES customers (id) ON DELETE SET NULL,
    email TEXT NOT NULL,
    region_id BIGINT NOT NULL REFERENCES regions (id),
    currency_code TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'fulfilled', 'shipped', 'delivered', 'canceled')),
    payment_status TEXT NOT NULL CHECK (payment_status IN ('authorized', 'captured', 'refunded', 'canceled')),
    fulfillment_status TEXT NOT NULL CHECK (fulfillment_status IN ('not_fulfilled', 'fulfilled', 'shipped', 'delivered', 'canceled')),
    payment_id BIGINT REFERENCES payments (id),
    shipping_address JSONB NOT NULL,
    billing_address JSONB,
    shipping_method TEXT NOT NULL,
    subtotal BIGINT NOT NULL,
    shipping_total BIGINT NOT NULL,
    tax_total BIGINT NOT NULL,
    total BIGINT NOT NULL,
    tax_rate_bps INTEGER NOT NULL,
    tracking_number TEXT,
    carrier TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX orders_created ON orders (created_at DESC, id DESC);
CREATE INDEX orders_customer ON orders (customer_id, created_at DESC, id DESC);
CREATE INDEX orders_status ON orders (status, created_at DESC, id DESC);

-- Lines with everything frozen at checkout.
CREATE TABLE order_lines (
    id BIGSERIAL PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    variant_id BIGINT NOT NULL REFERENCES product_variants (id),
    product_id BIGINT NOT NULL,
    product_title TEXT NOT NULL,
    variant_title TEXT NOT NULL,
    sku TEXT,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    unit_price BIGINT NOT NULL,
    subtotal BIGINT NOT NULL
);
CREATE INDEX order_lines_order ON order_lines (order_id, id);

-- The order's timeline.
CREATE TABLE order_events (
    id BIGSERIAL PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    -- `customer`, `staff:<id>` or `system`.
    actor TEXT NOT NULL,
    data JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX order_events_order ON order_events (order_id, id);
