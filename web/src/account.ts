// passlink's account page (/ui/account): who is signed in, their passkeys, adding and removing
// passkeys, and signing out.
//
// The session comes from sessionStorage (put there by /ui/login). GetSession with the session's
// id and token needs no bearer token; the user's own passkey RPCs take the session token as
// bearer (SESSIONS.md §6.9, §11.6). Neither changes the session, so its token stays the same.
// Without a usable session the page goes to /ui/login.

import type { JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Session } from "./gen/zitadel/session/v2/session_pb";
import { AuthFactorState, type Passkey } from "./gen/zitadel/user/v2/user_pb";
import { bearer, sessionService, userService } from "./common/client";
import {
  accountMessage,
  sessionEnded,
  unreachable,
  type AccountAction,
} from "./common/messages";
import { element, ready, show } from "./common/page";
import { defaultPasskeyName, passkeyNameProblem } from "./common/passkey-name";
import { clearSession, loadSession, type StoredSession } from "./common/session-store";
import {
  creationOptions,
  registrationJson,
  webauthnSupported,
} from "./common/webauthn";

/** The sign-in page, with the reason the user is sent there. */
const LOGIN_PAGE = "/ui/login";

const sessions = sessionService();
const users = userService();

const account = element<HTMLElement>("account");
const displayName = element<HTMLElement>("display-name");
const loginName = element<HTMLElement>("login-name");
const list = element<HTMLUListElement>("passkeys");
const noPasskeys = element<HTMLParagraphElement>("no-passkeys");
const addButton = element<HTMLButtonElement>("add");
const addForm = element<HTMLFormElement>("add-form");
const nameInput = element<HTMLInputElement>("passkey-name");
const cancelAddButton = element<HTMLButtonElement>("cancel-add");
const signOutButton = element<HTMLButtonElement>("sign-out");

/** Leaves for the sign-in page, forgetting the session. */
function toLogin(reason: "expired" | "signed-out" | null): void {
  clearSession();
  location.replace(reason ? `${LOGIN_PAGE}?reason=${reason}` : LOGIN_PAGE);
}

/** Disables (or enables) every control while a call is under way. */
function busy(yes: boolean): void {
  for (const control of account.querySelectorAll<HTMLButtonElement | HTMLInputElement>(
    "button, input",
  )) {
    control.disabled = yes;
  }
}

/** Reports a failed call; a gone session goes to the sign-in page instead. */
function failed(error: unknown, action: AccountAction): void {
  if (sessionEnded(error, action)) {
    toLogin("expired");
    return;
  }
  busy(false);
  show("error", accountMessage(error, action));
}

/** A passkey's state in words. */
function stateText(state: AuthFactorState): string {
  switch (state) {
    case AuthFactorState.READY:
      return "Ready";
    case AuthFactorState.NOT_READY:
      return "Not finished";
    case AuthFactorState.REMOVED:
      return "Removed";
  }
  return "Unknown";
}

/** Whether the session is signed in with a passkey and not expired. */
function signedIn(session: Session | undefined): boolean {
  const factors = session?.factors;
  if (!factors?.user?.id || !factors.webAuthN?.verifiedAt) return false;
  const expiration = session?.expirationDate;
  return !expiration || timestampDate(expiration).getTime() > Date.now();
}

function main(): void {
  const stored = loadSession();
  if (!stored) {
    toLogin(null);
    return;
  }
  void load(stored);
}

async function load(stored: StoredSession): Promise<void> {
  const auth = bearer(stored.sessionToken);
  let session: Session | undefined;
  try {
    session = (
      await sessions.getSession({
        sessionId: stored.sessionId,
        sessionToken: stored.sessionToken,
      })
    ).session;
  } catch (error) {
    failed(error, "load");
    return;
  }
  if (!signedIn(session)) {
    toLogin("expired");
    return;
  }
  const user = session!.factors!.user!;
  const userId = user.id;
  displayName.textContent = user.displayName || user.loginName;
  loginName.textContent = user.loginName;
  document.title = `${user.displayName || user.loginName} – your account`;

  let passkeys: Passkey[] = [];
  /** The registration started by RegisterPasskey, reused after a cancelled prompt. */
  let started: { passkeyId: string; options: CredentialCreationOptions } | undefined;
  /** The credential the authenticator made and the server has not stored yet. */
  let credential: JsonObject | undefined;

  /** Reads the passkeys again and shows them. */
  async function refresh(): Promise<void> {
    passkeys = (await users.listPasskeys({ userId }, auth)).result;
    list.replaceChildren(...passkeys.map(entry));
    noPasskeys.hidden = passkeys.length > 0;
  }

  /** One passkey's list item: name, state, and a Remove button. */
  function entry(passkey: Passkey): HTMLLIElement {
    const item = document.createElement("li");
    item.dataset.passkeyId = passkey.id;
    const name = document.createElement("span");
    name.className = "passkey-name";
    name.textContent = passkey.name;
    const state = document.createElement("span");
    state.className = "passkey-state";
    state.textContent = stateText(passkey.state);
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "remove secondary";
    remove.textContent = "Remove";
    remove.setAttribute("aria-label", `Remove passkey “${passkey.name}”`);
    remove.addEventListener("click", () => {
      if (passkeys.length === 1) {
        confirmRemoval(item, passkey, remove);
      } else {
        void removePasskey(passkey);
      }
    });
    item.append(name, " ", state, " ", remove);
    return item;
  }

  /** Asks before the last passkey goes: without it the user cannot sign in here. */
  function confirmRemoval(item: HTMLLIElement, passkey: Passkey, remove: HTMLButtonElement): void {
    const group = document.createElement("div");
    group.className = "confirm";
    group.setAttribute("role", "group");
    const question = document.createElement("p");
    question.id = `confirm-${passkey.id}`;
    question.textContent = `“${passkey.name}” is your only passkey. Without it you cannot sign in here until you get a new registration link. Remove it?`;
    group.setAttribute("aria-labelledby", question.id);
    const yes = document.createElement("button");
    yes.type = "button";
    yes.className = "confirm-remove danger";
    yes.textContent = "Remove it";
    const no = document.createElement("button");
    no.type = "button";
    no.className = "keep secondary";
    no.textContent = "Keep it";
    yes.addEventListener("click", () => void removePasskey(passkey));
    no.addEventListener("click", () => {
      group.remove();
      remove.hidden = false;
      remove.focus();
    });
    group.append(question, yes, " ", no);
    remove.hidden = true;
    item.append(group);
    no.focus();
  }

  async function removePasskey(passkey: Passkey): Promise<void> {
    busy(true);
    show("info", `Removing the passkey “${passkey.name}”…`);
    try {
      await users.removePasskey({ userId, passkeyId: passkey.id }, auth);
    } catch (error) {
      if (!(error instanceof ConnectError && error.code === Code.NotFound)) {
        failed(error, "remove");
        return;
      }
      // Removed elsewhere meanwhile: the list below shows what is left.
    }
    try {
      await refresh();
    } catch (error) {
      failed(error, "load");
      return;
    }
    busy(false);
    addButton.focus();
    show("success", `The passkey “${passkey.name}” was removed.`);
  }

  function closeAddForm(): void {
    addForm.hidden = true;
    addButton.hidden = false;
    started = undefined;
    credential = undefined;
  }

  addButton.addEventListener("click", () => {
    nameInput.value = defaultPasskeyName();
    addForm.hidden = false;
    addButton.hidden = true;
    ready("Name your new passkey, then create it. Your browser will ask you to confirm.");
    nameInput.focus();
    nameInput.select();
  });

  cancelAddButton.addEventListener("click", () => {
    closeAddForm();
    addButton.focus();
    ready("");
  });

  addForm.addEventListener("submit", async (event) => {
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
        const answer = await users.registerPasskey(
          { userId, domain: location.hostname },
          auth,
        );
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
      await users.verifyPasskeyRegistration(
        {
          userId,
          passkeyId: started.passkeyId,
          publicKeyCredential: credential,
          passkeyName: name,
        },
        auth,
      );
    } catch (error) {
      // A cancelled prompt keeps the registration for the next press, and an unreachable
      // server keeps everything done so far; anything else starts over.
      if (!(error instanceof DOMException) && !unreachable(error)) {
        started = undefined;
        credential = undefined;
      }
      failed(error, "add");
      return;
    }
    closeAddForm();
    try {
      await refresh();
    } catch (error) {
      failed(error, "load");
      return;
    }
    busy(false);
    addButton.focus();
    show("success", `Your passkey “${name}” was added.`);
  });

  signOutButton.addEventListener("click", async () => {
    busy(true);
    show("info", "Signing out…");
    try {
      await sessions.deleteSession({
        sessionId: stored.sessionId,
        sessionToken: stored.sessionToken,
      });
    } catch (error) {
      // A session the server no longer knows is signed out already.
      if (!sessionEnded(error, "sign-out")) {
        failed(error, "sign-out");
        return;
      }
    }
    toLogin("signed-out");
  });

  try {
    await refresh();
  } catch (error) {
    failed(error, "load");
    return;
  }
  if (!webauthnSupported()) {
    addButton.hidden = true;
    element<HTMLParagraphElement>("no-webauthn").hidden = false;
  }
  account.hidden = false;
  ready("");
}

main();
