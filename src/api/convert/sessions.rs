//! Session requests on the wire, validated as the contract asks (protoc-gen-validate's texts,
//! SESSIONS.md §1.2, §4), with passlink's bounds on what a client may store (§8 #17) and the
//! refusal of checks and challenges passlink does not serve (§11.2): Unimplemented, after
//! validation and before anything is looked up.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::domain::session::{
    MAX_METADATA_KEY_CHARS, MAX_METADATA_VALUE_BYTES, MAX_USER_AGENT_HEADER_BYTES, UserAgent,
};
use crate::error::{Error, Result};
use crate::pb::zitadel::session::v2 as session_pb;
use crate::service::{
    ChallengeRequest, CreateSession, SessionRequest, SetSession, UserCheck, UserVerification,
};

use super::common::Validator;
use super::structs::struct_to_json;

/// The error id of session request violations.
const VALIDATION_ID: &str = "SESSIONv2-Vd1ck";

/// A check or challenge passlink does not serve (yet).
fn not_served(field: &str) -> Error {
    Error::unimplemented(
        "SESSION-Ns1pp",
        format!("{field} is not supported by passlink"),
    )
}

/// The parts CreateSession and SetSession share, validated under `validator`.
struct Parts {
    checks: Option<session_pb::Checks>,
    metadata: HashMap<String, Vec<u8>>,
    challenges: Option<session_pb::RequestChallenges>,
    lifetime: Option<prost_types::Duration>,
}

impl Parts {
    fn validate(self, validator: &Validator) -> Result<SessionRequest> {
        let lifetime = match self.lifetime {
            Some(lifetime) => Some(positive_duration(validator, &lifetime)?),
            None => None,
        };
        let (user, web_authn, refused_check) = match &self.checks {
            Some(checks) => {
                validator.nested("Checks", check_checks(checks))?;
                checks_of(checks)
            }
            None => (None, None, None),
        };
        let (challenge, refused_challenge) = match &self.challenges {
            Some(challenges) => {
                validator.nested("Challenges", check_challenges(challenges))?;
                challenges_of(challenges)
            }
            None => (None, None),
        };
        let metadata = check_metadata(self.metadata)?;
        if let Some(field) = refused_check.or(refused_challenge) {
            return Err(not_served(field));
        }
        Ok(SessionRequest {
            user,
            web_authn,
            metadata,
            challenges_requested: self.challenges.is_some(),
            challenge,
            lifetime,
        })
    }
}

/// `duration.gt: 0s`.
fn positive_duration(validator: &Validator, duration: &prost_types::Duration) -> Result<Duration> {
    if duration.seconds < 0
        || duration.nanos < 0
        || (duration.seconds == 0 && duration.nanos == 0)
        || duration.nanos >= 1_000_000_000
    {
        return Err(validator.violation("Lifetime", "value must be greater than 0s"));
    }
    // A lifetime beyond a century is as good as none, and keeps timestamps in range.
    let seconds = (duration.seconds as u64).min(100 * 365 * 24 * 3600);
    Ok(Duration::new(seconds, duration.nanos as u32))
}

fn check_checks(checks: &session_pb::Checks) -> Result<()> {
    let validator = Validator::new(VALIDATION_ID, "Checks");
    if let Some(user) = &checks.user {
        use session_pb::check_user::Search;
        let inner = Validator::new(VALIDATION_ID, "CheckUser");
        let checked = match &user.search {
            Some(Search::UserId(user_id)) => inner.runes("UserId", user_id, 1, 200),
            Some(Search::LoginName(login_name)) => inner.runes("LoginName", login_name, 1, 200),
            None => Err(inner.violation("Search", "value is required")),
        };
        validator.nested("User", checked)?;
    }
    if let Some(web_authn) = &checks.web_auth_n {
        let inner = Validator::new(VALIDATION_ID, "CheckWebAuthN");
        let checked = inner
            .required(
                "CredentialAssertionData",
                &web_authn.credential_assertion_data,
            )
            .map(|_| ());
        validator.nested("WebAuthN", checked)?;
    }
    Ok(())
}

/// The served checks, and the first check that is not served.
fn checks_of(
    checks: &session_pb::Checks,
) -> (
    Option<UserCheck>,
    Option<serde_json::Value>,
    Option<&'static str>,
) {
    use session_pb::check_user::Search;
    let user = checks.user.as_ref().and_then(|user| match &user.search {
        Some(Search::UserId(user_id)) => Some(UserCheck::Id(user_id.clone())),
        Some(Search::LoginName(login_name)) => Some(UserCheck::LoginName(login_name.clone())),
        None => None,
    });
    let web_authn = checks
        .web_auth_n
        .as_ref()
        .and_then(|check| check.credential_assertion_data.clone())
        .map(struct_to_json);
    let refused = [
        (checks.password.is_some(), "Checks.password"),
        (checks.idp_intent.is_some(), "Checks.idp_intent"),
        (checks.totp.is_some(), "Checks.totp"),
        (checks.otp_sms.is_some(), "Checks.otp_sms"),
        (checks.otp_email.is_some(), "Checks.otp_email"),
        (checks.recovery_code.is_some(), "Checks.recovery_code"),
    ]
    .into_iter()
    .find_map(|(present, field)| present.then_some(field));
    (user, web_authn, refused)
}

fn check_challenges(challenges: &session_pb::RequestChallenges) -> Result<()> {
    let validator = Validator::new(VALIDATION_ID, "RequestChallenges");
    if let Some(web_authn) = &challenges.web_auth_n {
        let inner = Validator::new(VALIDATION_ID, "RequestChallenges_WebAuthN");
        let checked = inner
            .runes("Domain", &web_authn.domain, 1, 200)
            .and_then(|()| {
                match session_pb::UserVerificationRequirement::try_from(
                    web_authn.user_verification_requirement,
                ) {
                    Err(_) => Err(inner.violation(
                        "UserVerificationRequirement",
                        "value must be one of the defined enum values",
                    )),
                    Ok(session_pb::UserVerificationRequirement::Unspecified) => Err(inner
                        .violation(
                            "UserVerificationRequirement",
                            "value must not be in list [0]",
                        )),
                    Ok(_) => Ok(()),
                }
            });
        validator.nested("WebAuthN", checked)?;
    }
    Ok(())
}

/// The served challenge, and the first challenge that is not served.
fn challenges_of(
    challenges: &session_pb::RequestChallenges,
) -> (Option<ChallengeRequest>, Option<&'static str>) {
    use session_pb::UserVerificationRequirement as Requirement;
    let challenge = challenges
        .web_auth_n
        .as_ref()
        .map(|web_authn| ChallengeRequest {
            domain: web_authn.domain.clone(),
            user_verification: match Requirement::try_from(web_authn.user_verification_requirement)
            {
                Ok(Requirement::Preferred) => UserVerification::Preferred,
                Ok(Requirement::Discouraged) => UserVerification::Discouraged,
                _ => UserVerification::Required,
            },
        });
    let refused = if challenges.otp_sms.is_some() {
        Some("RequestChallenges.otp_sms")
    } else if challenges.otp_email.is_some() {
        Some("RequestChallenges.otp_email")
    } else {
        None
    };
    (challenge, refused)
}

/// Metadata within passlink's bounds (§8 #17), in a stable order.
fn check_metadata(metadata: HashMap<String, Vec<u8>>) -> Result<Vec<(String, Vec<u8>)>> {
    let too_many = crate::domain::session::MAX_METADATA_KEYS * 2;
    if metadata.len() > too_many {
        return Err(Error::invalid_argument(
            "SESSION-Md1cp",
            format!(
                "metadata: at most {} keys",
                crate::domain::session::MAX_METADATA_KEYS
            ),
        ));
    }
    let mut entries: Vec<(String, Vec<u8>)> = metadata.into_iter().collect();
    entries.sort();
    for (key, value) in &entries {
        let characters = key.chars().count();
        if characters == 0 || characters > MAX_METADATA_KEY_CHARS {
            return Err(Error::invalid_argument(
                "SESSION-Md2cp",
                format!("metadata: a key must have 1 to {MAX_METADATA_KEY_CHARS} characters"),
            ));
        }
        if value.len() > MAX_METADATA_VALUE_BYTES {
            return Err(Error::invalid_argument(
                "SESSION-Md3cp",
                format!("metadata: the value of {key:?} exceeds {MAX_METADATA_VALUE_BYTES} bytes"),
            ));
        }
    }
    Ok(entries)
}

/// The user agent, within passlink's bound on its headers (§8 #17).
fn user_agent_of(user_agent: Option<session_pb::UserAgent>) -> Result<UserAgent> {
    let Some(user_agent) = user_agent else {
        return Ok(UserAgent::default());
    };
    let header: BTreeMap<String, Vec<String>> = user_agent
        .header
        .into_iter()
        .map(|(name, values)| (name, values.values))
        .collect();
    let bytes: usize = header
        .iter()
        .map(|(name, values)| name.len() + values.iter().map(String::len).sum::<usize>())
        .sum();
    let other = [
        &user_agent.fingerprint_id,
        &user_agent.ip,
        &user_agent.description,
    ]
    .iter()
    .map(|value| value.as_ref().map_or(0, String::len))
    .sum::<usize>();
    if bytes > MAX_USER_AGENT_HEADER_BYTES || other > MAX_USER_AGENT_HEADER_BYTES {
        return Err(Error::invalid_argument(
            "SESSION-Ua1cp",
            format!("user_agent: its headers exceed {MAX_USER_AGENT_HEADER_BYTES} bytes"),
        ));
    }
    Ok(UserAgent {
        fingerprint_id: user_agent.fingerprint_id,
        ip: user_agent.ip,
        description: user_agent.description,
        header,
    })
}

impl TryFrom<session_pb::CreateSessionRequest> for CreateSession {
    type Error = Error;

    fn try_from(request: session_pb::CreateSessionRequest) -> Result<Self> {
        let validator = Validator::new(VALIDATION_ID, "CreateSessionRequest");
        let user_agent = user_agent_of(request.user_agent)?;
        let request = Parts {
            checks: request.checks,
            metadata: request.metadata,
            challenges: request.challenges,
            lifetime: request.lifetime,
        }
        .validate(&validator)?;
        Ok(CreateSession {
            request,
            user_agent,
        })
    }
}

impl TryFrom<session_pb::SetSessionRequest> for SetSession {
    type Error = Error;

    fn try_from(request: session_pb::SetSessionRequest) -> Result<Self> {
        let validator = Validator::new(VALIDATION_ID, "SetSessionRequest");
        validator.runes("SessionId", &request.session_id, 1, 200)?;
        validator.runes("SessionToken", &request.session_token, 0, 200)?;
        let parts = Parts {
            checks: request.checks,
            metadata: request.metadata,
            challenges: request.challenges,
            lifetime: request.lifetime,
        }
        .validate(&validator)?;
        Ok(SetSession {
            session_id: request.session_id,
            session_token: Some(request.session_token).filter(|token| !token.is_empty()),
            request: parts,
        })
    }
}

/// A session id and the token that may come with it (GetSession, DeleteSession).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionReference {
    /// The session the request names.
    pub session_id: String,
    /// The session token, when one was given (an empty one counts as none).
    pub session_token: Option<String>,
}

/// Checks a session id (1..200) and an optional token (at most 200).
fn session_reference(
    message: &'static str,
    session_id: String,
    session_token: Option<String>,
) -> Result<SessionReference> {
    let validator = Validator::new(VALIDATION_ID, message);
    validator.runes("SessionId", &session_id, 1, 200)?;
    if let Some(token) = &session_token {
        validator.runes("SessionToken", token, 0, 200)?;
    }
    Ok(SessionReference {
        session_id,
        session_token: session_token.filter(|token| !token.is_empty()),
    })
}

impl TryFrom<session_pb::GetSessionRequest> for SessionReference {
    type Error = Error;

    fn try_from(request: session_pb::GetSessionRequest) -> Result<Self> {
        session_reference(
            "GetSessionRequest",
            request.session_id,
            request.session_token,
        )
    }
}

impl TryFrom<session_pb::DeleteSessionRequest> for SessionReference {
    type Error = Error;

    fn try_from(request: session_pb::DeleteSessionRequest) -> Result<Self> {
        session_reference(
            "DeleteSessionRequest",
            request.session_id,
            request.session_token,
        )
    }
}
