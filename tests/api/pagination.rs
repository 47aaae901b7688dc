//! Keyset pagination walks the whole seeded catalog, forward and backward, for every sort, with
//! no duplicates and no gaps, in exactly the order independent SQL gives.

use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use serde_json::{Value, json};

use crate::support::{TestApp, gid};

#[derive(QueryableByName)]
struct Handle {
    #[diesel(sql_type = Text)]
    handle: String,
}

const PAGE: &str = r#"query Page($first: Int, $after: String, $last: Int, $before: String, $sort: ProductSortInput, $region: ID) {
  products(first: $first, after: $after, last: $last, before: $before, sort: $sort, regionId: $region) {
    edges { cursor node { handle } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"#;

async fn expected(app: &TestApp, order_by: &str, currency: &str) -> Vec<String> {
    // Written independently of the server's keyset SQL: a lateral MIN and NULLS LAST.
    let sql = format!(
        "SELECT p.handle FROM products p LEFT JOIN LATERAL (
             SELECT min(pr.amount) AS price FROM product_variants v JOIN prices pr ON pr.variant_id = v.id
             WHERE v.product_id = p.id AND v.deleted_at IS NULL AND pr.currency_code = '{currency}') m ON TRUE
         WHERE p.status = 'published' AND p.deleted_at IS NULL ORDER BY {order_by}"
    );
    let rows: Vec<Handle> = diesel::sql_query(sql)
        .load(&mut app.db.conn().await)
        .await
        .expect("expected order");
    rows.into_iter().map(|r| r.handle).collect()
}

async fn walk(
    app: &TestApp,
    sort: Value,
    region: Option<String>,
    forward: bool,
    size: i64,
) -> Vec<String> {
    let mut handles = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let vars = if forward {
            json!({ "first": size, "after": cursor, "sort": sort, "region": region })
        } else {
            json!({ "last": size, "before": cursor, "sort": sort, "region": region })
        };
        let data = app.data(PAGE, vars).await;
        let conn = &data["products"];
        let mut page: Vec<String> = conn["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["handle"].as_str().unwrap().to_owned())
            .collect();
        let info = &conn["pageInfo"];
        pages += 1;
        assert!(pages < 10_000, "pagination does not terminate");
        if let (Some(first), Some(last)) = (
            conn["edges"].as_array().unwrap().iter().next(),
            conn["edges"].as_array().unwrap().iter().last(),
        ) {
            assert_eq!(info["startCursor"], first["cursor"]);
            assert_eq!(info["endCursor"], last["cursor"]);
        }
        if forward {
            assert_eq!(info["hasPreviousPage"], json!(cursor.is_some()));
            handles.append(&mut page);
            if !info["hasNextPage"].as_bool().unwrap() {
                break;
            }
            cursor = info["endCursor"].as_str().map(str::to_owned);
        } else {
            assert_eq!(info["hasNextPage"], json!(cursor.is_some()));
            page.append(&mut handles);
            handles = page;
            if !info["hasPreviousPage"].as_bool().unwrap() {
                break;
            }
            cursor = info["startCursor"].as_str().map(str::to_owned);
        }
    }
    handles
}

async fn check_sort(
    app: &TestApp,
    sort: Value,
    region: Option<String>,
    order_by: &str,
    currency: &str,
) {
    let expected = expected(app, order_by, currency).await;
    assert!(
        expected.len() > 1_000,
        "the seeded catalog is large enough to page through"
    );
    let forward = walk(app, sort.clone(), region.clone(), true, 100).await;
    assert_eq!(
        forward.len(),
        expected.len(),
        "forward walk for {sort} has gaps or duplicates"
    );
    assert!(
        forward == expected,
        "forward walk for {sort} is out of order"
    );
    let backward = walk(app, sort.clone(), region, false, 37).await;
    assert!(backward == expected, "backward walk for {sort} differs");
}

#[tokio::test(flavor = "multi_thread")]
async fn created_and_title_sorts_page_through_everything_both_ways() {
    let app = TestApp::new().await;
    for (field, column) in [("CREATED_AT", "p.created_at"), ("TITLE", "p.title")] {
        for (dir, sql_dir) in [("ASC", "ASC"), ("DESC", "DESC")] {
            let sort = json!({ "field": field, "direction": dir });
            check_sort(
                &app,
                sort,
                None,
                &format!("{column} {sql_dir}, p.id {sql_dir}"),
                "INR",
            )
            .await;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn price_sorts_page_through_everything_with_unpriced_products_last() {
    let app = TestApp::new().await;
    // Price changes made behind the API's back (repricing, a soft-deleted and a deleted variant,
    // a removed price) must show up in the order: the per-product minimum is trigger-maintained.
    app.db
        .conn()
        .await
        .batch_execute(
            "UPDATE prices SET amount = 1 WHERE variant_id = (SELECT id FROM product_variants WHERE product_id = 40 LIMIT 1);
             UPDATE product_variants SET deleted_at = now() WHERE product_id = 41;
             DELETE FROM product_variants WHERE product_id = 42;
             DELETE FROM prices WHERE currency_code = 'USD' AND variant_id IN (SELECT id FROM product_variants WHERE product_id = 44);
             UPDATE prices SET amount = amount + 1000000 WHERE variant_id IN (SELECT id FROM product_variants WHERE product_id = 45);",
        )
        .await
        .unwrap();
    // USD leaves every tenth product unpriced; INR prices them all.
    for (region, currency) in [(3, "USD"), (1, "INR")] {
        for (dir, sql_dir) in [("ASC", "ASC"), ("DESC", "DESC")] {
            let sort = json!({ "field": "PRICE", "direction": dir });
            let order = format!("m.price {sql_dir} NULLS LAST, p.id {sql_dir}");
            check_sort(&app, sort, Some(gid("Region", region)), &order, currency).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn first_and_last_slice_between_two_cursors() {
    let app = TestApp::new().await;
    let all = app.data(PAGE, json!({ "first": 10 })).await;
    let edges = all["products"]["edges"].as_array().unwrap().clone();
    let after = edges[1]["cursor"].as_str().unwrap();
    let before = edges[8]["cursor"].as_str().unwrap();
    let q = r#"query($a: String, $b: String, $f: Int, $l: Int) { products(after: $a, before: $b, first: $f, last: $l) {
        edges { node { handle } } pageInfo { hasNextPage hasPreviousPage } } }"#;
    let handles = |d: &Value| -> Vec<String> {
        d["products"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["handle"].as_str().unwrap().to_owned())
            .collect()
    };
    let want: Vec<String> = edges[2..8]
        .iter()
        .map(|e| e["node"]["handle"].as_str().unwrap().to_owned())
        .collect();
    let between = app
        .data(q, json!({ "a": after, "b": before, "f": 50 }))
        .await;
    assert_eq!(handles(&between), want);
    let last_two = app
        .data(q, json!({ "a": after, "b": before, "l": 2 }))
        .await;
    assert_eq!(handles(&last_two), want[4..].to_vec());
    assert_eq!(
        last_two["products"]["pageInfo"]["hasPreviousPage"],
        json!(true)
    );
}
