//! Localization: locales, translations with per-field fallback, the language rule (directive,
//! `locale` argument, `Accept-Language`, default) and its headers, per-locale caching and exact
//! invalidation, search and sort in the shopper's language, flat SQL counts, bad input.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};
use techpotli::auth::Role;

use crate::support::{CacheMode, TestApp, TestResponse, gid, staff_token};

/// Four products whose seeded translations differ: 1 none, 2 Hindi only, 3 French only, 6 both.
const HANDLES: [&str; 4] = [
    "product-000001",
    "product-000002",
    "product-000003",
    "product-000006",
];

const LISTING: &str = r#"query Listing($handles: [String!]) {
  products(first: 10, filter: { handles: $handles }) {
    edges { node { handle title subtitle description fieldLocales { field locale }
      options { title values fieldLocales { field locale } } } }
  }
}"#;

fn in_context(query: &str, locale: &str) -> String {
    // `query Listing(` → `query Listing(…) @inContext(language: "…") {`
    let (head, body) = query.split_once(") {").expect("a query with variables");
    format!("{head}) @inContext(language: \"{locale}\") {{{body}")
}

#[derive(diesel::QueryableByName, Debug)]
struct Row {
    #[diesel(sql_type = Text)]
    handle: String,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Nullable<Text>)]
    subtitle: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    tr_title: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    tr_description: Option<String>,
    #[diesel(sql_type = Text)]
    description: String,
}

/// The products' own text and their stored translation in `locale`, straight from PostgreSQL.
async fn stored(app: &TestApp, locale: &str) -> Vec<Row> {
    let mut conn = app.app.db.get().await.unwrap();
    diesel::sql_query(
        "SELECT p.handle, p.title, p.subtitle, p.description, t.fields ->> 'title' AS tr_title, \
         t.fields ->> 'description' AS tr_description FROM products p LEFT JOIN translations t \
         ON t.entity_type = 'product' AND t.entity_id = p.id AND t.locale = $1 \
         WHERE p.handle = ANY($2) ORDER BY p.handle",
    )
    .bind::<Text, _>(locale)
    .bind::<diesel::sql_types::Array<Text>, _>(HANDLES.map(str::to_owned).to_vec())
    .load(&mut conn)
    .await
    .unwrap()
}

fn field_locale<'a>(node: &'a Value, field: &str) -> &'a str {
    node["fieldLocales"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == field)
        .and_then(|f| f["locale"].as_str())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_listing_in_three_languages_falls_back_field_by_field() {
    let app = TestApp::new().await;
    let vars = json!({ "handles": HANDLES });
    for locale in ["en-IN", "hi-IN", "fr-FR"] {
        let data = app.data(&in_context(LISTING, locale), vars.clone()).await;
        let mut nodes: Vec<Value> = data["products"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"].clone())
            .collect();
        nodes.sort_by_key(|n| n["handle"].as_str().unwrap().to_owned());
        let rows = stored(&app, locale).await;
        assert_eq!(nodes.len(), rows.len());
        let mut translated = 0;
        for (node, row) in nodes.iter().zip(&rows) {
            assert_eq!(node["handle"], row.handle.as_str());
            let title = row.tr_title.as_deref().unwrap_or(&row.title);
            assert_eq!(node["title"], title, "{locale} {}", row.handle);
            let description = row.tr_description.as_deref().unwrap_or(&row.description);
            assert_eq!(node["description"], description);
            // No subtitle is translated: it always falls back to the default's text.
            assert_eq!(node["subtitle"].as_str(), row.subtitle.as_deref());
            assert_eq!(field_locale(node, "subtitle"), "en-IN");
            let from = if row.tr_title.is_some() {
                locale
            } else {
                "en-IN"
            };
            assert_eq!(field_locale(node, "title"), from, "{locale} {}", row.handle);
            translated += usize::from(row.tr_title.is_some());
            // Options are translated for every product in both seeded locales.
            let size = &node["options"][0];
            let want = match locale {
                "hi-IN" => "आकार",
                "fr-FR" => "Taille",
                _ => "Size",
            };
            assert_eq!(size["title"], want);
            assert_eq!(field_locale(size, "title"), locale);
        }
        match locale {
            // The default has no translations; each other locale translates two of the four.
            "en-IN" => assert_eq!(translated, 0),
            _ => assert_eq!(translated, 2, "{locale}"),
        }
    }
    // Colours are translated value by value; sizes are not.
    let data = app
        .data(
            r#"query @inContext(language: "fr-FR") { product(handle: "product-000001") {
                options { values } variants { options { option value } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        data["product"]["options"][0]["values"],
        json!(["S", "M", "L", "XL"])
    );
    assert_eq!(
        data["product"]["options"][1]["values"],
        json!(["Noir", "Blanc", "Bleu"])
    );
    assert_eq!(
        data["product"]["variants"][0]["options"][0]["option"],
        "Taille"
    );
    // Banners, categories and collections too.
    let home = r#"query @inContext(language: "hi-IN") { heroBanners { title subtitle ctaText }
        categories { name } collection(handle: "festive-edit") { title description } }"#;
    let data = app.data(home, json!({})).await;
    assert_eq!(data["heroBanners"][0]["title"], "त्योहार सेल");
    assert_eq!(data["heroBanners"][1]["title"], "नए आगमन");
    assert_eq!(
        data["heroBanners"][1]["ctaText"], "Explore",
        "falls back per field"
    );
    assert_eq!(data["categories"][0]["name"], "इलेक्ट्रॉनिक्स");
    assert_eq!(data["collection"]["title"], "त्योहार विशेष");
    assert_eq!(
        data["collection"]["description"],
        "Hand-picked: Festive Edit."
    );
}

async fn send(app: &TestApp, uri: &str, accept_language: Option<&str>, body: &str) -> TestResponse {
    let mut request = Request::post(uri).header("content-type", "application/json");
    if let Some(value) = accept_language {
        request = request.header("accept-language", value);
    }
    app.send(request.body(Body::from(body.to_owned())).unwrap())
        .await
}

fn query_body(query: &str) -> String {
    json!({ "query": query }).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_directive_the_argument_and_the_header_each_decide_as_documented() {
    let app = TestApp::new().await;
    let plain = query_body(r#"{ product(handle: "product-000006") { title } }"#);
    let directed = query_body(
        r#"query @inContext(language: "fr-FR") { product(handle: "product-000006") { title } }"#,
    );
    let hi = stored(&app, "hi-IN").await;
    let fr = stored(&app, "fr-FR").await;
    let title_in = |rows: &[Row]| rows[3].tr_title.clone().unwrap();
    let en_title = hi[3].title.clone();
    // (uri, Accept-Language, body) → (locale, title, whether Vary names Accept-Language)
    type Case<'a> = (&'a str, Option<&'a str>, &'a String, &'a str, String, bool);
    let cases: Vec<Case<'_>> = vec![
        ("/graphql", None, &plain, "en-IN", en_title.clone(), true),
        (
            "/graphql",
            Some("de-DE, ja"),
            &plain,
            "en-IN",
            en_title.clone(),
            true,
        ),
        (
            "/graphql",
            Some("fr-CH, hi;q=0.9"),
            &plain,
            "fr-FR",
            title_in(&fr),
            true,
        ),
        (
            "/graphql",
            Some("en;q=0.1, hi-IN"),
            &plain,
            "hi-IN",
            title_in(&hi),
            true,
        ),
        (
            "/graphql?locale=hi-IN",
            Some("fr"),
            &plain,
            "hi-IN",
            title_in(&hi),
            false,
        ),
        (
            "/graphql?locale=hi-IN",
            Some("hi"),
            &directed,
            "fr-FR",
            title_in(&fr),
            false,
        ),
        (
            "/graphql",
            Some("hi"),
            &directed,
            "fr-FR",
            title_in(&fr),
            false,
        ),
    ];
    for (uri, header, body, locale, title, varies) in cases {
        // Twice: the second answer comes from the response cache and must say the same.
        for _ in 0..2 {
            let response = send(&app, uri, header, body).await;
            assert_eq!(response.status, StatusCode::OK);
            let json = response.raw_json();
            assert_eq!(
                json["data"]["product"]["title"],
                title.as_str(),
                "{uri} {header:?}"
            );
            assert_eq!(json["extensions"]["locale"], locale, "{uri} {header:?}");
            assert_eq!(response.header("content-language"), Some(locale));
            let vary = response.header("vary").unwrap_or_default();
            assert_eq!(
                vary.contains("Accept-Language"),
                varies,
                "{uri} {header:?}: {vary}"
            );
        }
    }
    // Over GET (the CDN's path) the directive fixes the language: one key per URL.
    let encoded = serde_urlencoded::to_string([(
        "query",
        r#"query @inContext(language: "hi-IN") { product(handle: "product-000006") { title } }"#,
    )])
    .unwrap();
    let response = app
        .send(
            Request::get(format!("/graphql?{encoded}"))
                .header("accept-language", "fr")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(response.header("content-language"), Some("hi-IN"));
    assert!(
        response
            .header("cache-control")
            .unwrap()
            .starts_with("public")
    );
    assert!(!response.header("vary").unwrap().contains("Accept-Language"));
    // A variable may carry the directive's language.
    let body = json!({
        "query": r#"query P($l: String!) @inContext(language: $l) { product(handle: "product-000006") { title } }"#,
        "variables": { "l": "hi-IN" }
    });
    let response = send(&app, "/graphql", None, &body.to_string()).await;
    assert_eq!(response.header("content-language"), Some("hi-IN"));
    // The directive is declared in the schema.
    let sdl = techpotli::graphql::schema::sdl();
    assert!(sdl.contains("directive @inContext(language: String!) on QUERY | MUTATION"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_translation_write_is_visible_at_once_in_its_locale_and_leaves_the_others_cached() {
    let app = TestApp::with_cache(CacheMode::Redis).await;
    let staff = staff_token(&app, Role::Catalog).await;
    let listing = |locale: &str| {
        in_context(
            r#"query Listing($first: Int) { products(first: $first) { edges { node { id title } } } categories { name } }"#,
            locale,
        )
    };
    let vars = json!({ "first": 5 });
    let mut before = std::collections::HashMap::new();
    for locale in ["en-IN", "hi-IN", "fr-FR"] {
        before.insert(locale, app.data(&listing(locale), vars.clone()).await);
        app.data(&listing(locale), vars.clone()).await;
    }
    let versions_before = versions(&app).await;
    let first = before["hi-IN"]["products"]["edges"][0]["node"].clone();
    let id = first["id"].as_str().unwrap();
    let written = app
        .ok_as(
            &staff,
            r#"mutation($id: ID!) { upsertTranslation(entityId: $id, locale: "hi-IN",
                fields: { title: "नया शीर्षक", description: "नया विवरण" }) { entityId locale title description } }"#,
            json!({ "id": id }),
        )
        .await;
    assert_eq!(written["upsertTranslation"]["title"], "नया शीर्षक");
    assert_eq!(written["upsertTranslation"]["entityId"], id);
    // The other locales are answered from the cache (no SQL) and unchanged.
    for locale in ["en-IN", "fr-FR"] {
        let spent = app.statements();
        let after = app.data(&listing(locale), vars.clone()).await;
        assert_eq!(app.statements(), spent, "{locale} stayed cached");
        assert_eq!(after, before[locale]);
    }
    // Hindi shows the write at once.
    let spent = app.statements();
    let after = app.data(&listing("hi-IN"), vars.clone()).await;
    assert!(app.statements() > spent, "hi-IN was recomputed");
    assert_eq!(after["products"]["edges"][0]["node"]["title"], "नया शीर्षक");
    assert_eq!(after["categories"], before["hi-IN"]["categories"]);
    // The bump was the locale's own version; nothing else moved.
    let versions_after = versions(&app).await;
    assert_ne!(
        versions_after[0], versions_before[0],
        "products@hi-IN moved"
    );
    assert_eq!(
        versions_after[1..],
        versions_before[1..],
        "nothing else moved"
    );
    // A null removes a field's translation: the default shows again; the rest stays.
    let data = app
        .ok_as(
            &staff,
            r#"mutation($id: ID!) { upsertTranslation(entityId: $id, locale: "hi-IN",
                fields: { title: null }) { title description } }"#,
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data["upsertTranslation"]["title"], Value::Null);
    assert_eq!(data["upsertTranslation"]["description"], "नया विवरण");
    let after = app.data(&listing("hi-IN"), vars.clone()).await;
    let en_title = &before["en-IN"]["products"]["edges"][0]["node"]["title"];
    assert_eq!(&after["products"]["edges"][0]["node"]["title"], en_title);
    // A bulk import: all or none.
    let rows = app
        .ok_as(
            &staff,
            r#"mutation($input: [TranslationInput!]!) { upsertTranslations(input: $input) { entityId locale } }"#,
            json!({ "input": [
                { "entityId": id, "locale": "fr-FR", "fields": { "title": "Nouveau titre" } },
                { "entityId": gid("Category", 1), "locale": "fr-FR", "fields": { "name": "Électronique grand public" } },
            ] }),
        )
        .await;
    assert_eq!(rows["upsertTranslations"].as_array().unwrap().len(), 2);
    let fr = app.data(&listing("fr-FR"), vars.clone()).await;
    assert_eq!(fr["products"]["edges"][0]["node"]["title"], "Nouveau titre");
    assert_eq!(fr["categories"][0]["name"], "Électronique grand public");
    let stored = app
        .ok_as(
            &staff,
            r#"query($id: ID!) { translations(entityId: $id) { locale title } }"#,
            json!({ "id": id }),
        )
        .await;
    let locales: Vec<&str> = stored["translations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["locale"].as_str().unwrap())
        .collect();
    assert_eq!(locales, ["fr-FR", "hi-IN"]);
}

/// The version counters a Hindi product translation may touch: its own first, then the others.
async fn versions(app: &TestApp) -> Vec<Option<u64>> {
    let names = [
        "v:e:products@hi-IN",
        "v:e:products@fr-FR",
        "v:products",
        "v:categories",
        "v:e:categories@hi-IN",
    ];
    let mut conn = crate::support::redis_conn().await;
    let mut out = Vec::new();
    for name in names {
        let value: Option<u64> = redis::cmd("GET")
            .arg(format!("{}{name}", app.prefix))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(value.is_some(), "{name} was read before the write");
        out.push(value);
    }
    out
}

const DEEP: &str = r#"query Deep($n: Int!, $region: ID) {
  products(first: $n, regionId: $region) {
    edges { node {
      id title fieldLocales { field locale }
      collection { title }
      categories { name parent { name } }
      images { url }
      options { title values }
      priceRange { min { amount } max { amount } }
      variants { sku title options { option value } price { amount currencyCode } prices { amount currencyCode } }
    } }
  }
}"#;

#[tokio::test(flavor = "multi_thread")]
async fn deep_listing_sql_count_is_the_same_translated_and_at_any_page_size() {
    let app = TestApp::with_cache(CacheMode::Disabled).await;
    let region = gid("Region", 1);
    let mut counts = Vec::new();
    for locale in ["en-IN", "hi-IN"] {
        for n in [5, 100] {
            let before = app.statements();
            let data = app
                .data(
                    &in_context(DEEP, locale),
                    json!({ "n": n, "region": region }),
                )
                .await;
            counts.push((locale, n, app.statements() - before));
            assert_eq!(
                data["products"]["edges"].as_array().unwrap().len(),
                n as usize
            );
        }
    }
    let first = counts[0].2;
    assert!(
        counts.iter().all(|c| c.2 == first),
        "statements per (locale, page size): {counts:?}"
    );
    println!("deep listing SQL statements: {counts:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn search_and_title_sort_use_the_shoppers_language() {
    let app = TestApp::with_cache(CacheMode::Disabled).await;
    let app = &app;
    let search = |locale: &str, text: &str| {
        let query = format!(
            r#"query @inContext(language: "{locale}") {{ products(first: 100, filter: {{ search: "{text}" }}) {{
                totalCount edges {{ node {{ title }} }} }} }}"#
        );
        async move { app.data(&query, json!({})).await }
    };
    // Hindi text is found in Hindi (its own dictionary), not in the default language.
    let hi = search("hi-IN", "बैकपैक").await;
    let found = hi["products"]["edges"].as_array().unwrap();
    assert!(!found.is_empty());
    assert!(
        found
            .iter()
            .all(|e| e["node"]["title"].as_str().unwrap().contains("बैकपैक"))
    );
    assert_eq!(
        hi["products"]["totalCount"].as_u64(),
        Some(found.len() as u64)
    );
    let en = search("en-IN", "बैकपैक").await;
    assert_eq!(en["products"]["totalCount"], 0);
    // French stems with its dictionary ("sacs" finds "Sac à dos"); the default text still matches.
    let fr = search("fr-FR", "sacs").await;
    assert!(!fr["products"]["edges"].as_array().unwrap().is_empty());
    let fr_en = search("fr-FR", "backpack").await;
    assert!(
        fr_en["products"]["totalCount"].as_u64().unwrap()
            > fr["products"]["totalCount"].as_u64().unwrap()
    );
    // Titles sort as shown: translated where translated.
    let sorted = app
        .data(
            r#"query @inContext(language: "fr-FR") { products(first: 50, sort: { field: TITLE }) {
                edges { cursor node { title } } pageInfo { endCursor } } }"#,
            json!({}),
        )
        .await;
    let titles: Vec<String> = sorted["products"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["title"].as_str().unwrap().to_owned())
        .collect();
    #[derive(diesel::QueryableByName)]
    struct Title {
        #[diesel(sql_type = Text)]
        title: String,
    }
    let mut conn = app.app.db.get().await.unwrap();
    let want: Vec<String> = diesel::sql_query(
        "SELECT COALESCE(t.fields ->> 'title', p.title) AS title FROM products p \
         LEFT JOIN translations t ON t.entity_type = 'product' AND t.entity_id = p.id AND t.locale = 'fr-FR' \
         WHERE p.status = 'published' AND p.deleted_at IS NULL ORDER BY 1, p.id LIMIT $1",
    )
    .bind::<BigInt, _>(50)
    .load::<Title>(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .map(|t| t.title)
    .collect();
    assert_eq!(titles, want);
    assert!(
        titles.iter().any(|t| t.starts_with("Baskets")
            || t.starts_with("Carnet")
            || t.starts_with("Casque"))
    );
    // The next page continues from the translated title.
    let next = app
        .data(
            r#"query N($after: String) @inContext(language: "fr-FR") { products(first: 5, after: $after, sort: { field: TITLE }) {
                edges { node { title } } } }"#,
            json!({ "after": sorted["products"]["pageInfo"]["endCursor"] }),
        )
        .await;
    let next_first = next["products"]["edges"][0]["node"]["title"]
        .as_str()
        .unwrap();
    assert!(next_first >= titles.last().unwrap().as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn staff_manage_locales_and_requests_follow_at_once() {
    let app = TestApp::new().await;
    let staff = staff_token(&app, Role::Catalog).await;
    let locales = r#"{ locales { code name default } }"#;
    let listed = app.data(locales, json!({})).await;
    assert_eq!(
        listed["locales"],
        json!([
            { "code": "en-IN", "name": "English (India)", "default": true },
            { "code": "fr-FR", "name": "Français (France)", "default": false },
            { "code": "hi-IN", "name": "हिन्दी (भारत)", "default": false },
        ])
    );
    let ask = |header: &'static str| {
        let app = &app;
        async move {
            send(app, "/graphql", Some(header), &query_body("{ __typename }"))
                .await
                .header("content-language")
                .map(str::to_owned)
        }
    };
    assert_eq!(ask("de-DE").await.as_deref(), Some("en-IN"));
    let created = app
        .ok_as(
            &staff,
            r#"mutation { createLocale(code: "de-DE", name: "Deutsch") { code name default } }"#,
            json!({}),
        )
        .await;
    assert_eq!(created["createLocale"]["default"], false);
    assert_eq!(
        ask("de-DE").await.as_deref(),
        Some("de-DE"),
        "negotiated at once"
    );
    let listed = app.data(locales, json!({})).await;
    assert_eq!(
        listed["locales"].as_array().unwrap().len(),
        4,
        "the list is fresh"
    );
    // German search uses PostgreSQL's german dictionary.
    let mut conn = app.app.db.get().await.unwrap();
    #[derive(diesel::QueryableByName)]
    struct Dict {
        #[diesel(sql_type = Text)]
        dictionary: String,
    }
    let dict: Dict = diesel::sql_query(
        "SELECT dictionary::text AS dictionary FROM locales WHERE code = 'de-DE'",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(dict.dictionary, "german");
    drop(conn);
    // The default moves; a request that asks for nothing follows it.
    app.ok_as(
        &staff,
        r#"mutation { setDefaultLocale(code: "de-DE") { code } }"#,
        json!({}),
    )
    .await;
    assert_eq!(ask("ja").await.as_deref(), Some("de-DE"));
    app.ok_as(
        &staff,
        r#"mutation { setDefaultLocale(code: "en-IN") { code } }"#,
        json!({}),
    )
    .await;
    app.ok_as(
        &staff,
        r#"mutation { updateLocale(code: "de-DE", name: "Deutsch (Deutschland)") { name } }"#,
        json!({}),
    )
    .await;
    let deleted = app
        .ok_as(
            &staff,
            r#"mutation { deleteLocale(code: "de-DE") }"#,
            json!({}),
        )
        .await;
    assert_eq!(deleted["deleteLocale"], "de-DE");
    assert_eq!(ask("de-DE").await.as_deref(), Some("en-IN"));
    // Strangers and staff without the catalog permission cannot.
    let body = app
        .post_as(
            None,
            r#"mutation { createLocale(code: "it-IT", name: "Italiano") { code } }"#,
            json!({}),
        )
        .await;
    assert_eq!(crate::support::code(&body), "UNAUTHENTICATED");
}

async fn staff_error(app: &TestApp, staff: &str, query: &str, vars: Value) -> (String, String) {
    let body = app.post_as(Some(staff), query, vars).await;
    assert!(
        body["data"].is_null() || body["errors"].is_array(),
        "{body}"
    );
    let error = &body["errors"][0];
    (
        error["extensions"]["code"]
            .as_str()
            .unwrap_or("<none>")
            .to_owned(),
        error["message"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_locale_input_is_refused_with_clear_errors_and_changes_nothing() {
    let app = TestApp::new().await;
    let staff = staff_token(&app, Role::Catalog).await;
    let product = gid("Product", 2);
    // Requests: an unknown locale named by the directive or the argument, a bad header.
    for (uri, header, body) in [
        (
            "/graphql",
            None,
            query_body(r#"query @inContext(language: "xx-YY") { __typename }"#),
        ),
        (
            "/graphql",
            None,
            query_body(r#"query @inContext(language: 7) { __typename }"#),
        ),
        ("/graphql?locale=de-DE", None, query_body("{ __typename }")),
        ("/graphql", Some("fr;q=2"), query_body("{ __typename }")),
        ("/graphql", Some("hi_IN"), query_body("{ __typename }")),
    ] {
        let response = send(&app, uri, header, &body).await;
        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "{uri} {header:?} {body}"
        );
        let json = response.raw_json();
        assert_eq!(
            json["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{json}"
        );
    }
    let long = vec!["fr"; 40].join(", ");
    let response = send(&app, "/graphql", Some(&long), &query_body("{ __typename }")).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    let huge = format!("fr-{}", "a".repeat(2000));
    let response = send(&app, "/graphql", Some(&huge), &query_body("{ __typename }")).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    // Writes.
    let upsert = r#"mutation($id: ID!, $locale: String!, $fields: TranslationFieldsInput!) {
        upsertTranslation(entityId: $id, locale: $locale, fields: $fields) { title } }"#;
    for (id, locale, fields, code) in [
        (
            product.clone(),
            "hi-IN",
            json!({ "name": "x" }),
            "BAD_USER_INPUT",
        ),
        (
            product.clone(),
            "hi-IN",
            json!({ "ctaText": "x" }),
            "BAD_USER_INPUT",
        ),
        (product.clone(), "hi-IN", json!({}), "BAD_USER_INPUT"),
        (
            product.clone(),
            "hi-IN",
            json!({ "title": "   " }),
            "BAD_USER_INPUT",
        ),
        (
            product.clone(),
            "xx-YY",
            json!({ "title": "x" }),
            "BAD_USER_INPUT",
        ),
        (
            product.clone(),
            "en-IN",
            json!({ "title": "x" }),
            "BAD_USER_INPUT",
        ),
        (
            gid("Region", 1),
            "hi-IN",
            json!({ "title": "x" }),
            "BAD_USER_INPUT",
        ),
        (
            gid("Product", 999_999),
            "hi-IN",
            json!({ "title": "x" }),
            "NOT_FOUND",
        ),
        (
            gid("ProductOption", 1),
            "hi-IN",
            json!({ "values": [{ "value": "Purple", "translation": "x" }] }),
            "BAD_USER_INPUT",
        ),
        (
            "garbage".to_owned(),
            "hi-IN",
            json!({ "title": "x" }),
            "BAD_USER_INPUT",
        ),
    ] {
        let (got, message) = staff_error(
            &app,
            &staff,
            upsert,
            json!({ "id": id, "locale": locale, "fields": fields }),
        )
        .await;
        assert_eq!(got, code, "{id} {locale} {fields}: {message}");
        assert!(
            !message.contains("SQL") && !message.contains("diesel"),
            "{message}"
        );
    }
    // A bulk import with one bad entry writes nothing.
    let (code, _) = staff_error(
        &app,
        &staff,
        r#"mutation($input: [TranslationInput!]!) { upsertTranslations(input: $input) { locale } }"#,
        json!({ "input": [
            { "entityId": product, "locale": "fr-FR", "fields": { "title": "Écrit ?" } },
            { "entityId": product, "locale": "fr-FR", "fields": { "name": "non" } },
        ] }),
    )
    .await;
    assert_eq!(code, "BAD_USER_INPUT");
    let (code, _) = staff_error(
        &app,
        &staff,
        r#"mutation($input: [TranslationInput!]!) { upsertTranslations(input: $input) { locale } }"#,
        json!({ "input": [
            { "entityId": product, "locale": "fr-FR", "fields": { "title": "Écrit ?" } },
            { "entityId": gid("Category", 999_999), "locale": "fr-FR", "fields": { "name": "non" } },
        ] }),
    )
    .await;
    assert_eq!(code, "NOT_FOUND");
    let fr = stored(&app, "fr-FR").await;
    assert!(
        fr.iter().all(|r| r.tr_title.as_deref() != Some("Écrit ?")),
        "nothing was written"
    );
    // Locales.
    for (query, code) in [
        (
            r#"mutation { createLocale(code: "english", name: "x") { code } }"#,
            "BAD_USER_INPUT",
        ),
        (
            r#"mutation { createLocale(code: "en-in", name: "x") { code } }"#,
            "BAD_USER_INPUT",
        ),
        (
            r#"mutation { createLocale(code: "hi-IN", name: "again") { code } }"#,
            "CONFLICT",
        ),
        (
            r#"mutation { createLocale(code: "it-IT", name: "") { code } }"#,
            "BAD_USER_INPUT",
        ),
        (r#"mutation { deleteLocale(code: "hi-IN") }"#, "CONFLICT"),
        (r#"mutation { deleteLocale(code: "en-IN") }"#, "CONFLICT"),
        (r#"mutation { deleteLocale(code: "xx-YY") }"#, "NOT_FOUND"),
        (
            r#"mutation { setDefaultLocale(code: "hi-IN") { code } }"#,
            "CONFLICT",
        ),
        (
            r#"mutation { updateLocale(code: "xx-YY", name: "x") { code } }"#,
            "NOT_FOUND",
        ),
    ] {
        let (got, message) = staff_error(&app, &staff, query, json!({})).await;
        assert_eq!(got, code, "{query}: {message}");
    }
    let listed = app.data("{ locales { code default } }", json!({})).await;
    assert_eq!(
        listed["locales"],
        json!([
            { "code": "en-IN", "default": true },
            { "code": "fr-FR", "default": false },
            { "code": "hi-IN", "default": false },
        ])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn catalog_writes_refresh_every_locale_and_translation_writes_only_their_own() {
    let app = TestApp::with_cache(CacheMode::Redis).await;
    let staff = staff_token(&app, Role::Owner).await;
    let page = |locale: &str| {
        format!(
            r#"query @inContext(language: "{locale}") {{ product(handle: "product-000001") {{
                subtitle options {{ title values }} }} heroBanners {{ title }} }}"#
        )
    };
    let read_all = async || {
        let mut out = Vec::new();
        for locale in ["en-IN", "hi-IN", "fr-FR"] {
            out.push(app.data(&page(locale), json!({})).await);
        }
        out
    };
    read_all().await;
    // A write to the catalog's own fields is seen in every language at once.
    app.ok_as(
        &staff,
        r#"mutation($id: ID!) { updateProduct(id: $id, input: { subtitle: "Series 42" }) { id } }"#,
        json!({ "id": gid("Product", 1) }),
    )
    .await;
    for page in read_all().await {
        assert_eq!(page["product"]["subtitle"], "Series 42");
    }
    // An option translation refreshes that product's page in its locale only.
    let option_id = gid("ProductOption", 1);
    app.ok_as(
        &staff,
        r#"mutation($id: ID!) { upsertTranslation(entityId: $id, locale: "hi-IN",
            fields: { title: "साइज़", values: [{ value: "S", translation: "छोटा" }] }) { title } }"#,
        json!({ "id": option_id }),
    )
    .await;
    let before = app.statements();
    let fr = app.data(&page("fr-FR"), json!({})).await;
    assert_eq!(app.statements(), before, "fr-FR stayed cached");
    assert_eq!(fr["product"]["options"][0]["title"], "Taille");
    let hi = app.data(&page("hi-IN"), json!({})).await;
    assert_eq!(hi["product"]["options"][0]["title"], "साइज़");
    assert_eq!(
        hi["product"]["options"][0]["values"],
        json!(["छोटा", "M", "L", "XL"])
    );
    // Values merge one by one: a second value keeps the first.
    app.ok_as(
        &staff,
        r#"mutation($id: ID!) { upsertTranslation(entityId: $id, locale: "hi-IN",
            fields: { values: [{ value: "M", translation: "मध्यम" }] }) { values { value translation } } }"#,
        json!({ "id": option_id }),
    )
    .await;
    let hi = app.data(&page("hi-IN"), json!({})).await;
    assert_eq!(
        hi["product"]["options"][0]["values"],
        json!(["छोटा", "मध्यम", "L", "XL"])
    );
    // A banner translation refreshes the banners in its locale.
    let banner = app
        .data(
            r#"query @inContext(language: "fr-FR") { heroBanners { id title } }"#,
            json!({}),
        )
        .await;
    let second = banner["heroBanners"][1]["id"].as_str().unwrap().to_owned();
    app.ok_as(
        &staff,
        r#"mutation($id: ID!) { upsertTranslation(entityId: $id, locale: "fr-FR",
            fields: { title: "Nouveautés" }) { title } }"#,
        json!({ "id": second }),
    )
    .await;
    let fr = app.data(&page("fr-FR"), json!({})).await;
    assert_eq!(fr["heroBanners"][1]["title"], "Nouveautés");
    let en = app.data(&page("en-IN"), json!({})).await;
    assert_eq!(en["heroBanners"][1]["title"], "New Arrivals");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_locale_whose_translations_are_removed_or_whose_entities_are_deleted_can_go() {
    let app = TestApp::new().await;
    let staff = staff_token(&app, Role::Owner).await;
    app.ok_as(
        &staff,
        r#"mutation { createLocale(code: "it-IT", name: "Italiano") { code } }"#,
        json!({}),
    )
    .await;
    // A translation set, then all its fields removed: nothing is left behind.
    let product = gid("Product", 1);
    app.ok_as(
        &staff,
        r#"mutation($id: ID!) { upsertTranslation(entityId: $id, locale: "it-IT",
            fields: { title: "Borsa", subtitle: "Serie" }) { title } }"#,
        json!({ "id": product }),
    )
    .await;
    let (code, _) = staff_error(
        &app,
        &staff,
        r#"mutation { deleteLocale(code: "it-IT") }"#,
        json!({}),
    )
    .await;
    assert_eq!(code, "CONFLICT");
    let emptied = app
        .ok_as(
            &staff,
            r#"mutation($id: ID!) { upsertTranslation(entityId: $id, locale: "it-IT",
                fields: { title: null, subtitle: null }) { title subtitle } }"#,
            json!({ "id": product }),
        )
        .await;
    assert_eq!(
        emptied["upsertTranslation"],
        json!({ "title": null, "subtitle": null })
    );
    // A translated category, then deleted: its translation goes with it.
    let created = app
        .ok_as(
            &staff,
            r#"mutation { createCategory(handle: "stagioni", name: "Seasons") { id } }"#,
            json!({}),
        )
        .await;
    let category = created["createCategory"]["id"].as_str().unwrap().to_owned();
    app.ok_as(
        &staff,
        r#"mutation($id: ID!) { upsertTranslation(entityId: $id, locale: "it-IT", fields: { name: "Stagioni" }) { name } }"#,
        json!({ "id": category }),
    )
    .await;
    app.ok_as(
        &staff,
        r#"mutation($id: ID!) { deleteCategory(id: $id) }"#,
        json!({ "id": category }),
    )
    .await;
    let deleted = app
        .ok_as(
            &staff,
            r#"mutation { deleteLocale(code: "it-IT") }"#,
            json!({}),
        )
        .await;
    assert_eq!(deleted["deleteLocale"], "it-IT");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_title_cursor_is_only_valid_in_its_language() {
    let app = TestApp::with_cache(CacheMode::Disabled).await;
    let page = |locale: &str| {
        format!(
            r#"query P($after: String) @inContext(language: "{locale}") {{
                products(first: 3, after: $after, sort: {{ field: TITLE }}) {{ pageInfo {{ endCursor }} }} }}"#
        )
    };
    let hi = app.data(&page("hi-IN"), json!({})).await;
    let cursor = hi["products"]["pageInfo"]["endCursor"].clone();
    app.data(&page("hi-IN"), json!({ "after": cursor })).await;
    for other in ["en-IN", "fr-FR"] {
        let (code, message) = app.error(&page(other), json!({ "after": cursor })).await;
        assert_eq!(code, "BAD_USER_INPUT", "{other}: {message}");
        assert!(message.contains("language"), "{message}");
    }
    // Creation-time cursors do not depend on the language.
    let created = r#"query P($after: String, $l: String!) @inContext(language: $l) {
        products(first: 3, after: $after) { pageInfo { endCursor } } }"#;
    let first = app.data(created, json!({ "l": "hi-IN" })).await;
    let cursor = &first["products"]["pageInfo"]["endCursor"];
    app.data(created, json!({ "l": "fr-FR", "after": cursor }))
        .await;
}

/// Every read that loads translations, by each way it is reached (by id, by handle, children,
/// pages), answers in the shopper's language and in the default one: in the default locale the
/// statements leave the translations join out (`load_translated!`), in another they join it.
#[tokio::test(flavor = "multi_thread")]
async fn every_translated_read_answers_in_the_locale_and_in_the_default() {
    let app = TestApp::new().await;
    let (product, variant) = (gid("Product", 2), {
        let data = app
            .data(
                r#"query($id: ID!) { product(id: $id) { variants { id } } }"#,
                json!({ "id": gid("Product", 2) }),
            )
            .await;
        data["product"]["variants"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    });
    let query = r#"query Reads($product: ID!, $variant: ID!) {
      byHandle: category(handle: "electronics") { name children { name } }
      collections(first: 20) { edges { node { handle title } } }
      product(id: $product) { title }
      node(id: $variant) { ... on ProductVariant { title } }
    }"#;
    let vars = json!({ "product": product, "variant": variant });
    let en = app.data(query, vars.clone()).await;
    let hi = app.data(&in_context(query, "hi-IN"), vars).await;

    assert_eq!(en["byHandle"]["name"], "Electronics");
    assert_eq!(hi["byHandle"]["name"], "इलेक्ट्रॉनिक्स");
    // Children have no Hindi names: each falls back to the default's.
    let children = &en["byHandle"]["children"];
    assert!(!children.as_array().unwrap().is_empty());
    assert_eq!(hi["byHandle"]["children"], *children);

    let title_of = |data: &Value, handle: &str| {
        data["collections"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["node"]["handle"] == handle)
            .map(|e| e["node"]["title"].clone())
    };
    assert_eq!(title_of(&en, "festive-edit"), Some(json!("Festive Edit")));
    assert_eq!(title_of(&hi, "festive-edit"), Some(json!("त्योहार विशेष")));

    // Product 2 has a Hindi title in the seed; its variants have no translations.
    let rows = stored(&app, "hi-IN").await;
    let row = rows.iter().find(|r| r.handle == "product-000002").unwrap();
    assert_eq!(en["product"]["title"], row.title.as_str());
    assert_eq!(hi["product"]["title"], row.tr_title.as_deref().unwrap());
    assert_ne!(en["product"]["title"], hi["product"]["title"]);
    assert!(en["node"]["title"].is_string());
    assert_eq!(hi["node"]["title"], en["node"]["title"]);
}
