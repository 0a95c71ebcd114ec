//! Users and organizations as passlink keeps them.

use super::time::Timestamp;

/// The lifecycle state of a user, numbered as `zitadel.user.v2.UserState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserState {
    /// Can sign in and be changed.
    Active = 1,
    /// Deactivated by an administrator.
    Inactive = 2,
    /// Deleted; kept for its events, gone for every RPC.
    Deleted = 3,
    /// Locked, for example after too many failed checks.
    Locked = 4,
    /// Created, but not yet set up.
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
    /// The first name.
    pub given_name: String,
    /// The last name.
    pub family_name: String,
    /// A nickname, if given.
    pub nick_name: Option<String>,
    /// The name to show; when empty, the given name is used.
    pub display_name: Option<String>,
    /// A language tag such as `de` or `en-US`.
    pub preferred_language: Option<String>,
    /// The gender, if given.
    pub gender: Option<GenderNumber>,
}

/// A human user's email address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Email {
    /// The address as given.
    pub address: String,
    /// Whether the address is known to reach the user.
    pub is_verified: bool,
}

/// A human user's phone number.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Phone {
    /// The number as given.
    pub number: String,
    /// Whether the number is known to reach the user.
    pub is_verified: bool,
}

/// What kind of user this is, with what only that kind has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserKind {
    /// A person, who can hold passkeys.
    Human {
        /// The person's names and preferences.
        profile: Profile,
        /// The person's email address.
        email: Email,
        /// The person's phone number, if given.
        phone: Option<Phone>,
    },
    /// A service account, which signs in with tokens.
    Machine {
        /// The machine user's name.
        name: String,
        /// What the machine user is for.
        description: String,
    },
}

/// A user with its current state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// The user id.
    pub id: String,
    /// The organization that owns the user.
    pub org_id: String,
    /// Where the user is in its lifecycle.
    pub state: UserState,
    /// The login name within the organization.
    pub username: String,
    /// The number of events written for this user so far.
    pub sequence: u64,
    /// When the user was created.
    pub created_at: Timestamp,
    /// When the user last changed.
    pub changed_at: Timestamp,
    /// Human or machine, with what only that kind has.
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
    /// The organization id.
    pub id: String,
    /// The organization's display name.
    pub name: String,
    /// The primary domain, unique among organizations.
    pub domain: String,
}
