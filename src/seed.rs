//! `techpotli seed`: a deterministic, realistic demo catalog (3 regions, 20 collections, a
//! 3-level category tree, N products with 3-5 variants priced per region, images, 8 hero banners,
//! and `hi-IN` and `fr-FR` translations of part of it).
//!
//! Generated set-based in PostgreSQL (`generate_series`), so 10,000 products take seconds. The same
//! N always yields the same rows and ids, which tests and benchmarks rely on.

use anyhow::Context as _;
use diesel::sql_types::{BigInt, Bool};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

/// Options of one seed run.
#[derive(Debug, Clone, Copy)]
pub struct SeedOptions {
    /// Number of products (drafts and soft-deleted ones included).
    pub products: i64,
    /// Truncate the catalog first instead of refusing to seed a non-empty one.
    pub reset: bool,
}

/// What a seed run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedOutcome {
    /// The catalog was generated.
    Seeded,
    /// Products already existed and `reset` was not asked for; nothing changed.
    AlreadySeeded,
}

const TRUNCATE: &str = "TRUNCATE translations, hero_banners, product_categories, product_images, prices, variant_option_values, \
    product_variants, product_option_values, product_options, products, categories, collections, regions \
    RESTART IDENTITY CASCADE";

const REGIONS: &str = "INSERT INTO regions (name, currency_code, countries, tax_rate_bps) VALUES \
    ('India', 'INR', '{IN}', 1800), \
    ('Europe', 'EUR', '{DE,FR,IT,ES,NL}', 2000), \
    ('United States', 'USD', '{US}', 0)";

const COLLECTIONS: &str = "INSERT INTO collections (handle, title, description, created_at) \
    SELECT lower(replace(t, ' ', '-')), t, 'Hand-picked: ' || t || '.', \
           timestamptz '2026-01-01 00:00:00+00' + g * interval '1 day' \
    FROM unnest(ARRAY['Summer Essentials','Monsoon Ready','Festive Edit','Workspace','Home Office', \
                      'Gifts Under 999','New Arrivals','Bestsellers','Eco Picks','Travel Light', \
                      'Fitness Gear','Kitchen Heroes','Kids Corner','Smart Home','Audio Lab', \
                      'Weekend Outdoors','Minimal Living','Back To College','Wedding Season','Clearance']) \
         WITH ORDINALITY AS x(t, g)";

/// Six departments, four sub-categories each, three leaves under each sub-category; a few inactive.
const CATEGORIES: &str = "
    INSERT INTO categories (handle, name, rank, is_active)
    SELECT lower(d), d, g::int, TRUE
    FROM unnest(ARRAY['Electronics','Fashion','Home','Beauty','Sports','Books']) WITH ORDINALITY AS x(d, g);
    INSERT INTO categories (handle, name, parent_id, rank, is_active)
    SELECT p.handle || '-' || s,
           (ARRAY[ARRAY['Phones','Laptops','Audio','Cameras'], ARRAY['Men','Women','Kids','Accessories'],
                  ARRAY['Kitchen','Furniture','Decor','Lighting'], ARRAY['Skincare','Makeup','Haircare','Fragrance'],
                  ARRAY['Fitness','Outdoor','Cycling','Yoga'], ARRAY['Fiction','Non-fiction','Comics','Textbooks']])[p.rank][s],
           p.id, s, NOT (p.handle = 'books' AND s = 4)
    FROM categories p CROSS JOIN generate_series(1, 4) s WHERE p.parent_id IS NULL;
    INSERT INTO categories (handle, name, parent_id, rank, is_active)
    SELECT p.handle || '-' || l, p.name || ' ' || (ARRAY['Basics','Premium','Deals'])[l], p.id, l, TRUE
    FROM categories p CROSS JOIN generate_series(1, 3) l
    WHERE p.parent_id IS NOT NULL";

const PRODUCTS: &str = "INSERT INTO products (handle, title, subtitle, description, status, thumbnail, \
        collection_id, created_at, updated_at, deleted_at) \
    SELECT handle, title, 'Series ' || (g % 7 + 1), \
           'The ' || lower(title) || ' is made for everyday use: ' || (ARRAY['durable','lightweight', \
           'water-resistant','handcrafted','award-winning','compact'])[g % 6 + 1] || ' and ' || \
           (ARRAY['easy to clean','built to last','travel friendly','gift ready','energy efficient'])[g % 5 + 1] || '.', \
           CASE WHEN g % 25 = 0 THEN 'draft' ELSE 'published' END, \
           'https://cdn.techpotli.example/products/' || handle || '/1.jpg', \
           CASE WHEN g % 9 = 0 THEN NULL ELSE (SELECT min(id) FROM collections) + g % 20 END, \
           created, created, CASE WHEN g % 50 = 7 THEN created + interval '1 day' END \
    FROM (SELECT g, \
                 (ARRAY['Classic','Organic','Urban','Nordic','Vintage','Smart','Pro','Eco','Royal','Everyday', \
                        'Ultra','Cosy','Bold','Pure','Trail'])[g % 15 + 1] || ' ' || \
                 (ARRAY['Cotton','Bamboo','Steel','Leather','Linen','Ceramic','Wool','Walnut','Carbon','Brass', \
                        'Silk'])[(g / 15) % 11 + 1] || ' ' || \
                 (ARRAY['Kurta','Backpack','Lamp','Headphones','Water Bottle','Sneakers','Notebook','Mug', \
                        'Desk Chair','Watch','Yoga Mat','Saree','Speaker','Blender','Jacket','Sunglasses', \
                        'Throw Blanket','Phone Case','Kettle','Wallet'])[(g / 165) % 20 + 1] AS title, \
                 'product-' || lpad(g::text, 6, '0') AS handle, \
                 timestamptz '2026-01-01 00:00:00+00' + (g * 7919 % 100000) * interval '1 minute' AS created \
          FROM generate_series(1, $1) g) src";

const OPTIONS: &str = "
    INSERT INTO product_options (product_id, title, rank)
    SELECT p.id, o.title, o.rank FROM products p
    CROSS JOIN (VALUES ('Size', 0), ('Colour', 1)) AS o(title, rank);
    INSERT INTO product_option_values (option_id, value, rank)
    SELECT o.id, v.value, v.rank FROM product_options o
    JOIN (VALUES ('Size', 'S', 0), ('Size', 'M', 1), ('Size', 'L', 2), ('Size', 'XL', 3),
                 ('Colour', 'Black', 0), ('Colour', 'White', 1), ('Colour', 'Blue', 2)) AS v(title, value, rank)
      ON v.title = o.title";

/// 3-5 variants per product: variant k has size k % 4 and colour (product + k / 4) % 3, so every
/// (size, colour) pair of a product is distinct.
const VARIANTS: &str = "
    INSERT INTO product_variants (product_id, title, sku, inventory_quantity, manage_inventory,
                                  allow_backorder, rank, created_at, updated_at, deleted_at)
    SELECT p.id,
           (ARRAY['S','M','L','XL'])[k % 4 + 1] || ' / ' || (ARRAY['Black','White','Blue'])[(p.id + k / 4) % 3 + 1],
           upper(replace(p.handle, 'product-', 'TP-')) || '-' || k,
           ((p.id * 31 + k * 17) % 60)::int, TRUE, (p.id + k) % 11 = 0, k::int, p.created_at, p.created_at,
           CASE WHEN k = 4 AND p.id % 4 = 0 THEN p.created_at END
    FROM products p CROSS JOIN LATERAL generate_series(0, 2 + p.id % 3) k;
    INSERT INTO variant_option_values (variant_id, option_value_id)
    SELECT v.id, ov.id FROM product_variants v
    JOIN product_options o ON o.product_id = v.product_id
    JOIN product_option_values ov ON ov.option_id = o.id
     AND ov.value = CASE o.title WHEN 'Size' THEN (ARRAY['S','M','L','XL'])[v.rank % 4 + 1]
                                 ELSE (ARRAY['Black','White','Blue'])[(v.product_id + v.rank / 4) % 3 + 1] END";

/// INR base price from 199 to 19,999 rupees; EUR and USD derived. Every tenth product has no USD
/// price, so price sorts meet unpriced products.
const PRICES: &str = "
    INSERT INTO prices (variant_id, currency_code, amount)
    SELECT v.id, 'INR', base * 100 FROM product_variants v
    CROSS JOIN LATERAL (SELECT 199 + ((v.product_id * 7907) % 19800) + v.rank * 150 AS base) b;
    INSERT INTO prices (variant_id, currency_code, amount)
    SELECT variant_id, 'EUR', (amount / 90 / 100) * 100 + 99 FROM prices WHERE currency_code = 'INR';
    INSERT INTO prices (variant_id, currency_code, amount)
    SELECT pr.variant_id, 'USD', (pr.amount / 85 / 100) * 100 + 99 FROM prices pr
    JOIN product_variants v ON v.id = pr.variant_id
    WHERE pr.currency_code = 'INR' AND v.product_id % 10 <> 3";

const IMAGES: &str = "
    INSERT INTO product_images (product_id, url, alt, rank)
    SELECT p.id, 'https://cdn.techpotli.example/products/' || p.handle || '/' || i || '.jpg',
           p.title || ' — view ' || i, i::int
    FROM products p CROSS JOIN LATERAL generate_series(1, 2 + p.id % 2) i";

/// Each product sits in one leaf category; every third also in a second, unrelated one.
const PRODUCT_CATEGORIES: &str = "
    WITH leaves AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n, count(*) OVER () AS total
                    FROM categories c WHERE NOT EXISTS (SELECT 1 FROM categories ch WHERE ch.parent_id = c.id)
                      AND c.parent_id IS NOT NULL)
    INSERT INTO product_categories (product_id, category_id)
    SELECT p.id, l.id FROM products p JOIN leaves l ON l.n = p.id % l.total
    UNION
    SELECT p.id, l.id FROM products p JOIN leaves l ON l.n = (p.id * 7) % l.total WHERE p.id % 3 = 0";

const BANNERS: &str = "INSERT INTO hero_banners (title, subtitle, image_url, link_url, cta_text, is_active, sort_order, \
        starts_at, ends_at) VALUES \
    ('Festive Sale', 'Up to 60% off across the store', 'https://cdn.techpotli.example/banners/festive.jpg', '/collections/festive-edit', 'Shop the sale', TRUE, 1, NULL, NULL), \
    ('New Arrivals', 'Fresh drops every Friday', 'https://cdn.techpotli.example/banners/new.jpg', '/collections/new-arrivals', 'Explore', TRUE, 2, NULL, NULL), \
    ('Monsoon Ready', 'Stay dry in style', 'https://cdn.techpotli.example/banners/monsoon.jpg', '/collections/monsoon-ready', 'Get ready', TRUE, 3, now() - interval '7 days', now() + interval '30 days'), \
    ('Smart Home Week', 'Automate everything', 'https://cdn.techpotli.example/banners/smart.jpg', '/collections/smart-home', 'Discover', TRUE, 4, now() + interval '10 days', now() + interval '17 days'), \
    ('Summer Clearance', 'Last chance', 'https://cdn.techpotli.example/banners/clearance.jpg', '/collections/clearance', 'Grab a deal', TRUE, 5, now() - interval '60 days', now() - interval '1 day'), \
    ('Gifts Under 999', 'Thoughtful and affordable', 'https://cdn.techpotli.example/banners/gifts.jpg', '/collections/gifts-under-999', 'Find a gift', FALSE, 6, NULL, NULL), \
    ('Audio Lab', 'Hear the difference', 'https://cdn.techpotli.example/banners/audio.jpg', '/collections/audio-lab', 'Listen now', TRUE, 7, now() - interval '1 day', NULL), \
    ('Wedding Season', 'Dress for the occasion', 'https://cdn.techpotli.example/banners/wedding.jpg', '/collections/wedding-season', 'Shop looks', FALSE, 8, NULL, now() + interval '90 days')";

/// Two more locales (`en-IN`, the default, comes with the schema) and translations of part of
/// the catalog, so a storefront sees both translated text and the fallback to the default:
/// Hindi for every second product (title and description; subtitles and variants fall back),
/// French for every third (title only); both for the departments, the options, a few
/// collections and banners.
const TRANSLATIONS: &str = "
    INSERT INTO locales (code, name, dictionary) VALUES
        ('hi-IN', 'हिन्दी (भारत)', 'hindi'), ('fr-FR', 'Français (France)', 'french')
    ON CONFLICT (code) DO NOTHING;
    WITH nouns(en, hi, fr) AS (VALUES
        ('Kurta','कुर्ता','Kurta'), ('Backpack','बैकपैक','Sac à dos'), ('Lamp','लैंप','Lampe'),
        ('Headphones','हेडफ़ोन','Casque audio'), ('Water Bottle','पानी की बोतल','Gourde'),
        ('Sneakers','स्नीकर्स','Baskets'), ('Notebook','नोटबुक','Carnet'), ('Mug','मग','Tasse'),
        ('Desk Chair','डेस्क कुर्सी','Chaise de bureau'), ('Watch','घड़ी','Montre'),
        ('Yoga Mat','योगा मैट','Tapis de yoga'), ('Saree','साड़ी','Sari'), ('Speaker','स्पीकर','Enceinte'),
        ('Blender','ब्लेंडर','Mixeur'), ('Jacket','जैकेट','Veste'),
        ('Sunglasses','धूप का चश्मा','Lunettes de soleil'), ('Throw Blanket','कंबल','Plaid'),
        ('Phone Case','फ़ोन कवर','Coque de téléphone'), ('Kettle','केतली','Bouilloire'),
        ('Wallet','बटुआ','Portefeuille')),
    p AS (SELECT p.id, p.title, substring(p.handle from 9)::bigint AS g, n.hi, n.fr,
                 split_part(p.title, ' ', 1) || ' ' || split_part(p.title, ' ', 2) AS words
          FROM products p JOIN nouns n ON p.title LIKE '% ' || n.en)
    INSERT INTO translations (entity_type, entity_id, locale, fields)
    SELECT 'product', id, 'hi-IN', jsonb_build_object('title', words || ' ' || hi,
           'description', 'रोज़मर्रा के इस्तेमाल के लिए बना ' || hi || '।')
    FROM p WHERE g % 2 = 0
    UNION ALL
    SELECT 'product', id, 'fr-FR', jsonb_build_object('title', fr || ' ' || words)
    FROM p WHERE g % 3 = 0;
    INSERT INTO translations (entity_type, entity_id, locale, fields)
    SELECT 'option', o.id, l.code,
           CASE WHEN o.title = 'Size' THEN jsonb_build_object('title', CASE l.code WHEN 'hi-IN' THEN 'आकार' ELSE 'Taille' END)
                ELSE jsonb_build_object('title', CASE l.code WHEN 'hi-IN' THEN 'रंग' ELSE 'Couleur' END,
                     'values', CASE l.code WHEN 'hi-IN'
                         THEN '{\"Black\": \"काला\", \"White\": \"सफ़ेद\", \"Blue\": \"नीला\"}'::jsonb
                         ELSE '{\"Black\": \"Noir\", \"White\": \"Blanc\", \"Blue\": \"Bleu\"}'::jsonb END) END
    FROM product_options o CROSS JOIN (VALUES ('hi-IN'), ('fr-FR')) AS l(code);
    INSERT INTO translations (entity_type, entity_id, locale, fields)
    SELECT 'category', c.id, t.code, jsonb_build_object('name', t.name)
    FROM categories c JOIN (VALUES
        ('electronics','hi-IN','इलेक्ट्रॉनिक्स'), ('fashion','hi-IN','फ़ैशन'), ('home','hi-IN','घर'),
        ('beauty','hi-IN','सौंदर्य'), ('sports','hi-IN','खेल'), ('books','hi-IN','किताबें'),
        ('electronics','fr-FR','Électronique'), ('fashion','fr-FR','Mode'), ('home','fr-FR','Maison'),
        ('beauty','fr-FR','Beauté'), ('sports','fr-FR','Sports'), ('books','fr-FR','Livres')) AS t(handle, code, name)
      ON c.handle = t.handle;
    INSERT INTO translations (entity_type, entity_id, locale, fields)
    SELECT 'collection', c.id, t.code, jsonb_build_object('title', t.title)
    FROM collections c JOIN (VALUES
        ('festive-edit','hi-IN','त्योहार विशेष'), ('new-arrivals','hi-IN','नए आगमन'),
        ('bestsellers','hi-IN','सबसे ज़्यादा बिकने वाले'),
        ('festive-edit','fr-FR','Sélection festive'), ('new-arrivals','fr-FR','Nouveautés')) AS t(handle, code, title)
      ON c.handle = t.handle;
    INSERT INTO translations (entity_type, entity_id, locale, fields)
    SELECT 'banner', b.id, t.code, t.fields::jsonb
    FROM hero_banners b JOIN (VALUES
        ('Festive Sale','hi-IN','{\"title\": \"त्योहार सेल\", \"subtitle\": \"पूरे स्टोर पर 60% तक की छूट\", \"ctaText\": \"सेल देखें\"}'),
        ('New Arrivals','hi-IN','{\"title\": \"नए आगमन\"}'),
        ('Festive Sale','fr-FR','{\"title\": \"Soldes festives\", \"ctaText\": \"Voir les soldes\"}')) AS t(title, code, fields)
      ON b.title = t.title";

/// Generates the demo catalog in one transaction.
pub async fn seed(
    conn: &mut AsyncPgConnection,
    options: SeedOptions,
) -> anyhow::Result<SeedOutcome> {
    anyhow::ensure!(
        options.products >= 0 && options.products <= 1_000_000,
        "--products must be 0..=1000000"
    );
    conn.transaction::<_, anyhow::Error, _>(async move |conn| {
        #[derive(diesel::QueryableByName)]
        struct Exists {
            #[diesel(sql_type = Bool)]
            exists: bool,
        }
        let existing = diesel::sql_query("SELECT EXISTS (SELECT 1 FROM regions) AS exists")
            .get_result::<Exists>(conn)
            .await?;
        if existing.exists {
            if !options.reset {
                return Ok(SeedOutcome::AlreadySeeded);
            }
            diesel::sql_query(TRUNCATE).execute(conn).await?;
        }
        for (step, sql) in [("regions", REGIONS), ("collections", COLLECTIONS)] {
            let _: usize = diesel::sql_query(sql)
                .execute(conn)
                .await
                .with_context(|| format!("seeding {step}"))?;
        }
        run_script(conn, "categories", CATEGORIES).await?;
        diesel::sql_query(PRODUCTS)
            .bind::<BigInt, _>(options.products)
            .execute(conn)
            .await
            .context("seeding products")?;
        run_script(conn, "options", OPTIONS).await?;
        run_script(conn, "variants", VARIANTS).await?;
        run_script(conn, "prices", PRICES).await?;
        run_script(conn, "images", IMAGES).await?;
        run_script(conn, "product categories", PRODUCT_CATEGORIES).await?;
        diesel::sql_query(BANNERS)
            .execute(conn)
            .await
            .context("seeding banners")?;
        run_script(conn, "locales and translations", TRANSLATIONS).await?;
        diesel::sql_query("ANALYZE")
            .execute(conn)
            .await
            .context("analyzing")?;
        Ok(SeedOutcome::Seeded)
    })
    .await
}

async fn run_script(conn: &mut AsyncPgConnection, step: &str, script: &str) -> anyhow::Result<()> {
    use diesel_async::SimpleAsyncConnection;
    conn.batch_execute(script)
        .await
        .with_context(|| format!("seeding {step}"))
}
