// Drives passlink's registration page in headless Chromium with a virtual WebAuthn
// authenticator (DevTools protocol), for tests/browser.rs.
//
//   node web/tests/register-page.mjs <chromium> <link-url> <screenshot.png> <passkey-name> [mode]
//
// Opens the link, reads the name the page suggests, types <passkey-name> into the name field
// BEFORE the browser prompt (and screenshots that as <screenshot>-before-prompt.png), clicks
// "Create passkey", waits for the page's final state, takes a screenshot and prints one JSON
// line:
// {"state": "success" | "error", "message": "...", "suggestedName": "...",
//  "authenticatorCredentials": N, "logs": [...]}.
//
// Modes:
// - "no-webauthn": the page loads in a browser whose WebAuthn API is removed; the driver only
//   waits for the page's verdict.
// - "cancel-first": the first browser prompt fails as a cancelled one does (NotAllowedError).
//   The driver first types "<passkey-name> (cancelled)" and clicks; after the page's error it
//   prints {"event": "cancelled", "message": "...", "authenticatorCredentials": N,
//   "nameEditable": bool, "buttonEnabled": bool}, waits for one line on standard input (the
//   test checks the server meanwhile), then types <passkey-name> and goes on as above. The
//   final line carries "firstMessage" too.

import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const [executablePath, url, screenshot, passkeyName, mode] = process.argv.slice(2);
if (!executablePath || !url || !screenshot || !passkeyName) {
  console.error("usage: register-page.mjs <chromium> <url> <screenshot> <passkey-name> [mode]");
  process.exit(2);
}

const input = createInterface({ input: process.stdin });
const lines = input[Symbol.asyncIterator]();

/** Waits until the page says "success" or "error" in <body data-state>. */
async function settled(page) {
  await page.waitForFunction(
    () => ["success", "error"].includes(document.body.dataset.state),
    null,
    { timeout: 20_000 },
  );
}

// playwright gives every launch a fresh, temporary profile of its own.
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
    // Extra flags from the test (for https: --ignore-certificate-errors-spki-list=…).
    ...(process.env.PASSLINK_TEST_CHROMIUM_ARGS ?? "").split(" ").filter(Boolean),
  ],
});
try {
  const context = await browser.newContext({ viewport: { width: 800, height: 600 } });
  const page = await context.newPage();
  const logs = [];
  page.on("console", (message) => logs.push(`${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => logs.push(`pageerror: ${error.message}`));
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  const authenticatorCredentials = async () =>
    (await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials.length;
  if (mode === "no-webauthn") {
    await page.addInitScript(() => {
      delete window.PublicKeyCredential;
    });
  }
  if (mode === "cancel-first") {
    await page.addInitScript(() => {
      const create = navigator.credentials.create.bind(navigator.credentials);
      let calls = 0;
      navigator.credentials.create = (options) =>
        ++calls === 1
          ? Promise.reject(
              new DOMException("The operation either timed out or was not allowed.", "NotAllowedError"),
            )
          : create(options);
    });
  }
  await page.goto(url, { waitUntil: "load" });
  let firstMessage = null;
  let suggestedName = null;
  if (mode === "no-webauthn") {
    await settled(page);
  } else {
    // The name comes first: the field must be there and editable before any prompt.
    await page.waitForSelector("#passkey-name", { state: "visible", timeout: 10_000 });
    suggestedName = await page.inputValue("#passkey-name");
    if (mode === "cancel-first") {
      await page.fill("#passkey-name", `${passkeyName} (cancelled)`, { timeout: 10_000 });
      await page.click("#start", { timeout: 10_000 });
      await page.waitForFunction(() => document.body.dataset.state === "error", null, {
        timeout: 20_000,
      });
      firstMessage = await page.textContent("#status");
      console.log(
        JSON.stringify({
          event: "cancelled",
          message: firstMessage,
          authenticatorCredentials: await authenticatorCredentials(),
          nameEditable: await page.isEditable("#passkey-name"),
          buttonEnabled: await page.isEnabled("#start"),
        }),
      );
      await lines.next();
    }
    await page.fill("#passkey-name", passkeyName, { timeout: 10_000 });
    await page.screenshot({ path: screenshot.replace(/\.png$/, "") + "-before-prompt.png" });
    await page.click("#start", { timeout: 10_000 });
    await settled(page);
  }
  await page.screenshot({ path: screenshot, fullPage: true });
  const state = await page.evaluate(() => document.body.dataset.state);
  const message = await page.textContent("#status");
  console.log(
    JSON.stringify({
      state,
      message,
      firstMessage,
      suggestedName,
      authenticatorCredentials: await authenticatorCredentials(),
      logs,
    }),
  );
} finally {
  input.close();
  await browser.close();
}
