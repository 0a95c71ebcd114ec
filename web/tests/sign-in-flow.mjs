// Drives passlink's sign-in pages through the whole flow in headless Chromium with virtual
// WebAuthn authenticators (DevTools protocol), for tests/browser_sign_in.rs.
//
//   node web/tests/sign-in-flow.mjs <chromium> <registration-link> <screenshot-dir>
//
// Steps, each with a screenshot <screenshot-dir>/NN-<step>.png (and two more: the add form
// before the prompt, the question before removing the last passkey):
//  1. registered       open the emailed link, name the passkey "First passkey", create it;
//  2. login            open /ui/account without a session: the page sends the browser to
//                      /ui/login;
//  3. cancelled        press "Sign in with a passkey" while the browser's prompt fails as a
//                      dismissed one does (NotAllowedError);
//  4. signed-in        press it again: the passkey signs in and /ui/account shows the user and
//                      the passkey;
//  5. added            "Add a passkey" (the name field comes first, prefilled), name it "Second
//                      passkey", create it on a second authenticator (the first one holds an
//                      excluded credential);
//  6. removed          "Remove" on "Second passkey";
//  7. last-kept        "Remove" on the last passkey asks first; "Keep it" keeps it;
//  8. signed-out       "Sign out": back on /ui/login, nothing left in sessionStorage;
//  9. removed-passkey-refused  /ui/login with autofill answered by the security key, which
//                      still holds the removed passkey: refused, and retried only a few times;
// 10. autofill-signed-in  the security key gone, the first passkey is taken from the username
//                      field's autofill (conditional mediation) and signs in;
// 11. signed-out-again "Sign out" once more.
//
// Until step 9, autofill requests are held (as for a user who ignores the autofill list), so the
// button has to abort them: a browser allows one pending request. From step 9 on, Chromium's
// virtual authenticators answer them at once, as a user picking the passkey would.
//
// After each step it prints one JSON line {"event": "<step>", ...what the page showed...} and
// waits for one line on standard input (the Rust test checks the server meanwhile); with
// standard input closed it goes straight on. The last line is {"event": "done", "steps": [...],
// "logs": [...]}. The session token is never printed: the driver only reports whether it shows
// up anywhere it must not (page text, URL, console, localStorage, cookies).

import { createInterface } from "node:readline";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [executablePath, link, screenshotDir] = process.argv.slice(2);
if (!executablePath || !link || !screenshotDir) {
  console.error("usage: sign-in-flow.mjs <chromium> <registration-link> <screenshot-dir>");
  process.exit(2);
}
mkdirSync(screenshotDir, { recursive: true });
const origin = new URL(link).origin;

const input = createInterface({ input: process.stdin });
const lines = input[Symbol.asyncIterator]();
let inputClosed = false;

const steps = [];
let shot = 0;

/** Takes the next numbered screenshot, <screenshot-dir>/NN-<name>.png; returns its path. */
async function snapshot(page, name) {
  shot += 1;
  const screenshot = join(screenshotDir, `${String(shot).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: screenshot, fullPage: true });
  return screenshot;
}

/** Reports a step, screenshots it, and waits until the test says go on. */
async function step(page, name, facts) {
  const screenshot = await snapshot(page, name);
  const report = { event: name, url: page.url(), screenshot, ...facts };
  steps.push(report);
  console.log(JSON.stringify(report));
  if (!inputClosed) {
    const next = await lines.next();
    inputClosed = Boolean(next.done);
  }
}

/** Waits until <body data-state> is one of `states`; returns it. */
async function settled(page, states = ["success", "error"]) {
  await page.waitForFunction(
    (wanted) => wanted.includes(document.body.dataset.state),
    states,
    { timeout: 20_000 },
  );
  return page.evaluate(() => document.body.dataset.state);
}

/** The page's status line. */
const status = (page) => page.evaluate(() => document.getElementById("status")?.textContent ?? "");

/** The passkeys /ui/account lists, as {name, state}. */
const listed = (page) =>
  page.$$eval("#passkeys li", (items) =>
    items.map((item) => ({
      name: item.querySelector(".passkey-name")?.textContent ?? "",
      state: item.querySelector(".passkey-state")?.textContent ?? "",
    })),
  );

/** The Remove button of the passkey named `name`. */
const removeButton = (page, name) =>
  page.locator("#passkeys li", { has: page.locator(".passkey-name", { hasText: name }) }).locator("button.remove");

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
try {
  const context = await browser.newContext({ viewport: { width: 800, height: 700 } });
  // How the browser's passkey requests behave, set by the driver between steps:
  // - cancelNextPrompt: the next modal prompt fails as a dismissed one does (NotAllowedError);
  // - holdAutofill: autofill (conditional) requests wait, as for a user who never opens the
  //   autofill list, until the page aborts them. Without it Chromium's virtual authenticator
  //   answers them at once, as a user picking the passkey from the list would.
  const driver = { cancelNextPrompt: false, holdAutofill: true };
  await context.exposeFunction("__passlinkDriver", () => {
    const now = { ...driver };
    driver.cancelNextPrompt = false;
    return now;
  });
  await context.addInitScript(() => {
    const get = navigator.credentials.get.bind(navigator.credentials);
    navigator.credentials.get = async (options) => {
      const { cancelNextPrompt, holdAutofill } = await window.__passlinkDriver();
      if (options?.mediation === "conditional") {
        if (!holdAutofill) return get(options);
        return new Promise((_resolve, reject) => {
          const abort = () => reject(new DOMException("The request was aborted.", "AbortError"));
          if (options.signal?.aborted) abort();
          options.signal?.addEventListener("abort", abort);
        });
      }
      if (cancelNextPrompt) {
        throw new DOMException("The operation either timed out or was not allowed.", "NotAllowedError");
      }
      return get(options);
    };
  });
  const page = await context.newPage();
  const logs = [];
  page.on("console", (message) => logs.push(`${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => logs.push(`pageerror: ${error.message}`));
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const authenticator = async (transport) =>
    (
      await cdp.send("WebAuthn.addVirtualAuthenticator", {
        options: {
          protocol: "ctap2",
          transport,
          hasResidentKey: true,
          hasUserVerification: true,
          isUserVerified: true,
          automaticPresenceSimulation: true,
        },
      })
    ).authenticatorId;
  const credentialsOn = async (authenticatorId) =>
    (await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials.length;
  const first = await authenticator("internal");

  // 1. The emailed link registers the first passkey.
  await page.goto(link, { waitUntil: "load" });
  await page.waitForSelector("#passkey-name", { state: "visible", timeout: 10_000 });
  await page.fill("#passkey-name", "First passkey");
  await page.click("#start");
  await step(page, "registered", {
    state: await settled(page),
    message: await status(page),
    authenticatorCredentials: await credentialsOn(first),
  });

  // 2. The account page without a session sends the browser to the sign-in page.
  await page.goto(`${origin}/ui/account`, { waitUntil: "load" });
  await page.waitForURL(`${origin}/ui/login`, { timeout: 10_000 });
  await settled(page, ["ready", "error"]);
  await step(page, "login", {
    state: await page.evaluate(() => document.body.dataset.state),
    message: await status(page),
    button: (await page.textContent("#sign-in"))?.trim(),
    autofillOffered: await page.isVisible("#username"),
    autofillField: await page.getAttribute("#username", "autocomplete"),
  });

  // 3. A dismissed prompt (or a device without a passkey) is explained; nothing is stored.
  driver.cancelNextPrompt = true;
  await page.click("#sign-in");
  await step(page, "cancelled", {
    state: await settled(page),
    message: await status(page),
    focused: await page.evaluate(() => document.activeElement?.id ?? null),
    buttonEnabled: await page.isEnabled("#sign-in"),
    stored: await page.evaluate(() => sessionStorage.length),
  });

  // 4. The passkey signs in; the account page shows who and which passkeys.
  await page.click("#sign-in");
  await page.waitForURL(`${origin}/ui/account`, { timeout: 20_000 });
  await settled(page, ["ready", "error"]);
  const secrets = await page.evaluate(() => {
    const stored = JSON.parse(sessionStorage.getItem("passlink.session") ?? "null");
    return { sessionId: stored?.sessionId ?? null, token: stored?.sessionToken ?? null };
  });
  const token = secrets.token;
  const tokenLeaks = async () => {
    if (!token) return [];
    const places = [];
    if ((await page.evaluate(() => document.documentElement.outerHTML)).includes(token)) places.push("page");
    if (page.url().includes(token)) places.push("url");
    if (logs.some((line) => line.includes(token))) places.push("console");
    if (await page.evaluate((value) => Object.values({ ...localStorage }).some((item) => item.includes(value)), token)) places.push("localStorage");
    if ((await context.cookies()).some((cookie) => cookie.value.includes(token))) places.push("cookies");
    return places;
  };
  await step(page, "signed-in", {
    state: await page.evaluate(() => document.body.dataset.state),
    message: await status(page),
    displayName: await page.textContent("#display-name"),
    loginName: await page.textContent("#login-name"),
    passkeys: await listed(page),
    sessionId: secrets.sessionId,
    tokenStored: Boolean(token),
    tokenLeaks: await tokenLeaks(),
  });

  // 5. A second passkey, named before the browser's prompt, on a second authenticator.
  await page.click("#add");
  await page.waitForSelector("#passkey-name", { state: "visible", timeout: 10_000 });
  const suggestedName = await page.inputValue("#passkey-name");
  const nameFocused = await page.evaluate(() => document.activeElement?.id === "passkey-name");
  await page.fill("#passkey-name", "Second passkey");
  await snapshot(page, "add-form");
  // The first authenticator holds a credential the server excludes; a security key takes over.
  await cdp.send("WebAuthn.setAutomaticPresenceSimulation", { authenticatorId: first, enabled: false });
  const second = await authenticator("usb");
  await page.click("#create");
  const added = {
    state: await settled(page),
    message: await status(page),
    suggestedName,
    nameFocused,
    passkeys: await listed(page),
    authenticatorCredentials: [await credentialsOn(first), await credentialsOn(second)],
  };
  await step(page, "added", added);

  // 6. Removing one of two passkeys needs no confirmation.
  await removeButton(page, "Second passkey").click();
  await step(page, "removed", {
    state: await settled(page),
    message: await status(page),
    passkeys: await listed(page),
  });

  // 7. Removing the last passkey asks first; "Keep it" keeps it.
  await removeButton(page, "First passkey").click();
  await page.waitForSelector("#passkeys .confirm", { state: "visible", timeout: 10_000 });
  const question = await page.textContent("#passkeys .confirm p");
  const keepFocused = await page.evaluate(() => document.activeElement?.classList.contains("keep") ?? false);
  await snapshot(page, "last-asked");
  await page.click("#passkeys .confirm button.keep");
  await step(page, "last-kept", {
    question,
    keepFocused,
    confirmGone: (await page.$$("#passkeys .confirm")).length === 0,
    passkeys: await listed(page),
    tokenLeaks: await tokenLeaks(),
  });

  // 8. Signing out ends the session and lands on the sign-in page.
  await page.click("#sign-out");
  await page.waitForURL(`${origin}/ui/login?reason=signed-out`, { timeout: 20_000 });
  await settled(page, ["ready", "error"]);
  await step(page, "signed-out", {
    state: await page.evaluate(() => document.body.dataset.state),
    message: await status(page),
    stored: await page.evaluate(() => sessionStorage.length),
  });

  // 9. Autofill with the removed passkey (the security key still holds it): refused, and
  //    autofill is offered again only a few times, not in an endless loop.
  let checks = 0;
  page.on("request", (request) => {
    if (request.url().endsWith("/zitadel.session.v2.SessionService/SetSession")) checks += 1;
  });
  driver.holdAutofill = false;
  await page.reload({ waitUntil: "load" });
  await page.waitForFunction(
    () => document.body.dataset.state === "error" && !document.getElementById("sign-in").disabled,
    null,
    { timeout: 20_000 },
  );
  // Until the page has stopped trying: no new check for two seconds (at most 20 s in all).
  for (let waited = 0, seen = -1; seen !== checks && waited < 20_000; waited += 2_000) {
    seen = checks;
    await page.waitForTimeout(2_000);
  }
  await step(page, "removed-passkey-refused", {
    state: await page.evaluate(() => document.body.dataset.state),
    message: await status(page),
    checks,
    stored: await page.evaluate(() => sessionStorage.length),
  });

  // 10. Autofill: the sign-in page offers the passkey in the username field; picking it signs in.
  // The security key leaves, so that only the first passkey is offered.
  await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: second });
  await cdp.send("WebAuthn.setAutomaticPresenceSimulation", { authenticatorId: first, enabled: true });
  await page.goto(`${origin}/ui/login`, { waitUntil: "load" });
  await page.waitForURL(`${origin}/ui/account`, { timeout: 20_000 });
  await settled(page, ["ready", "error"]);
  const autofillSession = await page.evaluate(
    () => JSON.parse(sessionStorage.getItem("passlink.session") ?? "null")?.sessionId ?? null,
  );
  await step(page, "autofill-signed-in", {
    state: await page.evaluate(() => document.body.dataset.state),
    message: await status(page),
    displayName: await page.textContent("#display-name"),
    passkeys: await listed(page),
    sessionId: autofillSession,
  });

  // 11. And out again (autofill held, or it would sign straight back in).
  driver.holdAutofill = true;
  await page.click("#sign-out");
  await page.waitForURL(`${origin}/ui/login?reason=signed-out`, { timeout: 20_000 });
  await settled(page, ["ready", "error"]);
  await step(page, "signed-out-again", {
    message: await status(page),
    stored: await page.evaluate(() => sessionStorage.length),
  });

  console.log(JSON.stringify({ event: "done", steps: steps.map(({ event }) => event), logs }));
} finally {
  input.close();
  await browser.close();
}
