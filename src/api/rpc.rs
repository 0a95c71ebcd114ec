//! The RPCs every protocol reaches. build.rs implements `Rpc` for each method of a served
//! service over its adapter function; gRPC calls it through tonic's trait, REST and Connect
//! through the `RpcTable`, whose entries take and give JSON or binary messages.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use prost::{Message, Name};
use prost_reflect::MethodDescriptor;

use crate::error::Result;
use crate::service::Services;

use super::context::CallContext;
use super::protocol::Format;
use super::{codec, json, schema, served};

/// One RPC of a served service, answered by its adapter function.
pub trait Rpc: 'static {
    /// The request message.
    type Request: Message + Default + Name + Send + 'static;
    /// The response message.
    type Response: Message + Send + 'static;
    /// The full name of the service (`zitadel.user.v2.UserService`).
    const SERVICE: &'static str;
    /// The method's name as the proto file spells it (`GetUserByID`).
    const METHOD: &'static str;

    /// Answers a request: the adapter function.
    fn call(
        services: &Services,
        call: &CallContext,
        request: Self::Request,
    ) -> impl Future<Output = Result<Self::Response>> + Send;
}

/// A request message as it arrived over REST or Connect.
pub enum RequestMessage {
    /// Proto3 JSON (REST lays path and query parameters into it).
    Json(serde_json::Value),
    /// Binary protobuf.
    Proto(Bytes),
}

type Handler = Box<
    dyn Fn(
            Arc<Services>,
            CallContext,
            RequestMessage,
            Format,
        ) -> BoxFuture<'static, Result<Vec<u8>>>
        + Send
        + Sync,
>;

/// An RPC in the table: its descriptor and its type-erased handler.
pub struct TableEntry {
    method: MethodDescriptor,
    handler: Handler,
}

impl TableEntry {
    /// The method's descriptor (with its options: `google.api.http`, …).
    pub fn method(&self) -> &MethodDescriptor {
        &self.method
    }

    /// Decodes the request message, calls the adapter and encodes its answer in `format`.
    pub fn invoke(
        &self,
        services: Arc<Services>,
        call: CallContext,
        message: RequestMessage,
        format: Format,
    ) -> BoxFuture<'static, Result<Vec<u8>>> {
        (self.handler)(services, call, message, format)
    }
}

/// The handler of `R` over JSON or binary messages. Decoding checks what every protocol checks
/// (undefined enum values, NUL characters: see `field_values`).
fn erase<R: Rpc>(method: &MethodDescriptor) -> Handler {
    let (input, output) = (method.input(), method.output());
    Box::new(move |services, call, message, format| {
        let (input, output) = (input.clone(), output.clone());
        Box::pin(async move {
            let request: R::Request = match message {
                RequestMessage::Json(value) => json::from_json_value(input, value)?,
                RequestMessage::Proto(bytes) => codec::decode_described(input, bytes)?,
            };
            let response = R::call(&services, &call, request).await?;
            match format {
                Format::Json => json::to_json(output, &response),
                Format::Proto => Ok(response.encode_to_vec()),
            }
        })
    })
}

/// The RPCs of the served services, by gRPC path (`/zitadel.user.v2.UserService/GetUserByID`).
#[derive(Default)]
pub struct RpcTable {
    by_path: HashMap<String, Arc<TableEntry>>,
}

impl RpcTable {
    /// Every RPC of the served services.
    pub fn served() -> Result<RpcTable, String> {
        let mut table = RpcTable::default();
        served::register(&mut table)?;
        Ok(table)
    }

    /// Adds `R`, described by the descriptor set.
    pub fn add<R: Rpc>(&mut self) -> Result<(), String> {
        let method = schema::service(R::SERVICE)
            .and_then(|service| service.methods().find(|method| method.name() == R::METHOD))
            .ok_or_else(|| format!("{}/{} is not in the descriptor set", R::SERVICE, R::METHOD))?;
        let path = format!("/{}/{}", R::SERVICE, R::METHOD);
        let handler = erase::<R>(&method);
        self.by_path
            .insert(path, Arc::new(TableEntry { method, handler }));
        Ok(())
    }

    /// The RPC a gRPC or Connect path names.
    pub fn by_path(&self, path: &str) -> Option<&Arc<TableEntry>> {
        self.by_path.get(path)
    }

    /// Every RPC in the table.
    pub fn entries(&self) -> impl Iterator<Item = &Arc<TableEntry>> {
        self.by_path.values()
    }
}
