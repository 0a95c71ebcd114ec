// The session kept in sessionStorage between the sign-in and account pages.

import assert from "node:assert/strict";
import { test } from "node:test";
import { clearSession, loadSession, saveSession } from "../../src/common/session-store.ts";

/** A Storage over a Map. */
function storage() {
  const items = new Map();
  return {
    getItem: (key) => (items.has(key) ? items.get(key) : null),
    setItem: (key, value) => items.set(key, String(value)),
    removeItem: (key) => items.delete(key),
    items,
  };
}

test("a saved session loads back and clears", () => {
  const store = storage();
  assert.equal(loadSession(store), null);
  saveSession({ sessionId: "1", sessionToken: "t" }, store);
  assert.deepEqual(loadSession(store), { sessionId: "1", sessionToken: "t" });
  clearSession(store);
  assert.equal(loadSession(store), null);
  assert.equal(store.items.size, 0);
});

test("anything but a complete session reads as none", () => {
  for (const value of ["not json", "null", "[]", '{"sessionId":"1"}', '{"sessionId":"","sessionToken":"t"}', '{"sessionId":1,"sessionToken":"t"}']) {
    const store = storage();
    store.setItem("passlink.session", value);
    assert.equal(loadSession(store), null, value);
  }
});
