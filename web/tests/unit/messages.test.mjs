// What the pages say when a call or a browser prompt fails.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  NO_PASSKEY_USED,
  accountMessage,
  registrationMessage,
  retryAfterSeconds,
  sessionEnded,
  signInMessage,
} from "../../src/common/messages.ts";

const server = (code, message, headers) => new ConnectError(message, code, headers);
const prompt = (name) => new DOMException("The operation either timed out or was not allowed.", name);

test("a dismissed prompt and a device without a passkey get one message covering both", () => {
  assert.equal(signInMessage(prompt("NotAllowedError")), NO_PASSKEY_USED);
  assert.match(NO_PASSKEY_USED, /^No passkey was used\. If this device has no passkey for this site, sign in on a device that has one\.$/);
});

test("a refused assertion says the passkey was not accepted", () => {
  for (const message of [
    "Error on validate login credentials (WEBAU-3M9si)",
    "Error on validate login credentials (WEBAU-ADgv4)",
  ]) {
    assert.match(signInMessage(server(Code.InvalidArgument, message)), /passkey was not accepted/);
  }
  // Another InvalidArgument (e.g. a domain the server refuses) is not blamed on the passkey.
  const other = signInMessage(server(Code.InvalidArgument, "invalid RequestChallenges_WebAuthN.Domain: is an IP address"));
  assert.match(other, /^The sign-in failed: invalid RequestChallenges_WebAuthN\.Domain/);
});

test("an inactive user is told the account is not active", () => {
  for (const message of [
    "Errors.User.NotActive (SESSION-Gj4ko)",
    "User could not be found (COMMAND-Df4b3)",
  ]) {
    assert.match(signInMessage(server(Code.FailedPrecondition, message)), /account cannot sign in because it is not active/);
  }
});

test("a rate-limited sign-in says when to try again", () => {
  const limited = "Too many requests from this address; try again in 7 seconds (API-Rl4pb)";
  // The retry-after header wins over the message.
  const withHeader = server(Code.ResourceExhausted, limited, { "retry-after": "12" });
  assert.equal(retryAfterSeconds(withHeader), 12);
  assert.equal(signInMessage(withHeader), "Too many sign-in attempts from your network. Please try again in 12 s.");
  const withoutHeader = server(Code.ResourceExhausted, limited);
  assert.equal(signInMessage(withoutHeader), "Too many sign-in attempts from your network. Please try again in 7 s.");
  const unsaid = server(Code.ResourceExhausted, "slow down");
  assert.equal(retryAfterSeconds(unsaid), null);
  assert.equal(signInMessage(unsaid), "Too many sign-in attempts from your network. Please try again later.");
});

test("sign-in failures of the session and the server each get their own sentence", () => {
  assert.match(signInMessage(server(Code.FailedPrecondition, "Session without WebAuthN challenge (COMMAND-Ioqu5)")), /took too long and has expired/);
  assert.match(signInMessage(server(Code.PermissionDenied, "Session Token is invalid (COMMAND-sGr42)")), /sign-in has expired/);
  assert.match(signInMessage(server(Code.FailedPrecondition, "Credentials may be cloned (WEBAU-4M90s)")), /may have been copied/);
  assert.match(signInMessage(server(Code.Unauthenticated, "Token is invalid (AUTH-7fs1e)")), /does not offer sign-in with a passkey/);
  assert.match(signInMessage(server(Code.Unimplemented, "unknown service")), /does not offer sign-in with a passkey/);
  assert.match(signInMessage(server(Code.Unavailable, "Failed to fetch")), /could not be reached/);
  assert.match(signInMessage(server(Code.FailedPrecondition, "Something else (X-1)")), /^The sign-in was refused: Something else \(X-1\)$/);
  assert.match(signInMessage(prompt("AbortError")), /interrupted/);
  assert.match(signInMessage(prompt("SecurityError")), /address is not allowed/);
});

test("the registration page keeps its messages", () => {
  assert.match(registrationMessage(server(Code.InvalidArgument, "Code is invalid (COMMAND-Eeb2a)")), /no longer valid/);
  assert.match(registrationMessage(server(Code.NotFound, "WebAuthN Token could not be found (COMMAND-2n0fs)")), /took too long/);
  assert.equal(registrationMessage(server(Code.AlreadyExists, "x")), "This passkey is already registered.");
  assert.match(registrationMessage(prompt("NotAllowedError")), /cancelled or timed out/);
  assert.match(registrationMessage(prompt("InvalidStateError")), /already holds a passkey/);
  assert.match(registrationMessage(server(Code.Unavailable, "x")), /could not be reached/);
});

test("the account page knows which failures end the session", () => {
  const unauthenticated = server(Code.Unauthenticated, "Token is invalid (AUTH-7fs1e)");
  const notFound = server(Code.NotFound, "Session does not exist (QUERY-SFeaa)");
  const denied = server(Code.PermissionDenied, "Errors.PermissionDenied (QUERY-dsfr3)");
  for (const action of ["load", "add", "remove", "sign-out"]) {
    assert.equal(sessionEnded(unauthenticated, action), true, action);
  }
  assert.equal(sessionEnded(notFound, "load"), true);
  assert.equal(sessionEnded(denied, "load"), true);
  assert.equal(sessionEnded(denied, "sign-out"), true);
  // A passkey that is gone is not a session that is gone.
  assert.equal(sessionEnded(server(Code.NotFound, "Passkey not found"), "remove"), false);
  assert.equal(sessionEnded(server(Code.NotFound, "WebAuthN Token could not be found"), "add"), false);
  assert.equal(sessionEnded(server(Code.Unavailable, "x"), "load"), false);
  assert.equal(sessionEnded(prompt("NotAllowedError"), "add"), false);
});

test("the account page explains failed additions, removals and sign-outs", () => {
  assert.match(accountMessage(prompt("NotAllowedError"), "add"), /No passkey was created/);
  assert.match(accountMessage(server(Code.NotFound, "WebAuthN Token could not be found (X)"), "add"), /took too long/);
  assert.match(accountMessage(server(Code.InvalidArgument, "bad credential (X)"), "add"), /not accepted: bad credential/);
  assert.match(accountMessage(server(Code.NotFound, "x"), "remove"), /already removed/);
  assert.match(accountMessage(server(Code.Unavailable, "x"), "sign-out"), /still signed in/);
  assert.match(accountMessage(server(Code.ResourceExhausted, "x", { "retry-after": "3" }), "remove"), /try again in 3 s/);
});
