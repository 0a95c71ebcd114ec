// Sentences for failed calls and browser prompts, one function per page or action. Server
// errors are ConnectErrors with ZITADEL's "<text> (<ID>)" messages; browser prompts fail with
// DOMExceptions. Pure functions, so that tests/unit can check them in Node.

import { Code, ConnectError } from "@connectrpc/connect";

/** Whether the server could not be reached (or answered something that is not gRPC-Web). */
export function unreachable(error: unknown): boolean {
  return (
    error instanceof ConnectError &&
    (error.code === Code.Unavailable || error.code === Code.Unknown)
  );
}

/**
 * The seconds a rate-limited client should wait: the `retry-after` header of the answer, else
 * the number in passlink's "try again in N seconds"; null when neither says.
 */
export function retryAfterSeconds(error: ConnectError): number | null {
  const header = Number.parseInt(error.metadata.get("retry-after") ?? "", 10);
  if (Number.isFinite(header) && header >= 0) return header;
  const said = /try again in (\d+) s/.exec(error.rawMessage);
  return said ? Number.parseInt(said[1], 10) : null;
}

const UNREACHABLE =
  "The server could not be reached. Please check your connection and try again.";

/** "Please try again in N s." or a plain "Please try again later." */
function tooManyRequests(error: ConnectError, what: string): string {
  const seconds = retryAfterSeconds(error);
  const when = seconds === null ? "later" : `in ${Math.max(seconds, 1)} s`;
  return `${what} Please try again ${when}.`;
}

/** Whether a ConnectError's message carries the error id `id` ("… (ID)"). */
function hasId(error: ConnectError, id: string): boolean {
  return error.rawMessage.includes(`(${id})`);
}

/** Why `navigator.credentials.create` failed; shared by the registration and account pages. */
export function creationPromptMessage(error: DOMException): string {
  switch (error.name) {
    case "NotAllowedError":
      return "No passkey was created: the request was cancelled or timed out. You can try again.";
    case "InvalidStateError":
      return "This authenticator already holds a passkey for your account.";
    case "SecurityError":
      return "Your browser refused to create a passkey for this site (its address is not allowed).";
    case "NotSupportedError":
      return "Your authenticator does not support the kinds of keys this site accepts.";
    case "AbortError":
      return "No passkey was created: the request was aborted. You can try again.";
  }
  return `No passkey was created: ${error.message}`;
}

/** A sentence for a failure on the registration page (an emailed link). */
export function registrationMessage(error: unknown): string {
  if (error instanceof ConnectError) {
    if (error.code === Code.InvalidArgument && hasId(error, "COMMAND-Eeb2a")) {
      return "This link is no longer valid: it has expired or was already used. Please ask for a new link.";
    }
    if (error.code === Code.NotFound && error.rawMessage.includes("WebAuthN Token")) {
      return "The registration took too long and has expired. Please ask for a new link.";
    }
    if (error.code === Code.AlreadyExists) {
      return "This passkey is already registered.";
    }
    if (error.code === Code.FailedPrecondition) {
      return `This account cannot register passkeys right now: ${error.rawMessage}`;
    }
    if (error.code === Code.ResourceExhausted) {
      return tooManyRequests(error, "Too many attempts from your network.");
    }
    if (unreachable(error)) return UNREACHABLE;
    return `The passkey could not be registered: ${error.rawMessage}`;
  }
  if (error instanceof DOMException) return creationPromptMessage(error);
  return `Something went wrong: ${String(error)}`;
}

/** Shown when `navigator.credentials.get` ended without a passkey. */
export const NO_PASSKEY_USED =
  "No passkey was used. If this device has no passkey for this site, sign in on a device that has one.";

/** Shown when the browser has no WebAuthn. */
export const NO_WEBAUTHN =
  "This browser does not support passkeys (WebAuthn). Please use an up-to-date browser.";

/** A sentence for a failed sign-in (the browser's prompt, CreateSession or SetSession). */
export function signInMessage(error: unknown): string {
  if (error instanceof ConnectError) {
    if (hasId(error, "WEBAU-4M90s")) {
      return "This passkey was refused because it may have been copied. Please use another passkey or contact your administrator.";
    }
    if (
      hasId(error, "SESSION-Gj4ko") ||
      hasId(error, "COMMAND-Df4b3") ||
      error.rawMessage.includes("Errors.User.NotActive")
    ) {
      return "This account cannot sign in because it is not active. Please contact your administrator.";
    }
    if (hasId(error, "COMMAND-Ioqu5") || hasId(error, "COMMAND-Hkl3d")) {
      return "The sign-in took too long and has expired. Please try again.";
    }
    if (hasId(error, "WEBAU-3M9si") || hasId(error, "WEBAU-ADgv4")) {
      return "This passkey was not accepted. It may have been removed from your account. Please try again or use another passkey.";
    }
    switch (error.code) {
      case Code.PermissionDenied:
      case Code.NotFound:
        return "The sign-in has expired. Please try again.";
      case Code.FailedPrecondition:
        return `The sign-in was refused: ${error.rawMessage}`;
      case Code.ResourceExhausted:
        return tooManyRequests(error, "Too many sign-in attempts from your network.");
      case Code.Unauthenticated:
      case Code.Unimplemented:
        return "This server does not offer sign-in with a passkey.";
    }
    if (unreachable(error)) return UNREACHABLE;
    return `The sign-in failed: ${error.rawMessage}`;
  }
  if (error instanceof DOMException) {
    switch (error.name) {
      // Browsers give the same error for a dismissed prompt, a timeout and a device without a
      // passkey for this site (so that sites cannot probe for passkeys).
      case "NotAllowedError":
        return NO_PASSKEY_USED;
      case "AbortError":
        return "The sign-in was interrupted. You can try again.";
      case "SecurityError":
        return "Your browser refused to use a passkey for this site (its address is not allowed).";
      case "NotSupportedError":
        return "Your browser cannot use passkeys here. Please use an up-to-date browser.";
    }
    return `No passkey was used: ${error.message}`;
  }
  return `Something went wrong: ${String(error)}`;
}

/** What the account page was doing when a call failed. */
export type AccountAction = "load" | "add" | "remove" | "sign-out";

/**
 * Whether `error` means the session is gone (unknown, terminated, expired, or its token no
 * longer current), so the account page sends the user to sign in again. Session RPCs answer
 * NotFound or PermissionDenied; calls with the session token as bearer answer Unauthenticated.
 * On "remove", NotFound is about the passkey, not the session.
 */
export function sessionEnded(error: unknown, action: AccountAction): boolean {
  if (!(error instanceof ConnectError)) return false;
  if (error.code === Code.Unauthenticated) return true;
  if (error.code === Code.PermissionDenied) return action === "load" || action === "sign-out";
  if (error.code === Code.NotFound) return action === "load";
  return false;
}

/** A sentence for a failure on the account page. */
export function accountMessage(error: unknown, action: AccountAction): string {
  if (error instanceof ConnectError) {
    if (error.code === Code.ResourceExhausted) {
      return tooManyRequests(error, "Too many requests from your network.");
    }
    if (unreachable(error)) {
      return action === "sign-out"
        ? "The server could not be reached, so you are still signed in. Please try again, or close this tab."
        : UNREACHABLE;
    }
    if (action === "add") {
      if (error.code === Code.NotFound && error.rawMessage.includes("WebAuthN Token")) {
        return "Adding the passkey took too long and has expired. Please try again.";
      }
      if (error.code === Code.AlreadyExists) return "This passkey is already registered.";
      if (error.code === Code.InvalidArgument) {
        return `The new passkey was not accepted: ${error.rawMessage}`;
      }
      if (error.code === Code.FailedPrecondition) {
        return `Your account cannot add passkeys right now: ${error.rawMessage}`;
      }
      return `The passkey could not be added: ${error.rawMessage}`;
    }
    if (action === "remove") {
      if (error.code === Code.NotFound) return "This passkey was already removed.";
      return `The passkey could not be removed: ${error.rawMessage}`;
    }
    if (action === "sign-out") return `Signing out failed: ${error.rawMessage}`;
    return `Your account could not be loaded: ${error.rawMessage}`;
  }
  if (error instanceof DOMException) return creationPromptMessage(error);
  return `Something went wrong: ${String(error)}`;
}
