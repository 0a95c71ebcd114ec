// What every page does with its document: find elements, show a status, report its state.

/** The element with `id`; throws when the page lacks it. */
export function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page lacks #${id}`);
  return found as T;
}

/** How a status message reads: "info" while working, "error" or "success" when done. */
export type StatusKind = "info" | "error" | "success";

/**
 * Shows `message` in the page's #status paragraph and sets `data-state` on <body> to `kind`
 * (browser tests wait for it). An error also takes the focus, so that keyboard and screen-reader
 * users land on it; the next Tab goes on to the controls.
 */
export function show(kind: StatusKind, message: string): void {
  const status = element<HTMLParagraphElement>("status");
  status.textContent = message;
  status.className = kind;
  document.body.dataset.state = kind;
  if (kind === "error") status.focus();
}

/** Shows `message` and marks the page as waiting for the user (`data-state="ready"`). */
export function ready(message: string, kind: StatusKind = "info"): void {
  show(kind, message);
  document.body.dataset.state = "ready";
}
