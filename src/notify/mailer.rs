//! `Mailer`: builds MIME messages with lettre and sends them over pooled SMTP, or writes them
//! as `.eml` files into a directory (development).

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::settings::{MailDelivery, MailerSettings, SmtpEncryption, SmtpPassword};

/// One email, ready to build.
pub struct Email {
    /// The outbox id; it makes the Message-ID, so that every retry carries the same one.
    pub id: String,
    /// The recipient's name for the To header.
    pub to_name: String,
    /// The recipient's address.
    pub to_address: String,
    /// The Subject header.
    pub subject: String,
    /// The plain text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

/// Why a message could not be sent, and whether trying again can help.
#[derive(Debug)]
pub struct SendError {
    /// What went wrong, for the outbox's last error.
    pub message: String,
    /// Whether retrying cannot help (the message is then dead).
    pub permanent: bool,
}

/// Sends one email; the outbox worker delivers through it. `Mailer` is passlink's.
#[async_trait]
pub trait MailTransport: Send + Sync + 'static {
    /// Sends one email, or says why not and whether trying again can help.
    async fn send(&self, email: Email) -> Result<(), SendError>;
}

/// Where messages go.
pub enum Mailer {
    /// An SMTP server through a pooled connection.
    Smtp {
        /// The pooled SMTP transport.
        transport: AsyncSmtpTransport<Tokio1Executor>,
        /// The From mailbox.
        from: Mailbox,
    },
    /// `<id>.eml` files in a directory.
    Directory {
        /// The directory the files are written to.
        directory: PathBuf,
        /// The From mailbox.
        from: Mailbox,
    },
}

impl Mailer {
    /// The mailer the settings describe. Reads the SMTP password file, or creates the mail
    /// directory (private to its owner) when missing.
    pub fn new(settings: &MailerSettings) -> Result<Mailer, String> {
        let from = settings.from.clone();
        let smtp = match &settings.delivery {
            MailDelivery::Smtp(smtp) => smtp,
            MailDelivery::Directory(directory) => {
                crate::private_files::create_private_dir(directory, "mail.dir")?;
                return Ok(Mailer::Directory {
                    directory: directory.clone(),
                    from,
                });
            }
        };
        let host = &smtp.host;
        let builder = match smtp.encryption {
            SmtpEncryption::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            SmtpEncryption::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .map_err(|error| format!("smtp.host {host:?}: {error}"))?,
            SmtpEncryption::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                .map_err(|error| format!("smtp.host {host:?}: {error}"))?,
        };
        let mut builder = builder
            .port(smtp.port)
            .timeout(Some(smtp.timeout))
            .pool_config(PoolConfig::new().max_size(smtp.max_connections));
        if let Some(authentication) = &smtp.authentication {
            let password = match &authentication.password {
                Some(SmtpPassword::Value(password)) => password.clone(),
                Some(SmtpPassword::File(path)) => std::fs::read_to_string(path)
                    .map_err(|error| {
                        format!("cannot read smtp.password_file {}: {error}", path.display())
                    })?
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
                None => String::new(),
            };
            builder =
                builder.credentials(Credentials::new(authentication.username.clone(), password));
        }
        Ok(Mailer::Smtp {
            transport: builder.build(),
            from,
        })
    }

    fn from(&self) -> &Mailbox {
        match self {
            Mailer::Smtp { from, .. } | Mailer::Directory { from, .. } => from,
        }
    }

    /// Builds the multipart (text + HTML) message. Any failure, a panic inside lettre
    /// included, is permanent: the same message would fail the same way again.
    fn build(&self, email: Email) -> Result<Message, SendError> {
        let permanent = |message: String| SendError {
            message,
            permanent: true,
        };
        let from = self.from().clone();
        let address = email
            .to_address
            .parse()
            .map_err(|error| permanent(format!("invalid recipient address: {error}")))?;
        let to = Mailbox::new(
            header_display_name(&email.to_name).map_err(permanent)?,
            address,
        );
        let built = std::panic::catch_unwind(AssertUnwindSafe(|| {
            Message::builder()
                .message_id(Some(format!("<{}@{}>", email.id, from.email.domain())))
                .from(from)
                .to(to)
                .subject(email.subject)
                .multipart(MultiPart::alternative_plain_html(email.text, email.html))
        }));
        match built {
            Ok(Ok(message)) => Ok(message),
            Ok(Err(error)) => Err(permanent(format!("cannot build the message: {error}"))),
            Err(panic) => Err(permanent(format!(
                "cannot build the message: {}",
                panic_text(panic.as_ref())
            ))),
        }
    }
}

#[async_trait]
impl MailTransport for Mailer {
    async fn send(&self, email: Email) -> Result<(), SendError> {
        let id = email.id.clone();
        let message = self.build(email)?;
        match self {
            Mailer::Smtp { transport, .. } => {
                transport.send(message).await.map_err(|error| SendError {
                    permanent: error.is_permanent(),
                    message: format!("SMTP: {error}"),
                })?;
                Ok(())
            }
            Mailer::Directory { directory, .. } => {
                let temporary = directory.join(format!(".{id}.eml.tmp"));
                let path = directory.join(format!("{id}.eml"));
                // Only the owner may read it: the message carries a live code.
                let write = async {
                    use tokio::io::AsyncWriteExt;
                    let mut file = tokio::fs::OpenOptions::new()
                        .write(true)
                        .create(true)
                        .truncate(true)
                        .mode(0o600)
                        .open(&temporary)
                        .await?;
                    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
                        .await?;
                    file.write_all(&message.formatted()).await?;
                    file.flush().await?;
                    drop(file);
                    tokio::fs::rename(&temporary, &path).await
                };
                write.await.map_err(|error| SendError {
                    message: format!("cannot write {}: {error}", path.display()),
                    permanent: false,
                })
            }
        }
    }
}

/// The recipient's name for the `To` header; `None` when it is blank, for the bare address. A
/// name holding control characters (older rows may: the API refuses them now) cannot be
/// written into a header safely, and passlink does not guess what the name should have been:
/// the message is refused, so it ends dead with this reason until the name is fixed and the
/// message retried (`passlink outbox retry`).
fn header_display_name(name: &str) -> Result<Option<String>, String> {
    if name.chars().any(char::is_control) {
        return Err(format!(
            "the recipient's name {name:?} holds control characters; correct the user's name, \
             then re-queue the message with `passlink outbox retry`"
        ));
    }
    let name = name.trim();
    Ok((!name.is_empty()).then(|| name.to_owned()))
}

/// The message of a caught panic.
pub(super) fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_with_control_characters_is_refused_never_written_into_the_header() {
        assert!(header_display_name("Eve\r\nBcc: victim@example.com").is_err());
        assert!(header_display_name("Eve\u{0}").is_err());
        assert_eq!(
            header_display_name("  Ada Lovelace ").unwrap().as_deref(),
            Some("Ada Lovelace")
        );
        assert_eq!(header_display_name("  ").unwrap(), None);
        let mailer = Mailer::Directory {
            directory: PathBuf::from("/nonexistent"),
            from: "passlink <passlink@localhost>".parse().unwrap(),
        };
        let refused = mailer
            .build(Email {
                id: "1".into(),
                to_name: "Eve\nAdams".into(),
                to_address: "eve@example.com".into(),
                subject: "Add Passkey Login".into(),
                text: "text".into(),
                html: "<p>html</p>".into(),
            })
            .expect_err("the message is refused");
        assert!(refused.permanent, "{}", refused.message);
        assert!(
            refused.message.contains("control characters"),
            "{}",
            refused.message
        );
    }
}
