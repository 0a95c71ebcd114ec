//! Message templates: plain text and HTML bodies in Jinja syntax, rendered by minijinja. They
//! are built in (`templates/` in the repository) or read from an operator's directory. The
//! engine escapes every value in the HTML body (none in the text body); a template naming a
//! variable other than the four it is given is refused when the templates load, and rendering
//! treats an undefined value as an error.

use std::path::Path;

use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, HtmlEscape, Output, State, UndefinedBehavior, Value};

/// Built-in plain-text body of the registration link email.
const DEFAULT_TEXT: &str = include_str!("../../templates/passkey_link.txt");
/// Built-in HTML body of the registration link email.
const DEFAULT_HTML: &str = include_str!("../../templates/passkey_link.html");

/// Subject of the registration link email (fixed by the contract).
pub const PASSKEY_LINK_SUBJECT: &str = "Add Passkey Login";

/// The name (and file name) of the plain-text body.
const TEXT_NAME: &str = "passkey_link.txt";
/// The name (and file name) of the HTML body.
const HTML_NAME: &str = "passkey_link.html";

/// The variables a registration link template is given.
const VARIABLES: &[&str] = &["greeting_name", "link", "expires_at", "email"];

/// The values of one registration link email.
#[derive(Clone, Copy)]
pub struct LinkEmailValues<'a> {
    /// The user's display name, else the given name (`{{ greeting_name }}`).
    pub greeting_name: &'a str,
    /// The registration link; it carries the code (`{{ link }}`).
    pub link: &'a str,
    /// When the code expires, as text (`{{ expires_at }}`).
    pub expires_at: &'a str,
    /// The address the message goes to (`{{ email }}`).
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

/// The text and HTML templates of the registration link email.
#[derive(Clone, Debug)]
pub struct PasskeyLinkTemplates {
    environment: Environment<'static>,
}

impl PasskeyLinkTemplates {
    /// The built-in templates, each replaced by `passkey_link.txt` / `passkey_link.html` from
    /// `directory` when that file exists there. A template that does not parse, or that names
    /// a variable it is not given, is refused here, naming its file.
    pub fn load(directory: Option<&Path>) -> Result<PasskeyLinkTemplates, String> {
        if let Some(directory) = directory
            && !directory.is_dir()
        {
            return Err(format!(
                "mail.templates_dir {} is not a directory",
                directory.display()
            ));
        }
        let mut environment = Environment::new();
        // Jinja drops a template's last line break by default; these bodies keep theirs.
        let syntax = SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()
            .map_err(|error| format!("mail templates: {error}"))?;
        environment.set_syntax(syntax);
        environment.set_undefined_behavior(UndefinedBehavior::Strict);
        environment.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        environment.set_formatter(write_value);
        for (name, built_in) in [(TEXT_NAME, DEFAULT_TEXT), (HTML_NAME, DEFAULT_HTML)] {
            let (source, origin) = match directory.map(|directory| directory.join(name)) {
                Some(path) if path.exists() => (
                    std::fs::read_to_string(&path)
                        .map_err(|error| format!("cannot read {}: {error}", path.display()))?,
                    path.display().to_string(),
                ),
                _ => (built_in.to_owned(), format!("built-in {name}")),
            };
            environment
                .add_template_owned(name, source)
                .map_err(|error| format!("mail template {origin} is invalid: {error}"))?;
            check_variables(&environment, name, &origin)?;
        }
        Ok(PasskeyLinkTemplates { environment })
    }

    /// The plain-text body.
    pub fn render_text(&self, values: &LinkEmailValues<'_>) -> Result<String, String> {
        self.render(TEXT_NAME, values)
    }

    /// The HTML body, every value escaped.
    pub fn render_html(&self, values: &LinkEmailValues<'_>) -> Result<String, String> {
        self.render(HTML_NAME, values)
    }

    fn render(&self, name: &str, values: &LinkEmailValues<'_>) -> Result<String, String> {
        let template = self
            .environment
            .get_template(name)
            .map_err(|error| format!("mail template {name}: {error}"))?;
        template
            .render(minijinja::context! {
                greeting_name => values.greeting_name,
                link => values.link,
                expires_at => values.expires_at,
                email => values.email,
            })
            .map_err(|error| format!("cannot render mail template {name}: {error}"))
    }
}

/// Refuses a template that reads a variable it is not given (the engine's own functions, such
/// as `range`, are allowed), naming the template's file and the variables.
fn check_variables(environment: &Environment<'_>, name: &str, origin: &str) -> Result<(), String> {
    let template = environment
        .get_template(name)
        .map_err(|error| format!("mail template {origin}: {error}"))?;
    let mut unknown: Vec<String> = template
        .undeclared_variables(false)
        .into_iter()
        .filter(|variable| {
            !VARIABLES.contains(&variable.as_str())
                && !environment
                    .globals()
                    .any(|(global, _)| global == variable.as_str())
        })
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    unknown.sort_unstable();
    Err(format!(
        "mail template {origin} uses the unknown variable(s) {}; the known ones are {}",
        unknown.join(", "),
        VARIABLES.join(", ")
    ))
}

/// Writes a value as minijinja's own formatter does, except that the HTML escape leaves `/` as
/// it is, so that a link reads `href="https://…"` as before. `/` ends neither an element nor
/// a quoted attribute: escaping `<`, `>`, `&`, `"` and `'` is what keeps values inert.
fn write_value(
    output: &mut Output<'_>,
    state: &mut State<'_, '_>,
    value: &Value,
) -> Result<(), minijinja::Error> {
    if *state.auto_escape() != AutoEscape::Html || value.is_safe() {
        return minijinja::escape_formatter(output, state, value);
    }
    // The engine escapes `&` first, so "&#x2f;" in its output is always an escaped `/`.
    let escaped = HtmlEscape(&value.to_string())
        .to_string()
        .replace("&#x2f;", "/");
    output.write_str(&escaped).map_err(minijinja::Error::from)
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

    /// The values of `VALUES` put into `source` by plain text replacement, each through
    /// `escape`: what rendering must give, byte for byte.
    fn replaced(source: &str, escape: fn(&str) -> String) -> String {
        source
            .replace("{{ greeting_name }}", &escape(VALUES.greeting_name))
            .replace("{{ link }}", &escape(VALUES.link))
            .replace("{{ expires_at }}", &escape(VALUES.expires_at))
            .replace("{{ email }}", &escape(VALUES.email))
    }

    #[test]
    fn built_in_templates_carry_the_link_in_both_parts_and_escape_html() {
        let templates = PasskeyLinkTemplates::load(None).unwrap();
        let text = templates.render_text(&VALUES).unwrap();
        assert!(text.contains("Hello <Ada & Co>,"));
        assert!(text.contains("\nhttps://x.test/r?a=1&b=2\n"));
        let html = templates.render_html(&VALUES).unwrap();
        assert!(html.contains("Hello &lt;Ada &amp; Co&gt;,"));
        assert!(html.contains("href=\"https://x.test/r?a=1&amp;b=2\""));
        assert!(!html.contains("<Ada"));
    }

    #[test]
    fn built_in_templates_render_byte_for_byte_as_written_with_the_values_in_place() {
        let templates = PasskeyLinkTemplates::load(None).unwrap();
        assert_eq!(
            templates.render_text(&VALUES).unwrap(),
            replaced(DEFAULT_TEXT, str::to_owned)
        );
        let html_escape = |text: &str| {
            text.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        };
        assert_eq!(
            templates.render_html(&VALUES).unwrap(),
            replaced(DEFAULT_HTML, html_escape)
        );
    }

    #[test]
    fn a_script_in_a_value_is_escaped_in_the_html_part_and_plain_in_the_text_part() {
        let directory = tempfile::tempdir().unwrap();
        std::fs::write(directory.path().join(TEXT_NAME), "Hi {{ greeting_name }}").unwrap();
        std::fs::write(
            directory.path().join(HTML_NAME),
            "<p title=\"{{ greeting_name }}\">Hi {{ greeting_name }}</p>",
        )
        .unwrap();
        let templates = PasskeyLinkTemplates::load(Some(directory.path())).unwrap();
        let values = LinkEmailValues {
            greeting_name: "<script>alert('x')</script>\"",
            ..VALUES
        };
        assert_eq!(
            templates.render_text(&values).unwrap(),
            "Hi <script>alert('x')</script>\""
        );
        let escaped = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&quot;";
        assert_eq!(
            templates.render_html(&values).unwrap(),
            format!("<p title=\"{escaped}\">Hi {escaped}</p>")
        );
    }

    #[test]
    fn an_unknown_variable_in_an_operator_template_is_refused_at_load_naming_file_and_variable() {
        let directory = tempfile::tempdir().unwrap();
        std::fs::write(
            directory.path().join(HTML_NAME),
            "<a href=\"{{ link }}\">{{ code }}</a>",
        )
        .unwrap();
        let error = PasskeyLinkTemplates::load(Some(directory.path())).unwrap_err();
        assert!(error.contains(HTML_NAME), "{error}");
        assert!(error.contains("code"), "{error}");
        assert!(
            error.contains("greeting_name, link, expires_at, email"),
            "{error}"
        );
    }

    #[test]
    fn unknown_placeholders_and_broken_syntax_are_refused() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join(TEXT_NAME);
        std::fs::write(&path, "Hi {{ link").unwrap();
        assert!(PasskeyLinkTemplates::load(Some(directory.path())).is_err());
        std::fs::write(&path, "Hi {{ user.name }}").unwrap();
        let error = PasskeyLinkTemplates::load(Some(directory.path())).unwrap_err();
        assert!(error.contains("user"), "{error}");
        std::fs::write(&path, "{{link}}!").unwrap();
        let templates = PasskeyLinkTemplates::load(Some(directory.path())).unwrap();
        assert_eq!(
            templates.render_text(&VALUES).unwrap(),
            "https://x.test/r?a=1&b=2!"
        );
    }

    #[test]
    fn operator_templates_replace_the_built_in_ones() {
        let directory = tempfile::tempdir().unwrap();
        std::fs::write(directory.path().join(TEXT_NAME), "Go: {{ link }}").unwrap();
        let templates = PasskeyLinkTemplates::load(Some(directory.path())).unwrap();
        assert_eq!(
            templates.render_text(&VALUES).unwrap(),
            "Go: https://x.test/r?a=1&b=2"
        );
        assert!(
            templates
                .render_html(&VALUES)
                .unwrap()
                .contains("<!DOCTYPE html>")
        );
    }
}
