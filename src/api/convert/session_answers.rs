//! Session answers on the wire (SESSIONS.md §6.3 mapping), and ListSessions' queries.

use crate::domain::session::UserAgent;
use crate::domain::time::Timestamp;
use crate::error::{Error, Result};
use crate::pb::zitadel::object::v2 as object_pb;
use crate::pb::zitadel::session::v2 as session_pb;
use crate::pb::zitadel::v1 as zitadel_v1;
use crate::service::ports::{SessionFilter, TimeComparison};
use crate::service::{
    ChangeDetails, ListFilter, ListSessions, OwnFilter, SessionList, SessionView, SessionWritten,
};

use super::common::Validator;
use super::structs::json_to_struct;

/// The error id of ListSessions violations.
const VALIDATION_ID: &str = "SESSIONv2-Ls1vd";
/// The most ids one `ids_query` may name.
const MAX_QUERY_IDS: usize = 1000;
/// The most queries one ListSessions may combine.
const MAX_QUERIES: usize = 20;

fn challenges(options: Option<Option<serde_json::Value>>) -> Option<session_pb::Challenges> {
    options.map(|options| session_pb::Challenges {
        web_auth_n: options.map(|options| session_pb::challenges::WebAuthN {
            public_key_credential_request_options: Some(json_to_struct(options)),
        }),
        otp_sms: None,
        otp_email: None,
    })
}

impl From<SessionWritten> for session_pb::CreateSessionResponse {
    fn from(written: SessionWritten) -> Self {
        session_pb::CreateSessionResponse {
            details: Some((&written.details).into()),
            session_id: written.session_id,
            session_token: written.session_token,
            challenges: challenges(written.challenges),
        }
    }
}

impl From<SessionWritten> for session_pb::SetSessionResponse {
    fn from(written: SessionWritten) -> Self {
        session_pb::SetSessionResponse {
            details: Some((&written.details).into()),
            session_token: written.session_token,
            challenges: challenges(written.challenges),
        }
    }
}

impl From<Option<ChangeDetails>> for session_pb::DeleteSessionResponse {
    fn from(details: Option<ChangeDetails>) -> Self {
        session_pb::DeleteSessionResponse {
            details: Some(details.as_ref().map(Into::into).unwrap_or_default()),
        }
    }
}

fn user_agent(user_agent: UserAgent) -> Option<session_pb::UserAgent> {
    if user_agent.is_empty() {
        return None;
    }
    Some(session_pb::UserAgent {
        fingerprint_id: user_agent.fingerprint_id,
        // An address that does not parse is dropped, as ZITADEL does.
        ip: user_agent
            .ip
            .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok()),
        description: user_agent.description,
        header: user_agent
            .header
            .into_iter()
            .map(|(name, values)| (name, session_pb::user_agent::HeaderValues { values }))
            .collect(),
    })
}

impl From<SessionView> for session_pb::Session {
    fn from(view: SessionView) -> Self {
        let SessionView { session, user } = view;
        let user_factor = session.user.as_ref().map(|checked| session_pb::UserFactor {
            verified_at: Some(checked.checked_at.into()),
            id: checked.id.clone(),
            login_name: user
                .as_ref()
                .map(|user| user.username.clone())
                .unwrap_or_default(),
            display_name: user
                .as_ref()
                .map(|user| user.session_display_name())
                .unwrap_or_default(),
            organization_id: checked.org_id.clone(),
        });
        let factors = user_factor.map(|user_factor| session_pb::Factors {
            user: Some(user_factor),
            web_auth_n: session.web_authn.map(|factor| session_pb::WebAuthNFactor {
                verified_at: Some(factor.checked_at.into()),
                user_verified: factor.user_verified,
            }),
            ..Default::default()
        });
        session_pb::Session {
            id: session.id,
            creation_date: Some(session.created_at.into()),
            change_date: Some(session.changed_at.into()),
            sequence: session.sequence,
            factors,
            metadata: session.metadata.into_iter().collect(),
            user_agent: user_agent(session.user_agent),
            expiration_date: session.expires_at.map(Into::into),
        }
    }
}

impl From<SessionView> for session_pb::GetSessionResponse {
    fn from(view: SessionView) -> Self {
        session_pb::GetSessionResponse {
            session: Some(view.into()),
        }
    }
}

impl From<SessionList> for session_pb::ListSessionsResponse {
    fn from(list: SessionList) -> Self {
        session_pb::ListSessionsResponse {
            details: Some(object_pb::ListDetails {
                total_result: list.total,
                processed_sequence: 0,
                timestamp: Some(list.at.into()),
            }),
            sessions: list.sessions.into_iter().map(Into::into).collect(),
        }
    }
}

/// A wire timestamp as passlink's (microseconds), or a violation of `field`.
fn timestamp(
    validator: &Validator,
    field: &str,
    at: Option<prost_types::Timestamp>,
) -> Result<Timestamp> {
    let at = at.unwrap_or_default();
    if !(0..1_000_000_000).contains(&at.nanos) || at.seconds.abs() > 253_402_300_799 {
        return Err(validator.violation(field, "value must be a valid timestamp"));
    }
    Ok(Timestamp(
        at.seconds * 1_000_000 + i64::from(at.nanos / 1000),
    ))
}

fn comparison(validator: &Validator, method: i32) -> Result<TimeComparison> {
    use zitadel_v1::TimestampQueryMethod as Method;
    Ok(match Method::try_from(method) {
        Ok(Method::Equals) => TimeComparison::Equals,
        Ok(Method::Greater) => TimeComparison::Greater,
        Ok(Method::GreaterOrEquals) => TimeComparison::GreaterOrEquals,
        Ok(Method::Less) => TimeComparison::Less,
        Ok(Method::LessOrEquals) => TimeComparison::LessOrEquals,
        Err(_) => {
            return Err(
                validator.violation("Method", "value must be one of the defined enum values")
            );
        }
    })
}

fn list_filter(query: session_pb::SearchQuery) -> Result<ListFilter> {
    use session_pb::search_query::Query;
    let validator = Validator::new(VALIDATION_ID, "SearchQuery");
    let Some(query) = query.query else {
        return Err(validator.violation("Query", "value is required"));
    };
    Ok(match query {
        Query::IdsQuery(ids) => {
            if ids.ids.len() > MAX_QUERY_IDS {
                return Err(Error::invalid_argument(
                    "SESSION-Lq1ids",
                    format!("queries: an ids_query names at most {MAX_QUERY_IDS} ids"),
                ));
            }
            ListFilter::Plain(SessionFilter::Ids(ids.ids))
        }
        Query::UserIdQuery(user) => ListFilter::Plain(SessionFilter::UserId(user.id)),
        Query::CreationDateQuery(created) => {
            let inner = Validator::new(VALIDATION_ID, "CreationDateQuery");
            let method = comparison(&inner, created.method).map_err(|error| {
                validator
                    .nested("CreationDateQuery", Err(error))
                    .unwrap_err()
            })?;
            let at = timestamp(&inner, "CreationDate", created.creation_date)?;
            ListFilter::Plain(SessionFilter::CreatedAt(method, at))
        }
        Query::ExpirationDateQuery(expires) => {
            let inner = Validator::new(VALIDATION_ID, "ExpirationDateQuery");
            let method = comparison(&inner, expires.method).map_err(|error| {
                validator
                    .nested("ExpirationDateQuery", Err(error))
                    .unwrap_err()
            })?;
            let at = timestamp(&inner, "ExpirationDate", expires.expiration_date)?;
            ListFilter::Plain(SessionFilter::ExpiresAt(method, at))
        }
        Query::CreatorQuery(creator) => {
            if let Some(id) = &creator.id {
                Validator::new(VALIDATION_ID, "CreatorQuery").runes("Id", id, 0, 200)?;
            }
            ListFilter::Creator(creator.id.map_or(OwnFilter::Own, OwnFilter::Given))
        }
        Query::UserAgentQuery(agent) => {
            if let Some(id) = &agent.fingerprint_id {
                Validator::new(VALIDATION_ID, "UserAgentQuery").runes(
                    "FingerprintId",
                    id,
                    0,
                    200,
                )?;
            }
            ListFilter::UserAgent(
                agent
                    .fingerprint_id
                    .map_or(OwnFilter::Own, OwnFilter::Given),
            )
        }
    })
}

impl TryFrom<session_pb::ListSessionsRequest> for ListSessions {
    type Error = Error;

    fn try_from(request: session_pb::ListSessionsRequest) -> Result<Self> {
        let validator = Validator::new(VALIDATION_ID, "ListSessionsRequest");
        if request.queries.len() > MAX_QUERIES {
            return Err(Error::invalid_argument(
                "SESSION-Lq2cnt",
                format!("queries: at most {MAX_QUERIES} queries"),
            ));
        }
        let sorting =
            session_pb::SessionFieldName::try_from(request.sorting_column).map_err(|_| {
                validator.violation(
                    "SortingColumn",
                    "value must be one of the defined enum values",
                )
            })?;
        let filters = request
            .queries
            .into_iter()
            .enumerate()
            .map(|(index, query)| {
                list_filter(query).map_err(|error| {
                    if error.code() == crate::error::Code::InvalidArgument
                        && error.id() == VALIDATION_ID
                    {
                        validator
                            .nested(&format!("Queries[{index}]"), Err(error))
                            .unwrap_err()
                    } else {
                        error
                    }
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let query = request.query.unwrap_or_default();
        Ok(ListSessions {
            filters,
            by_creation_date: sorting == session_pb::SessionFieldName::CreationDate,
            ascending: query.asc,
            offset: query.offset,
            limit: u64::from(query.limit),
        })
    }
}
