//! Delivery of outbox messages: the worker that leases and sends them, the mail transports
//! (SMTP through lettre, or `.eml` files for development) and the message templates (minijinja).

mod mailer;
mod metrics;
mod settings;
pub mod templates;
mod worker;

pub use mailer::{Email, MailTransport, Mailer, SendError};
pub use metrics::DeliveryMetrics;
pub use settings::{
    MailDelivery, MailerSettings, NotifySettings, SmtpAuthentication, SmtpEncryption, SmtpPassword,
    SmtpServer, WorkerSettings, parse_sender,
};
pub use worker::{OutboxWorker, RunningWorker};
