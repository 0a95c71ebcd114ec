//! The documentation in `docs/` keeps up with the code: every RPC the binary serves is in
//! `docs/api.md` with its REST route, and every setting (each TOML key, each `PASSLINK_*`
//! variable and its flag) is in the settings table of `docs/settings.md`, which names no
//! setting that does not exist.

use std::collections::BTreeSet;
use std::path::Path;

use crate::api::routes::HttpRoute;
use crate::api::schema;
use crate::api::served::SERVED_SERVICES;
use crate::config::{Settings, known_variables};

/// A file of `docs/`.
fn document(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The rows of the Markdown table whose header starts with `| {first_header} |`, as cells.
fn table_rows(text: &str, first_header: &str) -> Vec<Vec<String>> {
    let header = format!("| {first_header} |");
    let mut lines = text
        .lines()
        .skip_while(|line| !line.starts_with(&header))
        .skip(2);
    let mut rows = Vec::new();
    while let Some(line) = lines.next().filter(|line| line.starts_with('|')) {
        rows.push(
            line.trim_matches('|')
                .split(" | ")
                .map(|cell| cell.trim().to_owned())
                .collect(),
        );
    }
    assert!(!rows.is_empty(), "no table headed {header:?}");
    rows
}

/// The texts in backticks in `cell`.
fn quoted(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

/// Every TOML key of the settings, dotted (`smtp.host`): the leaves of the default settings
/// written as JSON, where unset values are `null` and so still present.
fn toml_keys() -> BTreeSet<String> {
    fn leaves(prefix: &str, value: &serde_json::Value, keys: &mut BTreeSet<String>) {
        match value {
            serde_json::Value::Object(fields) => {
                for (name, value) in fields {
                    let key = if prefix.is_empty() {
                        name.clone()
                    } else {
                        format!("{prefix}.{name}")
                    };
                    leaves(&key, value, keys);
                }
            }
            _ => {
                keys.insert(prefix.to_owned());
            }
        }
    }
    let mut keys = BTreeSet::new();
    leaves(
        "",
        &serde_json::to_value(Settings::default()).unwrap(),
        &mut keys,
    );
    keys
}

#[test]
fn every_served_rpc_is_in_the_api_documentation_with_its_rest_route() {
    let api = document("api.md");
    let mut missing = Vec::new();
    for service_name in SERVED_SERVICES {
        if !api.contains(&format!("### {service_name}")) {
            missing.push(format!("a section `### {service_name}`"));
        }
        let service = schema::service(service_name).expect("a served service is in the schema");
        for method in service.methods() {
            let route = HttpRoute::of(&method).expect("every served RPC has a route");
            let route_text = format!("`{} {}`", route.verb, route.path);
            let row = api
                .lines()
                .find(|line| line.starts_with(&format!("| {} |", method.name())));
            match row {
                None => missing.push(format!("a row for {}", method.full_name())),
                Some(row) if !row.contains(&route_text) => missing.push(format!(
                    "the route {route_text} in the row of {}",
                    method.full_name()
                )),
                Some(row)
                    if route.success.as_u16() != 200
                        && !row.contains(&route.success.as_u16().to_string()) =>
                {
                    missing.push(format!(
                        "the success status {} in the row of {}",
                        route.success,
                        method.full_name()
                    ))
                }
                Some(_) => {}
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/api.md lacks:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_setting_is_in_the_settings_table_and_the_table_names_only_settings() {
    let rows = table_rows(&document("settings.md"), "TOML key");
    let documented_keys: BTreeSet<String> = rows
        .iter()
        .flat_map(|row| quoted(&row[0]))
        .map(str::to_owned)
        .collect();
    let keys = toml_keys();
    let variables: BTreeSet<String> = known_variables().into_iter().collect();
    let mut problems = Vec::new();
    for key in keys.difference(&documented_keys) {
        problems.push(format!("the TOML key `{key}` has no row"));
    }
    for key in documented_keys.difference(&keys) {
        problems.push(format!("a row names `{key}`, which is no TOML key"));
    }
    for variable in &variables {
        let row = rows
            .iter()
            .find(|row| quoted(&row[1]).contains(&variable.as_str()));
        let Some(row) = row else {
            problems.push(format!("the variable `{variable}` is in no row"));
            continue;
        };
        // Every variable but the SMTP password's stands for a flag of the same name.
        let flag = format!(
            "--{}",
            variable["PASSLINK_".len()..]
                .to_ascii_lowercase()
                .replace('_', "-")
        );
        if variable != "PASSLINK_SMTP_PASSWORD" && !quoted(&row[1]).contains(&flag.as_str()) {
            problems.push(format!("the row of `{variable}` lacks its flag `{flag}`"));
        }
    }
    for row in &rows {
        for name in quoted(&row[1]) {
            if name.starts_with("PASSLINK_") && !variables.contains(name) {
                problems.push(format!(
                    "a row names `{name}`, which passlink does not read"
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "docs/settings.md:\n{}",
        problems.join("\n")
    );
}

/// The anchors of a Markdown file's headings, as GitHub makes them: lower case, spaces as
/// `-`, punctuation other than `-` and `_` left out.
fn heading_anchors(file: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .filter_map(|line| line.strip_prefix('#'))
        .map(|heading| heading.trim_start_matches('#').trim())
        .map(|heading| {
            heading
                .to_lowercase()
                .chars()
                .filter(|character| {
                    character.is_alphanumeric() || matches!(character, ' ' | '-' | '_')
                })
                .map(|character| if character == ' ' { '-' } else { character })
                .collect()
        })
        .collect()
}

#[test]
fn the_readme_and_the_docs_link_only_to_files_in_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let mut documents = vec!["README.md".to_owned()];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".md") {
            documents.push(format!("docs/{name}"));
        }
    }
    let mut broken = Vec::new();
    for document in &documents {
        let text = std::fs::read_to_string(root.join(document)).unwrap();
        let directory = root.join(document).parent().unwrap().to_path_buf();
        for target in text
            .split("](")
            .skip(1)
            .filter_map(|rest| rest.split(')').next())
        {
            if target.starts_with("http://") || target.starts_with("https://") {
                continue;
            }
            let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
            let linked = if file.is_empty() {
                root.join(document)
            } else {
                directory.join(file)
            };
            if !linked.exists() {
                broken.push(format!("{document}: {target}"));
            } else if !anchor.is_empty() && !heading_anchors(&linked).contains(anchor) {
                broken.push(format!("{document}: {target} (no such heading)"));
            }
        }
    }
    assert!(broken.is_empty(), "links to missing files: {broken:?}");
    assert!(
        !readme.contains("../shared"),
        "the README points outside the repository"
    );
}
