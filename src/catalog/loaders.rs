//! DataLoader batches for every catalog relation reachable from a list, so the SQL statement
//! count of a query depends on its shape and never on its page size. Each `load` is one query.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;

use async_graphql::Context;

use super::categories::model::Category;
use super::collections::model::Collection;
use super::products::listing::{ListedProduct, Partition, ProductQuery};
use super::products::model::{OptionValue, Product, ProductImage, ProductOption};
use super::regions::model::Region;
use super::variants::model::{Price, Variant};
use crate::db::DbPool;
use crate::db::pagination::PageRequest;
use crate::error::{AppError, AppResult};
use crate::graphql::batch::{BatchLoader, Dispatcher};
use crate::graphql::context::request_data;
use crate::locales::fields::{Localized, Translation};
use crate::locales::negotiate::RequestLocale;
use diesel_async::AsyncPgConnection;

/// The request's catalog loaders (attached per request by the schema).
pub fn loaders<'a>(ctx: &Context<'a>) -> AppResult<&'a CatalogLoaders> {
    request_data::<CatalogLoaders>(ctx)
}

/// Loader error: async-graphql needs `Clone`.
pub type LoadError = Arc<AppError>;

fn fail(e: impl Into<AppError>) -> LoadError {
    Arc::new(e.into())
}

fn group<K: std::hash::Hash + Eq, V>(rows: impl IntoIterator<Item = (K, V)>) -> HashMap<K, Vec<V>> {
    let mut map: HashMap<K, Vec<V>> = HashMap::new();
    for (k, v) in rows {
        map.entry(k).or_default().push(v);
    }
    map
}

macro_rules! loader {
    ($(#[$doc:meta])* $name:ident, $key:ty => $value:ty, |$conn:ident, $keys:ident, $locale:ident| $body:expr) => {
        $(#[$doc])*
        pub struct $name(pub DbPool, pub Arc<str>);

        impl Loader<$key> for $name {
            type Value = $value;
            type Error = LoadError;

            async fn load(&self, $keys: &[$key]) -> Result<HashMap<$key, $value>, LoadError> {
                // A read: a connection that breaks under it is replaced once (`db::read`).
                let keys: Arc<[$key]> = $keys.into();
                let locale = self.1.clone();
                crate::db::read(&self.0, move |conn| {
                    let keys = keys.clone();
                    let locale = locale.clone();
                    Box::pin(async move {
                        let $keys: &[$key] = &keys;
                        #[allow(unused_variables)]
                        let $locale: &str = &locale;
                        let $conn = conn;
                        $body
                    })
                })
                .await
            }
        }
    };
}

loader!(
    /// Store-visible products by id.
    ProductByIdLoader, i64 => Localized<Product>, |conn, keys, locale| {
        let rows = Product::visible_by_ids(conn, keys, locale).await.map_err(fail)?;
        Ok(rows.into_iter().map(|p| (p.row.id, p)).collect())
    }
);

loader!(
    /// Live variants of store-visible products by variant id.
    VariantByIdLoader, i64 => Localized<Variant>, |conn, keys, locale| {
        let rows = Variant::visible_by_ids(conn, keys, locale).await.map_err(fail)?;
        Ok(rows.into_iter().map(|v| (v.row.id, v)).collect())
    }
);

loader!(
    /// Live variants per product, by rank.
    VariantsByProductIdLoader, i64 => Vec<Localized<Variant>>, |conn, keys, locale| {
        let rows = Variant::of_products(conn, keys, locale).await.map_err(fail)?;
        Ok(group(rows.into_iter().map(|v| (v.row.product_id, v))))
    }
);

loader!(
    /// Prices per variant, every currency.
    PricesByVariantIdLoader, i64 => Vec<Price>, |conn, keys, locale| {
        let rows = Price::of_variants(conn, keys).await.map_err(fail)?;
        Ok(group(rows.into_iter().map(|p| (p.variant_id, p))))
    }
);

loader!(
    /// Images per product, by rank.
    ImagesByProductIdLoader, i64 => Vec<ProductImage>, |conn, keys, locale| {
        let rows = ProductImage::of_products(conn, keys).await.map_err(fail)?;
        Ok(group(rows.into_iter().map(|i| (i.product_id, i))))
    }
);

loader!(
    /// Options per product, each with its values.
    OptionsByProductIdLoader, i64 => Vec<LocalizedOption>, |conn, keys, locale| {
        let rows = ProductOption::of_products(conn, keys, locale).await.map_err(fail)?;
        let mut map: HashMap<i64, Vec<LocalizedOption>> = HashMap::new();
        for (option, value, fields) in rows {
            let list = map.entry(option.product_id).or_default();
            if list.last().is_none_or(|o| o.option.id != option.id) {
                list.push(LocalizedOption {
                    option,
                    values: Vec::new(),
                    translation: Translation::from_column(fields),
                });
            }
            if let (Some(value), Some(o)) = (value, list.last_mut()) {
                o.values.push(value);
            }
        }
        Ok(map)
    }
);

loader!(
    /// `(option title, value)` pairs per variant.
    OptionValuesByVariantIdLoader, i64 => Vec<(String, String)>, |conn, keys, locale| {
        let rows = OptionValue::of_variants(conn, keys, locale).await.map_err(fail)?;
        Ok(group(rows.into_iter().map(|(variant, title, value)| (variant, (title, value)))))
    }
);

loader!(
    /// Collections by id.
    CollectionByIdLoader, i64 => Localized<Collection>, |conn, keys, locale| {
        let rows = Collection::by_ids(conn, keys, locale).await.map_err(fail)?;
        Ok(rows.into_iter().map(|c| (c.row.id, c)).collect())
    }
);

loader!(
    /// Active categories by id.
    CategoryByIdLoader, i64 => Localized<Category>, |conn, keys, locale| {
        let rows = Category::by_ids(conn, keys, locale).await.map_err(fail)?;
        Ok(rows.into_iter().map(|c| (c.row.id, c)).collect())
    }
);

loader!(
    /// Active child categories per parent, by rank.
    CategoryChildrenLoader, i64 => Vec<Localized<Category>>, |conn, keys, locale| {
        let rows = Category::children_of(conn, keys, locale).await.map_err(fail)?;
        Ok(group(rows.into_iter().filter_map(|c| c.row.parent_id.map(|p| (p, c)))))
    }
);

loader!(
    /// Active categories per product.
    CategoriesByProductIdLoader, i64 => Vec<Localized<Category>>, |conn, keys, locale| {
        let rows = Category::of_products(conn, keys, locale).await.map_err(fail)?;
        Ok(group(rows))
    }
);

loader!(
    /// Regions by id.
    RegionByIdLoader, i64 => Region, |conn, keys, locale| {
        let rows = Region::by_ids(conn, keys).await.map_err(fail)?;
        Ok(rows.into_iter().map(|r| (r.id, r)).collect())
    }
);

/// One page of products under one parent (collection or category), for nested connections.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProductPageKey {
    /// Which relation the parent id is.
    pub partition: Partition,
    /// The collection or category id.
    pub parent_id: i64,
    /// Filter and sort (the same for every parent of one field, so they batch together).
    pub query: ProductQuery,
    /// The page arguments.
    pub page: PageRequest,
}

/// Pages of products for many parents, one `LATERAL` statement per distinct (query, page).
pub struct ProductPagesLoader(pub DbPool);

/// A product option with its values and its translation in the request's locale.
#[derive(Debug, Clone)]
pub struct LocalizedOption {
    /// The option.
    pub option: ProductOption,
    /// Its values, by rank.
    pub values: Vec<OptionValue>,
    /// Its translated title and values.
    pub translation: Option<Translation>,
}

impl Loader<ProductPageKey> for ProductPagesLoader {
    type Value = Vec<ListedProduct>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[ProductPageKey],
    ) -> Result<HashMap<ProductPageKey, Self::Value>, LoadError> {
        let keys: Arc<[ProductPageKey]> = keys.into();
        crate::db::read(&self.0, move |conn| {
            let keys = keys.clone();
            Box::pin(async move { Self::load_on(conn, &keys).await })
        })
        .await
    }
}

impl ProductPagesLoader {
    async fn load_on(
        conn: &mut AsyncPgConnection,
        keys: &[ProductPageKey],
    ) -> Result<HashMap<ProductPageKey, Vec<ListedProduct>>, LoadError> {
        let groups = group(
            keys.iter()
                .map(|k| ((k.partition, k.query.clone(), k.page.clone()), k.parent_id)),
        );
        let mut out = HashMap::new();
        for ((partition, query, page), parents) in groups {
            let rows = query
                .load_pages(conn, &page, Some((partition, &parents)))
                .await
                .map_err(Arc::new)?;
            let mut by_parent = group(
                rows.into_iter()
                    .filter_map(|r| r.partition_id.map(|p| (p, r))),
            );
            for parent_id in parents {
                let rows = by_parent.remove(&parent_id).unwrap_or_default();
                let key = ProductPageKey {
                    partition,
                    parent_id,
                    query: query.clone(),
                    page: page.clone(),
                };
                out.insert(key, rows);
            }
        }
        Ok(out)
    }
}

/// Capped product counts for many parents, one statement per distinct query.
pub struct ProductCountsLoader(pub DbPool);

/// Key of [`ProductCountsLoader`]: the parent and the listing's filters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProductCountKey {
    /// Which relation the parent id is.
    pub partition: Partition,
    /// The collection or category id.
    pub parent_id: i64,
    /// Filters (sort is irrelevant to a count but harmless in the key).
    pub query: ProductQuery,
}

impl Loader<ProductCountKey> for ProductCountsLoader {
    type Value = i64;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[ProductCountKey],
    ) -> Result<HashMap<ProductCountKey, i64>, LoadError> {
        let keys: Arc<[ProductCountKey]> = keys.into();
        crate::db::read(&self.0, move |conn| {
            let keys = keys.clone();
            Box::pin(async move { Self::load_on(conn, &keys).await })
        })
        .await
    }
}

impl ProductCountsLoader {
    async fn load_on(
        conn: &mut AsyncPgConnection,
        keys: &[ProductCountKey],
    ) -> Result<HashMap<ProductCountKey, i64>, LoadError> {
        let groups = group(
            keys.iter()
                .map(|k| ((k.partition, k.query.clone()), k.parent_id)),
        );
        let mut out = HashMap::new();
        for ((partition, query), parents) in groups {
            let counts = query
                .counts(conn, Some((partition, &parents)))
                .await
                .map_err(Arc::new)?;
            for (parent_id, n) in counts {
                if let Some(parent_id) = parent_id {
                    out.insert(
                        ProductCountKey {
                            partition,
                            parent_id,
                            query: query.clone(),
                        },
                        n,
                    );
                }
            }
        }
        Ok(out)
    }
}

/// Every catalog loader of one request; created per request so nothing leaks between viewers.
#[allow(missing_docs)]
pub struct CatalogLoaders {
    pub product: BatchLoader<ProductByIdLoader, i64>,
    pub variant: BatchLoader<VariantByIdLoader, i64>,
    pub variants: BatchLoader<VariantsByProductIdLoader, i64>,
    pub prices: BatchLoader<PricesByVariantIdLoader, i64>,
    pub images: BatchLoader<ImagesByProductIdLoader, i64>,
    pub options: BatchLoader<OptionsByProductIdLoader, i64>,
    pub variant_options: BatchLoader<OptionValuesByVariantIdLoader, i64>,
    pub collection: BatchLoader<CollectionByIdLoader, i64>,
    pub category: BatchLoader<CategoryByIdLoader, i64>,
    pub category_children: BatchLoader<CategoryChildrenLoader, i64>,
    pub product_categories: BatchLoader<CategoriesByProductIdLoader, i64>,
    pub region: BatchLoader<RegionByIdLoader, i64>,
    pub product_pages: BatchLoader<ProductPagesLoader, ProductPageKey>,
    pub product_counts: BatchLoader<ProductCountsLoader, ProductCountKey>,
}

impl CatalogLoaders {
    /// Fresh loaders over `pool` reading in the request's `locale`, batched by the request's
    /// `dispatcher`.
    pub fn new(pool: &DbPool, dispatcher: &Arc<Dispatcher>, locale: RequestLocale) -> Self {
        let p = || pool.clone();
        let join: Arc<str> = Arc::from(locale.join_code());
        let l = || join.clone();
        Self {
            product: BatchLoader::new(ProductByIdLoader(p(), l()), dispatcher),
            variant: BatchLoader::new(VariantByIdLoader(p(), l()), dispatcher),
            variants: BatchLoader::new(VariantsByProductIdLoader(p(), l()), dispatcher),
            prices: BatchLoader::new(PricesByVariantIdLoader(p(), l()), dispatcher),
            images: BatchLoader::new(ImagesByProductIdLoader(p(), l()), dispatcher),
            options: BatchLoader::new(OptionsByProductIdLoader(p(), l()), dispatcher),
            variant_options: BatchLoader::new(OptionValuesByVariantIdLoader(p(), l()), dispatcher),
            collection: BatchLoader::new(CollectionByIdLoader(p(), l()), dispatcher),
            category: BatchLoader::new(CategoryByIdLoader(p(), l()), dispatcher),
            category_children: BatchLoader::new(CategoryChildrenLoader(p(), l()), dispatcher),
            product_categories: BatchLoader::new(CategoriesByProductIdLoader(p(), l()), dispatcher),
            region: BatchLoader::new(RegionByIdLoader(p(), l()), dispatcher),
            product_pages: BatchLoader::new(ProductPagesLoader(p()), dispatcher),
            product_counts: BatchLoader::new(ProductCountsLoader(p()), dispatcher),
        }
    }
}
