// Options and credentials between the server's base64url JSON and the browser's ArrayBuffers.

import assert from "node:assert/strict";
import { test } from "node:test";
import { base64urlToBuffer, bufferToBase64url } from "../../src/common/base64url.ts";
import {
  assertionJson,
  creationOptions,
  registrationJson,
  requestOptions,
} from "../../src/common/webauthn.ts";

const bytes = (buffer) => [...new Uint8Array(buffer)];

test("base64url text turns into bytes and back without padding", () => {
  // 0xfb 0xff 0xbf needs both URL-safe characters.
  assert.deepEqual(bytes(base64urlToBuffer("-_-_")), [0xfb, 0xff, 0xbf]);
  assert.equal(bufferToBase64url(new Uint8Array([0xfb, 0xff, 0xbf]).buffer), "-_-_");
  assert.equal(bufferToBase64url(new Uint8Array([1, 2, 3, 4]).buffer), "AQIDBA");
  assert.deepEqual(bytes(base64urlToBuffer("AQIDBA")), [1, 2, 3, 4]);
  // Padded text and the standard alphabet are read too.
  assert.deepEqual(bytes(base64urlToBuffer("AQIDBA==")), [1, 2, 3, 4]);
  assert.deepEqual(bytes(base64urlToBuffer("+/+/")), [0xfb, 0xff, 0xbf]);
  // A view of part of a buffer encodes only its own bytes.
  assert.equal(bufferToBase64url(new Uint8Array([9, 1, 2, 3, 9]).subarray(1, 4)), "AQID");
  assert.equal(bufferToBase64url(new ArrayBuffer(0)), "");
});

test("a discoverable challenge becomes request options with an empty allowCredentials", () => {
  // The shape SESSIONS.md §9 gives for a challenge without a user.
  const options = requestOptions({
    publicKey: {
      challenge: "AQIDBA",
      timeout: 300000,
      rpId: "localhost",
      allowCredentials: [],
      userVerification: "required",
    },
  });
  assert.deepEqual(bytes(options.challenge), [1, 2, 3, 4]);
  assert.ok(options.challenge instanceof ArrayBuffer);
  assert.deepEqual(options.allowCredentials, []);
  assert.equal(options.rpId, "localhost");
  assert.equal(options.timeout, 300000);
  assert.equal(options.userVerification, "required");
});

test("request options keep named credentials with binary ids and their transports", () => {
  const options = requestOptions({
    publicKey: {
      challenge: "AA",
      allowCredentials: [
        { type: "public-key", id: "AQ", transports: ["internal", "hybrid"] },
        { type: "public-key", id: "Ag" },
      ],
    },
  });
  assert.equal(options.allowCredentials.length, 2);
  assert.deepEqual(bytes(options.allowCredentials[0].id), [1]);
  assert.deepEqual(options.allowCredentials[0].transports, ["internal", "hybrid"]);
  assert.deepEqual(bytes(options.allowCredentials[1].id), [2]);
  assert.equal("transports" in options.allowCredentials[1], false);
});

test("request options without allowCredentials still carry an empty list", () => {
  const options = requestOptions({ publicKey: { challenge: "AA" } });
  assert.deepEqual(options.allowCredentials, []);
});

test("options without a challenge fail with a sentence, not a decoding error", () => {
  assert.throws(() => requestOptions({}), /the server's WebAuthn options lack the challenge/);
  assert.throws(
    () => creationOptions({ publicKey: { challenge: "AA", user: { name: "ada" } } }),
    /lack the user id/,
  );
});

test("creation options decode the challenge, the user id and excluded credentials", () => {
  const { publicKey } = creationOptions({
    publicKey: {
      challenge: "AQID",
      rp: { id: "localhost", name: "passlink" },
      user: { id: "BAUG", name: "ada", displayName: "Ada Lovelace" },
      pubKeyCredParams: [{ type: "public-key", alg: -7 }],
      excludeCredentials: [{ type: "public-key", id: "Bw", transports: ["usb"] }],
      authenticatorSelection: { residentKey: "required", userVerification: "required" },
    },
  });
  assert.deepEqual(bytes(publicKey.challenge), [1, 2, 3]);
  assert.deepEqual(bytes(publicKey.user.id), [4, 5, 6]);
  assert.equal(publicKey.user.name, "ada");
  assert.equal(publicKey.user.displayName, "Ada Lovelace");
  assert.deepEqual(bytes(publicKey.excludeCredentials[0].id), [7]);
  assert.deepEqual(publicKey.excludeCredentials[0].transports, ["usb"]);
  assert.deepEqual(publicKey.rp, { id: "localhost", name: "passlink" });
  assert.equal(publicKey.authenticatorSelection.residentKey, "required");
});

/** A stand-in for the browser's PublicKeyCredential of a get(). */
function assertion({ userHandle }) {
  return {
    id: "AQID",
    rawId: new Uint8Array([1, 2, 3]).buffer,
    type: "public-key",
    authenticatorAttachment: "platform",
    getClientExtensionResults: () => ({ credProps: { rk: true } }),
    response: {
      clientDataJSON: new TextEncoder().encode('{"type":"webauthn.get"}').buffer,
      authenticatorData: new Uint8Array([5, 6]).buffer,
      signature: new Uint8Array([7]).buffer,
      userHandle,
    },
  };
}

test("an assertion becomes the JSON SetSession's credentialAssertionData wants", () => {
  const json = assertionJson(assertion({ userHandle: new Uint8Array([8, 9]).buffer }));
  assert.deepEqual(json, {
    id: "AQID",
    rawId: "AQID",
    type: "public-key",
    authenticatorAttachment: "platform",
    clientExtensionResults: { credProps: { rk: true } },
    response: {
      clientDataJSON: "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0In0",
      authenticatorData: "BQY",
      signature: "Bw",
      userHandle: "CAk",
    },
  });
  // It is plain JSON: a google.protobuf.Struct holds it unchanged.
  assert.deepEqual(JSON.parse(JSON.stringify(json)), json);
});

test("an assertion without a user handle leaves userHandle out", () => {
  const json = assertionJson(assertion({ userHandle: null }));
  assert.equal("userHandle" in json.response, false);
  const unknownAttachment = assertionJson({ ...assertion({ userHandle: null }), authenticatorAttachment: null });
  assert.equal(unknownAttachment.authenticatorAttachment, null);
});

test("a new credential becomes the JSON VerifyPasskeyRegistration wants", () => {
  const json = registrationJson({
    id: "AQ",
    rawId: new Uint8Array([1]).buffer,
    type: "public-key",
    authenticatorAttachment: null,
    getClientExtensionResults: () => ({}),
    response: {
      clientDataJSON: new Uint8Array([2]).buffer,
      attestationObject: new Uint8Array([3]).buffer,
      getTransports: () => ["internal"],
    },
  });
  assert.deepEqual(json, {
    id: "AQ",
    rawId: "AQ",
    type: "public-key",
    authenticatorAttachment: null,
    clientExtensionResults: {},
    response: { clientDataJSON: "Ag", attestationObject: "Aw", transports: ["internal"] },
  });
});
