// The name a new passkey is offered under, before the user edits it.

/** The first pattern that matches `text`, as its label; `fallback` when none does. */
function firstMatch(text: string, patterns: Array<[RegExp, string]>, fallback: string): string {
  for (const [pattern, label] of patterns) {
    if (pattern.test(text)) return label;
  }
  return fallback;
}

/** A name that tells a passkey apart, e.g. "Chrome on Linux" or "Safari on iPhone". */
export function defaultPasskeyName(userAgent: string = navigator.userAgent): string {
  // Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari", and iPhones and
  // Android phones also say "Mac OS X" and "Linux".
  const browser = firstMatch(
    userAgent,
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
    userAgent,
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

/** Why `name` cannot name a passkey, or null when it can (the server counts code points). */
export function passkeyNameProblem(name: string): string | null {
  const length = [...name.trim()].length;
  return length < 1 || length > 200 ? "Please enter a name of 1 to 200 characters." : null;
}
