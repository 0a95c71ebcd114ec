//! The `passlink` command line: `serve` runs the server; the other commands let an operator
//! manage organizations, machine users, tokens and roles without the API.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use passlink::app;
use passlink::config::{Environment, LogFormat, ServeArgs, Settings, StorageArgs};
use passlink::domain::permission::Role;
use passlink::domain::time::SystemClock;
use passlink::service::Services;

/// Passkey registration links, wire-compatible with ZITADEL's User Service v2.
///
/// Settings come from defaults, then the TOML file given by --config, then PASSLINK_*
/// environment variables, then flags.
#[derive(Parser, Debug)]
#[command(name = "passlink", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serves gRPC, gRPC-Web, Connect and REST on one port.
    Serve(Box<ServeArgs>),
    /// Manages organizations.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Manages machine users (API clients).
    MachineUser {
        #[command(subcommand)]
        command: MachineUserCommand,
    },
    /// Manages personal access tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Manages role grants.
    Role {
        #[command(subcommand)]
        command: RoleCommand,
    },
    /// Inspects and re-queues outgoing messages.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// Copies the embedded SQLite database into a new file while passlink keeps serving
    /// (on PostgreSQL, use pg_dump). The secret key file is not in the copy.
    Backup {
        #[command(flatten)]
        storage: StorageArgs,
        /// The backup file to write; must not exist. It is created with mode 0600.
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum OutboxCommand {
    /// Lists outbox messages, oldest first: id, state, attempts, user id, kind, last error.
    List {
        #[command(flatten)]
        storage: StorageArgs,
        /// Only messages in this state: pending, sent or dead.
        #[arg(long)]
        state: Option<String>,
    },
    /// Re-queues a dead message for immediate delivery with a fresh attempt count.
    Retry {
        #[command(flatten)]
        storage: StorageArgs,
        /// Message id, as printed by `outbox list`.
        id: String,
    },
}

#[derive(Subcommand, Debug)]
enum OrgCommand {
    /// Creates an organization and prints its id.
    Create {
        #[command(flatten)]
        storage: StorageArgs,
        #[arg(long)]
        name: String,
        /// Primary domain, e.g. acme.localhost.
        #[arg(long)]
        domain: String,
    },
    /// Lists organizations.
    List {
        #[command(flatten)]
        storage: StorageArgs,
    },
}

#[derive(Subcommand, Debug)]
enum MachineUserCommand {
    /// Creates a machine user and prints its id.
    Create {
        #[command(flatten)]
        storage: StorageArgs,
        /// Organization id.
        #[arg(long)]
        org: String,
        #[arg(long)]
        username: String,
        #[arg(long, default_value = "")]
        description: String,
    },
}

#[derive(Subcommand, Debug)]
enum TokenCommand {
    /// Creates a personal access token and prints it once; only its hash is stored.
    Create {
        #[command(flatten)]
        storage: StorageArgs,
        /// User id.
        #[arg(long)]
        user: String,
        /// Lifetime such as 30d or 12h; no expiry when absent.
        #[arg(long, value_parser = humantime::parse_duration)]
        lifetime: Option<Duration>,
    },
    /// Revokes a personal access token by its id.
    Revoke {
        #[command(flatten)]
        storage: StorageArgs,
        /// Token id, as printed by `token create`.
        #[arg(long)]
        id: String,
    },
}

#[derive(Subcommand, Debug)]
enum RoleCommand {
    /// Grants IAM_OWNER (instance-wide), or ORG_OWNER / ORG_USER_MANAGER on one organization.
    Grant {
        #[command(flatten)]
        storage: StorageArgs,
        /// User id.
        #[arg(long)]
        user: String,
        #[arg(long)]
        role: Role,
        /// Organization id, for organization roles.
        #[arg(long)]
        org: Option<String>,
    },
}

fn init_tracing(format: LogFormat, filter: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only for a person at a terminal: a file or a pipe gets plain text. NO_COLOR
    // (https://no-color.org) turns it off on a terminal too.
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn operator_services(storage: &StorageArgs) -> Result<Arc<Services>, String> {
    let settings = Settings::load_storage(storage, &Environment::of_process())?;
    init_tracing(settings.log_format, "warn");
    let runtime = settings.resolve()?;
    let store = app::open_store(&settings).await?;
    // No operator command seals or opens a code: the key file is left alone.
    Ok(app::services(
        runtime.service,
        store,
        Arc::new(passlink::sealing::NoSecretKey),
        Arc::new(SystemClock),
    ))
}

async fn run(command: Command) -> Result<(), String> {
    let describe = |error: passlink::error::Error| error.to_string();
    match command {
        Command::Serve(args) => {
            let settings = Settings::load(&args, &Environment::of_process())?;
            init_tracing(settings.log_format, &settings.log_level);
            app::run(settings).await
        }
        Command::Org {
            command:
                OrgCommand::Create {
                    storage,
                    name,
                    domain,
                },
        } => {
            let org = operator_services(&storage)
                .await?
                .create_org(&name, &domain)
                .await
                .map_err(describe)?;
            println!("{}", org.id);
            Ok(())
        }
        Command::Org {
            command: OrgCommand::List { storage },
        } => {
            for org in operator_services(&storage)
                .await?
                .list_orgs()
                .await
                .map_err(describe)?
            {
                println!("{}\t{}\t{}", org.id, org.name, org.domain);
            }
            Ok(())
        }
        Command::MachineUser {
            command:
                MachineUserCommand::Create {
                    storage,
                    org,
                    username,
                    description,
                },
        } => {
            let user_id = operator_services(&storage)
                .await?
                .create_machine_user(&org, &username, &description)
                .await
                .map_err(describe)?;
            println!("{user_id}");
            Ok(())
        }
        Command::Token {
            command:
                TokenCommand::Create {
                    storage,
                    user,
                    lifetime,
                },
        } => {
            let created = operator_services(&storage)
                .await?
                .create_token(&user, lifetime)
                .await
                .map_err(describe)?;
            eprintln!(
                "token id {} (the token is shown only now)",
                created.token_id
            );
            println!("{}", created.token.expose());
            Ok(())
        }
        Command::Token {
            command: TokenCommand::Revoke { storage, id },
        } => operator_services(&storage)
            .await?
            .revoke_token(&id)
            .await
            .map_err(describe),
        Command::Role {
            command:
                RoleCommand::Grant {
                    storage,
                    user,
                    role,
                    org,
                },
        } => operator_services(&storage)
            .await?
            .grant_role(&user, role, org.as_deref())
            .await
            .map_err(describe),
        Command::Outbox {
            command: OutboxCommand::List { storage, state },
        } => {
            let messages = operator_services(&storage)
                .await?
                .list_outbox_messages()
                .await
                .map_err(describe)?;
            // Payloads hold codes until sent: never print them.
            for message in messages
                .iter()
                .filter(|message| state.as_ref().is_none_or(|state| &message.state == state))
            {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    message.id,
                    message.state,
                    message.attempts,
                    message.user_id,
                    message.kind,
                    message.last_error.as_deref().unwrap_or("-")
                );
            }
            Ok(())
        }
        Command::Backup { storage, to } => {
            let settings = Settings::load_storage(&storage, &Environment::of_process())?;
            init_tracing(settings.log_format, "warn");
            let report = app::backup(&settings, &to).await?;
            eprintln!(
                "backup written to {} ({} bytes, integrity ok); the secret key file is not in it",
                report.file.display(),
                report.bytes
            );
            Ok(())
        }
        Command::Outbox {
            command: OutboxCommand::Retry { storage, id },
        } => {
            operator_services(&storage)
                .await?
                .retry_outbox_message(&id)
                .await
                .map_err(describe)?;
            eprintln!("message {id} re-queued");
            Ok(())
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    // The flags of settings name their PASSLINK_* variables in the help; the variables
    // themselves are read by `Settings::load`, not by clap.
    let command = passlink::config::with_variable_names(Cli::command());
    let cli = Cli::from_arg_matches(&command.get_matches()).unwrap_or_else(|error| error.exit());
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("passlink: {error}");
            ExitCode::FAILURE
        }
    }
}
