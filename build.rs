//! Compiles `proto/` with protox (no system `protoc`) into tonic/prost code and writes the
//! encoded descriptor set next to it for server reflection and JSON transcoding. The written
//! set keeps the custom method options (`google.api.http`, `passlink.api.v1.http_success_code`),
//! which `prost_types` would drop.

use std::{env, fs, path::PathBuf};

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
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .codec_path("crate::api::codec::ProtobufCodec")
        .compile_fds_with_config(compiler.file_descriptor_set(), config)?;
    Ok(())
}
