// passlink's passkey registration page: redeems the registration link in the address bar.
//
// 1. Reads userID, orgID, codeID and code from the query string.
// 2. Asks for the passkey's name first (prefilled with the browser and platform, editable).
// 3. On "Create passkey": RegisterPasskey over gRPC-Web (the code is the credential, no
//    login), navigator.credentials.create with the options it returns, and at once
//    VerifyPasskeyRegistration with that name; shows success or a clear error.
//
// Naming before the prompt keeps the time between the authenticator creating the credential
// and the server storing it as short as one call: nothing waits for the user in between, so a
// closed tab rarely leaves a credential the server never stored.
//
// The code works once, so RegisterPasskey runs on the click, not on page load, and a retry
// after a cancelled prompt reuses the registration already started; a retry after a failed
// save (the server was unreachable) stores the credential already created.

import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { UserService } from "./gen/zitadel/user/v2/user_service_pb";

type Started = { passkeyId: string; options: CredentialCreationOptions };

const client = createClient(
  UserService,
  createGrpcWebTransport({ baseUrl: location.origin }),
);

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page lacks #${id}`);
  return found as T;
}

const statusBox = element<HTMLParagraphElement>("status");
const form = element<HTMLFormElement>("register-form");
const nameInput = element<HTMLInputElement>("passkey-name");
const startButton = element<HTMLButtonElement>("start");

/** Shows a message; `kind` is "info", "error" or "success" and sets data-state on <body>. */
function show(kind: "info" | "error" | "success", message: string): void {
  statusBox.textContent = message;
  statusBox.className = kind;
  document.body.dataset.state = kind;
}

function base64urlToBuffer(text: string): ArrayBuffer {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
  const binary = atob(padded);
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
  return bytes.buffer;
}

function bufferToBase64url(buffer: ArrayBuffer): string {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function object(value: JsonValue | undefined): JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? value : {};
}

/** The server's `{publicKey: {...}}` JSON (base64url fields) as the browser wants it. */
function creationOptions(json: JsonObject): CredentialCreationOptions {
  const publicKey = object(json.publicKey);
  const user = object(publicKey.user);
  const exclude = Array.isArray(publicKey.excludeCredentials) ? publicKey.excludeCredentials : [];
  return {
    publicKey: {
      ...(publicKey as unknown as PublicKeyCredentialCreationOptions),
      challenge: base64urlToBuffer(String(publicKey.challenge)),
      user: {
        id: base64urlToBuffer(String(user.id)),
        name: String(user.name),
        displayName: String(user.displayName),
      },
      excludeCredentials: exclude.map((entry) => {
        const credential = object(entry);
        return {
          type: "public-key",
          id: base64urlToBuffer(String(credential.id)),
          ...(Array.isArray(credential.transports)
            ? { transports: credential.transports as AuthenticatorTransport[] }
            : {}),
        };
      }),
    },
  };
}

/** A new credential as JSON with base64url fields, as VerifyPasskeyRegistration wants it. */
function credentialJson(credential: PublicKeyCredential): JsonObject {
  const response = credential.response as AuthenticatorAttestationResponse;
  const transports =
    typeof response.getTransports === "function" ? response.getTransports() : [];
  return {
    id: credential.id,
    rawId: bufferToBase64url(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment ?? null,
    clientExtensionResults: JSON.parse(
      JSON.stringify(credential.getClientExtensionResults()),
    ) as JsonObject,
    response: {
      clientDataJSON: bufferToBase64url(response.clientDataJSON),
      attestationObject: bufferToBase64url(response.attestationObject),
      transports,
    },
  };
}

/** A sentence for a failed call or browser prompt. */
function explain(error: unknown): string {
  if (error instanceof ConnectError) {
    if (error.code === Code.InvalidArgument && error.rawMessage.includes("COMMAND-Eeb2a")) {
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
    if (error.code === Code.Unavailable || error.code === Code.Unknown) {
      return "The server could not be reached. Please check your connection and try again.";
    }
    return `The passkey could not be registered: ${error.rawMessage}`;
  }
  if (error instanceof DOMException) {
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
  return `Something went wrong: ${String(error)}`;
}

function webauthnSupported(): boolean {
  return (
    typeof window.PublicKeyCredential === "function" &&
    typeof navigator.credentials?.create === "function"
  );
}

/** The first pattern that matches `text`, as its label; `fallback` when none does. */
function firstMatch(text: string, patterns: Array<[RegExp, string]>, fallback: string): string {
  for (const [pattern, label] of patterns) {
    if (pattern.test(text)) return label;
  }
  return fallback;
}

/** A name that tells this passkey apart, e.g. "Chrome on Linux" or "Safari on iPhone". */
function defaultPasskeyName(): string {
  const agent = navigator.userAgent;
  // Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari", and iPhones and
  // Android phones also say "Mac OS X" and "Linux".
  const browser = firstMatch(
    agent,
    [
      [/Edg(e|A|iOS)?\//, "Edge"],
      [/OPR\/|Opera/, "Opera"],
      [/Firefox\/|FxiOS\//, "Firefox"],
      [/SamsungBrowser\//, "Samsung Internet"],
      [/Chrome\/|Chromium\/|CriOS\//, "Chrome"],
      [/Safari\//, "Safari"],
    ],
    "",
  );
  const platform = firstMatch(
    agent,
    [
      [/Android/, "Android"],
      [/iPhone/, "iPhone"],
      [/iPad/, "iPad"],
      [/CrOS/, "ChromeOS"],
      [/Mac OS X|Macintosh/, "Mac"],
      [/Windows/, "Windows"],
      [/Linux/, "Linux"],
    ],
    "",
  );
  if (browser && platform) return `${browser} on ${platform}`;
  if (browser || platform) return `Passkey on ${browser || platform}`;
  return "My passkey";
}

/** Whether the same button press may be tried again after `error`. */
function retryable(error: unknown, started: boolean): boolean {
  // A cancelled or refused prompt: the registration already started can be used again, with
  // another authenticator if need be.
  if (error instanceof DOMException) return started;
  // The server was not reached: what was done so far is kept and the next press goes on.
  return (
    error instanceof ConnectError &&
    (error.code === Code.Unavailable || error.code === Code.Unknown)
  );
}

function main(): void {
  const query = new URLSearchParams(location.search);
  const userId = query.get("userID") ?? "";
  const codeId = query.get("codeID") ?? "";
  const code = query.get("code") ?? "";
  if (!userId || !codeId || !code) {
    show("error", "This link is incomplete. Please open the full link from your email.");
    return;
  }
  if (!webauthnSupported()) {
    show("error", "This browser does not support passkeys (WebAuthn). Please open the link in an up-to-date browser.");
    return;
  }
  let started: Started | undefined;
  // The credential the authenticator made and the server has not stored yet.
  let credential: JsonObject | undefined;
  const busy = (yes: boolean): void => {
    nameInput.disabled = yes;
    startButton.disabled = yes;
  };
  nameInput.value = defaultPasskeyName();
  form.hidden = false;
  show("info", "Name your new passkey, then create it. Your browser will ask you to confirm.");

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = nameInput.value.trim();
    // The server counts runes (code points), not UTF-16 units.
    const length = [...name].length;
    if (length < 1 || length > 200) {
      show("error", "Please enter a name of 1 to 200 characters.");
      nameInput.focus();
      return;
    }
    busy(true);
    try {
      if (!started) {
        show("info", "Preparing your passkey…");
        const answer = await client.registerPasskey({
          userId,
          code: { id: codeId, code },
        });
        started = {
          passkeyId: answer.passkeyId,
          options: creationOptions(answer.publicKeyCredentialCreationOptions ?? {}),
        };
      }
      if (!credential) {
        show("info", "Follow your browser's prompt to create the passkey.");
        const created = await navigator.credentials.create(started.options);
        if (!(created instanceof PublicKeyCredential)) {
          throw new DOMException("no credential was returned", "NotAllowedError");
        }
        credential = credentialJson(created);
      }
      show("info", "Saving your passkey…");
      await client.verifyPasskeyRegistration({
        userId,
        passkeyId: started.passkeyId,
        publicKeyCredential: credential,
        passkeyName: name,
      });
      form.hidden = true;
      show("success", `Your passkey “${name}” is ready. You can close this page and sign in with it.`);
    } catch (error) {
      show("error", explain(error));
      if (retryable(error, started !== undefined)) {
        busy(false);
      } else {
        // A refused link or a refused credential cannot be tried again on this page.
        form.hidden = true;
      }
    }
  });
}

main();
