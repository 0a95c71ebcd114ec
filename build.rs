//! Compiles `proto/` with protox (no system `protoc`) into tonic/prost code and writes the
//! encoded descriptor set next to it for server reflection and JSON transcoding.

use std::{env, fs, path::PathBuf};

use prost::Message;

const PROTO_FILES: &[&str] = &[
    "zitadel/message.proto",
    "zitadel/object/v2/object.proto",
    "zitadel/user/v2/auth.proto",
    "zitadel/user/v2/user.proto",
    "zitadel/user/v2/user_service.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let descriptor_set = protox::compile(PROTO_FILES, ["proto"])?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("passlink_descriptor.bin"),
        descriptor_set.encode_to_vec(),
    )?;
    // Every message knows its full name (`prost::Name`), so that passlink's codec can find its
    // descriptor and check it beyond what prost checks (enum values must be defined).
    let mut config = prost_build::Config::new();
    config.enable_type_names();
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .codec_path("crate::api::codec::ProtobufCodec")
        .compile_fds_with_config(descriptor_set, config)?;
    Ok(())
}
