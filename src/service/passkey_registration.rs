//! Use cases that redeem a registration link and manage passkeys: RegisterPasskey,
//! VerifyPasskeyRegistration, ListPasskeys and RemovePasskey.
//!
//! A registration code is the credential for RegisterPasskey: no token is needed (how a code
//! is checked, and what a failure counts, is in `passkey_code`). A good code is consumed by one
//! conditional update in the same transaction that stores the pending registration. The pending
//! registration lives in the database (any process can finish it) and expires. Verification
//! reads it without changing it, after the caller is authorized; only a credential that
//! verifies consumes it, by one conditional delete in the commit that stores the passkey, so
//! one registration never yields two passkeys and failed attempts leave it usable.
//!
//! A credential id that any passkey already holds is refused with AlreadyExists ("The passkey
//! is already registered"): the credential itself is fine, it conflicts with stored state.
//! Every other credential that fails a check is InvalidArgument.

use std::time::Duration;

use serde_json::{Value, json};

use crate::domain::events;
use crate::domain::permission::{Caller, Permission};
use crate::domain::user::UserKind;
use crate::domain::webauthn::{self, AuthenticatorAttachment, ExistingCredential, RelyingParty};
use crate::error::{Error, Result};

use super::authentication::missing_authorization;
use super::ports::{Change, Effect, NewPasskey, NewPasskeyRegistration, StoredPasskeyInfo};
use super::{ChangeDetails, Services, passkey_refused};

pub(super) const PASSKEY_NOT_FOUND: &str = "WebAuthN Token could not be found";
/// Failed attempts after which a code is dead.
pub const MAX_CODE_FAILURES: i64 = 3;

/// The error for a credential id that a passkey holds already.
pub(super) fn passkey_already_registered() -> Error {
    Error::already_exists("COMMAND-Pk3dp", "The passkey is already registered")
}

/// The WebAuthn relying party settings the use cases run with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeySettings {
    /// The RP id used when a request names no domain.
    pub rp_id: String,
    /// The relying party name authenticators show.
    pub rp_name: String,
    /// Exact origins credentials may come from.
    pub allowed_origins: Vec<String>,
    /// How long a started registration can be finished.
    pub registration_lifetime: Duration,
}

/// A registration code as presented by the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresentedCode {
    /// The code's id.
    pub id: String,
    /// The code itself.
    pub code: crate::domain::secret::Secret,
}

/// What RegisterPasskey asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisterPasskey {
    /// The user the passkey is for.
    pub user_id: String,
    /// The registration code, for a caller without a token.
    pub code: Option<PresentedCode>,
    /// The kind of authenticator asked for, if any.
    pub authenticator: Option<AuthenticatorAttachment>,
    /// The RP id to use; the configured one when `None`.
    pub domain: Option<String>,
}

/// A started registration: its id and the options for `navigator.credentials.create`.
#[derive(Debug)]
pub struct StartedPasskeyRegistration {
    /// What the change reports.
    pub details: ChangeDetails,
    /// The id the passkey will have, for VerifyPasskeyRegistration.
    pub passkey_id: String,
    /// `{"publicKey": {...}}` for `navigator.credentials.create`.
    pub options: Value,
}

/// What VerifyPasskeyRegistration asks for.
#[derive(Debug)]
pub struct VerifyPasskeyRegistration {
    /// The user the passkey is for.
    pub user_id: String,
    /// The id RegisterPasskey returned.
    pub passkey_id: String,
    /// The browser's `PublicKeyCredential` as JSON.
    pub credential: Value,
    /// The name the passkey is listed by.
    pub passkey_name: String,
}

fn existing_credentials(passkeys: &[StoredPasskeyInfo]) -> Vec<ExistingCredential> {
    passkeys
        .iter()
        .map(|passkey| ExistingCredential {
            credential_id: passkey.credential_id.clone(),
            transports: serde_json::from_str(&passkey.transports).unwrap_or_default(),
        })
        .collect()
}

impl Services {
    /// The relying party for an RP id: the configured allowed origins that fit it.
    pub(super) fn relying_party(&self, rp_id: &str) -> RelyingParty {
        let settings = &self.settings.passkeys;
        RelyingParty {
            id: rp_id.to_owned(),
            name: settings.rp_name.clone(),
            origins: settings
                .allowed_origins
                .iter()
                .filter(|origin| webauthn::origin_fits_rp_id(origin, rp_id))
                .cloned()
                .collect(),
        }
    }

    /// The RP id a RegisterPasskey request asks for, checked against the allowed origins.
    fn requested_rp_id(&self, domain: Option<&str>) -> Result<String> {
        let Some(domain) = domain.map(str::trim).filter(|domain| !domain.is_empty()) else {
            return Ok(self.settings.passkeys.rp_id.clone());
        };
        let domain = domain.to_ascii_lowercase();
        webauthn::check_rp_id(&domain).map_err(|problem| {
            Error::invalid_argument("COMMAND-Dm4rp", format!("Domain {domain:?} {problem}"))
        })?;
        if self.relying_party(&domain).origins.is_empty() {
            return Err(Error::invalid_argument(
                "COMMAND-Dm5rp",
                format!("Domain {domain:?} fits none of the allowed origins"),
            ));
        }
        Ok(domain)
    }

    /// Starts a passkey registration for a user, with a registration code (no token needed)
    /// or as a caller holding `user.credential.write` (or the user itself).
    pub async fn register_passkey(
        &self,
        caller: Option<&Caller>,
        request: RegisterPasskey,
    ) -> Result<StartedPasskeyRegistration> {
        let user = match &request.code {
            Some(presented) => {
                self.check_presented_code(&request.user_id, presented)
                    .await?
            }
            None => {
                let caller = caller.ok_or_else(missing_authorization)?;
                self.load_target_user(
                    caller,
                    &request.user_id,
                    Permission::UserCredentialWrite,
                    true,
                )
                .await?
            }
        };
        user.may_get_passkey().map_err(passkey_refused)?;
        let rp_id = self.requested_rp_id(request.domain.as_deref())?;
        let relying_party = self.relying_party(&rp_id);
        let existing = self.store.list_passkeys(&user.id).await?;
        let lifetime = self.settings.passkeys.registration_lifetime;
        let display_name = match &user.kind {
            UserKind::Human { profile, .. } => profile
                .display_name
                .clone()
                .filter(|name| !name.trim().is_empty())
                .unwrap_or_else(|| format!("{} {}", profile.given_name, profile.family_name)),
            UserKind::Machine { name, .. } => name.clone(),
        };
        let started = webauthn::start_registration(
            &relying_party,
            &webauthn::user_handle(&user.id),
            &user.username,
            &display_name,
            request.authenticator,
            &existing_credentials(&existing),
            lifetime.as_millis().min(u128::from(u32::MAX)) as u64,
        )
        .map_err(|error| Error::internal("COMMAND-Wa1st", error))?;
        let now = self.now();
        let passkey_id = self.ids.next_id();
        let registration = NewPasskeyRegistration {
            id: passkey_id.clone(),
            rp_id: rp_id.clone(),
            state: started.state,
            code_id: request.code.as_ref().map(|code| code.id.clone()),
            expires_at: now.plus(lifetime),
        };
        let (event_type, actor, mut effects) = match &request.code {
            Some(code) => (
                events::PASSKEY_CODE_USED,
                user.id.clone(),
                vec![Effect::ConsumePasskeyCode {
                    code_id: code.id.clone(),
                    failure_limit: MAX_CODE_FAILURES,
                }],
            ),
            None => (
                events::PASSKEY_REGISTRATION_STARTED,
                caller
                    .map(|caller| caller.user_id.clone())
                    .unwrap_or_default(),
                Vec::new(),
            ),
        };
        effects.push(Effect::InsertPasskeyRegistration(registration));
        let committed = self
            .commit(Change {
                user_id: user.id.clone(),
                event_type,
                payload: json!({
                    "passkey_id": passkey_id,
                    "code_id": request.code.as_ref().map(|code| code.id.clone()),
                    "rp_id": rp_id,
                    "expires_at": now.plus(lifetime).0,
                }),
                actor,
                at: now,
                effects,
            })
            .await;
        // A code that another redemption (or the third failure) got to first fails here with
        // "Code is invalid", and writes nothing.
        let committed = committed?;
        tracing::info!(user.id = %user.id, passkey.id = %passkey_id, "passkey registration started");
        Ok(StartedPasskeyRegistration {
            details: committed.into(),
            passkey_id,
            options: started.options,
        })
    }

    /// Finishes a pending registration with the browser's credential; the passkey becomes
    /// READY. Registrations started with a code need no caller: the signed challenge proves
    /// the right to finish them.
    ///
    /// The caller is authorized before the registration is touched, and the credential is
    /// verified against the stored state before anything is written: only a credential that
    /// verifies consumes the registration, in the commit that stores the passkey, so failed or
    /// unauthorized attempts never disturb it. A caller who may not finish a token-started
    /// registration gets the answer an unknown id gets: NotFound without a token,
    /// PermissionDenied with a token lacking the permission on the user.
    pub async fn verify_passkey_registration(
        &self,
        caller: Option<&Caller>,
        request: VerifyPasskeyRegistration,
    ) -> Result<ChangeDetails> {
        let not_found = || Error::not_found("COMMAND-Pk1nf", PASSKEY_NOT_FOUND);
        // Decided from the caller and the user alone, never from the registration, so that
        // the answer to a caller who may not finish it does not tell whether it exists.
        let denied = match caller {
            None => Some(not_found()),
            Some(caller) => match self
                .load_target_user(
                    caller,
                    &request.user_id,
                    Permission::UserCredentialWrite,
                    true,
                )
                .await
            {
                Ok(_) => None,
                Err(error) if error.code() == crate::error::Code::PermissionDenied => Some(error),
                Err(error) => return Err(error),
            },
        };
        let pending = self
            .store
            .get_passkey_registration(&request.passkey_id, &request.user_id, self.now())
            .await?;
        let pending = match (pending, denied) {
            // Anyone holding the signed challenge may finish a code-started registration.
            (Some(pending), _) if pending.registration.code_id.is_some() => pending,
            (Some(pending), None) => pending,
            (_, Some(denied)) => return Err(denied),
            (None, None) => return Err(not_found()),
        };
        self.verify_and_store_passkey(caller, &request, &pending.registration)
            .await
    }

    /// Verifies the credential against a pending registration and, when it verifies, stores
    /// the passkey and consumes the registration in one commit.
    async fn verify_and_store_passkey(
        &self,
        caller: Option<&Caller>,
        request: &VerifyPasskeyRegistration,
        registration: &NewPasskeyRegistration,
    ) -> Result<ChangeDetails> {
        let relying_party = self.relying_party(&registration.rp_id);
        let verified = webauthn::finish_registration(
            &relying_party,
            &registration.state,
            request.credential.clone(),
        )
        .map_err(|reason| {
            tracing::info!(passkey.id = %registration.id, %reason, "passkey credential rejected");
            Error::invalid_argument(
                "COMMAND-Pv7ck",
                format!("The passkey could not be verified: {reason}"),
            )
        })?;
        if self
            .store
            .passkey_credential_exists(&verified.credential_id)
            .await?
        {
            return Err(passkey_already_registered());
        }
        let committed = self
            .commit(Change {
                user_id: request.user_id.clone(),
                event_type: events::PASSKEY_ADDED,
                payload: json!({
                    "passkey_id": registration.id,
                    "name": request.passkey_name,
                    "rp_id": registration.rp_id,
                    "algorithm": verified.algorithm,
                    "aaguid": verified.aaguid.iter().map(|byte| format!("{byte:02x}")).collect::<String>(),
                    "backup_eligible": verified.backup_eligible,
                    "code_id": registration.code_id,
                }),
                actor: caller
                    .map(|caller| caller.user_id.clone())
                    .unwrap_or_else(|| request.user_id.clone()),
                at: self.now(),
                effects: vec![
                    Effect::ConsumePasskeyRegistration {
                        passkey_id: registration.id.clone(),
                    },
                    Effect::InsertPasskey(NewPasskey {
                    id: registration.id.clone(),
                    name: request.passkey_name.clone(),
                    rp_id: registration.rp_id.clone(),
                    credential_id: verified.credential_id,
                    public_key: verified.public_key,
                    algorithm: verified.algorithm,
                    sign_count: verified.sign_count,
                    aaguid: verified.aaguid.to_vec(),
                    transports: serde_json::to_string(&verified.transports)
                        .unwrap_or_else(|_| "[]".into()),
                    }),
                ],
            })
            .await?;
        tracing::info!(user.id = %request.user_id, passkey.id = %registration.id, "passkey registered");
        Ok(committed.into())
    }
}
