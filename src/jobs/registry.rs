//! The handler of every job kind the application enqueues. It sits on top of the domains'
//! handlers, and only the binary and tests import it (a handler imports the queue, never the
//! reverse).

use super::worker::Handlers;

impl Handlers {
    /// Every handler of the application.
    pub fn standard() -> Self {
        Self::default()
            .with(crate::mail::JOB_KIND, crate::mail::job::MailJob)
            .with(
                crate::customers::service::EMAIL_REQUEST_KIND,
                crate::customers::jobs::EmailRequestJob,
            )
            .with(crate::cdn::queue::JOB_KIND, crate::cdn::job::PurgeJob)
            .with(
                crate::payments::webhooks::JOB_KIND,
                crate::payments::jobs::RazorpayWebhookJob,
            )
    }
}
