//! `OrgStore` on `SqlStore`.

use async_trait::async_trait;

use crate::domain::time::Timestamp;
use crate::domain::user::Org;
use crate::error::Result;
use crate::service::ports::{OrgStore, Outcome, Rejection};

use super::SqlStore;
use super::errors::{internal, refused_when_unique};
use super::rows::OrgRow;

/// An organization by id.
pub(super) const GET_ORG: &str = "SELECT id, name, domain FROM orgs WHERE id = $1";

/// An organization by domain.
pub(super) const FIND_ORG_BY_DOMAIN: &str = "SELECT id, name, domain FROM orgs WHERE domain = $1";

#[async_trait]
impl OrgStore for SqlStore {
    async fn get_org(&self, org_id: &str) -> Result<Option<Org>> {
        self.find_by_key::<OrgRow, _>(GET_ORG, org_id, "STORE-Og1sr")
            .await
    }

    async fn find_org_by_domain(&self, domain: &str) -> Result<Option<Org>> {
        self.find_by_key::<OrgRow, _>(FIND_ORG_BY_DOMAIN, domain, "STORE-Od1sr")
            .await
    }

    async fn list_orgs(&self) -> Result<Vec<Org>> {
        let rows = sqlx::query_as::<_, OrgRow>(
            "SELECT id, name, domain FROM orgs ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(internal("STORE-Ol1sr"))?;
        Ok(rows.into_iter().map(Org::from).collect())
    }

    async fn create_org(&self, org: &Org, at: Timestamp) -> Result<Outcome<()>> {
        let inserted =
            sqlx::query("INSERT INTO orgs (id, name, domain, created_at) VALUES ($1, $2, $3, $4)")
                .bind(&org.id)
                .bind(&org.name)
                .bind(&org.domain)
                .bind(at.0)
                .execute(&self.pool)
                .await;
        refused_when_unique(inserted, Rejection::OrgExists, internal("STORE-Oc1in"))
    }
}
