//! Use cases on passkeys: CreatePasskeyRegistrationLink.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::events;
use crate::domain::permission::{Caller, Permission};
use crate::domain::secret::{Secret, generate_code, hash_secret};
use crate::domain::url_template::{UrlTemplate, default_link_template};
use crate::error::{Error, Result};

use super::ports::{Change, Effect, NewMessage, NewPasskeyCode};
use super::{ChangeDetails, Services, passkey_refused};

/// How the code of a new registration link reaches the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkMedium {
    /// The answer carries the code; nothing is sent.
    ReturnCode,
    /// An email carries a link built from the template, or from passlink's own page.
    SendLink {
        /// The link template; passlink's own registration page when `None`.
        url_template: Option<String>,
    },
}

/// A newly issued registration code.
#[derive(Debug)]
pub struct IssuedCode {
    /// The code's id, which the link carries next to it.
    pub id: String,
    /// The code itself, shown once.
    pub code: Secret,
}

/// The outbox kind of registration link emails.
pub const PASSKEY_LINK_MESSAGE_KIND: &str = "passkey_registration_link";

/// What the notifier needs to render a registration link email at send time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyLinkMessage {
    /// The user the link is for.
    pub user_id: String,
    /// The user's organization.
    pub org_id: String,
    /// The id of the code the link carries.
    pub code_id: String,
    /// The code, sealed by the `SecretSealer` with `code_id` as its context (the store never
    /// holds it in plain text); blanked once the message is sent.
    pub sealed_code: String,
    /// The link template, rendered at send time.
    pub url_template: String,
    /// The address the email goes to.
    pub email: String,
    /// The name the email greets.
    pub greeting_name: String,
    /// When the code expires, in microseconds since the Unix epoch.
    pub expires_at: i64,
}

impl Services {
    /// Issues a one-time passkey registration code for a user and returns it or queues an
    /// email with a link to it.
    pub async fn create_passkey_registration_link(
        &self,
        caller: &Caller,
        user_id: &str,
        medium: LinkMedium,
    ) -> Result<(ChangeDetails, Option<IssuedCode>)> {
        let url_template = match &medium {
            LinkMedium::ReturnCode => None,
            LinkMedium::SendLink { url_template } => {
                let source = url_template
                    .clone()
                    .unwrap_or_else(|| default_link_template(&self.settings.external_url));
                UrlTemplate::parse(&source).map_err(|_| {
                    Error::invalid_argument("DOMAIN-TZBx3", "URL Template is invalid")
                })?;
                Some(source)
            }
        };
        let user = self
            .load_user_to_change(caller, user_id, Permission::UserPasskeyWrite)
            .await?;
        let email = user.may_get_passkey().map_err(passkey_refused)?;
        if url_template.is_some()
            && let Some(missing) = &self.settings.email_unavailable
        {
            return Err(Error::failed_precondition("COMMAND-Ml4sm", missing.clone()));
        }
        let now = self.now();
        let code_id = self.ids.next_id();
        let code = generate_code(&self.settings.code_alphabet, self.settings.code_length);
        let expires_at = now.plus(self.settings.code_lifetime);
        let mut effects = vec![Effect::InsertPasskeyCode(NewPasskeyCode {
            id: code_id.clone(),
            code_hash: hash_secret(&code_id, code.expose()),
            expires_at,
        })];
        if let Some(url_template) = url_template {
            let message = PasskeyLinkMessage {
                user_id: user.id.clone(),
                org_id: user.org_id.clone(),
                code_id: code_id.clone(),
                sealed_code: self.sealer.seal(code.expose(), &code_id)?,
                url_template,
                email: email.address.clone(),
                greeting_name: user.greeting_name().to_owned(),
                expires_at: expires_at.0,
            };
            effects.push(Effect::EnqueueMessage(NewMessage {
                id: self.ids.next_id(),
                kind: PASSKEY_LINK_MESSAGE_KIND,
                payload: serde_json::to_string(&message)
                    .map_err(|error| Error::internal("COMMAND-Js7ms", error))?,
            }));
        }
        let queues_message = queues_a_message(&effects);
        let committed = self
            .commit(Change {
                user_id: user.id.clone(),
                event_type: events::PASSKEY_CODE_ADDED,
                payload: json!({
                    "code_id": code_id,
                    "expires_at": expires_at.0,
                    "medium": if medium == LinkMedium::ReturnCode { "return_code" } else { "send_link" },
                }),
                actor: caller.user_id.clone(),
                at: now,
                effects,
            })
            .await?;
        if queues_message {
            self.message_queued.notify_one();
        }
        tracing::info!(user.id = %user.id, code.id = %code_id, "passkey registration code issued");
        let issued = (medium == LinkMedium::ReturnCode).then_some(IssuedCode { id: code_id, code });
        Ok((committed.into(), issued))
    }
}

fn queues_a_message(effects: &[Effect]) -> bool {
    effects
        .iter()
        .any(|effect| matches!(effect, Effect::EnqueueMessage(_)))
}
