//! The protobuf codec of passlink's gRPC service (named in build.rs) and the one function that
//! decodes a binary request message for gRPC, gRPC-Web and Connect alike. Unlike prost's own
//! codec, bytes that are not a valid message are the request's fault: InvalidArgument with
//! passlink's error detail, not Internal. Enum fields must hold defined values.

use std::marker::PhantomData;

use bytes::{Buf, Bytes};
use prost::{Message, Name};
use prost_reflect::{DynamicMessage, MessageDescriptor};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder};
use tonic_prost::{ProstCodec, ProstEncoder};

use crate::error::{Error, Result};

use super::{errors, field_values, schema};

/// prost's codec, with passlink's decoding (see `decode_message`).
pub struct ProtobufCodec<T, U> {
    encoding: ProstCodec<T, U>,
}

impl<T, U> Default for ProtobufCodec<T, U> {
    fn default() -> Self {
        ProtobufCodec {
            encoding: ProstCodec::default(),
        }
    }
}

impl<T, U> Codec for ProtobufCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Name + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = ProtobufDecoder<U>;

    fn encoder(&mut self) -> ProstEncoder<T> {
        self.encoding.encoder()
    }

    fn decoder(&mut self) -> ProtobufDecoder<U> {
        ProtobufDecoder {
            message: PhantomData,
        }
    }
}

/// Decodes each message with `decode_message`.
pub struct ProtobufDecoder<U> {
    message: PhantomData<U>,
}

impl<U> Decoder for ProtobufDecoder<U>
where
    U: Message + Default + Name,
{
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buffer: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        let bytes = buffer.copy_to_bytes(buffer.remaining());
        decode_message(bytes)
            .map(Some)
            .map_err(|error| errors::grpc_status(&error))
    }
}

/// Decodes a binary protobuf message; malformed bytes and undefined enum values are
/// InvalidArgument.
pub fn decode_message<M: Message + Default + Name>(bytes: Bytes) -> Result<M> {
    let Some(descriptor) = schema::message_descriptor(&M::full_name()) else {
        return Err(Error::internal(
            "API-Ds4nf",
            format!("{} is not in the descriptor set", M::full_name()),
        ));
    };
    decode_described(descriptor, bytes)
}

/// `decode_message` for a caller that holds the message's descriptor already.
pub fn decode_described<M: Message + Default>(
    descriptor: MessageDescriptor,
    bytes: Bytes,
) -> Result<M> {
    let message = M::decode(bytes.clone()).map_err(|error| invalid_protobuf(&error))?;
    let dynamic =
        DynamicMessage::decode(descriptor, bytes).map_err(|error| invalid_protobuf(&error))?;
    field_values::check_values(&dynamic)?;
    Ok(message)
}

fn invalid_protobuf(error: &prost::DecodeError) -> Error {
    Error::invalid_argument(
        "API-Pb3dc",
        format!("invalid protobuf message: {}", decode_error_text(error)),
    )
}

/// prost's description of a decoding failure, its middle cut out when it is long: a message
/// nested a hundred levels deep is described one level at a time.
pub fn decode_error_text(error: &prost::DecodeError) -> String {
    const KEPT: usize = 120;
    let text = error.to_string();
    let length = text.chars().count();
    if length <= 3 * KEPT {
        return text;
    }
    let head: String = text.chars().take(KEPT).collect();
    let tail: String = text.chars().skip(length - KEPT).collect();
    format!("{head} … {tail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::zitadel::user::v2 as user_pb;

    #[test]
    fn malformed_bytes_are_invalid_argument_with_prosts_description() {
        let error =
            decode_message::<user_pb::GetUserByIdRequest>(Bytes::from_static(&[0x0a, 0x05, b'x']))
                .unwrap_err();
        assert_eq!(error.code(), crate::error::Code::InvalidArgument);
        assert_eq!(
            error.text(),
            "invalid protobuf message: failed to decode Protobuf message: \
             GetUserByIdRequest.user_id: buffer underflow"
        );
    }

    #[test]
    fn an_undefined_enum_number_is_invalid_argument() {
        let request = user_pb::RegisterPasskeyRequest {
            user_id: "1".into(),
            authenticator: 99,
            ..Default::default()
        };
        let error =
            decode_message::<user_pb::RegisterPasskeyRequest>(Bytes::from(request.encode_to_vec()))
                .unwrap_err();
        assert_eq!(error.code(), crate::error::Code::InvalidArgument);
        assert!(error.text().contains("Authenticator"), "{}", error.text());
    }

    #[test]
    fn a_valid_message_decodes() {
        let request = user_pb::GetUserByIdRequest {
            user_id: "42".into(),
        };
        let decoded =
            decode_message::<user_pb::GetUserByIdRequest>(Bytes::from(request.encode_to_vec()))
                .unwrap();
        assert_eq!(decoded, request);
    }

    #[test]
    fn a_long_description_keeps_its_start_and_end() {
        let nested = (0..60).fold(prost_types::Struct::default(), |inner, _| {
            let value = prost_types::value::Kind::StructValue(inner);
            let entry = ("a".to_owned(), prost_types::Value { kind: Some(value) });
            prost_types::Struct {
                fields: [entry].into(),
            }
        });
        let error = prost_types::Struct::decode(nested.encode_to_vec().as_slice()).unwrap_err();
        let text = decode_error_text(&error);
        assert!(text.chars().count() < 250, "{text}");
        assert!(text.starts_with("failed to decode Protobuf message: Struct.fields"));
        assert!(text.ends_with("recursion limit reached"), "{text}");
    }
}
