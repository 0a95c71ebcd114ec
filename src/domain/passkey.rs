//! Who may get a passkey: the one rule both issuing a registration link and starting a
//! registration follow.

use super::user::{Email, User, UserKind, UserState};

/// Why a user may not get a passkey.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasskeyRefusal {
    /// The user is locked.
    Locked,
    /// The user is inactive.
    Inactive,
    /// The user is a machine user; passkeys are for people.
    NotHuman,
}

impl User {
    /// Whether this user may get a passkey: a human that is neither locked nor inactive
    /// (deleted users are not found at all). Gives the human's email address, where a
    /// registration link goes.
    pub fn may_get_passkey(&self) -> Result<&Email, PasskeyRefusal> {
        match (&self.state, &self.kind) {
            (UserState::Locked, _) => Err(PasskeyRefusal::Locked),
            (UserState::Inactive, _) => Err(PasskeyRefusal::Inactive),
            (_, UserKind::Machine { .. }) => Err(PasskeyRefusal::NotHuman),
            (_, UserKind::Human { email, .. }) => Ok(email),
        }
    }
}
