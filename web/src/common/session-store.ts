// The signed-in session in sessionStorage: it lives as long as the tab, is never shared with
// other tabs, and is the only place the session token is kept.

/** A signed-in session: its id and current token. */
export type StoredSession = { sessionId: string; sessionToken: string };

const KEY = "passlink.session";

/** The stored session, or null when there is none (or it is unreadable). */
export function loadSession(storage: Storage = sessionStorage): StoredSession | null {
  try {
    const value: unknown = JSON.parse(storage.getItem(KEY) ?? "null");
    if (value === null || typeof value !== "object") return null;
    const { sessionId, sessionToken } = value as Record<string, unknown>;
    if (typeof sessionId !== "string" || typeof sessionToken !== "string") return null;
    if (!sessionId || !sessionToken) return null;
    return { sessionId, sessionToken };
  } catch {
    return null;
  }
}

/** Keeps `session` for the pages of this tab. */
export function saveSession(session: StoredSession, storage: Storage = sessionStorage): void {
  storage.setItem(KEY, JSON.stringify(session));
}

/** Forgets the session. */
export function clearSession(storage: Storage = sessionStorage): void {
  storage.removeItem(KEY);
}
