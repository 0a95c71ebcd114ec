//! passlink's bulk loader for benchmarks: fills a database that passlink has migrated and
//! bootstrapped (and that no passlink process has open) with organizations, their operators
//! (a machine user with an ORG_OWNER grant and a personal access token each), human users and
//! passkey registration codes, much faster than the API could: plain inserts in big
//! transactions, multi-row `INSERT` on SQLite (journal off during the load), `COPY` on
//! PostgreSQL.
//!
//! The rows are what passlink's store writes for the same requests (`src/store/write.rs`,
//! `tokens.rs`, `orgs.rs`, `users.rs`): every user has its event log (the user's creation at
//! sequence 1, one `user.passkey.code.added` per code after it), `users.sequence` is the last
//! event's, ids come from passlink's own id generator under a node number leased like a
//! process's, and hashes from its `hash_secret`. The codes' creation times spread over the last
//! six days, each valid for an hour, so most have expired but none has outlived the default
//! retention (the state a database that the sweep keeps reaches). With `--passkeys` every human
//! user also has one registered passkey, whose key the load generator derives from the user's
//! id (`bench/passkeys.rs`) to sign in with it.
//!
//! Usage: `bulkload --database-url URL --users 1000000 --codes-per-user 5 [--orgs 100]
//! [--passkeys] [--ids-out FILE]` (writes the human users' ids to FILE, one a line).

#[path = "../passkeys.rs"]
mod passkeys;
mod postgres;
mod rows;
mod sqlite;

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use rows::{Chunk, Generator};

#[derive(clap::Parser, Debug)]
#[command(about = "passlink's bulk loader for benchmarks (see bench/run)")]
struct Arguments {
    /// `sqlite://…/passlink.db` or `postgres://…`; migrated and bootstrapped by passlink.
    #[arg(long)]
    database_url: String,
    /// Human users to add.
    #[arg(long)]
    users: u64,
    /// Registration codes per human user.
    #[arg(long, default_value_t = 0)]
    codes_per_user: u64,
    /// Organizations the users are spread over.
    #[arg(long, default_value_t = 10)]
    orgs: u64,
    /// Give each human user a passkey for RP id `localhost` (`bench/passkeys.rs`).
    #[arg(long)]
    passkeys: bool,
    /// Where to write the human users' ids.
    #[arg(long)]
    ids_out: Option<PathBuf>,
    /// Users per chunk (each chunk is a few multi-row statements per table).
    #[arg(long, default_value_t = 2000)]
    chunk_users: u64,
}

/// Where chunks go: one transaction over the whole load.
trait Sink {
    async fn write(&mut self, chunk: &Chunk) -> Result<(), Box<dyn std::error::Error>>;
    async fn finish(self) -> Result<(), Box<dyn std::error::Error>>;
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arguments = <Arguments as clap::Parser>::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(arguments))
}

async fn run(arguments: Arguments) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let mut ids_out = match &arguments.ids_out {
        Some(path) => Some(std::io::BufWriter::new(std::fs::File::create(path)?)),
        None => None,
    };
    let url = arguments.database_url.clone();
    if url.starts_with("sqlite:") {
        let mut sink = sqlite::SqliteSink::open(&url).await?;
        let generator = Generator::new(sink.admin_user_id.clone(), sink.id_node, &arguments);
        load(&mut sink, generator, &arguments, &mut ids_out).await?;
        sink.finish().await?;
    } else {
        let mut sink = postgres::PostgresSink::open(&url).await?;
        let generator = Generator::new(sink.admin_user_id.clone(), sink.id_node, &arguments);
        load(&mut sink, generator, &arguments, &mut ids_out).await?;
        sink.finish().await?;
    }
    if let Some(mut out) = ids_out {
        out.flush()?;
    }
    eprintln!(
        "bulkload: {} users, {} codes, {} passkeys in {:.1} s",
        arguments.users,
        arguments.users * arguments.codes_per_user,
        if arguments.passkeys {
            arguments.users
        } else {
            0
        },
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn load(
    sink: &mut impl Sink,
    mut generator: Generator,
    arguments: &Arguments,
    ids_out: &mut Option<std::io::BufWriter<std::fs::File>>,
) -> Result<(), Box<dyn std::error::Error>> {
    sink.write(&generator.orgs_and_operators(arguments.orgs))
        .await?;
    let mut remaining = arguments.users;
    let mut written = 0u64;
    let mut last_report = Instant::now();
    while remaining > 0 {
        let count = remaining.min(arguments.chunk_users.max(1));
        let chunk = generator.human_users(count)?;
        if let Some(out) = ids_out.as_mut() {
            for id in &chunk.human_user_ids {
                writeln!(out, "{id}")?;
            }
        }
        sink.write(&chunk).await?;
        remaining -= count;
        written += count;
        if last_report.elapsed().as_secs() >= 10 {
            eprintln!("bulkload: {written} users written");
            last_report = Instant::now();
        }
    }
    Ok(())
}
