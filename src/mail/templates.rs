//! The messages the shop sends, kept as files beside this module: `<name>.txt` (first line
//! `Subject: …`, then the plain-text body) and `<name>.html`. `{{var}}` is replaced by a value
//! (HTML-escaped in the HTML part); `{{shop}}` is the shop's name.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A message template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    /// "Confirm your email" with a verification link (`first_name`, `link`, `expires_in`).
    VerifyEmail,
    /// Someone tried to register with an address that has an account (`first_name`, `link`
    /// to reset the password).
    AccountExists,
    /// "Reset your password" with a link (`first_name`, `link`, `expires_in`).
    ResetPassword,
    /// The password was changed (`first_name`).
    PasswordChanged,
    /// An order was placed (`order_number`, `total`, `link`).
    OrderConfirmation,
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

impl Template {
    fn sources(self) -> (&'static str, &'static str) {
        match self {
            Self::VerifyEmail => (
                include_str!("templates/verify_email.txt"),
                include_str!("templates/verify_email.html"),
            ),
            Self::AccountExists => (
                include_str!("templates/account_exists.txt"),
                include_str!("templates/account_exists.html"),
            ),
            Self::ResetPassword => (
                include_str!("templates/reset_password.txt"),
                include_str!("templates/reset_password.html"),
            ),
            Self::PasswordChanged => (
                include_str!("templates/password_changed.txt"),
                include_str!("templates/password_changed.html"),
            ),
            Self::OrderConfirmation => (
                include_str!("templates/order_confirmation.txt"),
                include_str!("templates/order_confirmation.html"),
            ),
        }
    }

    /// The message with `vars` filled in.
    pub fn render(self, shop: &str, vars: &BTreeMap<String, String>) -> Rendered {
        let (text, html) = self.sources();
        let (subject, body) = text.split_once('\n').unwrap_or((text, ""));
        let subject = subject.strip_prefix("Subject: ").unwrap_or(subject);
        let fill = |source: &str, escape: fn(&str) -> String| {
            let mut out = source.replace("{{shop}}", &escape(shop));
            for (name, value) in vars {
                out = out.replace(&format!("{{{{{name}}}}}"), &escape(value));
            }
            out
        };
        Rendered {
            // Header values: no line breaks, whatever a value holds.
            subject: fill(subject, |v| v.replace(['\r', '\n'], " ")),
            text: fill(body.trim_start_matches('\n'), str::to_owned),
            html: fill(html, escape_html),
        }
    }
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_renders_its_values_and_escapes_html() {
        let vars: BTreeMap<String, String> = [
            ("first_name".to_owned(), "<Asha>".to_owned()),
            ("link".to_owned(), "https://shop.test/x?a=1&b=2".to_owned()),
            ("expires_in".to_owned(), "1 hour".to_owned()),
            ("order_number".to_owned(), "#1001".to_owned()),
            ("total".to_owned(), "2416.64 INR".to_owned()),
        ]
        .into();
        for t in [
            Template::VerifyEmail,
            Template::AccountExists,
            Template::ResetPassword,
            Template::PasswordChanged,
        ] {
            let r = t.render("Techpotli", &vars);
            assert!(!r.subject.is_empty() && !r.subject.contains("{{"), "{t:?}");
            assert!(!r.text.contains("{{") && !r.html.contains("{{"), "{t:?}");
            assert!(
                r.text.contains("<Asha>") && r.html.contains("&lt;Asha&gt;"),
                "{t:?}"
            );
            assert!(!r.html.contains("<Asha>"), "{t:?}");
        }
        let r = Template::VerifyEmail.render("Techpotli", &vars);
        assert!(r.text.contains("https://shop.test/x?a=1&b=2"));
        assert!(r.html.contains("https://shop.test/x?a=1&amp;b=2"));
    }
}
