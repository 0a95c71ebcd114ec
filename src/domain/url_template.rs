//! The URL template language of registration links: Go-template placeholders `{{.UserID}}`,
//! `{{.OrgID}}`, `{{.CodeID}}` and `{{.Code}}` in otherwise literal text. A template must
//! render to an absolute URL whose scheme is literal and not a script (`javascript:` …), and the
//! values it inserts are percent-encoded, so that no value (a user id is chosen by the caller)
//! can change the link's path, query or fragment.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything outside RFC 3986's unreserved characters (`A–Z a–z 0–9 - . _ ~`) is encoded:
/// safe in a path segment, a query value and a fragment alike.
const OUTSIDE_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Schemes whose links run code or read local files instead of opening a page.
const REFUSED_SCHEMES: [&str; 4] = ["javascript", "data", "vbscript", "file"];

/// Values the link is rendered with when a template is checked.
const SAMPLE_VALUES: LinkValues<'static> = LinkValues {
    user_id: "100000000000000001",
    org_id: "100000000000000002",
    code_id: "100000000000000003",
    code: "SampleCode12",
};

/// A value a template can insert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Placeholder {
    UserId,
    OrgId,
    CodeId,
    Code,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Value(Placeholder),
}

/// Why a template does not parse.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// An action opened at this byte offset is never closed.
    #[error("an action opened at byte {0} is never closed")]
    Unclosed(usize),
    /// An action names a field links do not have.
    #[error("the action {{{{{0}}}}} names no known field")]
    UnknownField(String),
    /// The rendered link is not an absolute URL.
    #[error("the link is not an absolute URL: {0}")]
    NotAbsolute(String),
    /// The scheme is built by an action instead of written out.
    #[error("the link's scheme must be literal text before the first action")]
    SchemeNotLiteral,
    /// The scheme is not one links may use.
    #[error("the link's scheme {0:?} is not allowed")]
    RefusedScheme(String),
}

/// The values a registration link is rendered with.
#[derive(Clone, Copy, Debug)]
pub struct LinkValues<'a> {
    /// `{{.UserID}}`: the user the code is for.
    pub user_id: &'a str,
    /// `{{.OrgID}}`: the user's organization.
    pub org_id: &'a str,
    /// `{{.CodeID}}`: the code's id.
    pub code_id: &'a str,
    /// `{{.Code}}`: the code itself.
    pub code: &'a str,
}

/// A parsed URL template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlTemplate {
    parts: Vec<Part>,
}

impl UrlTemplate {
    /// Parses a template and checks the link it renders; spaces inside the braces are allowed
    /// (`{{ .Code }}`).
    pub fn parse(source: &str) -> Result<UrlTemplate, TemplateError> {
        let template = UrlTemplate::parse_actions(source)?;
        template.check_link()?;
        Ok(template)
    }

    fn parse_actions(source: &str) -> Result<UrlTemplate, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = source;
        let mut offset = 0;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after_open = &rest[open + 2..];
            let close = after_open
                .find("}}")
                .ok_or(TemplateError::Unclosed(offset + open))?;
            let action = after_open[..close].trim();
            let placeholder = match action {
                ".UserID" => Placeholder::UserId,
                ".OrgID" => Placeholder::OrgId,
                ".CodeID" => Placeholder::CodeId,
                ".Code" => Placeholder::Code,
                other => return Err(TemplateError::UnknownField(other.to_owned())),
            };
            parts.push(Part::Value(placeholder));
            let consumed = open + 2 + close + 2;
            offset += consumed;
            rest = &rest[consumed..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(UrlTemplate { parts })
    }

    /// Renders the template with sample values and checks that the link is an absolute URL
    /// whose scheme is written in the template itself and opens a page rather than running
    /// code (`javascript:`, `vbscript:`, `data:`) or reading local files (`file:`).
    fn check_link(&self) -> Result<(), TemplateError> {
        let link = url::Url::parse(&self.render(&SAMPLE_VALUES))
            .map_err(|error| TemplateError::NotAbsolute(error.to_string()))?;
        let scheme = link.scheme();
        // Compared as the URL parser reads it: leading spaces and controls skipped, tabs and
        // line breaks removed, case folded.
        let literal_prefix: String = match self.parts.first() {
            Some(Part::Text(text)) => text
                .trim_start_matches(|character: char| character <= ' ')
                .chars()
                .filter(|character| !matches!(character, '\t' | '\n' | '\r'))
                .collect::<String>()
                .to_ascii_lowercase(),
            _ => String::new(),
        };
        if !literal_prefix.starts_with(&format!("{scheme}:")) {
            return Err(TemplateError::SchemeNotLiteral);
        }
        if REFUSED_SCHEMES.contains(&scheme) {
            return Err(TemplateError::RefusedScheme(scheme.to_owned()));
        }
        Ok(())
    }

    /// Renders the template with the given values, each percent-encoded outside RFC 3986's
    /// unreserved characters (ids and default-alphabet codes are unchanged by that).
    pub fn render(&self, values: &LinkValues<'_>) -> String {
        let mut link = String::new();
        for part in &self.parts {
            let value = match part {
                Part::Text(text) => {
                    link.push_str(text);
                    continue;
                }
                Part::Value(Placeholder::UserId) => values.user_id,
                Part::Value(Placeholder::OrgId) => values.org_id,
                Part::Value(Placeholder::CodeId) => values.code_id,
                Part::Value(Placeholder::Code) => values.code,
            };
            link.extend(utf8_percent_encode(value, OUTSIDE_UNRESERVED));
        }
        link
    }
}

/// The template of passlink's own registration page under `external_url`.
pub fn default_link_template(external_url: &str) -> String {
    format!(
        "{}/ui/passkey/register?userID={{{{.UserID}}}}&orgID={{{{.OrgID}}}}&codeID={{{{.CodeID}}}}&code={{{{.Code}}}}",
        external_url.trim_end_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUES: LinkValues<'static> = LinkValues {
        user_id: "1",
        org_id: "2",
        code_id: "3",
        code: "abc",
    };

    #[test]
    fn renders_every_placeholder_with_or_without_spaces() {
        let template = UrlTemplate::parse(
            "https://x.test/{{.UserID}}?o={{ .OrgID }}&i={{.CodeID}}&c={{  .Code}}",
        )
        .unwrap();
        assert_eq!(template.render(&VALUES), "https://x.test/1?o=2&i=3&c=abc");
    }

    #[test]
    fn rejects_unclosed_and_unknown_actions() {
        assert_eq!(
            UrlTemplate::parse("https://x.test/{{.Code"),
            Err(TemplateError::Unclosed(15))
        );
        assert!(matches!(
            UrlTemplate::parse("https://x.test/{{.Password}}"),
            Err(TemplateError::UnknownField(field)) if field == ".Password"
        ));
        assert!(UrlTemplate::parse("{{}}").is_err());
    }

    #[test]
    fn default_template_points_at_the_registration_page() {
        let template =
            UrlTemplate::parse(&default_link_template("http://localhost:8080/")).unwrap();
        assert_eq!(
            template.render(&VALUES),
            "http://localhost:8080/ui/passkey/register?userID=1&orgID=2&codeID=3&code=abc"
        );
    }

    #[test]
    fn values_are_percent_encoded_so_they_cannot_change_the_path_query_or_fragment() {
        let template = UrlTemplate::parse(
            "https://x.test/p/{{.UserID}}?user={{.UserID}}&code={{.Code}}#{{.CodeID}}",
        )
        .unwrap();
        let link = template.render(&LinkValues {
            user_id: "x&code=AAAA#/..",
            org_id: "2",
            code_id: "a b+c",
            code: "abc-._~",
        });
        assert_eq!(
            link,
            "https://x.test/p/x%26code%3DAAAA%23%2F..?user=x%26code%3DAAAA%23%2F..&code=abc-._~#a%20b%2Bc"
        );
        let parsed = url::Url::parse(&link).unwrap();
        let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
        assert_eq!(
            pairs,
            [
                ("user".to_owned(), "x&code=AAAA#/..".to_owned()),
                ("code".to_owned(), "abc-._~".to_owned())
            ]
        );
        assert_eq!(parsed.path_segments().unwrap().count(), 2);
        assert_eq!(parsed.fragment(), Some("a%20b%2Bc"));
    }

    #[test]
    fn templates_whose_link_is_not_an_absolute_url_or_uses_a_script_scheme_are_refused() {
        for source in [
            "/ui/passkey/register?code={{.Code}}",
            "register?code={{.Code}}",
            "{{.Code}}",
            "//evil.test/{{.Code}}",
            "javascript:alert('{{.Code}}')",
            "JavaScript:alert(1)//{{.Code}}",
            " javascript:alert(1)//{{.Code}}",
            "java\tscript:alert(1)//{{.Code}}",
            "data:text/html,<a href=x>{{.Code}}</a>",
            "vbscript:msgbox(\"{{.Code}}\")",
            "file:///etc/passwd?{{.Code}}",
            "{{.UserID}}:alert(1)//{{.Code}}",
            "https",
        ] {
            assert!(
                UrlTemplate::parse(source).is_err(),
                "{source:?} should be refused"
            );
        }
        for source in [
            "https://app.example.test/passkey/{{.UserID}}?code={{.Code}}",
            "http://localhost:8080/ui/passkey/register?code={{ .Code }}",
            "myapp://passkey/register?code={{.Code}}",
            "https://app.example.test/static-link",
        ] {
            assert!(
                UrlTemplate::parse(source).is_ok(),
                "{source:?} should be accepted"
            );
        }
    }
}
