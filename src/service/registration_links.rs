//! Use cases on passkeys: CreatePasskeyRegistrationLink.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::events;
use crate::domain::permission::{Caller, Permission};
use crate::domain::secret::{Secret, generate_code, hash_secret};
use crate::domain::url_template::{UrlTemplate, default_link_template};
use crate::domain::user::User;
use crate::error::{Error, Result};

use super::ports::{Change, Effect, NewMessage, NewPasskeyCode, Outcome, Rejection};
use super::refusals::refused;
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
    ///
    /// The user may come from the store's cache of users to change; the change requires the
    /// state that copy shows, so a copy made stale by a deletion or a state change in another
    /// process is refused at commit, and the user is then read again and decided on anew.
    /// A refusal (a locked or inactive user) is always decided on the user read again.
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
        let permission = Permission::UserPasskeyWrite;
        let mut user = self
            .load_user_to_change(caller, user_id, permission)
            .await?;
        if user.may_get_passkey().is_err() {
            // A refusal has no commit to check it: it is decided on the user as it is now.
            user = self
                .load_target_user(caller, user_id, permission, false)
                .await?;
        }
        match self.issue_link(caller, &user, url_template.clone()).await? {
            Err(Rejection::UserChanged | Rejection::UserNotFound) => {
                let user = self
                    .load_target_user(caller, user_id, permission, false)
                    .await?;
                self.issue_link(caller, &user, url_template)
                    .await?
                    .map_err(refused)
            }
            issued => issued.map_err(refused),
        }
    }

    /// Issues a code for `user` as read (with an email built from `url_template`, if any),
    /// requiring the user's state to be the one read; the store's refusal, if any.
    async fn issue_link(
        &self,
        caller: &Caller,
        user: &User,
        url_template: Option<String>,
    ) -> Result<Outcome<(ChangeDetails, Option<IssuedCode>)>> {
        let email = user.may_get_passkey().map_err(passkey_refused)?;
        if url_template.is_some()
            && let Some(missing) = &self.settings.email_unavailable
        {
            return Err(Error::failed_precondition("COMMAND-Ml4sm", missing.clone()));
        }
        let returns_code = url_template.is_none();
        let now = self.now();
        let code_id = self.ids.next_id();
        let code = generate_code(&self.settings.code_alphabet, self.settings.code_length);
        let expires_at = now.plus(self.settings.code_lifetime);
        let mut effects = vec![
            Effect::RequireUserState(user.state),
            Effect::InsertPasskeyCode(NewPasskeyCode {
                id: code_id.clone(),
                code_hash: hash_secret(&code_id, code.expose()),
                expires_at,
            }),
        ];
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
            .store
            .commit(Change {
                user_id: user.id.clone(),
                event_type: events::PASSKEY_CODE_ADDED,
                payload: json!({
                    "code_id": code_id,
                    "expires_at": expires_at.0,
                    "medium": if returns_code { "return_code" } else { "send_link" },
                }),
                actor: caller.user_id.clone(),
                at: now,
                effects,
            })
            .await?;
        let committed = match committed {
            Ok(committed) => committed,
            Err(rejection) => return Ok(Err(rejection)),
        };
        if queues_message {
            self.message_queued.notify_one();
        }
        tracing::info!(user.id = %user.id, code.id = %code_id, "passkey registration code issued");
        let issued = returns_code.then_some(IssuedCode { id: code_id, code });
        Ok(Ok((committed.into(), issued)))
    }
}

fn queues_a_message(effects: &[Effect]) -> bool {
    effects
        .iter()
        .any(|effect| matches!(effect, Effect::EnqueueMessage(_)))
}
