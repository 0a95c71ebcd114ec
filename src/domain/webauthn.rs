//! WebAuthn registration as a relying party, on the `passki` crate: creation options for the
//! browser, and the checks on the credential it returns. Pure computation, no IO.
//!
//! passki leaves a few checks to its caller; they are made here: the key algorithm must be one
//! of those offered (ES256, EdDSA, RS256), the attestation statement must be `none` or
//! `packed`, and RP ids are never IP addresses.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// COSE algorithms passlink offers and accepts: ES256, EdDSA, RS256.
pub const ACCEPTED_ALGORITHMS: [i32; 3] = [-7, -8, -257];

/// Attestation statement formats passlink accepts.
const ACCEPTED_ATTESTATION_FORMATS: [&str; 2] = ["none", "packed"];

/// Which kind of authenticator the browser should offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthenticatorAttachment {
    /// Built into the device (Touch ID, Windows Hello, …).
    Platform,
    /// A roaming authenticator (security key, phone).
    CrossPlatform,
}

/// The relying party of one registration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelyingParty {
    /// The RP id: the domain credentials are bound to.
    pub id: String,
    /// The name authenticators show the user.
    pub name: String,
    /// Exact origins (`scheme://host[:port]`, no trailing slash) a credential may come from.
    pub origins: Vec<String>,
}

/// A credential the user already holds, to exclude from a new registration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExistingCredential {
    /// The credential id the authenticator must not register again.
    pub credential_id: Vec<u8>,
    /// Transports as WebAuthn names them (`usb`, `internal`, …).
    pub transports: Vec<String>,
}

/// Credentials as passki takes them, to exclude from a registration or allow in a sign-in.
pub(super) fn stored_passkeys(credentials: &[ExistingCredential]) -> Vec<passki::StoredPasskey> {
    credentials
        .iter()
        .map(|existing| {
            let mut stored = passki::StoredPasskey::default();
            stored.credential_id = existing.credential_id.clone();
            stored.transports =
                serde_json::from_value(json!(existing.transports)).unwrap_or_default();
            stored
        })
        .collect()
}

/// What the browser needs to create a credential, and what the server keeps to check it.
#[derive(Debug)]
pub struct StartedRegistration {
    /// `{"publicKey": {...}}` for `navigator.credentials.create`.
    pub options: Value,
    /// passki's registration state (challenge, user), as JSON.
    pub state: String,
}

/// A credential that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedCredential {
    /// The credential id the authenticator chose.
    pub credential_id: Vec<u8>,
    /// The public key, COSE-encoded.
    pub public_key: Vec<u8>,
    /// The COSE algorithm of the key.
    pub algorithm: i32,
    /// The authenticator's signature counter at registration.
    pub sign_count: u32,
    /// The authenticator model's id.
    pub aaguid: [u8; 16],
    /// Transports as WebAuthn names them.
    pub transports: Vec<String>,
    /// Whether the credential may be synced to other devices.
    pub backup_eligible: bool,
    /// Whether the credential is synced already.
    pub backed_up: bool,
}

/// Why a value is not a usable RP id; `Ok` when it is.
pub fn check_rp_id(rp_id: &str) -> Result<(), &'static str> {
    let bare = rp_id.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return Err(
            "is an IP address; browsers refuse WebAuthn there (use a name such as localhost)",
        );
    }
    if rp_id.is_empty()
        || rp_id.len() > 253
        || rp_id.starts_with('.')
        || rp_id.ends_with('.')
        || !rp_id
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || "-.".contains(character))
    {
        return Err("is not a domain name");
    }
    Ok(())
}

/// An origin in the exact form browsers write into client data (`https://host[:port]`), or
/// why the value is not one.
pub fn normalize_origin(origin: &str) -> Result<String, String> {
    let url = url::Url::parse(origin).map_err(|error| format!("is not a URL: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("must be an http(s) origin with a host".into());
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err("must be an origin only, without path, query or fragment".into());
    }
    Ok(url.origin().ascii_serialization())
}

/// Whether credentials for `rp_id` may be created on `origin`: its host is the RP id or a
/// subdomain of it.
pub fn origin_fits_rp_id(origin: &str, rp_id: &str) -> bool {
    url::Url::parse(origin)
        .ok()
        .and_then(|url| url.host_str().map(str::to_ascii_lowercase))
        .is_some_and(|host| host == rp_id || host.ends_with(&format!(".{rp_id}")))
}

/// The WebAuthn user handle of a user: its id's bytes when they fit WebAuthn's 16–64 bytes,
/// otherwise their SHA-256 digest.
pub fn user_handle(user_id: &str) -> Vec<u8> {
    if (16..=64).contains(&user_id.len()) {
        user_id.as_bytes().to_vec()
    } else {
        Sha256::digest(user_id.as_bytes()).to_vec()
    }
}

/// passki's relying party for `relying_party`.
pub(super) fn passki(relying_party: &RelyingParty) -> passki::Passki {
    passki::Passki::new(
        &relying_party.id,
        &relying_party.origins,
        &relying_party.name,
    )
}

/// Starts a registration: a fresh random challenge, `userVerification: required`, a
/// discoverable credential, and the user's credentials excluded.
pub fn start_registration(
    relying_party: &RelyingParty,
    user_handle: &[u8],
    user_name: &str,
    display_name: &str,
    attachment: Option<AuthenticatorAttachment>,
    exclude: &[ExistingCredential],
    timeout_millis: u64,
) -> Result<StartedRegistration, String> {
    let excluded = stored_passkeys(exclude);
    let mut options = passki::RegistrationOptions::default();
    options.timeout = timeout_millis;
    options.attestation = passki::AttestationConveyancePreference::None;
    options.resident_key = passki::ResidentKeyRequirement::Required;
    options.user_verification = passki::UserVerificationRequirement::Required;
    options.authenticator_attachment = attachment.map(|attachment| match attachment {
        AuthenticatorAttachment::Platform => passki::AuthenticatorAttachment::Platform,
        AuthenticatorAttachment::CrossPlatform => passki::AuthenticatorAttachment::CrossPlatform,
    });
    options.exclude_credentials = Some(&excluded);
    let (challenge, state) = passki(relying_party)
        .start_passkey_registration(user_handle, user_name, display_name, options)
        .map_err(|error| error.to_string())?;
    let mut public_key = serde_json::to_value(&challenge).map_err(|error| error.to_string())?;
    // passki offers ES384 and RS384 too; passlink offers exactly what it accepts.
    public_key["pubKeyCredParams"] = Value::Array(
        ACCEPTED_ALGORITHMS
            .iter()
            .map(|algorithm| json!({"type": "public-key", "alg": algorithm}))
            .collect(),
    );
    // Older browsers read `requireResidentKey`; newer ones `residentKey`.
    public_key["authenticatorSelection"]["requireResidentKey"] = json!(true);
    let state = serde_json::to_string(&state).map_err(|error| error.to_string())?;
    Ok(StartedRegistration {
        options: json!({ "publicKey": public_key }),
        state,
    })
}

/// The `fmt` of an attestation object given as base64url.
fn attestation_format(attestation_object: &str) -> Result<String, String> {
    let bytes = passki::Passki::base64_decode(attestation_object)
        .map_err(|error| format!("attestationObject is not base64url: {error}"))?;
    let value: ciborium::Value = ciborium::from_reader(bytes.as_slice())
        .map_err(|error| format!("attestationObject is not CBOR: {error}"))?;
    value
        .as_map()
        .and_then(|entries| {
            entries
                .iter()
                .find(|(key, _)| key.as_text() == Some("fmt"))
                .and_then(|(_, value)| value.as_text())
        })
        .map(str::to_owned)
        .ok_or_else(|| "attestationObject has no fmt".to_string())
}

/// Checks a browser's `PublicKeyCredential` (as JSON, base64url fields) against the state of
/// the registration it answers: type, challenge, origin, RP id hash, user presence and
/// verification, attestation, and the key's algorithm.
pub fn finish_registration(
    relying_party: &RelyingParty,
    state: &str,
    credential: Value,
) -> Result<VerifiedCredential, String> {
    let state: passki::RegistrationState = serde_json::from_str(state)
        .map_err(|error| format!("the stored registration is unreadable: {error}"))?;
    if let Some(kind) = credential.get("type").and_then(Value::as_str)
        && kind != "public-key"
    {
        return Err(format!("credential type {kind:?} is not public-key"));
    }
    let credential: passki::RegistrationCredential = serde_json::from_value(credential)
        .map_err(|error| format!("the credential is malformed: {error}"))?;
    let format = attestation_format(&credential.response.attestation_object)?;
    if !ACCEPTED_ATTESTATION_FORMATS.contains(&format.as_str()) {
        return Err(format!(
            "attestation format {format:?} is not accepted (only none and packed)"
        ));
    }
    let stored = passki(relying_party)
        .finish_passkey_registration(&credential, &state)
        .map_err(|error| error.to_string())?;
    if !ACCEPTED_ALGORITHMS.contains(&stored.algorithm) {
        return Err(format!(
            "key algorithm {} is not accepted (only ES256, EdDSA and RS256)",
            stored.algorithm
        ));
    }
    let transports = serde_json::to_value(&stored.transports)
        .ok()
        .and_then(|value| serde_json::from_value(value).ok())
        .unwrap_or_default();
    Ok(VerifiedCredential {
        credential_id: stored.credential_id,
        public_key: stored.public_key,
        algorithm: stored.algorithm,
        sign_count: stored.counter,
        aaguid: stored.aaguid,
        transports,
        backup_eligible: stored.be,
        backed_up: stored.bs,
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The relying party the unit tests of registration and sign-in run on.
    pub(in crate::domain) fn relying_party() -> RelyingParty {
        RelyingParty {
            id: "localhost".into(),
            name: "passlink".into(),
            origins: vec!["http://localhost:8080".into()],
        }
    }

    #[test]
    fn rp_ids_refuse_ip_addresses_and_origins_are_normalized() {
        assert!(check_rp_id("localhost").is_ok());
        assert!(check_rp_id("login.example.com").is_ok());
        assert!(check_rp_id("127.0.0.1").unwrap_err().contains("IP address"));
        assert!(check_rp_id("[::1]").unwrap_err().contains("IP address"));
        assert!(check_rp_id("").is_err());
        assert_eq!(
            normalize_origin("http://localhost:8080/").unwrap(),
            "http://localhost:8080"
        );
        assert!(normalize_origin("http://localhost:8080/ui").is_err());
        assert!(origin_fits_rp_id("https://a.example.com", "example.com"));
        assert!(!origin_fits_rp_id("https://badexample.com", "example.com"));
    }

    #[test]
    fn user_handles_fit_webauthns_length_limits() {
        assert_eq!(user_handle("220526087715684609"), b"220526087715684609");
        assert_eq!(user_handle("short").len(), 32);
        assert_eq!(user_handle(&"x".repeat(65)).len(), 32);
    }

    #[test]
    fn creation_options_offer_exactly_es256_eddsa_rs256_and_require_verification() {
        let started = start_registration(
            &relying_party(),
            &user_handle("220526087715684609"),
            "ada",
            "Ada Lovelace",
            Some(AuthenticatorAttachment::Platform),
            &[ExistingCredential {
                credential_id: vec![1, 2, 3],
                transports: vec!["internal".into()],
            }],
            300_000,
        )
        .unwrap();
        let public_key = &started.options["publicKey"];
        let algorithms: Vec<i64> = public_key["pubKeyCredParams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|param| param["alg"].as_i64().unwrap())
            .collect();
        assert_eq!(algorithms, [-7, -8, -257]);
        assert_eq!(public_key["attestation"], "none");
        assert_eq!(
            public_key["authenticatorSelection"]["userVerification"],
            "required"
        );
        assert_eq!(
            public_key["authenticatorSelection"]["authenticatorAttachment"],
            "platform"
        );
        assert_eq!(public_key["rp"]["id"], "localhost");
        assert_eq!(public_key["user"]["displayName"], "Ada Lovelace");
        assert_eq!(public_key["excludeCredentials"][0]["id"], "AQID");
        assert_eq!(public_key["timeout"], 300_000);
        assert!(public_key["challenge"].as_str().unwrap().len() >= 43);
    }
}
