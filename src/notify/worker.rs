//! `OutboxWorker`: leases due outbox messages one at a time, renders and sends them, and
//! records the outcome. Delivery is at least once: a message is marked sent (with the user's
//! `user.passkey.code.sent` event, in one transaction) only after the transport accepted it,
//! and a crashed process's leases run out so another process picks its messages up.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use serde_json::json;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::domain::time::{Clock, Timestamp};
use crate::domain::url_template::{LinkValues, UrlTemplate};
use crate::domain::user::UserState;
use crate::error::Result;
use crate::service::ports::{
    Change, Effect, MessageFailure, MessageSent, Rejection, SecretSealer, Store, StoredMessage,
};
use crate::service::{PASSKEY_LINK_MESSAGE_KIND, PasskeyLinkMessage};

use super::mailer::{Email, MailTransport, SendError, panic_text};
use super::metrics::DeliveryMetrics;
use super::settings::WorkerSettings;
use super::templates::{LinkEmailValues, PASSKEY_LINK_SUBJECT, PasskeyLinkTemplates};

/// Delivers the outbox of one process.
pub struct OutboxWorker {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    mailer: Arc<dyn MailTransport>,
    /// Opens the sealed codes of the payloads.
    sealer: Arc<dyn SecretSealer>,
    templates: PasskeyLinkTemplates,
    settings: WorkerSettings,
    /// This process's lease owner id: process id plus a random part (pids repeat).
    owner: String,
    wakeup: Arc<Notify>,
    metrics: DeliveryMetrics,
}

/// A worker running in the background.
pub struct RunningWorker {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningWorker {
    /// Lets the message in flight finish, then stops the worker and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(error) = self.task.await {
            tracing::error!(%error, "the outbox worker ended abnormally");
        }
    }
}

/// What happened to one claimed message.
enum Outcome {
    Sent,
    Failed { retry_at: Option<Timestamp> },
}

impl OutboxWorker {
    /// A worker over `store` sending with `mailer` and opening sealed codes with `sealer`;
    /// `wakeup` is signalled when a request queued a message.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        mailer: Arc<dyn MailTransport>,
        sealer: Arc<dyn SecretSealer>,
        templates: PasskeyLinkTemplates,
        settings: WorkerSettings,
        wakeup: Arc<Notify>,
    ) -> OutboxWorker {
        let owner = format!(
            "{}-{:04x}{:04x}",
            std::process::id(),
            crate::domain::secret::random_u16(),
            crate::domain::secret::random_u16()
        );
        OutboxWorker {
            store,
            clock,
            mailer,
            sealer,
            templates,
            settings,
            owner,
            wakeup,
            metrics: DeliveryMetrics::default(),
        }
    }

    /// Counts this worker's deliveries in `metrics`.
    pub fn with_metrics(self, metrics: DeliveryMetrics) -> OutboxWorker {
        OutboxWorker { metrics, ..self }
    }

    /// Starts the worker in a background task.
    pub fn spawn(self) -> RunningWorker {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(self.run(stopped));
        RunningWorker { stop, task }
    }

    async fn run(self, mut stopped: watch::Receiver<bool>) {
        tracing::info!(lease.owner = %self.owner, "outbox worker started");
        // The earliest retry this worker scheduled: it wakes for it even between polls.
        let mut next_retry: Option<Instant> = None;
        loop {
            if *stopped.borrow() {
                break;
            }
            match self.deliver_next().await {
                Ok(Some(Outcome::Sent)) => continue,
                Ok(Some(Outcome::Failed { retry_at })) => {
                    if let Some(retry_at) = retry_at {
                        let wait =
                            Duration::from_micros((retry_at.0 - self.clock.now().0).max(0) as u64);
                        let at = Instant::now() + wait;
                        next_retry = Some(next_retry.map_or(at, |earlier| earlier.min(at)));
                    }
                    continue;
                }
                Ok(None) => {}
                // Already logged where it arose; wait a poll interval and try again.
                Err(_) => {}
            }
            let mut wake_at = Instant::now() + self.settings.poll_interval;
            if let Some(retry) = next_retry {
                wake_at = wake_at.min(retry);
            }
            tokio::select! {
                _ = self.wakeup.notified() => {}
                _ = tokio::time::sleep_until(wake_at) => {
                    if next_retry.is_some_and(|retry| retry <= Instant::now()) {
                        next_retry = None;
                    }
                }
                _ = stopped.changed() => break,
            }
        }
        tracing::info!(lease.owner = %self.owner, "outbox worker stopped");
    }

    /// Claims and delivers one due message; `None` when none is due.
    async fn deliver_next(&self) -> Result<Option<Outcome>> {
        let now = self.clock.now();
        let Some(message) = self
            .store
            .claim_message(&self.owner, now, now.plus(self.settings.lease))
            .await?
        else {
            return Ok(None);
        };
        let attempts = u32::try_from(message.attempts).unwrap_or(u32::MAX);
        if attempts > self.settings.max_attempts {
            // Claiming counted an attempt that never reported back: the process holding the
            // lease died (or lost it) on every earlier claim. Trying again could kill this
            // process too, so the message is dead.
            let error = SendError {
                message: format!(
                    "gave up after {} attempts: the last one never finished (the process                      delivering it stopped or its lease ran out)",
                    self.settings.max_attempts
                ),
                permanent: true,
            };
            return Ok(Some(self.record_failure(&message, error).await?));
        }
        self.metrics.attempts.inc();
        // A panic while delivering one message (a bug anywhere below) fails that message
        // instead of ending the worker, which would leave every later message undelivered.
        let delivered = AssertUnwindSafe(self.deliver(&message))
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| {
                let text = panic_text(panic.as_ref());
                tracing::error!(message.id = %message.id, panic = %text, "delivering the message panicked");
                Err(SendError {
                    message: format!("delivery panicked: {text}"),
                    permanent: false,
                })
            });
        let outcome = match delivered {
            Ok(()) => Outcome::Sent,
            Err(error) => self.record_failure(&message, error).await?,
        };
        Ok(Some(outcome))
    }

    /// Renders and sends one claimed message and marks it sent.
    async fn deliver(&self, message: &StoredMessage) -> Result<(), SendError> {
        let permanent = |message: String| SendError {
            message,
            permanent: true,
        };
        if message.kind != PASSKEY_LINK_MESSAGE_KIND {
            return Err(permanent(format!(
                "unknown message kind {:?}",
                message.kind
            )));
        }
        let payload: PasskeyLinkMessage = serde_json::from_str(&message.payload)
            .map_err(|error| permanent(format!("unreadable payload: {error}")))?;
        if payload.sealed_code.is_empty() {
            return Err(permanent("the payload holds no code".into()));
        }
        let code = self
            .sealer
            .open(&payload.sealed_code, &payload.code_id)
            .map_err(|reason| permanent(format!("cannot open the sealed code: {reason}")))?;
        let user = self
            .store
            .get_user(&message.user_id)
            .await
            .map_err(|error| SendError {
                message: error.to_string(),
                permanent: false,
            })?;
        if user.is_none_or(|user| user.state == UserState::Deleted) {
            return Err(permanent("the user was deleted".into()));
        }
        let link = UrlTemplate::parse(&payload.url_template)
            .map_err(|error| permanent(format!("invalid url template: {error}")))?
            .render(&LinkValues {
                user_id: &payload.user_id,
                org_id: &payload.org_id,
                code_id: &payload.code_id,
                code: code.expose(),
            });
        let expires_at = chrono::DateTime::from_timestamp_micros(payload.expires_at)
            .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default();
        let values = LinkEmailValues {
            greeting_name: &payload.greeting_name,
            link: &link,
            expires_at: &expires_at,
            email: &payload.email,
        };
        // The templates' variables were checked at load, so a failure here would repeat.
        let text = self.templates.render_text(&values).map_err(permanent)?;
        let html = self.templates.render_html(&values).map_err(permanent)?;
        self.mailer
            .send(Email {
                id: message.id.clone(),
                to_name: payload.greeting_name.clone(),
                to_address: payload.email.clone(),
                subject: PASSKEY_LINK_SUBJECT.into(),
                text,
                html,
            })
            .await?;
        let scrubbed = PasskeyLinkMessage {
            sealed_code: String::new(),
            ..payload.clone()
        };
        let sent = MessageSent {
            message_id: message.id.clone(),
            lease_owner: self.owner.clone(),
            scrubbed_payload: serde_json::to_string(&scrubbed).unwrap_or_default(),
        };
        self.mark_sent(message, &payload, sent).await;
        Ok(())
    }

    /// Writes the `sent` event and marks the message sent in one transaction. The email is
    /// gone already, so failures here are logged, not retried (a lost lease means another
    /// process may send it again: at least once).
    async fn mark_sent(
        &self,
        message: &StoredMessage,
        payload: &PasskeyLinkMessage,
        sent: MessageSent,
    ) {
        let now = self.clock.now();
        let committed = self
            .store
            .commit(Change {
                user_id: message.user_id.clone(),
                event_type: crate::domain::events::PASSKEY_CODE_SENT,
                payload: json!({ "code_id": payload.code_id, "message_id": message.id }),
                actor: "system".into(),
                at: now,
                effects: vec![Effect::MarkMessageSent(sent.clone())],
            })
            .await;
        match committed {
            Ok(Ok(committed)) => tracing::info!(
                message.id = %message.id,
                user.id = %message.user_id,
                code.id = %payload.code_id,
                attempt = message.attempts,
                sequence = committed.sequence,
                "registration link email sent"
            ),
            // The user was deleted while the message was in flight: no event to write.
            Ok(Err(Rejection::UserNotFound)) => {
                match self.store.mark_message_sent_without_event(sent, now).await {
                    Ok(Ok(())) => {}
                    Ok(Err(rejection)) => {
                        tracing::error!(message.id = %message.id, ?rejection, "cannot mark the message sent");
                    }
                    Err(error) => {
                        tracing::error!(message.id = %message.id, %error, "cannot mark the message sent");
                    }
                }
            }
            Ok(Err(rejection)) => tracing::error!(
                message.id = %message.id,
                ?rejection,
                "the email was sent but its outbox row could not be marked sent; it may be sent again"
            ),
            Err(error) => tracing::error!(
                message.id = %message.id,
                %error,
                "the email was sent but its outbox row could not be marked sent; it may be sent again"
            ),
        }
    }

    async fn record_failure(&self, message: &StoredMessage, error: SendError) -> Result<Outcome> {
        let now = self.clock.now();
        let attempts = u32::try_from(message.attempts).unwrap_or(u32::MAX);
        let retry_at = (!error.permanent && attempts < self.settings.max_attempts)
            .then(|| now.plus(self.backoff(attempts)));
        self.metrics.failed(retry_at.is_none());
        let recorded = self
            .store
            .record_message_failure(
                MessageFailure {
                    message_id: message.id.clone(),
                    lease_owner: self.owner.clone(),
                    error: error.message.clone(),
                    retry_at,
                },
                now,
            )
            .await?;
        match retry_at {
            _ if recorded.is_err() => tracing::warn!(
                message.id = %message.id,
                "the lease ran out during delivery; another process owns the message now"
            ),
            Some(retry_at) => tracing::warn!(
                message.id = %message.id,
                attempt = attempts,
                error = %error.message,
                retry_in_ms = (retry_at.0 - now.0) / 1000,
                "email delivery failed; will retry"
            ),
            None => tracing::error!(
                message.id = %message.id,
                user.id = %message.user_id,
                attempts,
                error = %error.message,
                "email delivery failed for good; the message is dead (passlink outbox retry ID re-queues it)"
            ),
        }
        Ok(Outcome::Failed { retry_at })
    }

    /// `retry_initial × 2^(attempts-1)`, at most `retry_max`, scaled by a random factor in
    /// [0.5, 1] so that processes retrying the same outage spread out.
    fn backoff(&self, attempts: u32) -> Duration {
        let doubling = 2u32.saturating_pow(attempts.saturating_sub(1).min(30));
        let delay = self
            .settings
            .retry_initial
            .saturating_mul(doubling)
            .min(self.settings.retry_max);
        let jitter =
            0.5 + f64::from(crate::domain::secret::random_u16()) / f64::from(u16::MAX) / 2.0;
        delay.mul_f64(jitter)
    }
}
