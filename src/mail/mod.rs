//! Outgoing mail: messages rendered from the templates in `templates/`, sent over SMTP (any
//! provider: Resend, Postmark, SES, Mailgun; STARTTLS or TLS) or, without `SMTP_URL`, written to
//! the log with their links. Mail is only ever sent from a job ([`MailJob`]): a request enqueues
//! it in its transaction, and a worker delivers it with retries.

pub mod job;
pub mod templates;

use std::str::FromStr;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};

pub use templates::Template;

use crate::config::MailConfig;
use crate::jobs::model::NewJob;

/// The job kind whose handler sends mail.
pub const JOB_KIND: &str = "mail";

/// How long one delivery may take before it counts as failed.
const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A message to send: a template and its values (the payload of a mail job).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MailRequest {
    /// Which message.
    pub template: Template,
    /// The recipient's address.
    pub to: String,
    /// Values the template names, e.g. `first_name`, `link`.
    pub vars: std::collections::BTreeMap<String, String>,
}

impl MailRequest {
    /// The job that sends this message, keyed by `key` (one message per key).
    pub fn job(&self, key: String, max_attempts: i32) -> NewJob {
        NewJob {
            kind: JOB_KIND.into(),
            key,
            payload: serde_json::to_value(self).unwrap_or_default(),
            max_attempts,
        }
    }
}

/// Why a message was not sent.
#[derive(Debug)]
pub enum SendError {
    /// The server refused it for good (5xx), or it cannot be built: sending again cannot help.
    Permanent(anyhow::Error),
    /// The server is down, slow or said "later" (4xx): worth retrying.
    Transient(anyhow::Error),
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// `true`: the body (with its links) is logged too — development only.
    Log(bool),
}

/// Sends rendered messages.
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    shop_name: String,
}

impl Mailer {
    /// From `SMTP_URL` and `MAIL_FROM`; fails on an invalid URL or sender. Without `SMTP_URL`,
    /// mail is logged — with its links only when `log_bodies` (development): a production log
    /// must not hold working reset links.
    pub fn from_config(config: &MailConfig, log_bodies: bool) -> anyhow::Result<Self> {
        let from = Mailbox::from_str(&config.from)
            .map_err(|e| anyhow::anyhow!("MAIL_FROM `{}` is not a mailbox: {e}", config.from))?;
        let transport = match &config.smtp_url {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| anyhow::anyhow!("SMTP_URL is invalid: {e}"))?
                    .timeout(Some(SEND_TIMEOUT))
                    .build(),
            ),
            None => Transport::Log(log_bodies),
        };
        Ok(Self {
            transport,
            from,
            shop_name: config.shop_name.clone(),
        })
    }

    /// The sender's domain (for `Message-ID`s).
    pub fn domain(&self) -> &str {
        self.from.email.domain()
    }

    /// Renders and sends `request`; `message_id` names the message so a repeat (a retried job)
    /// carries the same `Message-ID`.
    pub async fn send(&self, request: &MailRequest, message_id: &str) -> Result<(), SendError> {
        let to = Mailbox::from_str(&request.to)
            .map_err(|e| SendError::Permanent(anyhow::anyhow!("bad recipient: {e}")))?;
        let rendered = request.template.render(&self.shop_name, &request.vars);
        match &self.transport {
            Transport::Log(true) => {
                tracing::info!(
                    to = %request.to,
                    subject = %rendered.subject,
                    "mail (no SMTP_URL: logged, not sent)\n{}",
                    rendered.text
                );
                Ok(())
            }
            Transport::Log(false) => {
                tracing::warn!(
                    to = %request.to,
                    subject = %rendered.subject,
                    "mail NOT sent: SMTP_URL is not set"
                );
                Ok(())
            }
            Transport::Smtp(smtp) => {
                let message = Message::builder()
                    .from(self.from.clone())
                    .to(to)
                    .subject(rendered.subject)
                    .message_id(Some(message_id.to_owned()))
                    .multipart(MultiPart::alternative_plain_html(
                        rendered.text,
                        rendered.html,
                    ))
                    .map_err(|e| SendError::Permanent(anyhow::anyhow!("building mail: {e}")))?;
                smtp.send(message).await.map(drop).map_err(|e| {
                    let error = anyhow::anyhow!("SMTP: {e}");
                    if e.is_permanent() {
                        SendError::Permanent(error)
                    } else {
                        SendError::Transient(error)
                    }
                })
            }
        }
    }
}
