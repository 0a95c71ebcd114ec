// The name a new passkey is offered under (shared by the registration and account pages).

import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultPasskeyName, passkeyNameProblem } from "../../src/common/passkey-name.ts";

const agents = {
  "Chrome on Linux":
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/143.0.0.0 Safari/537.36",
  "Chrome on Windows":
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/143.0.0.0 Safari/537.36",
  "Edge on Windows":
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/143.0.0.0 Safari/537.36 Edg/143.0.0.0",
  "Safari on iPhone":
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1",
  "Safari on Mac":
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15",
  "Firefox on Android":
    "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
  "Samsung Internet on Android":
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
  "Chrome on ChromeOS":
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/143.0.0.0 Safari/537.36",
  "Passkey on Linux": "SomeBot/1.0 (Linux)",
  "My passkey": "curl/8.0",
};

for (const [name, agent] of Object.entries(agents)) {
  test(`the default name for ${name} says so`, () => {
    assert.equal(defaultPasskeyName(agent), name);
  });
}

test("a passkey name has 1 to 200 characters, counted as code points", () => {
  assert.equal(passkeyNameProblem("Laptop"), null);
  assert.match(passkeyNameProblem("   "), /1 to 200 characters/);
  assert.equal(passkeyNameProblem("🔑".repeat(200)), null, "200 code points are 400 UTF-16 units");
  assert.match(passkeyNameProblem("a".repeat(201)), /1 to 200 characters/);
});
