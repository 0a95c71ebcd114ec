// Drives passlink's registration page in headless Chromium with a virtual WebAuthn
// authenticator (DevTools protocol), for tests/browser.rs.
//
//   node web/tests/register-page.mjs <chromium> <link-url> <screenshot.png> <passkey-name> [no-webauthn]
//
// With "no-webauthn" the page loads in a browser whose WebAuthn API is removed, and the driver
// only waits for the page's verdict. With "cancel-first" the first browser prompt fails as a
// cancelled one does (NotAllowedError); the driver records the page's message, clicks again
// and goes on. The JSON line then carries "firstMessage" too.
// Opens the link, clicks "Create passkey", names the passkey when asked and saves it, waits
// for the page's final state, takes a screenshot and prints one JSON line:
// {"state": "success" | "error", "message": "...", "authenticatorCredentials": N}.

import { chromium } from "playwright-core";

const [executablePath, url, screenshot, passkeyName, mode] = process.argv.slice(2);
if (!executablePath || !url || !screenshot || !passkeyName) {
  console.error("usage: register-page.mjs <chromium> <url> <screenshot> <passkey-name>");
  process.exit(2);
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
  if (mode === "cancel-first") {
    await page.click("#start", { timeout: 10_000 });
    await page.waitForFunction(() => document.body.dataset.state === "error", null, {
      timeout: 20_000,
    });
    firstMessage = await page.textContent("#status");
  }
  if (mode !== "no-webauthn") {
    await page.click("#start", { timeout: 10_000 });
  }
  // Either the name form appears (a passkey was created) or the page shows an error.
  await page.waitForFunction(
    () =>
      document.body.dataset.state === "error" ||
      !document.getElementById("name-form").hidden,
    null,
    { timeout: 20_000 },
  );
  if (await page.isVisible("#name-form")) {
    await page.fill("#passkey-name", passkeyName);
    await page.click("#save");
    await page.waitForFunction(
      () => ["success", "error"].includes(document.body.dataset.state),
      null,
      { timeout: 20_000 },
    );
  }
  await page.screenshot({ path: screenshot, fullPage: true });
  const state = await page.evaluate(() => document.body.dataset.state);
  const message = await page.textContent("#status");
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  console.log(
    JSON.stringify({
      state,
      message,
      firstMessage,
      authenticatorCredentials: credentials.length,
      logs,
    }),
  );
} finally {
  await browser.close();
}
