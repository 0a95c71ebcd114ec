//! The caller's protocol, decided in one place: `Protocol::of`. Everything that answers "in the
//! caller's protocol" (errors, panics, deadlines, unknown paths) and the dispatch of Connect
//! calls, which share their paths with gRPC, ask it.

use http::header;

use super::served::SERVED_SERVICES;

/// How a message travels in an HTTP body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Canonical proto3 JSON.
    Json,
    /// Binary protobuf.
    Proto,
}

impl Format {
    /// The content type of a Connect message in this format.
    pub fn connect_content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Proto => "application/proto",
        }
    }
}

/// A protocol on passlink's one port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// gRPC: `application/grpc`, `application/grpc+proto`.
    Grpc,
    /// gRPC-Web: `application/grpc-web…`, base64 frames for `application/grpc-web-text…`.
    GrpcWeb {
        /// Whether the frames are base64 text.
        text: bool,
    },
    /// Connect unary: `application/json` or `application/proto` on the path of a method of a
    /// served service.
    Connect(Format),
    /// Everything else: the REST routes, the probes, the page, unknown paths.
    Rest,
}

impl Protocol {
    /// The protocol of a request, by its content type and path.
    pub fn of<B>(request: &http::Request<B>) -> Protocol {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        if let Some(grpc) = content_type.strip_prefix("application/grpc") {
            return match grpc.strip_prefix("-web") {
                Some(web) => Protocol::GrpcWeb {
                    text: web.starts_with("-text"),
                },
                None => Protocol::Grpc,
            };
        }
        if !names_served_service(request.uri().path()) {
            return Protocol::Rest;
        }
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        match media_type.to_ascii_lowercase().as_str() {
            "application/json" => Protocol::Connect(Format::Json),
            "application/proto" => Protocol::Connect(Format::Proto),
            _ => Protocol::Rest,
        }
    }

    /// Whether errors travel as `grpc-status` in an HTTP 200 (gRPC and gRPC-Web).
    pub fn is_grpc(self) -> bool {
        matches!(self, Protocol::Grpc | Protocol::GrpcWeb { .. })
    }
}

/// Whether a path is `/<served service>/<method>`, the path of gRPC and Connect calls.
fn names_served_service(path: &str) -> bool {
    path.strip_prefix('/')
        .and_then(|path| path.split_once('/'))
        .is_some_and(|(service, _)| SERVED_SERVICES.contains(&service))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn protocol(path: &str, content_type: Option<&str>) -> Protocol {
        let mut request = http::Request::post(path);
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        Protocol::of(&request.body(()).unwrap())
    }

    const METHOD_PATH: &str = "/zitadel.user.v2.UserService/GetUserByID";

    #[test]
    fn grpc_and_grpc_web_are_told_by_content_type_on_any_path() {
        for (content_type, expected) in [
            ("application/grpc", Protocol::Grpc),
            ("application/grpc+proto", Protocol::Grpc),
            ("application/grpc-web", Protocol::GrpcWeb { text: false }),
            (
                "application/grpc-web+proto",
                Protocol::GrpcWeb { text: false },
            ),
            (
                "application/grpc-web-text",
                Protocol::GrpcWeb { text: true },
            ),
            (
                "application/grpc-web-text+proto",
                Protocol::GrpcWeb { text: true },
            ),
        ] {
            assert_eq!(protocol(METHOD_PATH, Some(content_type)), expected);
            assert_eq!(protocol("/v2/users/1", Some(content_type)), expected);
        }
    }

    #[test]
    fn connect_is_json_or_proto_on_the_path_of_a_served_service() {
        assert_eq!(
            protocol(METHOD_PATH, Some("application/json")),
            Protocol::Connect(Format::Json)
        );
        assert_eq!(
            protocol(METHOD_PATH, Some("Application/JSON; charset=utf-8")),
            Protocol::Connect(Format::Json)
        );
        assert_eq!(
            protocol(METHOD_PATH, Some("application/proto")),
            Protocol::Connect(Format::Proto)
        );
        assert_eq!(
            protocol(
                "/zitadel.user.v2.UserService/NoSuchMethod",
                Some("application/json")
            ),
            Protocol::Connect(Format::Json),
            "an unknown method of a served service is answered by Connect"
        );
    }

    #[test]
    fn everything_else_is_rest() {
        assert_eq!(
            protocol("/v2/users/human", Some("application/json")),
            Protocol::Rest
        );
        assert_eq!(protocol(METHOD_PATH, None), Protocol::Rest);
        assert_eq!(protocol(METHOD_PATH, Some("text/plain")), Protocol::Rest);
        assert_eq!(
            protocol(
                "/zitadel.org.v2.OrganizationService/ListOrganizations",
                Some("application/json")
            ),
            Protocol::Rest,
            "a service that is not served"
        );
        assert_eq!(
            protocol("/zitadel.user.v2.UserService", Some("application/json")),
            Protocol::Rest
        );
    }
}
