// WebAuthn options and credentials between the server's JSON (google.protobuf.Struct values with
// base64url fields, as ZITADEL's API carries them) and the browser's API (ArrayBuffers).

import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { base64urlToBuffer, bufferToBase64url } from "./base64url";

/** `value` when it is a JSON object, else an empty one. */
export function jsonObject(value: JsonValue | undefined): JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? value : {};
}

/** A base64url field the options must have, as bytes. */
function binary(value: JsonValue | undefined, name: string): ArrayBuffer {
  if (typeof value !== "string" || value === "") {
    throw new Error(`the server's WebAuthn options lack ${name}`);
  }
  return base64urlToBuffer(value);
}

/** Credential descriptors (allowCredentials, excludeCredentials) with binary ids. */
function descriptors(value: JsonValue | undefined): PublicKeyCredentialDescriptor[] {
  const entries = Array.isArray(value) ? value : [];
  return entries.map((entry) => {
    const credential = jsonObject(entry);
    return {
      type: "public-key",
      id: binary(credential.id, "a credential id"),
      ...(Array.isArray(credential.transports)
        ? { transports: credential.transports as AuthenticatorTransport[] }
        : {}),
    };
  });
}

/** RegisterPasskey's `{publicKey: {...}}` as `navigator.credentials.create` wants it. */
export function creationOptions(json: JsonObject): CredentialCreationOptions {
  const publicKey = jsonObject(json.publicKey);
  const user = jsonObject(publicKey.user);
  return {
    publicKey: {
      ...(publicKey as unknown as PublicKeyCredentialCreationOptions),
      challenge: binary(publicKey.challenge, "the challenge"),
      user: {
        id: binary(user.id, "the user id"),
        name: String(user.name),
        displayName: String(user.displayName),
      },
      excludeCredentials: descriptors(publicKey.excludeCredentials),
    },
  };
}

/**
 * A WebAuthn challenge's `{publicKey: {...}}` (Challenges.WebAuthN's
 * publicKeyCredentialRequestOptions) as the `publicKey` member of `navigator.credentials.get`.
 * An empty or missing allowCredentials stays an empty list: any discoverable passkey of this
 * site may answer.
 */
export function requestOptions(json: JsonObject): PublicKeyCredentialRequestOptions {
  const publicKey = jsonObject(json.publicKey);
  return {
    ...(publicKey as unknown as PublicKeyCredentialRequestOptions),
    challenge: binary(publicKey.challenge, "the challenge"),
    allowCredentials: descriptors(publicKey.allowCredentials),
  };
}

/** The client extension results as plain JSON (binary outputs as base64url). */
function extensionResults(credential: PublicKeyCredential): JsonObject {
  return JSON.parse(
    JSON.stringify(credential.getClientExtensionResults(), (_key, value: unknown) =>
      value instanceof ArrayBuffer || ArrayBuffer.isView(value)
        ? bufferToBase64url(value as ArrayBuffer)
        : value,
    ),
  ) as JsonObject;
}

/** A new credential as JSON with base64url fields, as VerifyPasskeyRegistration wants it. */
export function registrationJson(credential: PublicKeyCredential): JsonObject {
  const response = credential.response as AuthenticatorAttestationResponse;
  const transports =
    typeof response.getTransports === "function" ? response.getTransports() : [];
  return {
    id: credential.id,
    rawId: bufferToBase64url(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment ?? null,
    clientExtensionResults: extensionResults(credential),
    response: {
      clientDataJSON: bufferToBase64url(response.clientDataJSON),
      attestationObject: bufferToBase64url(response.attestationObject),
      transports,
    },
  };
}

/**
 * An assertion as JSON with base64url fields (the shape of `PublicKeyCredential.toJSON()`), as
 * SetSession's `checks.webAuthN.credentialAssertionData` wants it. `userHandle` is left out when
 * the authenticator gave none.
 */
export function assertionJson(credential: PublicKeyCredential): JsonObject {
  const response = credential.response as AuthenticatorAssertionResponse;
  return {
    id: credential.id,
    rawId: bufferToBase64url(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment ?? null,
    clientExtensionResults: extensionResults(credential),
    response: {
      clientDataJSON: bufferToBase64url(response.clientDataJSON),
      authenticatorData: bufferToBase64url(response.authenticatorData),
      signature: bufferToBase64url(response.signature),
      ...(response.userHandle ? { userHandle: bufferToBase64url(response.userHandle) } : {}),
    },
  };
}

/** Whether this browser has the WebAuthn API at all. */
export function webauthnSupported(): boolean {
  return (
    typeof window.PublicKeyCredential === "function" &&
    typeof navigator.credentials?.create === "function" &&
    typeof navigator.credentials?.get === "function"
  );
}

/** Whether the browser can offer passkeys in a field's autofill (conditional mediation). */
export async function conditionalMediationAvailable(): Promise<boolean> {
  if (!webauthnSupported()) return false;
  const check = window.PublicKeyCredential.isConditionalMediationAvailable;
  if (typeof check !== "function") return false;
  try {
    return await check.call(window.PublicKeyCredential);
  } catch {
    return false;
  }
}
