//! Roles, the permissions they grant, and the caller that holds them.

use std::fmt;
use std::str::FromStr;

/// A role a user can be granted, on the whole instance or on one organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Owns the whole instance: every permission everywhere.
    IamOwner,
    /// A login backend's role: creates, checks, reads and deletes sessions on the whole
    /// instance, and reads users (SESSIONS.md §11.9).
    IamLoginClient,
    /// Manages one organization and its users.
    OrgOwner,
    /// Manages the users of one organization.
    OrgUserManager,
}

/// Every role, in the order error messages list them.
const ROLES: [Role; 4] = [
    Role::IamOwner,
    Role::IamLoginClient,
    Role::OrgOwner,
    Role::OrgUserManager,
];

impl Role {
    /// The role's name as stored and as typed on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::IamOwner => "IAM_OWNER",
            Role::IamLoginClient => "IAM_LOGIN_CLIENT",
            Role::OrgOwner => "ORG_OWNER",
            Role::OrgUserManager => "ORG_USER_MANAGER",
        }
    }

    /// Whether the role is held on the whole instance rather than on one organization.
    pub fn is_instance_wide(self) -> bool {
        matches!(self, Role::IamOwner | Role::IamLoginClient)
    }

    fn grants(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::IamOwner => true,
            Role::IamLoginClient => {
                matches!(
                    permission,
                    UserRead | SessionRead | SessionWrite | SessionDelete
                )
            }
            Role::OrgOwner => matches!(
                permission,
                UserRead
                    | UserWrite
                    | UserDelete
                    | UserPasskeyWrite
                    | UserCredentialWrite
                    | SessionRead
                    | SessionDelete
            ),
            Role::OrgUserManager => matches!(
                permission,
                UserRead | UserWrite | UserCredentialWrite | SessionRead | SessionDelete
            ),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(name: &str) -> Result<Role, String> {
        ROLES
            .into_iter()
            .find(|role| role.as_str() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = ROLES.iter().map(|role| role.as_str()).collect();
                format!(
                    "unknown role {name:?}; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// A permission an RPC checks against the target user's organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// Reading a user (`user.read`).
    UserRead,
    /// Creating and changing users (`user.write`).
    UserWrite,
    /// Deleting users (`user.delete`).
    UserDelete,
    /// Registering passkeys for a user (`user.passkey.write`).
    UserPasskeyWrite,
    /// Changing a user's credentials (`user.credential.write`).
    UserCredentialWrite,
    /// Reading sessions (`session.read`).
    SessionRead,
    /// Creating and changing sessions (`session.write`); only instance-wide roles hold it.
    SessionWrite,
    /// Terminating sessions (`session.delete`).
    SessionDelete,
}

impl Permission {
    /// Whether a user signed in with a session token (and nothing else) acts with this
    /// permission on itself: it reads itself and manages its own passkeys, never more
    /// (SESSIONS.md §11.6).
    fn allowed_through_session(self) -> bool {
        matches!(
            self,
            Permission::UserRead | Permission::UserWrite | Permission::UserCredentialWrite
        )
    }
}

/// A role held by a user; `org_id` is `None` for instance-wide roles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleGrant {
    /// The role granted.
    pub role: Role,
    /// The organization it is granted on.
    pub org_id: Option<String>,
}

/// The authenticated user behind a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The caller's user id.
    pub user_id: String,
    /// The organization the caller belongs to.
    pub org_id: String,
    /// Every role the caller holds.
    pub grants: Vec<RoleGrant>,
    /// The organization named by the `x-zitadel-orgid` header, if any.
    pub org_hint: Option<String>,
    /// The session whose token authenticated the caller, when a session token did (instead
    /// of a personal access token); such a caller holds no grants.
    pub session_id: Option<String>,
}

impl Caller {
    /// Whether the caller holds `permission` in the organization `org_id`.
    pub fn has_permission(&self, permission: Permission, org_id: &str) -> bool {
        self.grants.iter().any(|grant| {
            grant.role.grants(permission)
                && (grant.role.is_instance_wide() || grant.org_id.as_deref() == Some(org_id))
        })
    }

    /// Whether the caller holds `permission` through an instance-wide role.
    pub fn has_instance_permission(&self, permission: Permission) -> bool {
        self.grants
            .iter()
            .any(|grant| grant.role.is_instance_wide() && grant.role.grants(permission))
    }

    /// Whether the caller may use `permission` on the user `user_id` because it is that user
    /// (where the RPC allows acting on oneself): a session token allows only reading oneself
    /// and managing one's passkeys.
    pub fn may_act_on_itself(&self, permission: Permission, user_id: &str) -> bool {
        self.user_id == user_id
            && (self.session_id.is_none() || permission.allowed_through_session())
    }

    /// Whether the caller holds `permission` in any organization at all.
    pub fn has_permission_anywhere(&self, permission: Permission) -> bool {
        self.grants
            .iter()
            .any(|grant| grant.role.grants(permission))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(grants: Vec<RoleGrant>) -> Caller {
        Caller {
            user_id: "1".into(),
            org_id: "10".into(),
            grants,
            org_hint: None,
            session_id: None,
        }
    }

    #[test]
    fn org_roles_grant_only_in_their_org_and_iam_owner_everywhere() {
        let org_owner = caller(vec![RoleGrant {
            role: Role::OrgOwner,
            org_id: Some("10".into()),
        }]);
        assert!(org_owner.has_permission(Permission::UserPasskeyWrite, "10"));
        assert!(!org_owner.has_permission(Permission::UserPasskeyWrite, "11"));
        let manager = caller(vec![RoleGrant {
            role: Role::OrgUserManager,
            org_id: Some("10".into()),
        }]);
        assert!(!manager.has_permission(Permission::UserPasskeyWrite, "10"));
        assert!(manager.has_permission(Permission::UserCredentialWrite, "10"));
        let owner = caller(vec![RoleGrant {
            role: Role::IamOwner,
            org_id: None,
        }]);
        assert!(owner.has_permission(Permission::UserDelete, "99"));
        assert!(!caller(vec![]).has_permission_anywhere(Permission::UserRead));
    }
}
