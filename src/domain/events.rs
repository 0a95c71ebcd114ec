//! The type names of the events a user's log holds, each defined once.

/// A machine user was created (first start, or `passlink machine-user create`).
pub const MACHINE_USER_ADDED: &str = "user.machine.added";
/// A human user was created (AddHumanUser).
pub const HUMAN_USER_ADDED: &str = "user.human.added";
/// A user was deleted (DeleteUser).
pub const USER_REMOVED: &str = "user.removed";
/// A passkey registration code was issued (CreatePasskeyRegistrationLink).
pub const PASSKEY_CODE_ADDED: &str = "user.passkey.code.added";
/// A wrong code was presented for a live registration code.
pub const PASSKEY_CODE_CHECK_FAILED: &str = "user.passkey.code.check.failed";
/// A registration code was redeemed and started a registration (RegisterPasskey with a code).
pub const PASSKEY_CODE_USED: &str = "user.passkey.code.used";
/// The email carrying a registration link was handed to the mail transport.
pub const PASSKEY_CODE_SENT: &str = "user.passkey.code.sent";
/// A token holder started a passkey registration (RegisterPasskey without a code).
pub const PASSKEY_REGISTRATION_STARTED: &str = "user.passkey.registration.started";
/// A passkey was verified and stored READY (VerifyPasskeyRegistration).
pub const PASSKEY_ADDED: &str = "user.passkey.added";
/// A passkey was removed (RemovePasskey).
pub const PASSKEY_REMOVED: &str = "user.passkey.removed";

/// A session was created (CreateSession); its user, checks and challenges are in the payload.
pub const SESSION_ADDED: &str = "session.added";
/// A session was changed (SetSession): checks, challenges, metadata or lifetime.
pub const SESSION_SET: &str = "session.set";
/// A session was terminated (DeleteSession).
pub const SESSION_TERMINATED: &str = "session.terminated";
