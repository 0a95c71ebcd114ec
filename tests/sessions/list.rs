//! ListSessions (§6.4, §7 "ListSessions", §8 #10): the queries, sorting and paging, and rows
//! the caller may not see dropped and not counted.

use std::time::Duration;

use passlink::domain::permission::Role;
use passlink::pb::zitadel::object::v2 as object_pb;
use passlink::pb::zitadel::session::v2 as session_pb;
use passlink::pb::zitadel::v1::TimestampQueryMethod as Method;
use rstest::rstest;
use rstest_reuse::apply;
use tonic::Code;

use crate::common::protocols::Protocol;
use crate::common::scene::micros;
use crate::common::sessions::{create_checking, list_ids, query, user_checks};
use crate::every_protocol;

use super::support::{SignInScene, assert_exact, assert_validation};

use session_pb::search_query::Query;

fn list(queries: Vec<Query>) -> session_pb::ListSessionsRequest {
    session_pb::ListSessionsRequest {
        queries: queries.into_iter().map(query).collect(),
        ..Default::default()
    }
}

fn ids(answer: &session_pb::ListSessionsResponse) -> Vec<String> {
    answer
        .sessions
        .iter()
        .map(|session| session.id.clone())
        .collect()
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[apply(every_protocol)]
#[tokio::test]
async fn queries_combine_with_and_and_sort_by_creation_date(#[case] protocol: Protocol) {
    let s = SignInScene::new(protocol).await;
    let other = s.another_user("Ola").await;
    let mut created = Vec::new();
    for user in [&s.user.user_id, &other.user_id, &s.user.user_id] {
        let answer = s
            .login
            .create_session(session_pb::CreateSessionRequest {
                checks: Some(user_checks(user)),
                user_agent: Some(session_pb::UserAgent {
                    fingerprint_id: Some(format!("fp-{user}")),
                    ..Default::default()
                }),
                lifetime: (user == &other.user_id).then_some(prost_types::Duration {
                    seconds: 3600,
                    nanos: 0,
                }),
                ..Default::default()
            })
            .await
            .unwrap();
        created.push(answer);
        s.scene.server.clock.advance(Duration::from_millis(5));
    }
    let id = |index: usize| created[index].session_id.clone();
    let own = |queries| s.login.list_sessions(list(queries));

    let all = own(vec![]).await.unwrap();
    assert_eq!(sorted(ids(&all)), sorted(vec![id(0), id(1), id(2)]));
    let details = all.details.as_ref().unwrap();
    assert_eq!(details.total_result, 3);
    let now = passlink::domain::time::Clock::now(&*s.scene.server.clock).0;
    let timestamp = micros(details.timestamp.as_ref().expect("a timestamp"));
    assert!((now - 600_000_000..=now + 60_000_000).contains(&timestamp));

    let by_ids = s
        .login
        .list_sessions(list_ids(&[&id(0), &id(1), "404"]))
        .await
        .unwrap();
    assert_eq!(sorted(ids(&by_ids)), sorted(vec![id(0), id(1)]));
    let by_user = own(vec![Query::UserIdQuery(session_pb::UserIdQuery {
        id: s.user.user_id.clone(),
    })])
    .await
    .unwrap();
    assert_eq!(sorted(ids(&by_user)), sorted(vec![id(0), id(2)]));
    let both = own(vec![
        Query::UserIdQuery(session_pb::UserIdQuery {
            id: s.user.user_id.clone(),
        }),
        Query::IdsQuery(session_pb::IDsQuery {
            ids: vec![id(1), id(2)],
        }),
    ])
    .await
    .unwrap();
    assert_eq!(ids(&both), [id(2)], "queries combine with AND");
    // Creation date, with each method.
    let creation = created[1].details.as_ref().unwrap().change_date;
    let by_date = |method: Method| {
        own(vec![Query::CreationDateQuery(
            session_pb::CreationDateQuery {
                creation_date: creation,
                method: method as i32,
            },
        )])
    };
    assert_eq!(ids(&by_date(Method::Equals).await.unwrap()), [id(1)]);
    assert_eq!(
        sorted(ids(&by_date(Method::Greater).await.unwrap())),
        [id(2)]
    );
    assert_eq!(
        sorted(ids(&by_date(Method::LessOrEquals).await.unwrap())),
        sorted(vec![id(0), id(1)])
    );
    // Expiration date: GREATER also returns sessions without one.
    let far = prost_types::Timestamp {
        seconds: 4_000_000_000,
        nanos: 0,
    };
    let by_expiration = |method: Method| {
        own(vec![Query::ExpirationDateQuery(
            session_pb::ExpirationDateQuery {
                expiration_date: Some(far),
                method: method as i32,
            },
        )])
    };
    assert_eq!(ids(&by_expiration(Method::Less).await.unwrap()), [id(1)]);
    assert_eq!(
        sorted(ids(&by_expiration(Method::Greater).await.unwrap())),
        sorted(vec![id(0), id(2)])
    );
    // Creator: absent means the caller; user agent by fingerprint.
    let mine = own(vec![Query::CreatorQuery(session_pb::CreatorQuery {
        id: None,
    })])
    .await
    .unwrap();
    assert_eq!(mine.sessions.len(), 3);
    let admins = s
        .scene
        .admin
        .list_sessions(list(vec![Query::CreatorQuery(session_pb::CreatorQuery {
            id: None,
        })]))
        .await
        .unwrap();
    assert!(admins.sessions.is_empty(), "the admin created none");
    let by_agent = own(vec![Query::UserAgentQuery(session_pb::UserAgentQuery {
        fingerprint_id: Some(format!("fp-{}", other.user_id)),
    })])
    .await
    .unwrap();
    assert_eq!(ids(&by_agent), [id(1)]);

    // Sorting and paging.
    let page = |asc: bool, offset: u64, limit: u32| session_pb::ListSessionsRequest {
        query: Some(object_pb::ListQuery { offset, limit, asc }),
        sorting_column: session_pb::SessionFieldName::CreationDate as i32,
        ..Default::default()
    };
    let ascending = s.login.list_sessions(page(true, 0, 0)).await.unwrap();
    assert_eq!(ids(&ascending), [id(0), id(1), id(2)]);
    let descending = s.login.list_sessions(page(false, 0, 0)).await.unwrap();
    assert_eq!(ids(&descending), [id(2), id(1), id(0)]);
    let second_page = s.login.list_sessions(page(true, 1, 1)).await.unwrap();
    assert_eq!(ids(&second_page), [id(1)]);
    assert_eq!(second_page.details.unwrap().total_result, 3);
}

#[apply(every_protocol)]
#[tokio::test]
async fn invalid_queries_are_refused(#[case] protocol: Protocol) {
    let s = SignInScene::new(protocol).await;
    let failure = s
        .login
        .list_sessions(list(vec![Query::CreatorQuery(session_pb::CreatorQuery {
            id: Some(String::new()),
        })]))
        .await
        .unwrap_err();
    assert_exact(
        &failure,
        Code::InvalidArgument,
        "List.Query.Invalid (GRPC-x8n24uh)",
    );
    for fingerprint_id in [Some(String::new()), None] {
        // A personal token has no user agent, so an absent fingerprint has nothing to use.
        let failure = s
            .login
            .list_sessions(list(vec![Query::UserAgentQuery(
                session_pb::UserAgentQuery { fingerprint_id },
            )]))
            .await
            .unwrap_err();
        assert_exact(
            &failure,
            Code::InvalidArgument,
            "List.Query.Invalid (GRPC-x8n23uh)",
        );
    }
    let failure = s
        .login
        .list_sessions(session_pb::ListSessionsRequest {
            queries: vec![session_pb::SearchQuery { query: None }],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_validation(&failure, "value is required");
    let failure = s
        .login
        .list_sessions(list(vec![Query::CreationDateQuery(
            session_pb::CreationDateQuery {
                creation_date: None,
                method: 42,
            },
        )]))
        .await
        .unwrap_err();
    assert_validation(&failure, "value must be one of the defined enum values");
}

#[apply(every_protocol)]
#[tokio::test]
async fn rows_the_caller_may_not_see_are_neither_listed_nor_counted(#[case] protocol: Protocol) {
    let s = SignInScene::new(protocol).await;
    let other_org = s.scene.server.create_org("Elsewhere").await;
    let created = s
        .login
        .create_session(create_checking(&s.user.user_id))
        .await
        .unwrap();
    let ids_of = |answer: session_pb::ListSessionsResponse| {
        let total = answer.details.as_ref().unwrap().total_result;
        (ids(&answer), total)
    };
    let request = || list_ids(&[&created.session_id]);
    let foreign = s.scene.caller(&other_org, Some(Role::OrgOwner)).await;
    assert_eq!(
        ids_of(foreign.list_sessions(request()).await.unwrap()),
        (vec![], 0)
    );
    let nobody = s.scene.caller(&s.scene.org_id, None).await;
    assert_eq!(
        ids_of(nobody.list_sessions(request()).await.unwrap()),
        (vec![], 0)
    );
    let owner = s.scene.caller(&s.scene.org_id, Some(Role::OrgOwner)).await;
    let visible = (vec![created.session_id.clone()], 1);
    assert_eq!(
        ids_of(owner.list_sessions(request()).await.unwrap()),
        visible
    );
    let itself = s.user_itself().await;
    assert_eq!(
        ids_of(itself.list_sessions(request()).await.unwrap()),
        visible
    );
}
