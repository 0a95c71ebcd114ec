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

import type { JsonObject } from "@bufbuild/protobuf";
import { userService } from "./common/client";
import { registrationMessage, unreachable } from "./common/messages";
import { element, show } from "./common/page";
import { defaultPasskeyName, passkeyNameProblem } from "./common/passkey-name";
import { creationOptions, registrationJson, webauthnSupported } from "./common/webauthn";

type Started = { passkeyId: string; options: CredentialCreationOptions };

const client = userService();

const form = element<HTMLFormElement>("register-form");
const nameInput = element<HTMLInputElement>("passkey-name");
const startButton = element<HTMLButtonElement>("start");

/** Whether the same button press may be tried again after `error`. */
function retryable(error: unknown, started: boolean): boolean {
  // A cancelled or refused prompt: the registration already started can be used again, with
  // another authenticator if need be.
  if (error instanceof DOMException) return started;
  // The server was not reached: what was done so far is kept and the next press goes on.
  return unreachable(error);
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
    const problem = passkeyNameProblem(name);
    if (problem) {
      show("error", problem);
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
        credential = registrationJson(created);
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
      show("error", registrationMessage(error));
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
