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
const SERVED_SERVICES: &[&str] = &["zitadel.user.v2.UserService"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
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

/// The code of `passlink_served.rs`.
fn served_code(services: &[Service]) -> Result<String, Box<dyn std::error::Error>> {
    let mut code = String::from(
        "// @generated by build.rs from proto/: the served services over their adapters.\n\n",
    );
    let mut registrations = String::new();
    let mut grpc_services = Vec::new();
    let mut names = String::new();
    for service in services {
        let module = snake_case(&service.name);
        let package_path = rust_type(&service.package, "");
        let package_path = package_path.trim_end_matches("::");
        let server_module = format!("{package_path}::{module}_server");
        writeln!(names, "    {:?},", full_name(service))?;
        writeln!(code, "/// The RPCs of `{}`.", full_name(service))?;
        writeln!(code, "pub mod {module} {{")?;
        writeln!(
            code,
            "    use crate::api::adapters::{module} as adapters;\n    \
             use crate::api::context::CallContext;\n    \
             use crate::error::Result;\n    \
             use crate::service::Services;\n"
        )?;
        let mut trait_methods = String::new();
        for method in &service.methods {
            if method.client_streaming || method.server_streaming {
                return Err(format!(
                    "{} streams: passlink serves unary RPCs only",
                    method.proto_name
                )
                .into());
            }
            let input = rust_type(&service.package, &method.input_type);
            let output = rust_type(&service.package, &method.output_type);
            let rpc = &method.proto_name;
            let function = &method.name;
            writeln!(
                code,
                "    /// `{service}/{rpc}`, answered by `adapters::{function}`.\n    \
                 pub struct {rpc};\n\n    \
                 impl crate::api::rpc::Rpc for {rpc} {{\n        \
                 type Request = {input};\n        \
                 type Response = {output};\n        \
                 const SERVICE: &'static str = {service:?};\n        \
                 const METHOD: &'static str = {rpc:?};\n\n        \
                 fn call(\n            services: &Services,\n            call: &CallContext,\n            \
                 request: {input},\n        \
                 ) -> impl Future<Output = Result<{output}>> + Send {{\n            \
                 adapters::{function}(services, call, request)\n        }}\n    }}\n",
                service = full_name(service),
            )?;
            writeln!(
                trait_methods,
                "        async fn {function}(\n            &self,\n            \
                 request: tonic::Request<{input}>,\n        \
                 ) -> std::result::Result<tonic::Response<{output}>, tonic::Status> {{\n            \
                 self.unary::<{rpc}>(request).await\n        }}\n"
            )?;
            writeln!(registrations, "    table.add::<{module}::{rpc}>()?;")?;
        }
        writeln!(
            code,
            "    #[tonic::async_trait]\n    \
             impl {server_module}::{name} for crate::api::grpc::GrpcApi {{\n{trait_methods}    }}\n}}\n",
            name = service.name,
        )?;
        grpc_services.push(format!(
            "{server_module}::{}Server::new(api.clone())",
            service.name
        ));
    }
    writeln!(
        code,
        "/// The full names of the served services.\npub const SERVED_SERVICES: &[&str] = &[\n{names}];\n"
    )?;
    writeln!(
        code,
        "/// Adds every RPC of the served services to the table REST and Connect route by.\n\
         pub fn register(table: &mut crate::api::rpc::RpcTable) -> std::result::Result<(), String> {{\n\
         {registrations}    Ok(())\n}}\n"
    )?;
    let mut routes = String::from("    tonic::service::Routes::default()");
    for service in grpc_services {
        write!(
            routes,
            "\n        .add_service({service}.max_decoding_message_size(max_message_bytes))"
        )?;
    }
    writeln!(
        code,
        "/// The served services as tonic services, refusing messages over `max_message_bytes`.\n\
         pub fn grpc_routes(\n    api: &crate::api::grpc::GrpcApi,\n    max_message_bytes: usize,\n\
         ) -> tonic::service::Routes {{\n{routes}\n}}"
    )?;
    Ok(code)
}
