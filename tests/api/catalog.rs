//! Store catalog behaviour: visibility, filters against independent SQL, relations, node lookup,
//! and the SQL statement count of deep queries.

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

use crate::support::{CacheMode, TestApp, gid};

#[derive(QueryableByName)]
struct Handle {
    #[diesel(sql_type = Text)]
    handle: String,
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

async fn sql_handles(app: &TestApp, where_clause: &str) -> Vec<String> {
    let sql = format!(
        "SELECT p.handle FROM products p WHERE p.status = 'published' AND p.deleted_at IS NULL AND ({where_clause}) \
         ORDER BY p.created_at, p.id"
    );
    let rows: Vec<Handle> = diesel::sql_query(sql)
        .load(&mut app.db.conn().await)
        .await
        .expect("sql");
    rows.into_iter().map(|r| r.handle).collect()
}

async fn sql_ids(app: &TestApp, sql: &str) -> Vec<i64> {
    let rows: Vec<Id> = diesel::sql_query(sql)
        .load(&mut app.db.conn().await)
        .await
        .expect("sql");
    rows.into_iter().map(|r| r.id).collect()
}

/// Every handle the API lists for `filter` (walking all pages), plus `totalCount`.
async fn api_handles(app: &TestApp, filter: Value, region: Option<String>) -> (Vec<String>, i64) {
    let q = r#"query($f: ProductFilterInput, $after: String, $r: ID) {
        products(first: 100, after: $after, filter: $f, regionId: $r) {
          totalCount edges { node { handle } } pageInfo { hasNextPage endCursor } } }"#;
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    let total = loop {
        let data = app
            .data(q, json!({ "f": filter, "after": after, "r": region }))
            .await;
        let p = &data["products"];
        out.extend(
            p["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["handle"].as_str().unwrap().to_owned()),
        );
        if !p["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break p["totalCount"].as_i64().unwrap();
        }
        after = p["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    };
    (out, total)
}

#[tokio::test(flavor = "multi_thread")]
async fn filters_return_exactly_the_matching_products() {
    let app = TestApp::new().await;
    let cases: Vec<(Value, Option<String>, String)> = vec![
        (json!({ "collectionIds": [gid("Collection", 3)] }), None, "p.collection_id = 3".into()),
        (
            json!({ "collectionIds": [gid("Collection", 3), gid("Collection", 7)] }),
            None,
            "p.collection_id IN (3, 7)".into(),
        ),
        (
            // A top-level category includes its whole subtree (two levels down).
            json!({ "categoryIds": [gid("Category", 2)] }),
            None,
            "p.id IN (SELECT pc.product_id FROM product_categories pc JOIN categories c3 ON c3.id = pc.category_id \
             LEFT JOIN categories c2 ON c2.id = c3.parent_id LEFT JOIN categories c1 ON c1.id = c2.parent_id \
             WHERE (c3.id = 2 OR c2.id = 2 OR c1.id = 2) AND c3.is_active AND coalesce(c2.is_active, TRUE) \
             AND coalesce(c1.is_active, TRUE))"
                .into(),
        ),
        (
            json!({ "search": "walnut lamp" }),
            None,
            "(p.title || ' ' || p.description) ~* '\\mwalnut\\M' AND (p.title || ' ' || p.description) ~* '\\mlamp\\M'".into(),
        ),
        (json!({ "handles": ["product-000010", "product-000011", "product-000025"] }), None, "p.handle IN ('product-000010', 'product-000011', 'product-000025')".into()),
        (json!({ "ids": [gid("Product", 5), gid("Product", 6)] }), None, "p.id IN (5, 6)".into()),
        (
            json!({ "price": { "min": 500000, "max": 800000 } }),
            Some(gid("Region", 1)),
            "EXISTS (SELECT 1 FROM product_variants v JOIN prices pr ON pr.variant_id = v.id WHERE v.product_id = p.id \
             AND v.deleted_at IS NULL AND pr.currency_code = 'INR' AND pr.amount BETWEEN 500000 AND 800000)"
                .into(),
        ),
        (
            json!({ "collectionIds": [gid("Collection", 4)], "price": { "max": 300000 } }),
            Some(gid("Region", 1)),
            "p.collection_id = 4 AND EXISTS (SELECT 1 FROM product_variants v JOIN prices pr ON pr.variant_id = v.id \
             WHERE v.product_id = p.id AND v.deleted_at IS NULL AND pr.currency_code = 'INR' AND pr.amount <= 300000)"
                .into(),
        ),
    ];
    for (filter, region, sql) in cases {
        let want = sql_handles(&app, &sql).await;
        let (got, total) = api_handles(&app, filter.clone(), region).await;
        assert!(
            !want.is_empty(),
            "case {filter} matches something in the seed"
        );
        assert_eq!(got, want, "filter {filter}");
        assert_eq!(total, want.len() as i64, "totalCount for {filter}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn drafts_and_deleted_products_never_appear() {
    let app = TestApp::new().await;
    let hidden = sql_ids(&app, "SELECT id FROM products WHERE status = 'draft' OR deleted_at IS NOT NULL ORDER BY id LIMIT 20").await;
    assert!(hidden.len() >= 10);
    let ids: Vec<String> = hidden.iter().map(|id| gid("Product", *id)).collect();
    let (listed, total) = api_handles(&app, json!({ "ids": ids }), None).await;
    assert!(
        listed.is_empty() && total == 0,
        "hidden products listed: {listed:?}"
    );
    let nodes = app
        .data(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": ids }),
        )
        .await;
    assert!(
        nodes["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(Value::is_null)
    );
    let handle = format!("product-{:06}", hidden[0]);
    let by_handle = app
        .data(
            "query($h: String) { product(handle: $h) { id } }",
            json!({ "h": handle }),
        )
        .await;
    assert_eq!(by_handle["product"], Value::Null);
    let visible = sql_ids(
        &app,
        "SELECT count(*) AS id FROM products WHERE status = 'published' AND deleted_at IS NULL",
    )
    .await;
    let count = app.data("{ products { totalCount } }", json!({})).await;
    assert_eq!(count["products"]["totalCount"].as_i64(), Some(visible[0]));
}

const DEEP: &str = r#"query Deep($n: Int!, $region: ID) {
  products(first: $n, regionId: $region) {
    edges { node {
      id title
      collection { title }
      categories { name parent { name } }
      images { url }
      options { title values }
      priceRange { min { amount } max { amount } }
      variants { sku options { option value } price { amount currencyCode } calculatedPrice { total { amount } } prices { amount currencyCode } }
    } }
  }
}"#;

#[tokio::test(flavor = "multi_thread")]
async fn deep_query_sql_count_does_not_grow_with_page_size() {
    // The database path: no cache in front of it.
    let app = TestApp::with_cache(CacheMode::Disabled).await;
    let region = gid("Region", 1);
    let mut counts = Vec::new();
    for n in [5, 100, 5] {
        let before = app.statements();
        let data = app.data(DEEP, json!({ "n": n, "region": region })).await;
        counts.push(app.statements() - before);
        let edges = data["products"]["edges"].as_array().unwrap();
        assert_eq!(edges.len(), n as usize);
        assert!(
            edges
                .iter()
                .all(|e| !e["node"]["variants"].as_array().unwrap().is_empty())
        );
    }
    assert_eq!(
        counts[0], counts[1],
        "SQL statements for first:5 vs first:100: {counts:?}"
    );
    assert_eq!(counts[0], counts[2]);
    // listing + collection + categories + parents + images + options + variants + variant options
    // + prices + region = 10 statements, whatever the page size.
    assert!(counts[0] <= 10, "deep query took {} statements", counts[0]);
    println!(
        "deep query SQL statements: first:5 = {}, first:100 = {}",
        counts[0], counts[1]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn nested_collection_products_are_batched() {
    let app = TestApp::with_cache(CacheMode::Disabled).await;
    let q = r#"query($n: Int) { collections(first: $n) { edges { node { title
        products(first: 3, sort: { field: TITLE }) { totalCount edges { node { handle variants { sku } } } } } } } }"#;
    let before = app.statements();
    let small = app.data(q, json!({ "n": 2 })).await;
    let small_count = app.statements() - before;
    let before = app.statements();
    let large = app.data(q, json!({ "n": 20 })).await;
    let large_count = app.statements() - before;
    assert_eq!(
        small_count, large_count,
        "nested products scale with the number of collections"
    );
    // Each collection's page is its own: compare one with independent SQL.
    let first = &large["collections"]["edges"][0]["node"];
    let title = first["title"].as_str().unwrap();
    let want = sql_handles(
        &app,
        &format!("p.collection_id = (SELECT id FROM collections WHERE title = '{title}')"),
    )
    .await;
    let mut by_title = want.clone();
    let titles: Vec<Handle> = diesel::sql_query(format!(
        "SELECT p.handle FROM products p JOIN collections c ON c.id = p.collection_id WHERE c.title = '{title}' \
         AND p.status = 'published' AND p.deleted_at IS NULL ORDER BY p.title, p.id LIMIT 3"
    ))
    .load(&mut app.db.conn().await)
    .await
    .unwrap();
    by_title.truncate(0);
    by_title.extend(titles.into_iter().map(|h| h.handle));
    let got: Vec<&str> = first["products"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["handle"].as_str().unwrap())
        .collect();
    assert_eq!(got, by_title);
    assert_eq!(
        first["products"]["totalCount"].as_i64(),
        Some(want.len() as i64)
    );
    assert_eq!(
        small["collections"]["edges"][0],
        large["collections"]["edges"][0]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn category_tree_and_category_products_include_descendants() {
    let app = TestApp::new().await;
    let data = app
        .data(
            "{ categories { handle children { handle children { handle parent { handle } } } } }",
            json!({}),
        )
        .await;
    let top = data["categories"].as_array().unwrap();
    assert_eq!(top.len(), 6);
    assert_eq!(top[0]["children"].as_array().unwrap().len(), 4);
    assert_eq!(
        top[0]["children"][0]["children"].as_array().unwrap().len(),
        3
    );
    assert_eq!(
        top[0]["children"][0]["children"][0]["parent"]["handle"],
        top[0]["children"][0]["handle"]
    );
    // The inactive sub-category (books-4) and its subtree are hidden.
    let books = top.iter().find(|c| c["handle"] == "books").unwrap();
    assert_eq!(books["children"].as_array().unwrap().len(), 3);
    let one = app
        .data(
            r#"{ category(handle: "electronics-1") { name products(first: 100) { totalCount } } }"#,
            json!({}),
        )
        .await;
    let want = sql_handles(
        &app,
        "p.id IN (SELECT product_id FROM product_categories pc JOIN categories c ON c.id = pc.category_id \
         WHERE c.handle LIKE 'electronics-1%')",
    )
    .await;
    assert_eq!(
        one["category"]["products"]["totalCount"].as_i64(),
        Some(want.len() as i64)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn prices_follow_the_requested_region() {
    let app = TestApp::new().await;
    let q = r#"query($r: ID) { product(handle: "product-000001", regionId: $r) {
        variants { sku price { amount currencyCode decimal } calculatedPrice { tax { amount } total { amount } taxRateBps }
                   eur: price(regionId: "UmVnaW9uOjI") { currencyCode } } } }"#;
    let data = app.data(q, json!({ "r": gid("Region", 1) })).await;
    let variant = &data["product"]["variants"][0];
    let amount = variant["price"]["amount"].as_i64().unwrap();
    #[derive(QueryableByName)]
    struct Amount {
        #[diesel(sql_type = BigInt)]
        amount: i64,
    }
    let sku = variant["sku"].as_str().unwrap();
    let want: Amount = diesel::sql_query(format!(
        "SELECT pr.amount FROM prices pr JOIN product_variants v ON v.id = pr.variant_id WHERE v.sku = '{sku}' AND pr.currency_code = 'INR'"
    ))
    .get_result(&mut app.db.conn().await)
    .await
    .unwrap();
    assert_eq!(amount, want.amount);
    assert_eq!(variant["price"]["currencyCode"], "INR");
    assert_eq!(variant["calculatedPrice"]["taxRateBps"], 1800);
    assert_eq!(
        variant["calculatedPrice"]["tax"]["amount"].as_i64(),
        Some((amount * 1800 + 5000) / 10000)
    );
    assert_eq!(variant["eur"]["currencyCode"], "EUR");
}

#[tokio::test(flavor = "multi_thread")]
async fn node_refetches_every_type_by_global_id() {
    let app = TestApp::new().await;
    let data = app
        .data(
            r#"{ products(first: 1) { edges { node { id variants { id } collection { id } categories { id } } } }
                 regions { id } heroBanners { id } }"#,
            json!({}),
        )
        .await;
    let p = &data["products"]["edges"][0]["node"];
    let ids = vec![
        p["id"].clone(),
        p["variants"][0]["id"].clone(),
        p["collection"]["id"].clone(),
        p["categories"][0]["id"].clone(),
        data["regions"][0]["id"].clone(),
        data["heroBanners"][0]["id"].clone(),
    ];
    let nodes = app
        .data(
            "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }",
            json!({ "ids": ids }),
        )
        .await;
    let got: Vec<&Value> = nodes["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["id"])
        .collect();
    assert_eq!(got, ids.iter().collect::<Vec<_>>());
    let types: Vec<&str> = nodes["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["__typename"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "Product",
            "ProductVariant",
            "Collection",
            "Category",
            "Region",
            "HeroBanner"
        ]
    );
    let one = app
        .data(
            "query($id: ID!) { node(id: $id) { ... on Product { handle } } }",
            json!({ "id": ids[0] }),
        )
        .await;
    assert!(
        one["node"]["handle"]
            .as_str()
            .unwrap()
            .starts_with("product-")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn collections_page_by_title() {
    let app = TestApp::new().await;
    let q = r#"query($a: String) { collections(first: 7, after: $a) { edges { node { title } } pageInfo { hasNextPage endCursor } } }"#;
    let mut titles = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let d = app.data(q, json!({ "a": after })).await;
        let c = &d["collections"];
        titles.extend(
            c["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["title"].as_str().unwrap().to_owned()),
        );
        if !c["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = c["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    let want: Vec<Handle> =
        diesel::sql_query("SELECT title AS handle FROM collections ORDER BY title, id")
            .load(&mut app.db.conn().await)
            .await
            .unwrap();
    assert_eq!(
        titles,
        want.into_iter().map(|h| h.handle).collect::<Vec<_>>()
    );
}
