//! Registration codes as issued through the API: 12 characters drawn from the whole alphabet,
//! never repeated, and never stored in plain text.

mod common;

use std::collections::HashSet;

use common::requests::return_code;
use common::{TestServer, add_human, authorized};
use passlink::domain::secret::DEFAULT_CODE_ALPHABET;
use passlink::pb::zitadel::user::v2 as user_pb;

/// Issues `count` codes with `return_code` over gRPC, spread over a few users.
async fn issue_codes(server: &TestServer, count: usize) -> Vec<user_pb::PasskeyRegistrationCode> {
    let mut users = Vec::new();
    for name in ["Ada", "Grace", "Edsger"] {
        users.push(add_human(server, &server.admin_token, name).await);
    }
    let mut client = server.grpc_client().await;
    let mut codes = Vec::with_capacity(count);
    for index in 0..count {
        let answer = client
            .create_passkey_registration_link(authorized(
                return_code(&users[index % users.len()]),
                &server.admin_token,
            ))
            .await
            .expect("CreatePasskeyRegistrationLink")
            .into_inner();
        codes.push(answer.code.expect("return_code answers with the code"));
    }
    codes
}

#[tokio::test]
async fn codes_have_12_characters_cover_the_alphabet_and_never_repeat() {
    let server = TestServer::start().await;
    let codes = issue_codes(&server, 300).await;

    let mut distinct_codes = HashSet::new();
    let mut distinct_ids = HashSet::new();
    let mut characters_seen = HashSet::new();
    for code in &codes {
        assert_eq!(code.code.chars().count(), 12, "{code:?}");
        for character in code.code.chars() {
            assert!(DEFAULT_CODE_ALPHABET.contains(character), "{code:?}");
            characters_seen.insert(character);
        }
        assert!(distinct_codes.insert(code.code.clone()), "a repeated code");
        assert!(
            !code.id.is_empty() && code.id.chars().all(|c| c.is_ascii_digit()),
            "{code:?}"
        );
        assert!(distinct_ids.insert(code.id.clone()), "a repeated code id");
    }
    // 3600 uniform draws miss one of 62 characters with a probability below 1e-25.
    let missing: Vec<char> = DEFAULT_CODE_ALPHABET
        .chars()
        .filter(|character| !characters_seen.contains(character))
        .collect();
    assert!(missing.is_empty(), "never drawn: {missing:?}");
}

/// Every byte the database holds, as text: the SQLite file with its WAL and shared memory, or
/// every row of every table of a PostgreSQL database.
async fn database_contents(server: &TestServer) -> Vec<u8> {
    let url = server.database_url();
    if url.starts_with("sqlite:") {
        let mut contents = Vec::new();
        for name in ["passlink.db", "passlink.db-wal", "passlink.db-shm"] {
            if let Ok(bytes) = std::fs::read(server.data_dir.path().join(name)) {
                contents.extend(bytes);
            }
        }
        assert!(!contents.is_empty(), "the SQLite files exist");
        return contents;
    }
    use sqlx::{Connection, Row};
    let mut connection = sqlx::PgConnection::connect(&url).await.unwrap();
    let tables: Vec<String> = sqlx::query(
        "SELECT tablename::text AS name FROM pg_tables WHERE schemaname = current_schema()",
    )
    .fetch_all(&mut connection)
    .await
    .unwrap()
    .iter()
    .map(|row| row.get("name"))
    .collect();
    let mut contents = Vec::new();
    for table in tables {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT row_to_json(t)::text AS line FROM \"{table}\" AS t"
        )))
        .fetch_all(&mut connection)
        .await
        .unwrap();
        for row in rows {
            contents.extend(row.get::<String, _>("line").into_bytes());
            contents.push(b'\n');
        }
    }
    connection.close().await.unwrap();
    contents
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[tokio::test]
async fn the_database_never_holds_a_returned_code_in_plain_text() {
    let server = TestServer::start().await;
    let codes = issue_codes(&server, 30).await;
    let contents = database_contents(&server).await;

    // The search sees what was stored: the code ids are there.
    for code in &codes {
        assert!(
            contains(&contents, code.id.as_bytes()),
            "code id {}",
            code.id
        );
    }
    for code in &codes {
        let hex: String = code
            .code
            .bytes()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        assert!(
            !contains(&contents, code.code.as_bytes()),
            "a code in plain text"
        );
        assert!(!contains(&contents, hex.as_bytes()), "a code in hex");
    }
}
