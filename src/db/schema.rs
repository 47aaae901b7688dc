//! Diesel table definitions for the migrations in `migrations/`.
//!
//! Written in `diesel print-schema` form. One deliberate omission: `products.search` (a generated
//! `tsvector`) is only referenced from raw SQL in the product listing query, so it has no column here.

diesel::table! {
    /// Sales regions: currency, countries and tax rate.
    regions (id) {
        id -> Int8,
        name -> Text,
        currency_code -> Text,
        countries -> Array<Text>,
        tax_rate_bps -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    /// Curated product collections.
    collections (id) {
        id -> Int8,
        handle -> Text,
        title -> Text,
        description -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    /// The category tree (`parent_id` NULL at the top level).
    categories (id) {
        id -> Int8,
        handle -> Text,
        name -> Text,
        description -> Text,
        parent_id -> Nullable<Int8>,
        rank -> Int4,
        is_active -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    /// Products; the store sees only `status = 'published' AND deleted_at IS NULL`.
    products (id) {
        id -> Int8,
        handle -> Text,
        title -> Text,
        subtitle -> Nullable<Text>,
        description -> Text,
        status -> Text,
        thumbnail -> Nullable<Text>,
        collection_id -> Nullable<Int8>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    /// Options of a product (Size, Colour).
    product_options (id) {
        id -> Int8,
        product_id -> Int8,
        title -> Text,
        rank -> Int4,
    }
}

diesel::table! {
    /// Values of a product option (S, M, L).
    product_option_values (id) {
        id -> Int8,
        option_id -> Int8,
        value -> Text,
        rank -> Int4,
    }
}

diesel::table! {
    /// Purchasable variants of a product.
    product_variants (id) {
        id -> Int8,
        product_id -> Int8,
        title -> Text,
        sku -> Nullable<Text>,
        inventory_quantity -> Int4,
        manage_inventory -> Bool,
        allow_backorder -> Bool,
        rank -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    /// Which option values a variant carries.
    variant_option_values (variant_id, option_value_id) {
        variant_id -> Int8,
        option_value_id -> Int8,
    }
}

diesel::table! {
    /// Variant prices per currency, in minor units.
    prices (id) {
        id -> Int8,
        variant_id -> Int8,
        currency_code -> Text,
        amount -> Int8,
    }
}

diesel::table! {
    /// Product images, ordered by rank.
    product_images (id) {
        id -> Int8,
        product_id -> Int8,
        url -> Text,
        alt -> Nullable<Text>,
        rank -> Int4,
    }
}

diesel::table! {
    /// Product ↔ category membership.
    product_categories (product_id, category_id) {
        product_id -> Int8,
        category_id -> Int8,
    }
}

diesel::table! {
    /// Home-page hero banners.
    hero_banners (id) {
        id -> Int8,
        title -> Text,
        subtitle -> Nullable<Text>,
        image_url -> Text,
        link_url -> Nullable<Text>,
        cta_text -> Nullable<Text>,
        is_active -> Bool,
        sort_order -> Int4,
        starts_at -> Nullable<Timestamptz>,
        ends_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(product_categories -> categories (category_id));
diesel::joinable!(product_categories -> products (product_id));
diesel::joinable!(product_images -> products (product_id));
diesel::joinable!(product_option_values -> product_options (option_id));
diesel::joinable!(product_options -> products (product_id));
diesel::joinable!(product_variants -> products (product_id));
diesel::joinable!(prices -> product_variants (variant_id));
diesel::joinable!(products -> collections (collection_id));
diesel::joinable!(variant_option_values -> product_option_values (option_value_id));
diesel::joinable!(variant_option_values -> product_variants (variant_id));

diesel::allow_tables_to_appear_in_same_query!(
    admin_users,
    regions,
    collections,
    categories,
    products,
    product_options,
    product_option_values,
    product_variants,
    variant_option_values,
    prices,
    product_images,
    product_categories,
    hero_banners,
    translations,
);

diesel::table! {
    /// Staff accounts of the admin API.
    admin_users (id) {
        id -> Int8,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        is_active -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        token_version -> Int8,
    }
}

diesel::table! {
    /// The persisted-query allow-list (documents by SHA-256), registered from manifests.
    registered_operations (hash) {
        hash -> Text,
        name -> Nullable<Text>,
        document -> Text,
        registered_at -> Timestamptz,
    }
}

diesel::table! {
    /// The durable job queue (outbox rows run by workers after commit).
    jobs (id) {
        id -> Int8,
        kind -> Text,
        key -> Text,
        payload -> Jsonb,
        state -> Text,
        attempts -> Int4,
        max_attempts -> Int4,
        run_at -> Timestamptz,
        locked_by -> Nullable<Text>,
        locked_until -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    /// Storefront customer accounts.
    customers (id) {
        id -> Int8,
        email -> Text,
        password_hash -> Text,
        first_name -> Text,
        last_name -> Text,
        email_verified_at -> Nullable<Timestamptz>,
        is_active -> Bool,
        token_version -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    /// A customer's saved addresses (at most one default).
    customer_addresses (id) {
        id -> Int8,
        customer_id -> Int8,
        first_name -> Text,
        last_name -> Text,
        company -> Nullable<Text>,
        address1 -> Text,
        address2 -> Nullable<Text>,
        city -> Text,
        province -> Nullable<Text>,
        postal_code -> Text,
        country_code -> Text,
        phone -> Nullable<Text>,
        is_default -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    /// Single-use email tokens (verification, password reset), stored as SHA-256 hex.
    customer_tokens (id) {
        id -> Int8,
        customer_id -> Int8,
        purpose -> Text,
        token_hash -> Text,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(customer_addresses -> customers (customer_id));
diesel::joinable!(customer_tokens -> customers (customer_id));
diesel::allow_tables_to_appear_in_same_query!(customers, customer_addresses, customer_tokens);

diesel::table! {
    /// Flat-rate shipping options per region.
    shipping_options (id) {
        id -> Int8,
        region_id -> Int8,
        name -> Text,
        amount -> Int8,
        is_active -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    /// Carts (clients hold `token`).
    carts (id) {
        id -> Int8,
        token -> Text,
        region_id -> Int8,
        customer_id -> Nullable<Int8>,
        email -> Nullable<Text>,
        shipping_address -> Nullable<Jsonb>,
        billing_address -> Nullable<Jsonb>,
        shipping_option_id -> Nullable<Int8>,
        completed_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    /// A cart's lines (one per variant).
    cart_lines (id) {
        id -> Int8,
        cart_id -> Int8,
        variant_id -> Int8,
        quantity -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    /// Payment sessions.
    payments (id) {
        id -> Int8,
        cart_id -> Int8,
        provider -> Text,
        provider_id -> Nullable<Text>,
        amount -> Int8,
        currency_code -> Text,
        status -> Text,
        history -> Jsonb,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        provider_payment_id -> Nullable<Text>,
    }
}

diesel::table! {
    /// Orders.
    orders (id) {
        id -> Int8,
        display_number -> Int8,
        cart_id -> Int8,
        customer_id -> Nullable<Int8>,
        email -> Text,
        region_id -> Int8,
        currency_code -> Text,
        status -> Text,
        payment_status -> Text,
        fulfillment_status -> Text,
        payment_id -> Nullable<Int8>,
        shipping_address -> Jsonb,
        billing_address -> Nullable<Jsonb>,
        shipping_method -> Text,
        subtotal -> Int8,
        shipping_total -> Int8,
        tax_total -> Int8,
        total -> Int8,
        tax_rate_bps -> Int4,
        tracking_number -> Nullable<Text>,
        carrier -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    /// Order lines, frozen at checkout.
    order_lines (id) {
        id -> Int8,
        order_id -> Int8,
        variant_id -> Int8,
        product_id -> Int8,
        product_title -> Text,
        variant_title -> Text,
        sku -> Nullable<Text>,
        quantity -> Int4,
        unit_price -> Int8,
        subtotal -> Int8,
        stock_taken -> Int4,
    }
}

diesel::table! {
    /// Order timelines.
    order_events (id) {
        id -> Int8,
        order_id -> Int8,
        kind -> Text,
        actor -> Text,
        data -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(cart_lines -> carts (cart_id));
diesel::joinable!(order_lines -> orders (order_id));
diesel::joinable!(order_events -> orders (order_id));
diesel::joinable!(payments -> carts (cart_id));
diesel::allow_tables_to_appear_in_same_query!(
    carts,
    cart_lines,
    payments,
    orders,
    order_lines,
    order_events,
    shipping_options,
);

diesel::table! {
    /// Payment provider webhook events, stored once each.
    webhook_events (id) {
        id -> Int8,
        provider -> Text,
        event_id -> Text,
        event -> Text,
        payload -> Jsonb,
        received_at -> Timestamptz,
        processed_at -> Nullable<Timestamptz>,
        outcome -> Nullable<Text>,
    }
}

diesel::table! {
    /// Refunds of captured payments.
    refunds (id) {
        id -> Int8,
        payment_id -> Int8,
        order_id -> Int8,
        provider_refund_id -> Nullable<Text>,
        amount -> Int8,
        status -> Text,
        actor -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    /// Store locales (BCP 47 codes); exactly one is the default.
    locales (code) {
        code -> Text,
        name -> Text,
        is_default -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    /// Translated fields of one catalog entity or banner in one locale.
    translations (entity_type, entity_id, locale) {
        entity_type -> Text,
        entity_id -> Int8,
        locale -> Text,
        fields -> Jsonb,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(translations -> locales (locale));
diesel::allow_tables_to_appear_in_same_query!(locales, translations);
