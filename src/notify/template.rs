//! Message templates: plain text and HTML files with `{{ name }}` placeholders, built in
//! (`templates/` in the repository) or read from an operator's directory. Values are escaped
//! for HTML in the HTML part; an unknown placeholder is refused when the templates load.

use std::path::Path;

/// Built-in plain-text body of the registration link email.
const DEFAULT_TEXT: &str = include_str!("../../templates/passkey_link.txt");
/// Built-in HTML body of the registration link email.
const DEFAULT_HTML: &str = include_str!("../../templates/passkey_link.html");

/// Subject of the registration link email (fixed by the contract).
pub const PASSKEY_LINK_SUBJECT: &str = "Add Passkey Login";

/// The placeholders a registration link template may use.
const PLACEHOLDERS: &[&str] = &["greeting_name", "link", "expires_at", "email"];

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Value(&'static str),
}

/// A parsed body template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BodyTemplate {
    parts: Vec<Part>,
}

impl BodyTemplate {
    /// Parses `{{ name }}` placeholders; `name` must be one of the known ones.
    pub fn parse(source: &str) -> Result<BodyTemplate, String> {
        let mut parts = Vec::new();
        let mut rest = source;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after_open = &rest[open + 2..];
            let close = after_open
                .find("}}")
                .ok_or_else(|| "a {{ is never closed".to_owned())?;
            let name = after_open[..close].trim();
            let known = PLACEHOLDERS
                .iter()
                .find(|known| **known == name)
                .ok_or_else(|| {
                    format!(
                        "unknown placeholder {{{{ {name} }}}}; known ones are {}",
                        PLACEHOLDERS.join(", ")
                    )
                })?;
            parts.push(Part::Value(known));
            rest = &after_open[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(BodyTemplate { parts })
    }

    /// Renders with `value(name)` for each placeholder, passed through `escape`.
    fn render(&self, value: impl Fn(&str) -> String, escape: fn(&str) -> String) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Value(name) => out.push_str(&escape(&value(name))),
            }
        }
        out
    }
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// The values of one registration link email.
#[derive(Clone, Copy)]
pub struct LinkEmailValues<'a> {
    pub greeting_name: &'a str,
    pub link: &'a str,
    pub expires_at: &'a str,
    pub email: &'a str,
}

impl std::fmt::Debug for LinkEmailValues<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The link carries the code.
        formatter
            .debug_struct("LinkEmailValues")
            .field("greeting_name", &self.greeting_name)
            .field("link", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("email", &self.email)
            .finish()
    }
}

impl LinkEmailValues<'_> {
    fn get(&self, name: &str) -> String {
        match name {
            "greeting_name" => self.greeting_name,
            "link" => self.link,
            "expires_at" => self.expires_at,
            "email" => self.email,
            _ => "",
        }
        .to_owned()
    }
}

/// The text and HTML templates of the registration link email.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeyLinkTemplates {
    text: BodyTemplate,
    html: BodyTemplate,
}

impl PasskeyLinkTemplates {
    /// The built-in templates, each replaced by `passkey_link.txt` / `passkey_link.html` from
    /// `directory` when that file exists there.
    pub fn load(directory: Option<&Path>) -> Result<PasskeyLinkTemplates, String> {
        let read = |file: &str, default: &str| -> Result<BodyTemplate, String> {
            let source = match directory.map(|directory| directory.join(file)) {
                Some(path) if path.exists() => std::fs::read_to_string(&path)
                    .map_err(|error| format!("cannot read {}: {error}", path.display()))?,
                _ => default.to_owned(),
            };
            BodyTemplate::parse(&source)
                .map_err(|error| format!("mail template {file} is invalid: {error}"))
        };
        if let Some(directory) = directory
            && !directory.is_dir()
        {
            return Err(format!(
                "mail.templates_dir {} is not a directory",
                directory.display()
            ));
        }
        Ok(PasskeyLinkTemplates {
            text: read("passkey_link.txt", DEFAULT_TEXT)?,
            html: read("passkey_link.html", DEFAULT_HTML)?,
        })
    }

    /// The plain-text body.
    pub fn render_text(&self, values: &LinkEmailValues<'_>) -> String {
        self.text.render(|name| values.get(name), str::to_owned)
    }

    /// The HTML body, every value escaped.
    pub fn render_html(&self, values: &LinkEmailValues<'_>) -> String {
        self.html.render(|name| values.get(name), escape_html)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUES: LinkEmailValues<'static> = LinkEmailValues {
        greeting_name: "<Ada & Co>",
        link: "https://x.test/r?a=1&b=2",
        expires_at: "2030-01-01 10:00 UTC",
        email: "ada@example.com",
    };

    #[test]
    fn built_in_templates_carry_the_link_in_both_parts_and_escape_html() {
        let templates = PasskeyLinkTemplates::load(None).unwrap();
        let text = templates.render_text(&VALUES);
        assert!(text.contains("Hello <Ada & Co>,"));
        assert!(text.contains("\nhttps://x.test/r?a=1&b=2\n"));
        let html = templates.render_html(&VALUES);
        assert!(html.contains("Hello &lt;Ada &amp; Co&gt;,"));
        assert!(html.contains("href=\"https://x.test/r?a=1&amp;b=2\""));
        assert!(!html.contains("<Ada"));
    }

    #[test]
    fn unknown_placeholders_are_refused() {
        let error = BodyTemplate::parse("Hi {{ code }}").unwrap_err();
        assert!(error.contains("unknown placeholder"), "{error}");
        assert!(BodyTemplate::parse("Hi {{ link").is_err());
        assert_eq!(
            BodyTemplate::parse("{{link}}!")
                .unwrap()
                .render(|_| "x".into(), str::to_owned),
            "x!"
        );
    }

    #[test]
    fn operator_templates_replace_the_built_in_ones() {
        let directory = tempfile::tempdir().unwrap();
        std::fs::write(directory.path().join("passkey_link.txt"), "Go: {{ link }}").unwrap();
        let templates = PasskeyLinkTemplates::load(Some(directory.path())).unwrap();
        assert_eq!(
            templates.render_text(&VALUES),
            "Go: https://x.test/r?a=1&b=2"
        );
        assert!(templates.render_html(&VALUES).contains("<!DOCTYPE html>"));
    }
}
