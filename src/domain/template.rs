//! The URL template language of registration links: Go-template placeholders `{{.UserID}}`,
//! `{{.OrgID}}`, `{{.CodeID}}` and `{{.Code}}` in otherwise literal text.

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
    #[error("an action opened at byte {0} is never closed")]
    Unclosed(usize),
    #[error("the action {{{{{0}}}}} names no known field")]
    UnknownField(String),
}

/// The values a registration link is rendered with.
#[derive(Clone, Copy, Debug)]
pub struct LinkValues<'a> {
    pub user_id: &'a str,
    pub org_id: &'a str,
    pub code_id: &'a str,
    pub code: &'a str,
}

/// A parsed URL template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlTemplate {
    parts: Vec<Part>,
}

impl UrlTemplate {
    /// Parses a template; spaces inside the braces are allowed (`{{ .Code }}`).
    pub fn parse(source: &str) -> Result<UrlTemplate, TemplateError> {
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

    /// Renders the template with the given values.
    pub fn render(&self, values: &LinkValues<'_>) -> String {
        let mut link = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => link.push_str(text),
                Part::Value(Placeholder::UserId) => link.push_str(values.user_id),
                Part::Value(Placeholder::OrgId) => link.push_str(values.org_id),
                Part::Value(Placeholder::CodeId) => link.push_str(values.code_id),
                Part::Value(Placeholder::Code) => link.push_str(values.code),
            }
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
}
