//! Users and organizations as passlink keeps them.

use super::time::Timestamp;

/// The lifecycle state of a user, numbered as `zitadel.user.v2.UserState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserState {
    Active = 1,
    Inactive = 2,
    Deleted = 3,
    Locked = 4,
    Initial = 5,
}

impl UserState {
    /// The state for a stored number.
    pub fn from_number(number: i64) -> Option<UserState> {
        [
            UserState::Active,
            UserState::Inactive,
            UserState::Deleted,
            UserState::Locked,
            UserState::Initial,
        ]
        .into_iter()
        .find(|state| *state as i64 == number)
    }
}

/// A gender as `zitadel.user.v2.Gender` numbers it.
pub type GenderNumber = i32;

/// The profile of a human user.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    pub given_name: String,
    pub family_name: String,
    pub nick_name: Option<String>,
    pub display_name: Option<String>,
    pub preferred_language: Option<String>,
    pub gender: Option<GenderNumber>,
}

/// A human user's email address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Email {
    pub address: String,
    pub is_verified: bool,
}

/// A human user's phone number.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Phone {
    pub number: String,
    pub is_verified: bool,
}

/// What kind of user this is, with what only that kind has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserKind {
    Human {
        profile: Profile,
        email: Email,
        phone: Option<Phone>,
    },
    Machine {
        name: String,
        description: String,
    },
}

/// A user with its current state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub org_id: String,
    pub state: UserState,
    pub username: String,
    /// The number of events written for this user so far.
    pub sequence: u64,
    pub created_at: Timestamp,
    pub changed_at: Timestamp,
    pub kind: UserKind,
}

impl User {
    /// The name a person is greeted with: the display name, else the given name.
    pub fn greeting_name(&self) -> &str {
        match &self.kind {
            UserKind::Human { profile, .. } => profile
                .display_name
                .as_deref()
                .filter(|name| !name.is_empty())
                .unwrap_or(&profile.given_name),
            UserKind::Machine { name, .. } => name,
        }
    }

    /// The email address of a human user.
    pub fn email(&self) -> Option<&Email> {
        match &self.kind {
            UserKind::Human { email, .. } => Some(email),
            UserKind::Machine { .. } => None,
        }
    }
}

/// An organization: the owner of users.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Org {
    pub id: String,
    pub name: String,
    pub domain: String,
}
