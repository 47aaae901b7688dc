//! Catalog mutations: every write is visible to the very next store read (Redis and in-process),
//! flushes only its families, and refuses bad input with the right code and field.

use serde_json::{Value, json};
use techpotli::auth::Role;

use crate::support::{CacheMode, TestApp, code, gid, staff_token};

async fn writes_are_never_stale(mode: CacheMode) {
    let app = TestApp::with_cache(mode).await;
    let t = staff_token(&app, Role::Catalog).await;
    let product_q = r#"{ product(handle: "product-000010", regionId: "UmVnaW9uOjE") { title variants { id sku price { amount } } } }"#;
    let banners_q = "{ heroBanners { title } }";
    let before = app.get_query(product_q).await;
    app.get_query(banners_q).await;
    let banner_keys: Vec<String> = if mode == CacheMode::Redis {
        app.redis_keys()
            .await
            .into_iter()
            .filter(|k| k.contains("hero_banners") || k.contains(":resp:"))
            .collect()
    } else {
        vec![]
    };
    let pid = gid("Product", 10);

    let r = app.post_as(Some(&t), "mutation($id: ID!) { updateProduct(id: $id, input: { title: \"Renamed lamp\" }) { title } }", json!({ "id": pid })).await;
    assert_eq!(r["data"]["updateProduct"]["title"], "Renamed lamp", "{r}");
    assert_eq!(
        app.get_query(product_q).await["data"]["product"]["title"],
        "Renamed lamp",
        "{mode:?}"
    );

    // Prices: the store sees the new price at once.
    let variant = before["data"]["product"]["variants"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app.post_as(Some(&t),
        "mutation($id: ID!) { updateProductVariant(id: $id, input: { prices: [{ currencyCode: \"INR\", amount: 4242 }, { currencyCode: \"EUR\", amount: 99 }] }) { sku } }",
        json!({ "id": variant }),
    )
    .await;
    assert!(r.get("errors").is_none(), "{r}");
    assert_eq!(
        app.get_query(product_q).await["data"]["product"]["variants"][0]["price"]["amount"],
        4242
    );

    // Unpublish hides it; publish shows it; delete hides it.
    app.post_as(
        Some(&t),
        "mutation($id: ID!) { unpublishProduct(id: $id) { status } }",
        json!({ "id": pid }),
    )
    .await;
    assert_eq!(
        app.get_query(product_q).await["data"]["product"],
        Value::Null
    );
    app.post_as(
        Some(&t),
        "mutation($id: ID!) { publishProduct(id: $id) { status } }",
        json!({ "id": pid }),
    )
    .await;
    assert!(app.get_query(product_q).await["data"]["product"].is_object());
    let listing =
        "{ products(first: 3, filter: { handles: [\"product-000010\"] }) { totalCount } }";
    assert_eq!(
        app.get_query(listing).await["data"]["products"]["totalCount"],
        1
    );
    app.post_as(
        Some(&t),
        "mutation($id: ID!) { deleteProduct(id: $id) { deletedAt } }",
        json!({ "id": pid }),
    )
    .await;
    assert_eq!(
        app.get_query(product_q).await["data"]["product"],
        Value::Null
    );
    assert_eq!(
        app.get_query(listing).await["data"]["products"]["totalCount"],
        0
    );
    let staff_view = app
        .post_as(
            Some(&t),
            "query($id: ID!) { adminProduct(id: $id) { deletedAt status } }",
            json!({ "id": pid }),
        )
        .await;
    assert!(
        staff_view["data"]["adminProduct"]["deletedAt"].is_string(),
        "staff still see deleted products"
    );

    // A new published product with a variant appears in the store listing at once.
    let created = app.post_as(Some(&t),
        r#"mutation { createProduct(input: { handle: "brand-new-lamp", title: "Brand New Lamp", status: PUBLISHED, collectionId: "Q29sbGVjdGlvbjox" }) { id } }"#,
        json!({}),
    )
    .await;
    let new_id = created["data"]["createProduct"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned();
    app.post_as(Some(&t),
        "mutation($p: ID!) { createProductVariant(productId: $p, input: { title: \"One\", sku: \"NEW-1\", prices: [{ currencyCode: \"INR\", amount: 100 }] }) { id } }",
        json!({ "p": new_id }),
    )
    .await;
    let fresh = app.get_query(r#"{ product(handle: "brand-new-lamp", regionId: "UmVnaW9uOjE") { title variants { sku price { amount } } } }"#).await;
    assert_eq!(
        fresh["data"]["product"]["variants"][0]["sku"], "NEW-1",
        "{fresh}"
    );

    // Collections, categories and regions.
    app.post_as(Some(&t), r#"mutation { updateCollection(id: "Q29sbGVjdGlvbjox", title: "Summer Specials") { title } }"#, json!({})).await;
    assert_eq!(
        app.get_query(r#"{ collection(handle: "summer-essentials") { title } }"#)
            .await["data"]["collection"]["title"],
        "Summer Specials"
    );
    app.post_as(
        Some(&t),
        r#"mutation { updateCategory(id: "Q2F0ZWdvcnk6MQ", name: "Gadgets") { name } }"#,
        json!({}),
    )
    .await;
    assert_eq!(
        app.get_query("{ categories { name } }").await["data"]["categories"][0]["name"],
        "Gadgets"
    );
    app.post_as(
        Some(&t),
        r#"mutation { updateRegion(id: "UmVnaW9uOjE", name: "Bharat") { name } }"#,
        json!({}),
    )
    .await;
    assert!(
        app.get_query("{ regions { name } }")
            .await
            .to_string()
            .contains("Bharat")
    );

    if mode == CacheMode::Redis {
        let keys = app.redis_keys().await;
        for key in banner_keys.iter().filter(|k| k.contains("hero_banners")) {
            assert!(keys.contains(key), "catalog writes flushed {key}");
        }
    }
    let statements = app.statements();
    app.get_query(banners_q).await;
    assert_eq!(
        app.statements(),
        statements,
        "banners still served from the cache"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn catalog_writes_are_never_stale_with_redis() {
    writes_are_never_stale(CacheMode::Redis).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn catalog_writes_are_never_stale_in_process() {
    writes_are_never_stale(CacheMode::Memory).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn catalog_input_errors_name_the_field() {
    let app = TestApp::new().await;
    let t = staff_token(&app, Role::Catalog).await;
    let create = "mutation($i: CreateProductInput!) { createProduct(input: $i) { id } }";
    let dup = app
        .post_as(
            Some(&t),
            create,
            json!({ "i": { "handle": "product-000001", "title": "Dup" } }),
        )
        .await;
    assert_eq!(code(&dup), "CONFLICT");
    assert!(
        dup["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("handle")
    );
    let empty = app
        .post_as(
            Some(&t),
            create,
            json!({ "i": { "handle": "ok-handle", "title": "  " } }),
        )
        .await;
    assert_eq!(code(&empty), "BAD_USER_INPUT");
    assert!(
        empty["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("title")
    );
    let bad_handle = app
        .post_as(
            Some(&t),
            create,
            json!({ "i": { "handle": "Not A Handle", "title": "x" } }),
        )
        .await;
    assert_eq!(code(&bad_handle), "BAD_USER_INPUT");
    let ghost_collection = app.post_as(Some(&t),
        create,
        json!({ "i": { "handle": "x-1", "title": "x", "collectionId": gid("Collection", 9999) } }),
    )
    .await;
    assert_eq!(code(&ghost_collection), "NOT_FOUND");

    let variant = "mutation($p: ID!, $i: CreateVariantInput!) { createProductVariant(productId: $p, input: $i) { id } }";
    let dup_sku = app
        .post_as(
            Some(&t),
            variant,
            json!({ "p": gid("Product", 2), "i": { "title": "x", "sku": "TP-000001-0" } }),
        )
        .await;
    assert_eq!(code(&dup_sku), "CONFLICT");
    assert!(
        dup_sku["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("sku")
    );
    let negative = app.post_as(Some(&t), variant, json!({ "p": gid("Product", 2), "i": { "title": "x", "prices": [{ "currencyCode": "INR", "amount": -5 }] } })).await;
    assert_eq!(code(&negative), "BAD_USER_INPUT");
    assert!(
        negative["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("amount")
    );
    let currency = app.post_as(Some(&t), variant, json!({ "p": gid("Product", 2), "i": { "title": "x", "prices": [{ "currencyCode": "rupees", "amount": 5 }] } })).await;
    assert!(
        currency["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("currencyCode")
    );
    let ghost = app
        .post_as(
            Some(&t),
            variant,
            json!({ "p": gid("Product", 999_999), "i": { "title": "x" } }),
        )
        .await;
    assert_eq!(code(&ghost), "NOT_FOUND");

    // A category cannot move under its own descendant; a parent with children cannot go.
    let cycle = app.post_as(Some(&t),
        r#"mutation { updateCategory(id: "Q2F0ZWdvcnk6MQ", parentId: "Q2F0ZWdvcnk6Nw") { id } }"#,
        json!({}),
    )
    .await;
    assert_eq!(code(&cycle), "BAD_USER_INPUT", "{cycle}");
    let self_parent = app.post_as(Some(&t),
        r#"mutation { updateCategory(id: "Q2F0ZWdvcnk6MQ", parentId: "Q2F0ZWdvcnk6MQ") { id } }"#,
        json!({}),
    )
    .await;
    assert_eq!(code(&self_parent), "BAD_USER_INPUT");
    let with_children = app
        .post_as(
            Some(&t),
            r#"mutation { deleteCategory(id: "Q2F0ZWdvcnk6MQ") }"#,
            json!({}),
        )
        .await;
    assert_eq!(code(&with_children), "CONFLICT");
    let moved = app.post_as(Some(&t), r#"mutation { updateCategory(id: "Q2F0ZWdvcnk6Nw", parentId: null, rank: 9) { parentId rank } }"#, json!({})).await;
    assert_eq!(
        moved["data"]["updateCategory"]["parentId"],
        Value::Null,
        "{moved}"
    );
    let region = app.post_as(Some(&t), r#"mutation { createRegion(name: "Japan", currencyCode: "jpy", countries: ["JP"]) { id } }"#, json!({})).await;
    assert_eq!(code(&region), "BAD_USER_INPUT");

    // Content editors cannot touch the catalog.
    let editor = staff_token(&app, Role::Content).await;
    let refused = app
        .post_as(
            Some(&editor),
            create,
            json!({ "i": { "handle": "y-1", "title": "y" } }),
        )
        .await;
    assert_eq!(code(&refused), "FORBIDDEN");
}

async fn product_pages_are_invalidated_per_product(mode: CacheMode) {
    let app = TestApp::with_cache(mode).await;
    let t = staff_token(&app, Role::Catalog).await;
    let page = |handle: &str| {
        format!(
            r#"{{ product(handle: "{handle}", regionId: "UmVnaW9uOjE") {{ title variants {{ id price {{ amount }} }} images {{ url }} }} }}"#
        )
    };
    let (a, b) = (page("product-000020"), page("product-000021"));
    app.get_query(&a).await;
    let b_before = app.get_query(&b).await;

    // A write to product 20 leaves product 21's cached page alone...
    app.post_as(
        Some(&t),
        "mutation($id: ID!) { updateProduct(id: $id, input: { title: \"Twenty\" }) { id } }",
        json!({ "id": gid("Product", 20) }),
    )
    .await;
    let statements = app.statements();
    assert_eq!(app.get_query(&b).await, b_before);
    assert_eq!(
        app.statements(),
        statements,
        "{mode:?}: another product's page was flushed"
    );
    // ...and product 20's own page is fresh at once.
    assert_eq!(
        app.get_query(&a).await["data"]["product"]["title"],
        "Twenty"
    );

    // A price change under product 21 refreshes its page.
    let variant = b_before["data"]["product"]["variants"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let price = "mutation($id: ID!) { updateProductVariant(id: $id, input: { prices: [{ currencyCode: \"INR\", amount: 777 }] }) { id } }";
    app.post_as(Some(&t), price, json!({ "id": variant })).await;
    assert_eq!(
        app.get_query(&b).await["data"]["product"]["variants"][0]["price"]["amount"],
        777,
        "{mode:?}"
    );

    // A handle change: the old handle is gone at once, the new one answers.
    app.post_as(
        Some(&t),
        "mutation($id: ID!) { updateProduct(id: $id, input: { handle: \"twenty-one\" }) { id } }",
        json!({ "id": gid("Product", 21) }),
    )
    .await;
    assert_eq!(app.get_query(&b).await["data"]["product"], Value::Null);
    assert_eq!(
        app.get_query(&page("twenty-one")).await["data"]["product"]["variants"][0]["price"]["amount"],
        777
    );

    // Deleting a collection refreshes the pages of its products (their collection is gone).
    let with_collection = r#"{ product(handle: "product-000022") { collection { handle } } }"#;
    let before = app.get_query(with_collection).await;
    let handle = before["data"]["product"]["collection"]["handle"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = app
        .get_query(&format!(r#"{{ collection(handle: "{handle}") {{ id }} }}"#))
        .await["data"]["collection"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post_as(
        Some(&t),
        "mutation($id: ID!) { deleteCollection(id: $id) }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(
        app.get_query(with_collection).await["data"]["product"]["collection"],
        Value::Null
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn product_pages_are_invalidated_per_product_with_redis() {
    product_pages_are_invalidated_per_product(CacheMode::Redis).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn product_pages_are_invalidated_per_product_in_process() {
    product_pages_are_invalidated_per_product(CacheMode::Memory).await;
}

#[tokio::test]
async fn store_and_staff_types_have_their_own_ids_and_staff_types_are_nodes() {
    let app = TestApp::new().await;
    let staff = staff_token(&app, Role::Owner).await;
    let store = gid("Product", 10);
    let both = app
        .ok_as(
            &staff,
            "query($id: ID!) { product(id: $id) { id } adminProduct(id: $id) { id } }",
            json!({ "id": store }),
        )
        .await;
    // The same product, two types, two IDs (a normalized client store needs them distinct).
    assert_eq!(both["product"]["id"], store);
    let staff_id = gid("AdminProduct", 10);
    assert_eq!(both["adminProduct"]["id"], staff_id);
    // Either ID is accepted where a product is named, and staff types refetch through `node`.
    let again = app
        .ok_as(
            &staff,
            "query($id: ID!) { adminProduct(id: $id) { id } node(id: $id) { __typename id } }",
            json!({ "id": staff_id }),
        )
        .await;
    assert_eq!(again["adminProduct"]["id"], staff_id);
    assert_eq!(
        again["node"],
        json!({ "__typename": "AdminProduct", "id": staff_id })
    );
    let banner = gid("AdminHeroBanner", 1);
    let node = app
        .ok_as(
            &staff,
            "query($id: ID!) { node(id: $id) { __typename id } }",
            json!({ "id": banner }),
        )
        .await;
    assert_eq!(node["node"]["__typename"], "AdminHeroBanner");
    // Only staff whose role may see them.
    let q = "query($id: ID!) { node(id: $id) { id } }";
    let anonymous = app.post_as(None, q, json!({ "id": staff_id })).await;
    assert_eq!(code(&anonymous), "UNAUTHENTICATED");
    let content = staff_token(&app, Role::Content).await;
    let refused = app
        .post_as(Some(&content), q, json!({ "id": staff_id }))
        .await;
    assert_eq!(code(&refused), "FORBIDDEN");
    // A stranger asking for many staff records: refused before any SQL.
    let many: Vec<String> = (1..=100).map(|i| gid("AdminProduct", i)).collect();
    let before = app.statements();
    let refused = app
        .post_as(
            None,
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": many }),
        )
        .await;
    assert_eq!(code(&refused), "UNAUTHENTICATED");
    assert_eq!(
        app.statements(),
        before,
        "no statement for a refused staff node"
    );
    let (_, customer) = crate::support::customer_token(&app, "node-reader@techpotli.test").await;
    let refused = app
        .post_as(Some(&customer), q, json!({ "id": banner }))
        .await;
    assert_eq!(code(&refused), "FORBIDDEN");
}
