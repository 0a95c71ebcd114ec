//! `Mailer`: builds MIME messages with lettre and sends them over pooled SMTP, or writes them
//! as `.eml` files into a directory (development).

use std::path::PathBuf;

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{Settings, SmtpTls};

/// One email, ready to build.
pub struct Email {
    /// The outbox id; it makes the Message-ID, so that every retry carries the same one.
    pub id: String,
    pub to_name: String,
    pub to_address: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Why a message could not be sent, and whether trying again can help.
#[derive(Debug)]
pub struct SendError {
    pub message: String,
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
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
    /// `<id>.eml` files in a directory.
    Directory { directory: PathBuf, from: Mailbox },
}

impl Mailer {
    /// The mailer the settings ask for: SMTP when `smtp.host` is set, else the `mail.dir`
    /// directory, else none.
    pub fn from_settings(settings: &Settings) -> Result<Option<Mailer>, String> {
        let from: Mailbox = settings
            .mail
            .from
            .parse()
            .map_err(|error| format!("mail.from is invalid: {error}"))?;
        let smtp = &settings.smtp;
        if let Some(host) = &smtp.host {
            let builder = match smtp.tls {
                SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
                SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                    .map_err(|error| format!("smtp.host {host:?}: {error}"))?,
                SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                    .map_err(|error| format!("smtp.host {host:?}: {error}"))?,
            };
            let mut builder = builder
                .port(smtp.port_or_default())
                .timeout(Some(smtp.timeout))
                .pool_config(PoolConfig::new().max_size(smtp.max_connections));
            if let Some(username) = &smtp.username {
                let password = match (&smtp.password, &smtp.password_file) {
                    (Some(password), _) => password.clone(),
                    (None, Some(path)) => std::fs::read_to_string(path)
                        .map_err(|error| {
                            format!("cannot read smtp.password_file {}: {error}", path.display())
                        })?
                        .lines()
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                    (None, None) => String::new(),
                };
                builder = builder.credentials(Credentials::new(username.clone(), password));
            }
            return Ok(Some(Mailer::Smtp {
                transport: builder.build(),
                from,
            }));
        }
        if let Some(directory) = &settings.mail.dir {
            std::fs::create_dir_all(directory).map_err(|error| {
                format!("cannot create mail.dir {}: {error}", directory.display())
            })?;
            return Ok(Some(Mailer::Directory {
                directory: directory.clone(),
                from,
            }));
        }
        Ok(None)
    }

    fn from(&self) -> &Mailbox {
        match self {
            Mailer::Smtp { from, .. } | Mailer::Directory { from, .. } => from,
        }
    }

    /// Builds the multipart (text + HTML) message.
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
        let to_name = (!email.to_name.is_empty()).then_some(email.to_name);
        Message::builder()
            .message_id(Some(format!("<{}@{}>", email.id, from.email.domain())))
            .from(from)
            .to(Mailbox::new(to_name, address))
            .subject(email.subject)
            .multipart(MultiPart::alternative_plain_html(email.text, email.html))
            .map_err(|error| permanent(format!("cannot build the message: {error}")))
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
                let write = async {
                    tokio::fs::write(&temporary, message.formatted()).await?;
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
