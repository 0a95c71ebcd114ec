//! The benchmark's passkeys, shared by the bulk loader (which registers them) and the load
//! generator (which signs in with them): one ES256 (P-256) key per user, derived from the user's
//! id, so that the generator needs nothing but the users file to sign as each user. Bench
//! material only: anyone who knows a user's id knows its key.

use passkey_crypto::coset::CoseKeyBuilder;
use passkey_crypto::coset::cbor::Value;
use passkey_crypto::coset::iana::{self, EnumI64};
use passkey_crypto::{AvailableSecretKey, SecretKeyT};
use sha2::{Digest, Sha256};

/// The RP id the passkeys are registered for: the host of passlink's default external URL
/// (`http://localhost:PORT`), which is also its default RP id.
pub(crate) const RP_ID: &str = "localhost";

/// The credential id of a user's passkey: 16 bytes derived from its id (unique per user).
pub(crate) fn credential_id(user_id: &str) -> Vec<u8> {
    Sha256::digest(format!("passlink bench credential {user_id}"))[..16].to_vec()
}

/// The private key of a user's passkey: a P-256 scalar derived from its id.
pub(crate) fn secret_key(user_id: &str) -> Result<AvailableSecretKey, String> {
    let scalar = Sha256::digest(format!("passlink bench passkey {user_id}"));
    let private_key = CoseKeyBuilder::new()
        .key_type(iana::KeyType::EC2)
        .algorithm(iana::Algorithm::ES256)
        .param(
            iana::Ec2KeyParameter::Crv.to_i64(),
            Value::from(iana::EllipticCurve::P_256.to_i64()),
        )
        .param(
            iana::Ec2KeyParameter::D.to_i64(),
            Value::from(scalar.to_vec()),
        )
        .build();
    // Fails only for a scalar outside the curve's order: about one user id in 2^32.
    AvailableSecretKey::from_cose_key(&private_key)
        .map_err(|error| format!("no P-256 key for user {user_id}: {error:?}"))
}
