//! Compiles `proto/` with protox (no system `protoc`) into tonic/prost code and writes the
//! encoded descriptor set next to it for server reflection and JSON transcoding. The written
//! set keeps the custom method options (`google.api.http`, `passlink.api.v1.http_success_code`),
//! which `prost_types` would drop.
//!
//! For every service in `SERVED_SERVICES` it also writes `passlink_served.rs` (included by
//! `src/api/served.rs`): one `Rpc` implementation per method, calling the adapter function named
//! after it (`crate::api::adapters::user_service::add_human_user`), tonic's service trait over
//! those, their registration in the table REST and Connect route by, and the tonic routes. A
//! method without an adapter function is a compile error.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::rc::Rc;
use std::{env, fs, path::PathBuf};

use prost_build::{Service, ServiceGenerator};

const PROTO_FILES: &[&str] = &[
    "google/api/annotations.proto",
    "google/api/http.proto",
    "passlink/api/v1/options.proto",
    "zitadel/message.proto",
    "zitadel/object.proto",
    "zitadel/object/v2/object.proto",
    "zitadel/session/v2/challenge.proto",
    "zitadel/session/v2/session.proto",
    "zitadel/session/v2/session_service.proto",
    "zitadel/user/v2/auth.proto",
    "zitadel/user/v2/user.proto",
    "zitadel/user/v2/user_service.proto",
];

/// The services passlink serves, by full name. Every other service in `proto/` is compiled but
/// answered as unknown.
const SERVED_SERVICES: &[&str] = &[
    "zitadel.user.v2.UserService",
    "zitadel.session.v2.SessionService",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    // `sqlx::migrate!` embeds migrations/ at compile time but cannot tell cargo to watch it.
    println!("cargo:rerun-if-changed=migrations");
    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler
        .include_source_info(true)
        .include_imports(true)
        .open_files(PROTO_FILES)?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    // `encode_file_descriptor_set` keeps extension options; `file_descriptor_set()` (what the
    // code generator takes) is `prost_types`, which has no room for them.
    fs::write(
        out_dir.join("passlink_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    // Every message knows its full name (`prost::Name`), so that passlink's codec can find its
    // descriptor and check it beyond what prost checks (enum values must be defined).
    let mut config = prost_build::Config::new();
    config.enable_type_names();
    let served = Rc::new(RefCell::new(Vec::new()));
    config.service_generator(Box::new(ServedServiceCollector {
        tonic: tonic_prost_build::configure()
            .build_server(true)
            .build_client(true)
            .codec_path("crate::api::codec::ProtobufCodec")
            .service_generator(),
        served: served.clone(),
    }));
    config.compile_fds(compiler.file_descriptor_set())?;
    let served = served.borrow();
    for name in SERVED_SERVICES {
        if !served.iter().any(|service| full_name(service) == *name) {
            return Err(format!("the served service {name} is not in proto/").into());
        }
    }
    fs::write(out_dir.join("passlink_served.rs"), served_code(&served)?)?;
    Ok(())
}

/// tonic's code generator, keeping a copy of each served service for `served_code`.
struct ServedServiceCollector {
    tonic: Box<dyn ServiceGenerator>,
    served: Rc<RefCell<Vec<Service>>>,
}

impl ServiceGenerator for ServedServiceCollector {
    fn generate(&mut self, service: Service, buf: &mut String) {
        if SERVED_SERVICES.contains(&full_name(&service).as_str()) {
            self.served.borrow_mut().push(service.clone());
        }
        self.tonic.generate(service, buf);
    }

    fn finalize(&mut self, buf: &mut String) {
        self.tonic.finalize(buf);
    }

    fn finalize_package(&mut self, package: &str, buf: &mut String) {
        self.tonic.finalize_package(package, buf);
    }
}

fn full_name(service: &Service) -> String {
    format!("{}.{}", service.package, service.proto_name)
}

/// `UserService` → `user_service`, as tonic names its modules.
fn snake_case(name: &str) -> String {
    let mut snake = String::new();
    for (index, character) in name.char_indices() {
        if index > 0 && character.is_uppercase() {
            snake.push('_');
        }
        snake.push(character.to_ascii_lowercase());
    }
    snake
}

/// The absolute Rust path of a type prost names relative to the module of `package`
/// (`super::super::object::v2::Details` from `zitadel.user.v2`).
fn rust_type(package: &str, relative: &str) -> String {
    if relative.starts_with("::") {
        return relative.to_owned();
    }
    let mut modules: Vec<&str> = package.split('.').collect();
    let mut rest = relative;
    while let Some(after) = rest.strip_prefix("super::") {
        modules.pop();
        rest = after;
    }
    let mut path = String::from("crate::pb");
    for module in modules {
        path.push_str("::");
        path.push_str(module);
    }
    format!("{path}::{rest}")
}

/// The `Rpc` implementation of one method, over its adapter function.
fn rpc_code(service: &Service, method: &prost_build::Method) -> String {
    let (input, output) = (
        rust_type(&service.package, &method.input_type),
        rust_type(&service.package, &method.output_type),
    );
    let (rpc, function, service) = (&method.proto_name, &method.name, full_name(service));
    format!(
        "    /// `{service}/{rpc}`, answered by `adapters::{function}`.
    pub struct {rpc};

    impl crate::api::rpc::Rpc for {rpc} {{
        type Request = {input};
        type Response = {output};
        const SERVICE: &'static str = {service:?};
        const METHOD: &'static str = {rpc:?};

        fn call(
            services: &Services,
            call: &CallContext,
            request: {input},
        ) -> impl Future<Output = Result<{output}>> + Send {{
            adapters::{function}(services, call, request)
        }}
    }}

"
    )
}

/// The method of tonic's service trait for one method: its `Rpc` through `GrpcApi::unary`.
fn trait_method_code(service: &Service, method: &prost_build::Method) -> String {
    let (input, output) = (
        rust_type(&service.package, &method.input_type),
        rust_type(&service.package, &method.output_type),
    );
    let (rpc, function) = (&method.proto_name, &method.name);
    format!(
        "        async fn {function}(
            &self,
            request: tonic::Request<{input}>,
        ) -> std::result::Result<tonic::Response<{output}>, tonic::Status> {{
            self.unary::<{rpc}>(request).await
        }}

"
    )
}

/// The module of one served service: its `Rpc` implementations and tonic's trait.
fn service_code(service: &Service) -> Result<String, String> {
    let module = snake_case(&service.name);
    let package = rust_type(&service.package, "");
    let server_module = format!("{}::{module}_server", package.trim_end_matches("::"));
    let mut rpcs = String::new();
    let mut trait_methods = String::new();
    for method in &service.methods {
        if method.client_streaming || method.server_streaming {
            return Err(format!(
                "{} streams: passlink serves unary RPCs only",
                method.proto_name
            ));
        }
        rpcs.push_str(&rpc_code(service, method));
        trait_methods.push_str(&trait_method_code(service, method));
    }
    Ok(format!(
        "/// The RPCs of `{full_name}`.
pub mod {module} {{
    use crate::api::adapters::{module} as adapters;
    use crate::api::context::CallContext;
    use crate::error::Result;
    use crate::service::Services;

{rpcs}    #[tonic::async_trait]
    impl {server_module}::{name} for crate::api::grpc::GrpcApi {{
{trait_methods}    }}
}}

",
        full_name = full_name(service),
        name = service.name,
    ))
}

/// The code of `passlink_served.rs`.
fn served_code(services: &[Service]) -> Result<String, Box<dyn std::error::Error>> {
    let mut code = String::from(
        "// @generated by build.rs from proto/: the served services over their adapters.\n\n",
    );
    let (mut names, mut registrations) = (String::new(), String::new());
    let mut routes = String::from("    tonic::service::Routes::default()");
    for service in services {
        code.push_str(&service_code(service)?);
        let module = snake_case(&service.name);
        writeln!(names, "    {:?},", full_name(service))?;
        for method in &service.methods {
            writeln!(
                registrations,
                "    table.add::<{module}::{}>()?;",
                method.proto_name
            )?;
        }
        let package = rust_type(&service.package, "");
        write!(
            routes,
            "\n        .add_service({}::{module}_server::{}Server::new(api.clone())\
             .max_decoding_message_size(max_message_bytes))",
            package.trim_end_matches("::"),
            service.name,
        )?;
    }
    write!(
        code,
        "/// The full names of the served services.
pub const SERVED_SERVICES: &[&str] = &[
{names}];

/// Adds every RPC of the served services to the table REST and Connect route by.
pub fn register(table: &mut crate::api::rpc::RpcTable) -> std::result::Result<(), String> {{
{registrations}    Ok(())
}}

/// The served services as tonic services, refusing messages over `max_message_bytes`.
pub fn grpc_routes(
    api: &crate::api::grpc::GrpcApi,
    max_message_bytes: usize,
) -> tonic::service::Routes {{
{routes}
}}
"
    )?;
    Ok(code)
}
