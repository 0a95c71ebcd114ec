//! The rows of a load, built as passlink's store builds them, in chunks of a few thousand
//! users, in key order (ids grow, each user's events follow its creation), so that every
//! B-tree takes them at its end.

use std::sync::Arc;

use passkey_crypto::coset::CborSerializable as _;
use passkey_crypto::{PublicKeyT as _, SecretKeyT as _};
use serde_json::json;

use passlink::domain::events;
use passlink::domain::id::IdGenerator;
use passlink::domain::permission::Role;
use passlink::domain::secret::hash_secret;
use passlink::domain::time::{Clock, SystemClock};
use passlink::domain::user::UserState;
use passlink::service::TOKEN_HASH_OWNER;
use passlink::service::operators::SYSTEM_ACTOR;

use super::Arguments;
use super::passkeys;

/// A value of a column.
pub(crate) enum Value {
    Text(String),
    Int(i64),
    Blob(Vec<u8>),
    Null,
}

/// The rows of one table, column by column as `columns` names them.
pub(crate) struct Table {
    pub(crate) name: &'static str,
    pub(crate) columns: &'static [&'static str],
    pub(crate) rows: Vec<Vec<Value>>,
}

impl Table {
    fn new(name: &'static str, columns: &'static [&'static str]) -> Table {
        Table {
            name,
            columns,
            rows: Vec::new(),
        }
    }
}

/// Tables in the order they must be written (referenced rows first).
pub(crate) struct Chunk {
    pub(crate) tables: Vec<Table>,
    pub(crate) human_user_ids: Vec<String>,
}

const USER_COLUMNS: &[&str] = &[
    "id",
    "org_id",
    "kind",
    "state",
    "username",
    "sequence",
    "created_at",
    "changed_at",
    "given_name",
    "family_name",
    "email",
    "email_verified",
    "phone_verified",
    "machine_name",
    "machine_description",
];
const EVENT_COLUMNS: &[&str] = &[
    "user_id",
    "sequence",
    "event_type",
    "payload",
    "actor",
    "created_at",
];
const CODE_COLUMNS: &[&str] = &["id", "user_id", "code_hash", "created_at", "expires_at"];
const PASSKEY_COLUMNS: &[&str] = &[
    "id",
    "user_id",
    "name",
    "rp_id",
    "credential_id",
    "public_key",
    "algorithm",
    "sign_count",
    "aaguid",
    "transports",
    "created_at",
];

/// The COSE algorithm of the bench passkeys: ES256.
const ES256: i64 = -7;

const MICROS_PER_HOUR: i64 = 3_600_000_000;

/// Makes the rows.
pub(crate) struct Generator {
    ids: IdGenerator,
    admin_user_id: String,
    org_ids: Vec<String>,
    next_user: u64,
    codes_per_user: u64,
    /// Whether each human user gets a passkey (see `bench/passkeys.rs`).
    passkeys: bool,
    /// When the users were created: seven days ago.
    users_created_at: i64,
    now: i64,
    random: u64,
}

impl Generator {
    pub(crate) fn new(admin_user_id: String, id_node: u16, arguments: &Arguments) -> Generator {
        let now = SystemClock.now().0;
        Generator {
            ids: IdGenerator::with_node(Arc::new(SystemClock), id_node),
            admin_user_id,
            org_ids: Vec::new(),
            next_user: 0,
            codes_per_user: arguments.codes_per_user,
            passkeys: arguments.passkeys,
            users_created_at: now - 7 * 24 * MICROS_PER_HOUR,
            now,
            random: 0x243F_6A88_85A3_08D3,
        }
    }

    fn next_random(&mut self) -> u64 {
        self.random ^= self.random << 13;
        self.random ^= self.random >> 7;
        self.random ^= self.random << 17;
        self.random
    }

    /// The organizations, each with an operator: a machine user (created like
    /// `passlink machine-user create`), its ORG_OWNER grant and a token.
    pub(crate) fn orgs_and_operators(&mut self, count: u64) -> Chunk {
        let mut orgs = Table::new("orgs", &["id", "name", "domain", "created_at"]);
        let mut users = Table::new("users", USER_COLUMNS);
        let mut user_events = Table::new("events", EVENT_COLUMNS);
        let mut grants = Table::new("role_grants", &["user_id", "role", "org_id"]);
        let mut tokens = Table::new(
            "personal_access_tokens",
            &["id", "user_id", "token_hash", "created_at"],
        );
        let at = self.users_created_at;
        for index in 0..count.max(1) {
            let org_id = self.ids.next_id();
            orgs.rows.push(vec![
                Value::Text(org_id.clone()),
                Value::Text(format!("Bench {index}")),
                Value::Text(format!("bench{index}.localhost")),
                Value::Int(at),
            ]);
            let user_id = self.ids.next_id();
            let username = format!("bench-operator-{index}");
            users.rows.push(vec![
                Value::Text(user_id.clone()),
                Value::Text(org_id.clone()),
                Value::Text("machine".into()),
                Value::Int(UserState::Active as i64),
                Value::Text(username.clone()),
                Value::Int(1),
                Value::Int(at),
                Value::Int(at),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Int(0),
                Value::Int(0),
                Value::Text(username.clone()),
                Value::Text("benchmark operator".into()),
            ]);
            user_events.rows.push(vec![
                Value::Text(user_id.clone()),
                Value::Int(1),
                Value::Text(events::MACHINE_USER_ADDED.into()),
                Value::Text(json!({ "username": username }).to_string()),
                Value::Text(SYSTEM_ACTOR.into()),
                Value::Int(at),
            ]);
            grants.rows.push(vec![
                Value::Text(user_id.clone()),
                Value::Text(Role::OrgOwner.as_str().into()),
                Value::Text(org_id.clone()),
            ]);
            let token = format!("bench-token-{:016x}", self.next_random());
            tokens.rows.push(vec![
                Value::Text(self.ids.next_id()),
                Value::Text(user_id),
                Value::Blob(hash_secret(TOKEN_HASH_OWNER, &token)),
                Value::Int(at),
            ]);
            self.org_ids.push(org_id);
        }
        Chunk {
            tables: vec![orgs, users, user_events, grants, tokens],
            human_user_ids: Vec::new(),
        }
    }

    /// `count` human users (as AddHumanUser with a verified email adds them), with `--passkeys`
    /// a passkey each (as VerifyPasskeyRegistration adds it, an hour after the user), and
    /// their codes (as CreatePasskeyRegistrationLink with returnCode issues them).
    pub(crate) fn human_users(&mut self, count: u64) -> Result<Chunk, String> {
        let mut users = Table::new("users", USER_COLUMNS);
        let mut user_events = Table::new("events", EVENT_COLUMNS);
        let mut passkey_rows = Table::new("passkeys", PASSKEY_COLUMNS);
        let mut codes = Table::new("passkey_codes", CODE_COLUMNS);
        let mut human_user_ids = Vec::with_capacity(count as usize);
        let created_at = self.users_created_at;
        for _ in 0..count {
            let number = self.next_user;
            self.next_user += 1;
            let org_id = self.org_ids[(number % self.org_ids.len() as u64) as usize].clone();
            let user_id = self.ids.next_id();
            let email = format!("bench-user-{number}@bench.localhost");
            user_events.rows.push(vec![
                Value::Text(user_id.clone()),
                Value::Int(1),
                Value::Text(events::HUMAN_USER_ADDED.into()),
                Value::Text(
                    json!({
                        "username": email,
                        "email_verified": true,
                        "has_phone": false,
                        "metadata_keys": Vec::<String>::new(),
                    })
                    .to_string(),
                ),
                Value::Text(self.admin_user_id.clone()),
                Value::Int(created_at),
            ]);
            let mut sequence = 1;
            let mut changed_at = created_at;
            if self.passkeys {
                let added_at = created_at + MICROS_PER_HOUR;
                let (passkey_row, event_payload) = self.passkey(&user_id, added_at)?;
                passkey_rows.rows.push(passkey_row);
                sequence += 1;
                user_events.rows.push(vec![
                    Value::Text(user_id.clone()),
                    Value::Int(sequence),
                    Value::Text(events::PASSKEY_ADDED.into()),
                    Value::Text(event_payload),
                    Value::Text(self.admin_user_id.clone()),
                    Value::Int(added_at),
                ]);
                changed_at = added_at;
            }
            let mut code_times: Vec<i64> = (0..self.codes_per_user)
                .map(|_| {
                    let age = (self.next_random() % (6 * 24 * MICROS_PER_HOUR) as u64) as i64;
                    self.now - age
                })
                .collect();
            code_times.sort_unstable();
            for code_created_at in code_times {
                let code_id = self.ids.next_id();
                let code = format!("{:012x}", self.next_random() & 0xFFFF_FFFF_FFFF);
                let expires_at = code_created_at + MICROS_PER_HOUR;
                codes.rows.push(vec![
                    Value::Text(code_id.clone()),
                    Value::Text(user_id.clone()),
                    Value::Blob(hash_secret(&code_id, &code)),
                    Value::Int(code_created_at),
                    Value::Int(expires_at),
                ]);
                sequence += 1;
                user_events.rows.push(vec![
                    Value::Text(user_id.clone()),
                    Value::Int(sequence),
                    Value::Text(events::PASSKEY_CODE_ADDED.into()),
                    Value::Text(
                        json!({
                            "code_id": code_id,
                            "expires_at": expires_at,
                            "medium": "return_code",
                        })
                        .to_string(),
                    ),
                    Value::Text(self.admin_user_id.clone()),
                    Value::Int(code_created_at),
                ]);
                changed_at = code_created_at;
            }
            users.rows.push(vec![
                Value::Text(user_id.clone()),
                Value::Text(org_id),
                Value::Text("human".into()),
                Value::Int(UserState::Active as i64),
                Value::Text(email.clone()),
                Value::Int(sequence),
                Value::Int(created_at),
                Value::Int(changed_at),
                Value::Text("Bench".into()),
                Value::Text(format!("User {number}")),
                Value::Text(email),
                Value::Int(1),
                Value::Int(0),
                Value::Null,
                Value::Null,
            ]);
            human_user_ids.push(user_id);
        }
        Ok(Chunk {
            tables: vec![users, user_events, passkey_rows, codes],
            human_user_ids,
        })
    }

    /// A user's passkey row (the key of `bench/passkeys.rs`, sign counter 0, no AAGUID) and
    /// the payload of its `user.passkey.added` event.
    fn passkey(&mut self, user_id: &str, added_at: i64) -> Result<(Vec<Value>, String), String> {
        let public_key = passkeys::secret_key(user_id)?
            .public_key()
            .to_cose_key()
            .to_vec()
            .map_err(|error| format!("cannot encode the COSE key: {error}"))?;
        let passkey_id = self.ids.next_id();
        let aaguid = [0u8; 16];
        let row = vec![
            Value::Text(passkey_id.clone()),
            Value::Text(user_id.to_owned()),
            Value::Text("bench".into()),
            Value::Text(passkeys::RP_ID.into()),
            Value::Blob(passkeys::credential_id(user_id)),
            Value::Blob(public_key),
            Value::Int(ES256),
            Value::Int(0),
            Value::Blob(aaguid.to_vec()),
            Value::Text(r#"["internal"]"#.into()),
            Value::Int(added_at),
        ];
        let payload = json!({
            "passkey_id": passkey_id,
            "name": "bench",
            "rp_id": passkeys::RP_ID,
            "algorithm": ES256,
            "aaguid": hex::encode(aaguid),
            "backup_eligible": false,
            "code_id": null,
        });
        Ok((row, payload.to_string()))
    }
}
