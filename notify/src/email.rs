//! E-mail: the SMTP relay's settings, messages with attachments (built once, stored in the
//! delivery log, sent as they are on every try), and the async sender.
//!
//! Encryption is chosen explicitly (design.md §6): `none` (plain SMTP, for a relay on
//! localhost), `starttls` (plain connection upgraded, refused if the server does not offer
//! it) or `tls` (implicit TLS from the first byte, "SMTPS", as gofaxserver's `tls`). Credentials
//! go with every mode; the operator who picks `none` with a password on a remote relay has
//! been told by the name of the setting.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment as LettreAttachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::error::{Error, Result};

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encryption {
    /// Plain SMTP.
    None,
    /// Plain connection upgraded with STARTTLS, which the server must offer.
    StartTls,
    /// TLS from the first byte (port 465 style).
    Tls,
}

impl Encryption {
    /// Reads `none`, `starttls` or `tls` (gofaxserver's `ssl` means `tls`), any case.
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" | "" => Ok(Encryption::None),
            "starttls" => Ok(Encryption::StartTls),
            "tls" | "ssl" => Ok(Encryption::Tls),
            other => Err(Error::config(
                "smtp encryption",
                format!("{other:?}: use none, starttls or tls"),
            )),
        }
    }
}

/// The SMTP relay and the sender's identity.
#[derive(Clone)]
pub struct SmtpConfig {
    /// Relay host name (also the name its certificate must carry).
    pub host: String,
    /// Relay port.
    pub port: u16,
    /// How the connection is protected.
    pub encryption: Encryption,
    /// User name; no authentication when empty.
    pub username: String,
    /// Password.
    pub password: String,
    /// Envelope sender and `From` address.
    pub from_address: String,
    /// Display name in `From`.
    pub from_name: String,
    /// Extra trusted CA certificate (PEM), for a relay with a private CA.
    pub extra_root_pem: Option<Vec<u8>>,
    /// Limit on one SMTP conversation.
    pub timeout: Duration,
}

impl std::fmt::Debug for SmtpConfig {
    // The password must never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("encryption", &self.encryption)
            .field("username", &self.username)
            .field(
                "password",
                &if self.password.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .field("from_address", &self.from_address)
            .field("from_name", &self.from_name)
            .finish_non_exhaustive()
    }
}

/// A file attached to an e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// File name shown to the reader.
    pub filename: String,
    /// MIME type, e.g. `application/pdf`.
    pub content_type: String,
    /// The bytes.
    pub data: Vec<u8>,
}

/// An e-mail to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// Recipients.
    pub to: Vec<String>,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// Attachments, in order.
    pub attachments: Vec<Attachment>,
}

/// Splits gofaxserver's address lists (`a@x;b@y`, commas too) into addresses.
pub fn split_addresses(list: &str) -> Vec<String> {
    list.split([';', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Builds the whole RFC 5322 message (with `Date` and `Message-ID`, which gofaxserver left
/// out and spam filters penalise).
pub fn build_message(cfg: &SmtpConfig, email: &Email) -> Result<Vec<u8>> {
    let from_addr: Address = cfg
        .from_address
        .parse()
        .map_err(|e| Error::config("smtp from_address", e))?;
    let name = (!cfg.from_name.is_empty()).then(|| cfg.from_name.clone());
    let mut b = Message::builder()
        .from(Mailbox::new(name, from_addr))
        .subject(email.subject.clone())
        // None: a fresh `<uuid@hostname>`.
        .message_id(None);
    if email.to.is_empty() {
        return Err(Error::Email("no recipient".into()));
    }
    for to in &email.to {
        let mb: Mailbox = to
            .parse()
            .map_err(|e| Error::Email(format!("recipient {to:?}: {e}")))?;
        b = b.to(mb);
    }
    let mut mixed = MultiPart::mixed().singlepart(SinglePart::plain(email.text.clone()));
    for a in &email.attachments {
        let ct = ContentType::parse(&a.content_type)
            .map_err(|e| Error::Email(format!("content type {:?}: {e}", a.content_type)))?;
        mixed =
            mixed.singlepart(LettreAttachment::new(a.filename.clone()).body(a.data.clone(), ct));
    }
    let msg = b
        .multipart(mixed)
        .map_err(|e| Error::Email(e.to_string()))?;
    Ok(msg.formatted())
}

/// How one try of an e-mail ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpOutcome {
    /// The relay's reply code, when it answered.
    pub code: Option<u16>,
    /// What went wrong; empty on success.
    pub error: String,
    /// Whether trying again may help (connection trouble, 4xx); false for a 5xx refusal.
    pub retryable: bool,
}

impl SmtpOutcome {
    /// Whether the relay accepted the message.
    pub fn delivered(&self) -> bool {
        self.error.is_empty()
    }
}

/// Sends stored messages through the relay; one connection per message, so that a relay
/// that restarts costs nothing but that message's try.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Address,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// A mailer for `cfg` (checks the addresses and certificate now, connects per message).
    pub fn new(cfg: &SmtpConfig) -> Result<Self> {
        let from: Address = cfg
            .from_address
            .parse()
            .map_err(|e| Error::config("smtp from_address", e))?;
        let tls_params = || -> Result<TlsParameters> {
            let mut b = TlsParameters::builder(cfg.host.clone());
            if let Some(pem) = &cfg.extra_root_pem {
                let cert = Certificate::from_pem(pem).map_err(|e| Error::config("smtp ca", e))?;
                b = b.add_root_certificate(cert);
            }
            b.build().map_err(|e| Error::config("smtp tls", e))
        };
        let tls = match cfg.encryption {
            Encryption::None => Tls::None,
            Encryption::StartTls => Tls::Required(tls_params()?),
            Encryption::Tls => Tls::Wrapper(tls_params()?),
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(cfg.host.clone())
            .port(cfg.port)
            .tls(tls)
            .timeout(Some(cfg.timeout));
        if !cfg.username.is_empty() {
            b = b.credentials(Credentials::new(cfg.username.clone(), cfg.password.clone()));
        }
        Ok(Mailer {
            transport: b.build(),
            from,
        })
    }

    /// Sends a stored message to `recipients` (the `;`-separated delivery target).
    pub async fn send(&self, recipients: &str, message: &[u8]) -> SmtpOutcome {
        let to: std::result::Result<Vec<Address>, _> = split_addresses(recipients)
            .iter()
            .map(|a| a.parse::<Address>())
            .collect();
        let envelope =
            match to.map(|to| lettre::address::Envelope::new(Some(self.from.clone()), to)) {
                Ok(Ok(env)) => env,
                Ok(Err(e)) => return refused(format!("envelope: {e}")),
                Err(e) => return refused(format!("recipient: {e}")),
            };
        match self.transport.send_raw(&envelope, message).await {
            Ok(resp) => SmtpOutcome {
                code: Some(u16::from(resp.code())),
                error: String::new(),
                retryable: false,
            },
            Err(e) => SmtpOutcome {
                code: e.status().map(u16::from),
                // lettre's errors name the server and the reply, never the credentials.
                error: e.to_string(),
                retryable: !e.is_permanent(),
            },
        }
    }
}

fn refused(error: String) -> SmtpOutcome {
    SmtpOutcome {
        code: None,
        error,
        retryable: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> SmtpConfig {
        SmtpConfig {
            host: "smtp.example.invalid".into(),
            port: 25,
            encryption: Encryption::None,
            username: "fax".into(),
            password: "hunter2-secret".into(),
            from_address: "fax@example.invalid".into(),
            from_name: "Fax Server".into(),
            extra_root_pem: None,
            timeout: Duration::from_secs(10),
        }
    }

    #[test]
    fn encryption_is_explicit() {
        assert_eq!(
            Encryption::parse("STARTTLS").expect("ok"),
            Encryption::StartTls
        );
        assert_eq!(Encryption::parse("ssl").expect("ok"), Encryption::Tls);
        assert_eq!(Encryption::parse("none").expect("ok"), Encryption::None);
        assert!(Encryption::parse("maybe").is_err());
    }

    #[test]
    fn password_never_printed() {
        assert!(!format!("{:?}", cfg()).contains("hunter2"));
    }

    #[test]
    fn message_has_parts_date_and_id() {
        let m = build_message(
            &cfg(),
            &Email {
                to: split_addresses("a@example.invalid; b@example.invalid"),
                subject: "Fax Report".into(),
                text: "Please find the attached fax report.".into(),
                attachments: vec![Attachment {
                    filename: "report.pdf".into(),
                    content_type: "application/pdf".into(),
                    data: b"%PDF-1.7".to_vec(),
                }],
            },
        )
        .expect("message");
        let text = String::from_utf8_lossy(&m);
        for needle in [
            "Subject: Fax Report",
            "Date: ",
            "Message-ID: ",
            "To: a@example.invalid, b@example.invalid",
            "From: \"Fax Server\" <fax@example.invalid>",
            "multipart/mixed",
            "filename=\"report.pdf\"",
        ] {
            assert!(text.contains(needle), "{needle} missing in {text}");
        }
        let none = Email {
            to: vec![],
            subject: String::new(),
            text: String::new(),
            attachments: vec![],
        };
        assert!(build_message(&cfg(), &none).is_err());
    }
}
