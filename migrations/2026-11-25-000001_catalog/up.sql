-- Storefront catalog: regions, collections, categories, products with options, variants, prices,
-- images, and the hero banners of the home page. Money is integer minor units (BIGINT).

CREATE TABLE regions (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT        NOT NULL,
    currency_code TEXT        NOT NULL CHECK (currency_code ~ '^[A-Z]{3}$'),
    countries     TEXT[]      NOT NULL DEFAULT '{}',
    -- Tax rate in basis points (1800 = 18.00 %), so no floats touch money maths.
    tax_rate_bps  INTEGER     NOT NULL DEFAULT 0 CHECK (tax_rate_bps BETWEEN 0 AND 10000),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE collections (
    id          BIGSERIAL PRIMARY KEY,
    handle      TEXT        NOT NULL UNIQUE,
    title       TEXT        NOT NULL,
    description TEXT        NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX collections_title_id_idx ON collections (title, id);

CREATE TABLE categories (
    id          BIGSERIAL PRIMARY KEY,
    handle      TEXT        NOT NULL UNIQUE,
    name        TEXT        NOT NULL,
    description TEXT        NOT NULL DEFAULT '',
    parent_id   BIGINT      REFERENCES categories (id) ON DELETE RESTRICT,
    rank        INTEGER     NOT NULL DEFAULT 0,
    is_active   BOOLEAN     NOT NULL DEFAULT TRUE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (parent_id IS NULL OR parent_id <> id)
);
CREATE INDEX categories_parent_rank_idx ON categories (parent_id, rank, id);

CREATE TABLE products (
    id            BIGSERIAL PRIMARY KEY,
    handle        TEXT        NOT NULL UNIQUE,
    title         TEXT        NOT NULL CHECK (title <> ''),
    subtitle      TEXT,
    description   TEXT        NOT NULL DEFAULT '',
    status        TEXT        NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published')),
    thumbnail     TEXT,
    collection_id BIGINT      REFERENCES collections (id) ON DELETE SET NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at    TIMESTAMPTZ,
    -- Free-text search over title and description (GIN-indexed below).
    search        TSVECTOR    GENERATED ALWAYS AS (
                      setweight(to_tsvector('simple', coalesce(title, '')), 'A') ||
                      setweight(to_tsvector('simple', coalesce(description, '')), 'B')
                  ) STORED
);
-- The store only ever lists published, live products: partial indexes keep each keyset sort an
-- index scan and skip drafts and soft-deleted rows entirely.
CREATE INDEX products_store_created_idx ON products (created_at, id)
    WHERE status = 'published' AND deleted_at IS NULL;
CREATE INDEX products_store_title_idx ON products (title, id)
    WHERE status = 'published' AND deleted_at IS NULL;
CREATE INDEX products_collection_idx ON products (collection_id, created_at, id)
    WHERE status = 'published' AND deleted_at IS NULL;
CREATE INDEX products_search_idx ON products USING GIN (search);

CREATE TABLE product_options (
    id         BIGSERIAL PRIMARY KEY,
    product_id BIGINT  NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    title      TEXT    NOT NULL,
    rank       INTEGER NOT NULL DEFAULT 0,
    UNIQUE (product_id, title)
);

CREATE TABLE product_option_values (
    id        BIGSERIAL PRIMARY KEY,
    option_id BIGINT  NOT NULL REFERENCES product_options (id) ON DELETE CASCADE,
    value     TEXT    NOT NULL,
    rank      INTEGER NOT NULL DEFAULT 0,
    UNIQUE (option_id, value)
);

CREATE TABLE product_variants (
    id                 BIGSERIAL PRIMARY KEY,
    product_id         BIGINT      NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    title              TEXT        NOT NULL,
    sku                TEXT        UNIQUE,
    inventory_quantity INTEGER     NOT NULL DEFAULT 0,
    manage_inventory   BOOLEAN     NOT NULL DEFAULT TRUE,
    allow_backorder    BOOLEAN     NOT NULL DEFAULT FALSE,
    rank               INTEGER     NOT NULL DEFAULT 0,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at         TIMESTAMPTZ
);
CREATE INDEX product_variants_product_idx ON product_variants (product_id, rank, id);

CREATE TABLE variant_option_values (
    variant_id      BIGINT NOT NULL REFERENCES product_variants (id) ON DELETE CASCADE,
    option_value_id BIGINT NOT NULL REFERENCES product_option_values (id) ON DELETE CASCADE,
    PRIMARY KEY (variant_id, option_value_id)
);

CREATE TABLE prices (
    id            BIGSERIAL PRIMARY KEY,
    variant_id    BIGINT NOT NULL REFERENCES product_variants (id) ON DELETE CASCADE,
    currency_code TEXT   NOT NULL CHECK (currency_code ~ '^[A-Z]{3}$'),
    amount        BIGINT NOT NULL CHECK (amount >= 0),
    UNIQUE (variant_id, currency_code)
);
-- Price sort and price-range filters aggregate per (currency, amount).
CREATE INDEX prices_currency_amount_idx ON prices (currency_code, amount, variant_id);

CREATE TABLE product_images (
    id         BIGSERIAL PRIMARY KEY,
    product_id BIGINT  NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    url        TEXT    NOT NULL,
    alt        TEXT,
    rank       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX product_images_product_idx ON product_images (product_id, rank, id);

CREATE TABLE product_categories (
    product_id  BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    category_id BIGINT NOT NULL REFERENCES categories (id) ON DELETE CASCADE,
    PRIMARY KEY (product_id, category_id)
);
CREATE INDEX product_categories_category_idx ON product_categories (category_id, product_id);

CREATE TABLE hero_banners (
    id         BIGSERIAL PRIMARY KEY,
    title      TEXT        NOT NULL,
    subtitle   TEXT,
    image_url  TEXT        NOT NULL,
    link_url   TEXT,
    cta_text   TEXT,
    is_active  BOOLEAN     NOT NULL DEFAULT TRUE,
    sort_order INTEGER     NOT NULL DEFAULT 0,
    starts_at  TIMESTAMPTZ,
    ends_at    TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (starts_at IS NULL OR ends_at IS NULL OR starts_at < ends_at)
);
CREATE INDEX hero_banners_active_sort_idx ON hero_banners (is_active, sort_order, id);
