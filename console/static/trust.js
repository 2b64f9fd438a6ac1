// The log key this browser trusts: pinned on first use in localStorage,
// so that every later check is against the same key whatever the server
// serves then.

import * as api from "./api.js";
import { el } from "./ui.js";

export const PIN = "charter.logkey";

function pinned() {
  try {
    return localStorage.getItem(PIN);
  } catch {
    return null;
  }
}

/** trustedKey returns the pinned log key, pinning the server's on first use. */
export async function trustedKey(note) {
  const served = (await api.logKey()).trim();
  let pin = pinned();
  if (!pin) {
    try {
      localStorage.setItem(PIN, served);
      localStorage.setItem(PIN + ".at", new Date().toISOString());
    } catch {
      /* private mode: trust for this page only */
    }
    pin = served;
    note.push(el("p", {}, "First visit: the log key this server serves is now pinned in this browser. Every later visit checks against it."));
  }
  if (pin !== served) {
    note.push(
      el(
        "div",
        { class: "error", role: "alert" },
        el("strong", {}, "The server's log key changed"),
        el("p", {}, `Pinned: ${pin}`),
        el("p", {}, `Served: ${served}`),
        el("p", { class: "hint" }, "Hint: a log never changes its key. Proofs are checked against the pinned key; forget it only if you know why it changed."),
      ),
    );
  }
  return pin;
}

