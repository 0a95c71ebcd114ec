//! The `PASSLINK_*` environment variables. Every flag of `passlink serve` has one, named after
//! it (`--smtp-host` is `PASSLINK_SMTP_HOST`), parsed exactly as the flag is; the SMTP password
//! has only its variable, `PASSLINK_SMTP_PASSWORD` (flags show in the process list). A
//! `PASSLINK_*` variable that is none of these is refused, except the test suite's own
//! `PASSLINK_TEST_*`. The environment is an input, the process's or a map, so that these rules
//! are tested without touching the process.

use std::collections::BTreeMap;
use std::ffi::OsString;

use clap::{Args, FromArgMatches};

use super::flags::{ServeArgs, variable_name};

/// The SMTP password is read from the environment only: flags show in the process list.
const SMTP_PASSWORD_VARIABLE: &str = "PASSLINK_SMTP_PASSWORD";

/// The prefix of every variable passlink reads.
const PREFIX: &str = "PASSLINK_";

/// Variables of the test suite, which are no settings.
const TEST_PREFIX: &str = "PASSLINK_TEST_";

/// The `PASSLINK_*` variables of one environment.
#[derive(Clone, Debug, Default)]
pub struct Environment {
    variables: BTreeMap<String, OsString>,
}

impl Environment {
    /// The variables of this process.
    pub fn of_process() -> Environment {
        Environment::from_map(
            std::env::vars_os()
                .filter_map(|(name, value)| name.into_string().ok().map(|name| (name, value))),
        )
    }

    /// The variables of `variables`; those not starting with `PASSLINK_` are left out.
    pub fn from_map<Name, Value>(variables: impl IntoIterator<Item = (Name, Value)>) -> Environment
    where
        Name: Into<String>,
        Value: Into<OsString>,
    {
        Environment {
            variables: variables
                .into_iter()
                .map(|(name, value)| (name.into(), value.into()))
                .filter(|(name, _)| name.starts_with(PREFIX))
                .collect(),
        }
    }

    /// The flags of `Flags` (`ServeArgs`, or `StorageArgs` for the operator commands) that
    /// the environment gives, each parsed as if it were on the command line. Refuses a
    /// `PASSLINK_*` variable that is no setting, and a value its flag would refuse, naming the
    /// variable.
    pub fn flags<Flags: Args + FromArgMatches + Default>(&self) -> Result<Flags, String> {
        self.refuse_unknown_variables()?;
        let command = Flags::augment_args(clap::Command::new("environment").no_binary_name(true));
        let mut flags = Flags::default();
        for argument in command.get_arguments() {
            let Some(long) = argument.get_long() else {
                continue;
            };
            let name = variable_name(long);
            let Some(value) = self.variables.get(&name) else {
                continue;
            };
            // `--flag=value`: a value that starts with `-` stays a value.
            let mut flag = OsString::from(format!("--{long}="));
            flag.push(value);
            let matches = command
                .clone()
                .try_get_matches_from([flag])
                .map_err(|error| invalid_value(&name, &error))?;
            flags
                .update_from_arg_matches(&matches)
                .map_err(|error| invalid_value(&name, &error))?;
        }
        Ok(flags)
    }

    /// The SMTP password, from `PASSLINK_SMTP_PASSWORD`.
    pub fn smtp_password(&self) -> Result<Option<String>, String> {
        self.variables
            .get(SMTP_PASSWORD_VARIABLE)
            .map(|password| {
                password
                    .clone()
                    .into_string()
                    .map_err(|_| format!("{SMTP_PASSWORD_VARIABLE} is not valid UTF-8"))
            })
            .transpose()
    }

    fn refuse_unknown_variables(&self) -> Result<(), String> {
        let known = known_variables();
        let unknown: Vec<&str> = self
            .variables
            .keys()
            .filter(|name| !name.starts_with(TEST_PREFIX) && !known.contains(name))
            .map(String::as_str)
            .collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "unknown environment variable(s) {}; known ones are {}",
                unknown.join(", "),
                known.join(", ")
            ))
        }
    }
}

/// Every `PASSLINK_*` variable passlink reads: one per flag of `serve`, and the SMTP password.
pub fn known_variables() -> Vec<String> {
    ServeArgs::augment_args(clap::Command::new("serve"))
        .get_arguments()
        .filter_map(|argument| argument.get_long().map(variable_name))
        .chain([SMTP_PASSWORD_VARIABLE.to_owned()])
        .collect()
}

/// clap's complaint about a value, naming the variable it came from (its first line only: the
/// rest points at `--help`).
fn invalid_value(name: &str, error: &clap::Error) -> String {
    let text = error.to_string();
    let first_line = text.lines().next().unwrap_or_default();
    format!(
        "environment variable {name}: {}",
        first_line.strip_prefix("error: ").unwrap_or(first_line)
    )
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::time::Duration;

    use super::*;
    use crate::config::{Settings, StorageArgs};

    /// `passlink serve`'s flags as clap parses them from `arguments`.
    fn flags(arguments: &[&str]) -> ServeArgs {
        let command = ServeArgs::augment_args(clap::Command::new("serve"));
        let matches = command
            .try_get_matches_from(std::iter::once("serve").chain(arguments.iter().copied()))
            .unwrap();
        ServeArgs::from_arg_matches(&matches).unwrap()
    }

    fn settings_file(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file
    }

    #[test]
    fn an_unknown_passlink_variable_is_refused_naming_it_and_test_variables_are_not() {
        let environment = Environment::from_map([
            ("PASSLINK_LISTN", "127.0.0.1:9000"),
            ("PASSLINK_TEST_POSTGRES_URL", "postgres://x"),
            ("HOME", "/root"),
        ]);
        let error = Settings::load(&ServeArgs::default(), &environment).unwrap_err();
        assert!(
            error.contains("unknown environment variable(s) PASSLINK_LISTN;"),
            "{error}"
        );
        assert!(!error.contains("PASSLINK_TEST_POSTGRES_URL"), "{error}");
        let error = Settings::load_storage(&StorageArgs::default(), &environment).unwrap_err();
        assert!(error.contains("PASSLINK_LISTN"), "{error}");
        let environment = Environment::from_map([("PASSLINK_TEST_POSTGRES_URL", "x")]);
        Settings::load(&ServeArgs::default(), &environment).unwrap();
    }

    #[test]
    fn the_smtp_password_is_read_from_its_variable_only() {
        let environment = Environment::from_map([
            ("PASSLINK_SMTP_HOST", "mail.example.com"),
            ("PASSLINK_SMTP_USERNAME", "passlink"),
            ("PASSLINK_SMTP_PASSWORD", "hunter2"),
        ]);
        let settings = Settings::load(&ServeArgs::default(), &environment).unwrap();
        assert_eq!(settings.smtp.host.as_deref(), Some("mail.example.com"));
        assert_eq!(settings.smtp.username.as_deref(), Some("passlink"));
        assert_eq!(settings.smtp.password.as_deref(), Some("hunter2"));
        let command = ServeArgs::augment_args(clap::Command::new("serve"));
        assert!(
            command
                .try_get_matches_from(["serve", "--smtp-password", "hunter2"])
                .is_err(),
            "the password has no flag"
        );
    }

    #[test]
    fn a_variable_overrides_the_file_and_a_flag_overrides_the_variable() {
        let file = settings_file(
            "listen = \"127.0.0.1:9000\"\nlog_level = \"debug\"\n\
             [code]\nlength = 20\nlifetime = \"2h\"\n[outbox]\nworker = true\n",
        );
        let other_file = settings_file("log_level = \"warn\"\n");
        let environment = Environment::from_map([
            ("PASSLINK_CONFIG", file.path().as_os_str()),
            ("PASSLINK_LISTEN", "127.0.0.1:9001".as_ref()),
            ("PASSLINK_CODE_LENGTH", "30".as_ref()),
            ("PASSLINK_OUTBOX_WORKER", "false".as_ref()),
            (
                "PASSLINK_WEBAUTHN_ALLOWED_ORIGINS",
                "http://localhost:8080,http://app.localhost:8080".as_ref(),
            ),
        ]);
        let settings = Settings::load(&flags(&[]), &environment).unwrap();
        assert_eq!(
            settings.log_level, "debug",
            "read from PASSLINK_CONFIG's file"
        );
        assert_eq!(settings.code.lifetime, Duration::from_secs(7200));
        assert_eq!(settings.listen.port(), 9001);
        assert_eq!(settings.code.length, 30);
        assert!(!settings.outbox.worker);
        assert_eq!(
            settings.webauthn.allowed_origins,
            ["http://localhost:8080", "http://app.localhost:8080"]
        );

        let other = other_file.path().to_str().unwrap();
        let settings = Settings::load(
            &flags(&[
                "--config",
                other,
                "--listen",
                "127.0.0.1:9002",
                "--code-length",
                "40",
            ]),
            &environment,
        )
        .unwrap();
        assert_eq!(
            settings.log_level, "warn",
            "--config wins over PASSLINK_CONFIG"
        );
        assert_eq!(settings.listen.port(), 9002);
        assert_eq!(settings.code.length, 40);
        assert!(
            !settings.outbox.worker,
            "a variable without a flag still counts"
        );
    }

    #[test]
    fn an_invalid_value_is_refused_naming_its_variable() {
        let environment = Environment::from_map([("PASSLINK_LISTEN", "not an address")]);
        let error = Settings::load(&ServeArgs::default(), &environment).unwrap_err();
        assert!(error.contains("PASSLINK_LISTEN"), "{error}");
        assert!(error.contains("not an address"), "{error}");
        let environment = Environment::from_map([("PASSLINK_OUTBOX_WORKER", "perhaps")]);
        let error = Settings::load(&ServeArgs::default(), &environment).unwrap_err();
        assert!(error.contains("PASSLINK_OUTBOX_WORKER"), "{error}");
    }

    #[test]
    fn operator_commands_read_only_the_storage_variables() {
        let environment = Environment::from_map([
            ("PASSLINK_DATA_DIR", "/srv/passlink"),
            ("PASSLINK_DATABASE_URL", "sqlite:///srv/passlink/other.db"),
            // A serve setting: known, so not refused, but not read by operator commands.
            ("PASSLINK_LISTEN", "not an address"),
        ]);
        let settings = Settings::load_storage(&StorageArgs::default(), &environment).unwrap();
        assert_eq!(settings.data_dir, std::path::Path::new("/srv/passlink"));
        assert_eq!(settings.database_url(), "sqlite:///srv/passlink/other.db");
        let flags = StorageArgs {
            data_dir: Some("/elsewhere".into()),
            ..StorageArgs::default()
        };
        let settings = Settings::load_storage(&flags, &environment).unwrap();
        assert_eq!(settings.data_dir, std::path::Path::new("/elsewhere"));
    }

    #[test]
    fn known_variables_come_from_every_flag_group_and_the_smtp_password() {
        let known = known_variables();
        for name in [
            "PASSLINK_CONFIG",
            "PASSLINK_LISTEN",
            "PASSLINK_CODE_LIFETIME",
            "PASSLINK_WEBAUTHN_RP_ID",
            "PASSLINK_SMTP_HOST",
            "PASSLINK_OUTBOX_WORKER",
            "PASSLINK_LIMITS_BODY_READ_TIMEOUT",
            "PASSLINK_SMTP_PASSWORD",
            "PASSLINK_SECRET_KEY_FILE",
            "PASSLINK_RETENTION_INTERVAL",
            "PASSLINK_RETENTION_DEAD_MESSAGES",
        ] {
            assert!(
                known.iter().any(|known| known == name),
                "{name} missing from {known:?}"
            );
        }
        assert_eq!(known.len(), 59, "{known:?}");
    }
}
