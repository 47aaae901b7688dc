-- Storefront customers, their addresses and their single-use email tokens.
CREATE TABLE customers (
    id BIGSERIAL PRIMARY KEY,
    -- Trimmed and lower-cased by the server (Unicode rules, which PostgreSQL's lower() need not
    -- share, so no CHECK compares them).
    email TEXT NOT NULL UNIQUE CHECK (length(email) <= 254),
    password_hash TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    email_verified_at TIMESTAMPTZ,
    -- Staff can disable an account: its tokens stop working at once.
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    -- Tokens name this; bumping it ends every token issued before.
    token_version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX customers_created ON customers (created_at DESC, id DESC);

CREATE TABLE customer_addresses (
    id BIGSERIAL PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    company TEXT,
    address1 TEXT NOT NULL,
    address2 TEXT,
    city TEXT NOT NULL,
    province TEXT,
    postal_code TEXT NOT NULL,
    -- ISO 3166-1 alpha-2, upper case.
    country_code TEXT NOT NULL CHECK (country_code ~ '^[A-Z]{2}$'),
    phone TEXT,
    is_default BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX customer_addresses_customer ON customer_addresses (customer_id, id);
-- At most one default address per customer.
CREATE UNIQUE INDEX customer_addresses_one_default ON customer_addresses (customer_id) WHERE is_default;

-- Email verification and password reset tokens: only a SHA-256 of the token is kept.
CREATE TABLE customer_tokens (
    id BIGSERIAL PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    token_hash TEXT NOT NULL UNIQUE,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX customer_tokens_customer ON customer_tokens (customer_id, purpose) WHERE used_at IS NULL;
