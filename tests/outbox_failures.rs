//! The outbox worker survives any single message (issue 8): a name with a line break, a message
//! that cannot be built, a panic while delivering, and a message whose attempts ran out while a
//! process that died held it. Each ends `sent` or `dead`, and the next message still goes out.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::mail::{queue_link, settled};
use common::{TestServer, add_human};
use passlink::notify::templates::PasskeyLinkTemplates;
use passlink::notify::{Email, MailTransport, OutboxWorker, SendError, WorkerSettings};

/// A transport that records the addresses it sent to and panics for recipients named "Panic".
#[derive(Default)]
struct PanickingTransport {
    sent_to: Mutex<Vec<String>>,
}

#[async_trait]
impl MailTransport for PanickingTransport {
    async fn send(&self, email: Email) -> Result<(), SendError> {
        if email.to_name == "Panic" {
            panic!("a bug in the transport");
        }
        self.sent_to.lock().unwrap().push(email.to_address);
        Ok(())
    }
}

/// Starts a worker of the server's store that delivers through `transport`.
fn worker_with(
    server: &TestServer,
    transport: Arc<PanickingTransport>,
    max_attempts: u32,
) -> passlink::notify::RunningWorker {
    OutboxWorker::new(
        server.store().clone(),
        server.clock.clone(),
        transport,
        server.services.sealer().clone(),
        PasskeyLinkTemplates::load(None).unwrap(),
        WorkerSettings {
            max_attempts,
            retry_initial: Duration::from_millis(20),
            retry_max: Duration::from_millis(50),
            poll_interval: Duration::from_millis(50),
            lease: Duration::from_secs(10),
        },
        server.services.message_queued(),
    )
    .spawn()
}

#[tokio::test]
async fn a_line_break_in_a_stored_name_makes_its_message_dead_and_the_next_one_is_sent() {
    let server = TestServer::start_with(|settings| settings.outbox.worker = true).await;
    let mail_dir = server.settings.mail.dir.clone().unwrap();
    let eve = add_human(&server, &server.admin_token, "Eve").await;
    // The API refuses such names now; older rows may still hold them.
    server
        .update_one_row(
            "UPDATE users SET given_name = $1, display_name = $2 WHERE id = $3",
            &["Eve\nAdams", "Eve\r\nBcc: victim@example.com", &eve],
        )
        .await;
    let bob = add_human(&server, &server.admin_token, "Bob").await;
    let eve_message = queue_link(&server, &eve).await;
    let bob_message = queue_link(&server, &bob).await;

    let eve_message = settled(&server, &eve_message.id).await;
    assert_eq!(eve_message.state, "dead", "{eve_message:?}");
    assert_eq!(eve_message.attempts, 1, "dead at once: {eve_message:?}");
    let reason = eve_message.last_error.clone().unwrap_or_default();
    assert!(reason.contains("control characters"), "{eve_message:?}");
    assert!(!mail_dir.join(format!("{}.eml", eve_message.id)).exists());
    let bob_message = settled(&server, &bob_message.id).await;
    assert_eq!(bob_message.state, "sent", "{bob_message:?}");
    assert!(mail_dir.join(format!("{}.eml", bob_message.id)).exists());
    server.stop().await;
}

#[tokio::test]
async fn a_message_that_cannot_be_built_is_dead_at_once_and_the_next_one_is_sent() {
    let server = TestServer::start_with(|settings| settings.outbox.worker = true).await;
    let broken = add_human(&server, &server.admin_token, "Broken").await;
    server
        .update_one_row(
            "UPDATE users SET email = $1 WHERE id = $2",
            &["not an address", &broken],
        )
        .await;
    let bob = add_human(&server, &server.admin_token, "Bob").await;
    let broken_message = queue_link(&server, &broken).await;
    let bob_message = queue_link(&server, &bob).await;

    let broken_message = settled(&server, &broken_message.id).await;
    assert_eq!(broken_message.state, "dead", "{broken_message:?}");
    assert_eq!(
        broken_message.attempts, 1,
        "dead at once: {broken_message:?}"
    );
    let reason = broken_message.last_error.clone().unwrap();
    assert!(reason.contains("invalid recipient address"), "{reason}");
    assert_eq!(settled(&server, &bob_message.id).await.state, "sent");
    server.stop().await;
}

#[tokio::test]
async fn a_panic_while_delivering_fails_that_message_and_the_worker_goes_on() {
    let server = TestServer::start().await;
    let panic_user = add_human(&server, &server.admin_token, "Panic").await;
    let bob = add_human(&server, &server.admin_token, "Bob").await;
    let panicking = queue_link(&server, &panic_user).await;
    let bob_message = queue_link(&server, &bob).await;
    let transport = Arc::new(PanickingTransport::default());
    let worker = worker_with(&server, transport.clone(), 2);

    let bob_message = settled(&server, &bob_message.id).await;
    assert_eq!(bob_message.state, "sent", "{bob_message:?}");
    let panicking = settled(&server, &panicking.id).await;
    assert_eq!(panicking.state, "dead", "{panicking:?}");
    assert_eq!(panicking.attempts, 2, "outbox.max_attempts: {panicking:?}");
    let reason = panicking.last_error.clone().unwrap();
    assert!(reason.contains("a bug in the transport"), "{reason}");
    assert_eq!(transport.sent_to.lock().unwrap().len(), 1);
    // A later message still goes out: the worker is alive.
    let later = queue_link(&server, &bob).await;
    assert_eq!(settled(&server, &later.id).await.state, "sent");
    worker.stop().await;
    server.stop().await;
}

#[tokio::test]
async fn a_message_whose_attempts_ran_out_under_a_dead_process_is_dead_not_sent_again() {
    let server = TestServer::start().await;
    let bob = add_human(&server, &server.admin_token, "Bob").await;
    let message = queue_link(&server, &bob).await;
    // Three claims by processes that died while holding the lease: the last lease ran out.
    server
        .update_one_row(
            "UPDATE outbox SET attempts = 3, lease_owner = 'crashed-process', lease_until = 0 \
         WHERE id = $1",
            &[&message.id],
        )
        .await;
    let transport = Arc::new(PanickingTransport::default());
    let worker = worker_with(&server, transport.clone(), 3);

    let message = settled(&server, &message.id).await;
    assert_eq!(message.state, "dead", "{message:?}");
    let reason = message.last_error.clone().unwrap();
    assert!(reason.contains("3 attempts"), "{reason}");
    assert!(transport.sent_to.lock().unwrap().is_empty());
    worker.stop().await;
    server.stop().await;
}
