// passlink's sign-in page (/ui/login): signs in with a passkey, no username needed.
//
// It uses the Session API's public sign-in (SESSIONS.md §9, §11.7): CreateSession without a
// bearer token and with only a discoverable WebAuthn challenge answers a session id, its token
// and request options with an empty allowCredentials; the browser's assertion goes back in a
// SetSession with that token, which answers the session's NEW token (tokens rotate on every
// change). The session id and that token are kept in sessionStorage for /ui/account.
//
// Two ways in:
// - the button: navigator.credentials.get with the browser's passkey prompt;
// - autofill, where the browser has it (conditional mediation): the username field offers this
//   site's passkeys; picking one signs in. That request waits from page load on, and is aborted
//   when the button is used (a browser allows one pending request).
//
// A challenge is fetched once and reused while fresh and unchecked: a cancelled prompt sends
// nothing to the server, so the next attempt may use it again. After the server saw a check
// (success or not) the next attempt starts a new session.

import { UserVerificationRequirement } from "./gen/zitadel/session/v2/challenge_pb";
import { sessionService } from "./common/client";
import { NO_WEBAUTHN, signInMessage } from "./common/messages";
import { element, ready, show } from "./common/page";
import { loadSession, saveSession } from "./common/session-store";
import {
  assertionJson,
  conditionalMediationAvailable,
  requestOptions,
  webauthnSupported,
} from "./common/webauthn";

/** Where a signed-in user goes. */
const ACCOUNT_PAGE = "/ui/account";
/** Used when the options name no timeout: the server's default (SESSIONS.md §11.10). */
const DEFAULT_TIMEOUT_MS = 300_000;
/** A challenge is not used when less than this is left of it. */
const MARGIN_MS = 30_000;
/**
 * How often autofill is offered again after a passkey taken from it was refused. A browser
 * that answered autofill requests without the user (as test browsers do) would otherwise try
 * the same refused passkey over and over.
 */
const AUTOFILL_RETRIES = 3;

/** A session waiting for its WebAuthn check. */
type Challenge = {
  sessionId: string;
  sessionToken: string;
  publicKey: PublicKeyCredentialRequestOptions;
  /** When the server forgets the challenge (Date.now() time). */
  expiresAt: number;
  /** Its full lifetime in milliseconds. */
  lifetime: number;
};

const sessions = sessionService();
const form = element<HTMLFormElement>("sign-in-form");
const button = element<HTMLButtonElement>("sign-in");
const autofill = element<HTMLDivElement>("autofill");
const usernameInput = element<HTMLInputElement>("username");

/** The challenge of the next attempt, while the server has not seen a check for it. */
let current: Challenge | undefined;
/** The autofill request waiting in the background; resolves true if it signed the user in. */
let conditional: { controller: AbortController; settled: Promise<boolean> } | undefined;
let refreshTimer: ReturnType<typeof setTimeout> | undefined;
let autofillAvailable = false;
let autofillRetriesLeft = AUTOFILL_RETRIES;
/** An attempt is under way (prompt open, or the check on its way to the server). */
let signingIn = false;

function busy(yes: boolean): void {
  button.disabled = yes;
  usernameInput.disabled = yes;
}

/**
 * A challenge with at least `needed` milliseconds left: the current one, else one from a new
 * CreateSession (no bearer token, nothing but the discoverable challenge).
 */
async function challenge(needed: number): Promise<Challenge> {
  if (current && current.expiresAt - Date.now() >= needed) return current;
  current = undefined;
  const answer = await sessions.createSession({
    challenges: {
      webAuthN: {
        domain: location.hostname,
        userVerificationRequirement: UserVerificationRequirement.REQUIRED,
      },
    },
  });
  const publicKey = requestOptions(
    answer.challenges?.webAuthN?.publicKeyCredentialRequestOptions ?? {},
  );
  const lifetime =
    typeof publicKey.timeout === "number" && publicKey.timeout > 0
      ? publicKey.timeout
      : DEFAULT_TIMEOUT_MS;
  current = {
    sessionId: answer.sessionId,
    sessionToken: answer.sessionToken,
    publicKey,
    expiresAt: Date.now() + lifetime,
    lifetime,
  };
  return current;
}

/** Where a passkey came from: the button's prompt or the username field's autofill. */
type Source = "prompt" | "autofill";

/** Sends the assertion; on success keeps the session and opens the account page. */
async function check(
  attempt: Challenge,
  credential: PublicKeyCredential,
  source: Source,
): Promise<void> {
  signingIn = true;
  busy(true);
  show("info", "Signing you in…");
  // The server has now seen this challenge: whatever the answer, the next attempt needs a new one.
  current = undefined;
  try {
    const answer = await sessions.setSession({
      sessionId: attempt.sessionId,
      sessionToken: attempt.sessionToken,
      checks: { webAuthN: { credentialAssertionData: assertionJson(credential) } },
    });
    saveSession({ sessionId: attempt.sessionId, sessionToken: answer.sessionToken });
    show("success", "You are signed in. Opening your account…");
    location.assign(ACCOUNT_PAGE);
  } catch (error) {
    failed(error, source);
  }
}

/** Reports a failed attempt and makes the page ready for the next one. */
function failed(error: unknown, source: Source): void {
  signingIn = false;
  busy(false);
  show("error", signInMessage(error));
  if (source === "prompt" || autofillRetriesLeft-- > 0) startAutofill();
}

/** Ends the autofill request; true when it had already signed the user in (or is doing so). */
async function stopAutofill(): Promise<boolean> {
  clearTimeout(refreshTimer);
  const pending = conditional;
  conditional = undefined;
  if (!pending) return false;
  pending.controller.abort();
  return pending.settled;
}

/** Renews the autofill request shortly before its challenge expires, once the tab is seen. */
function renewAutofillBefore(expiresAt: number): void {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(
    async () => {
      if (signingIn || (await stopAutofill())) return;
      if (document.visibilityState === "visible") {
        startAutofill();
      } else {
        document.addEventListener("visibilitychange", startAutofill, { once: true });
      }
    },
    Math.max(expiresAt - Date.now() - MARGIN_MS, 1_000),
  );
}

/** Offers this site's passkeys in the username field's autofill, where the browser can. */
function startAutofill(): void {
  if (!autofillAvailable || signingIn || conditional) return;
  const controller = new AbortController();
  const settled = (async (): Promise<boolean> => {
    let attempt: Challenge;
    try {
      attempt = await challenge(MARGIN_MS * 2);
    } catch {
      // Quietly: the button reports what is wrong when it is used.
      return false;
    }
    if (controller.signal.aborted) return false;
    renewAutofillBefore(attempt.expiresAt);
    let credential: Credential | null;
    try {
      credential = await navigator.credentials.get({
        mediation: "conditional",
        publicKey: attempt.publicKey,
        signal: controller.signal,
      });
    } catch {
      // Aborted by the button or a renewal; anything else the button will report if it recurs.
      return false;
    }
    if (controller.signal.aborted || !(credential instanceof PublicKeyCredential)) return false;
    clearTimeout(refreshTimer);
    conditional = undefined;
    await check(attempt, credential, "autofill");
    return true;
  })();
  conditional = { controller, settled };
}

/** The button: the browser's passkey prompt, then the check. */
async function signInWithPrompt(): Promise<void> {
  if (signingIn) return;
  signingIn = true;
  busy(true);
  if (await stopAutofill()) return;
  let attempt: Challenge;
  let credential: Credential | null;
  try {
    show("info", "Preparing the sign-in…");
    // At least half of a challenge's life must be left for the prompt.
    attempt = await challenge(Math.max((current?.lifetime ?? DEFAULT_TIMEOUT_MS) / 2, MARGIN_MS * 2));
    show("info", "Follow your browser's prompt to use your passkey.");
    credential = await navigator.credentials.get({
      publicKey: {
        ...attempt.publicKey,
        // The browser gives up before the server forgets the challenge.
        timeout: Math.max(attempt.expiresAt - Date.now() - MARGIN_MS / 2, 1_000),
      },
    });
  } catch (error) {
    failed(error, "prompt");
    return;
  }
  if (!(credential instanceof PublicKeyCredential)) {
    failed(new DOMException("no credential was returned", "NotAllowedError"), "prompt");
    return;
  }
  await check(attempt, credential, "prompt");
}

/** What the page says first, from `?reason=` (set by the account page). */
function greeting(): [message: string, kind: "info" | "success"] {
  switch (new URLSearchParams(location.search).get("reason")) {
    case "signed-out":
      return ["You have signed out.", "success"];
    case "expired":
      return ["Your session has ended. Please sign in again.", "info"];
  }
  return ["Sign in with a passkey saved on this device or on your phone.", "info"];
}

async function main(): Promise<void> {
  if (loadSession()) {
    // Already signed in in this tab; the account page checks the session and comes back if
    // it is gone.
    location.replace(ACCOUNT_PAGE);
    return;
  }
  if (!webauthnSupported()) {
    show("error", NO_WEBAUTHN);
    return;
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void signInWithPrompt();
  });
  autofillAvailable = await conditionalMediationAvailable();
  autofill.hidden = !autofillAvailable;
  form.hidden = false;
  const [message, kind] = greeting();
  ready(message, kind);
  startAutofill();
}

void main();
