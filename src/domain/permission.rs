//! Roles, the permissions they grant, and the caller that holds them.

use std::fmt;
use std::str::FromStr;

/// A role a user can be granted, on the whole instance or on one organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    IamOwner,
    OrgOwner,
    OrgUserManager,
}

impl Role {
    /// The role's name as stored and as typed on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::IamOwner => "IAM_OWNER",
            Role::OrgOwner => "ORG_OWNER",
            Role::OrgUserManager => "ORG_USER_MANAGER",
        }
    }

    /// Whether the role is held on the whole instance rather than on one organization.
    pub fn is_instance_wide(self) -> bool {
        matches!(self, Role::IamOwner)
    }

    fn grants(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::IamOwner => true,
            Role::OrgOwner => matches!(
                permission,
                UserRead | UserWrite | UserDelete | UserPasskeyWrite | UserCredentialWrite
            ),
            Role::OrgUserManager => {
                matches!(permission, UserRead | UserWrite | UserCredentialWrite)
            }
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
        [Role::IamOwner, Role::OrgOwner, Role::OrgUserManager]
            .into_iter()
            .find(|role| role.as_str() == name)
            .ok_or_else(|| {
                format!("unknown role {name:?}; expected IAM_OWNER, ORG_OWNER or ORG_USER_MANAGER")
            })
    }
}

/// A permission an RPC checks against the target user's organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    UserRead,
    UserWrite,
    UserDelete,
    UserPasskeyWrite,
    UserCredentialWrite,
}

/// A role held by a user; `org_id` is `None` for instance-wide roles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleGrant {
    pub role: Role,
    pub org_id: Option<String>,
}

/// The authenticated user behind a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub user_id: String,
    pub org_id: String,
    pub grants: Vec<RoleGrant>,
    /// The organization named by the `x-zitadel-orgid` header, if any.
    pub org_hint: Option<String>,
}

impl Caller {
    /// Whether the caller holds `permission` in the organization `org_id`.
    pub fn has_permission(&self, permission: Permission, org_id: &str) -> bool {
        self.grants.iter().any(|grant| {
            grant.role.grants(permission)
                && (grant.role.is_instance_wide() || grant.org_id.as_deref() == Some(org_id))
        })
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
