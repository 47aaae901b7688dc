//! Small builders for the rows a test needs, written through the domains' own model functions
//! (so a fixture can never drift from the schema the way an inline SQL string can).

use chrono::{Duration, Utc};
use techpotli::banners::model::{HeroBanner, NewHeroBanner};

use super::TestApp;

/// A hero banner to insert: `banner("Spring").window(-1, 1).insert(&app)` is live for the
/// hour around now; banners are active, unscheduled and first in order unless told otherwise.
pub fn banner(title: &str) -> BannerFixture {
    BannerFixture(NewHeroBanner {
        title: title.to_owned(),
        subtitle: None,
        image_url: format!("https://cdn.example/{}.jpg", title.to_lowercase()),
        link_url: None,
        cta_text: None,
        is_active: true,
        sort_order: 0,
        starts_at: None,
        ends_at: None,
    })
}

/// See [`banner`].
pub struct BannerFixture(NewHeroBanner);

impl BannerFixture {
    /// Shown from `starts` to `ends` hours from now (either side may be open).
    pub fn window(mut self, starts: impl Into<Option<i64>>, ends: impl Into<Option<i64>>) -> Self {
        self.0.starts_at = starts.into().map(|h| Utc::now() + Duration::hours(h));
        self.0.ends_at = ends.into().map(|h| Utc::now() + Duration::hours(h));
        self
    }

    /// Display position (ascending).
    pub fn order(mut self, sort_order: i32) -> Self {
        self.0.sort_order = sort_order;
        self
    }

    /// Switched off by staff.
    pub fn inactive(mut self) -> Self {
        self.0.is_active = false;
        self
    }

    /// Inserts the banner.
    pub async fn insert(self, app: &TestApp) -> HeroBanner {
        HeroBanner::insert(&mut app.db.conn().await, &self.0)
            .await
            .expect("insert banner")
    }
}
