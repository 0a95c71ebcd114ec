//! `OrgStore`: organizations.

use async_trait::async_trait;

use crate::domain::time::Timestamp;
use crate::domain::user::Org;
use crate::error::Result;

use super::changes::Outcome;

/// Organizations, by id or domain.
#[async_trait]
pub trait OrgStore: Send + Sync + 'static {
    /// The organization with this id.
    async fn get_org(&self, org_id: &str) -> Result<Option<Org>>;
    /// The organization with this primary domain.
    async fn find_org_by_domain(&self, domain: &str) -> Result<Option<Org>>;
    /// Every organization, oldest first.
    async fn list_orgs(&self) -> Result<Vec<Org>>;

    /// Inserts an organization; `Rejection::OrgExists` when its name or domain is taken.
    async fn create_org(&self, org: &Org, at: Timestamp) -> Result<Outcome<()>>;
}
