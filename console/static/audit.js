// Audit explorer: the current checkpoint and any log entry, each checked
// in this browser. The log key is pinned on first use (localStorage); the
// checkpoint's Ed25519 signature is verified with WebCrypto and the entry's
// inclusion proof is walked with SubtleCrypto SHA-256, so a lying server is
// caught here rather than believed.

import * as api from "./api.js";
import { el, errorBox, section, loading } from "./ui.js";
import * as v from "./verify.js";
import { trustedKey, PIN } from "./trust.js";

const step = (ok, text, detail) =>
  el("li", { class: ok ? "ok" : "bad" }, el("span", { class: "mark", "aria-hidden": "true" }, ok ? "✓" : "✗"), el("span", { class: "sr-only" }, ok ? "passed: " : "failed: "), text, detail ? el("code", { class: "detail" }, detail) : null);

/**
 * prettyPayload shows a log entry's payload: a DSSE envelope with each
 * signature checked here against the key its did:key names, or text.
 */
async function prettyPayload(payload) {
  const text = v.utf8(payload);
  let env = null;
  try {
    env = JSON.parse(text);
  } catch {
    env = null;
  }
  if (env && typeof env.payloadType === "string" && typeof env.payload === "string") {
    try {
      const r = await v.verifyEnvelope(env);
      let inner = v.utf8(r.payload);
      try {
        inner = JSON.stringify(JSON.parse(inner), null, 2);
      } catch {
        /* not JSON */
      }
      return [
        el("p", {}, "Signed statement (DSSE) of type ", el("code", {}, env.payloadType), ". Signatures checked in this browser:"),
        el(
          "ul",
          { class: "steps", id: "signers" },
          r.signatures.map((s) => step(s.ok, s.ok ? "valid Ed25519 signature by " : "signature does NOT verify for ", s.keyid)),
        ),
        el("pre", { class: "payload", tabindex: "0", "aria-label": "Statement payload" }, inner),
      ];
    } catch (e) {
      return [errorBox({ title: "Malformed signed statement", detail: e.message }), el("pre", { class: "payload", tabindex: "0" }, text)];
    }
  }
  return [el("pre", { class: "payload", tabindex: "0" }, text)];
}

const SEEN = "charter.checkpoint";

/**
 * consistency checks that the log only grew since the last checkpoint this
 * browser verified (remembered in localStorage), with an RFC 6962
 * consistency proof checked here, and remembers the newest one.
 */
async function consistency(cp, key) {
  let seen = null;
  try {
    seen = JSON.parse(localStorage.getItem(SEEN) || "null");
  } catch {
    seen = null;
  }
  const remember = (c) => {
    try {
      localStorage.setItem(SEEN, JSON.stringify({ key, size: String(c.size), root: c.rootText }));
    } catch {
      /* not remembered */
    }
  };
  const box = (ok, title, detail) => el("div", { class: ok ? "verdict ok" : "error", role: ok ? "status" : "alert", id: "consistency" }, el("strong", {}, title), detail ? el("p", {}, detail) : null);
  if (!seen || seen.key !== key) {
    remember(cp);
    return box(true, "This browser now remembers this checkpoint", "Later visits check that the log only grew from here.");
  }
  const oldSize = BigInt(seen.size);
  const oldRoot = v.b64decode(seen.root);
  try {
    if (oldSize > cp.size) throw new v.VerifyError("proof", `this browser saw ${oldSize} entries before; the server now shows ${cp.size}`);
    let newer = cp;
    let hashes = [];
    if (oldSize < cp.size && oldSize > 0n) {
      const ans = await api.getJSON(`/v1/log/consistency?old=${oldSize}`);
      const c = v.parseConsistency(ans.proof);
      if (c.old !== oldSize) throw new v.VerifyError("proof", `the server proved from size ${c.old}, not ${oldSize}`);
      newer = await v.verifyCheckpoint(c.checkpoint, key);
      hashes = c.hashes;
    }
    await v.verifyConsistency(oldSize, oldRoot, newer.size, newer.root, hashes);
    if (newer.size < cp.size) throw new v.VerifyError("proof", "the consistency proof is for an older tree than the checkpoint");
    remember(newer);
    return box(true, oldSize === newer.size ? `Same tree as this browser saw before (${oldSize} entries)` : `Consistent with the checkpoint this browser saw before: the log grew from ${oldSize} to ${newer.size} entries, nothing changed`);
  } catch (e) {
    return box(false, "The log is not consistent with what this browser saw before", `${e.message}. Hint: a log that rewrote its history is not to be trusted; tell the operator and keep the proof.`);
  }
}

/**
 * recent lists the latest 10 entries of a log of size entries with their
 * statement type, each entry's inclusion proof checked in this browser
 * under the pinned key (an entry whose proof fails is listed as such).
 */
async function recent(size, key) {
  const idx = [];
  for (let i = size - 1n; i >= 0n && i >= size - 10n; i--) idx.push(i);
  const rows = await Promise.all(
    idx.map(async (i) => {
      let type = null, err = null;
      try {
        type = (await v.verifyBundle(await api.proof(i), key)).type;
      } catch (e) {
        err = e;
      }
      return el(
        "tr",
        { "data-index": String(i) },
        el("td", {}, el("a", { href: `#/audit/${i}` }, `#${i}`)),
        el("td", { class: "entry-type" }, type ? el("code", {}, type) : "—"),
        el("td", {}, err ? el("span", { class: "badge warn" }, `does not verify: ${err.message}`) : el("span", { class: "badge ok" }, "verified here")),
      );
    }),
  );
  return el(
    "div",
    { id: "recent-entries" },
    el("h3", {}, "Latest entries"),
    el(
      "div",
      { class: "table-wrap" },
      el(
        "table",
        {},
        el("caption", { class: "sr-only" }, "The latest log entries and their statement types"),
        el("thead", {}, el("tr", {}, ["Entry", "Statement type", "Inclusion"].map((c) => el("th", { scope: "col" }, c)))),
        el("tbody", {}, rows),
      ),
    ),
  );
}

/** verifyEntry fetches entry idx's receipt bundle and checks it step by step. */
async function verifyEntry(out, idx, key) {
  out.replaceChildren(loading(`entry ${idx}`));
  let b;
  try {
    b = await api.proof(idx);
  } catch (e) {
    out.replaceChildren(errorBox(e, `Could not fetch entry ${idx}`));
    return;
  }
  const steps = [];
  let res;
  try {
    steps.push(step(b.log_key === key, "The receipt names the pinned log key", b.log_key));
    if (b.log_key !== key) throw new v.VerifyError("key", "the receipt is from another log");
    res = await v.verifyBundle(b, key);
    steps.push(
      step(true, `Checkpoint signature verified with Ed25519 (WebCrypto) for origin ${res.checkpoint.origin}`),
      step(true, `Index ${res.index} is inside the tree of size ${res.checkpoint.size}`),
      step(true, "Leaf hash SHA-256(0x00 ‖ entry) computed here", v.b64encode(res.leaf)),
      step(true, `Inclusion proof of ${res.hashes.length} hash${res.hashes.length === 1 ? "" : "es"} leads to the signed root hash`, res.checkpoint.rootText),
    );
  } catch (e) {
    steps.push(step(false, `Verification failed: ${e.message}`));
  }
  const result = el(
    "div",
    { class: res ? "verdict ok" : "verdict bad", role: "status", id: "verdict" },
    el("strong", {}, res ? `Entry ${idx} is in the log: verified in this browser` : `Entry ${idx} did not verify`),
  );
  const body = [result, el("ol", { class: "steps", "aria-label": "Verification steps" }, steps)];
  if (res) {
    body.push(el("h3", {}, "Entry"), el("p", {}, "Type ", el("code", { id: "entry-type" }, res.type)), ...(await prettyPayload(res.payload)));
  }
  body.push(el("details", {}, el("summary", {}, "Raw receipt (C2SP tlog-proof)"), el("pre", { tabindex: "0" }, b.proof)));
  out.replaceChildren(...body);
}

export async function render(main, index) {
  const h1 = el("h1", { tabindex: "-1" }, "Audit explorer");
  main.append(
    h1,
    el("p", {}, "Every change to Charter's signed state is an entry in an append-only Merkle log. This page checks the log's signatures and proofs itself, with the browser's own cryptography; it does not take the server's word for it."),
  );
  const keySec = section("logkey", "Log key", loading("log key"));
  const cpSec = section("checkpoint", "Current checkpoint", loading("checkpoint"));
  const input = el("input", { id: "entry-index", name: "index", type: "number", min: "0", step: "1", inputmode: "numeric", required: true, value: index ?? "" });
  const out = el("div", { id: "entry-result", "aria-live": "polite" });
  const form = el(
    "form",
    { class: "inline", "aria-label": "Verify a log entry" },
    el("div", { class: "field" }, el("label", { for: "entry-index" }, "Entry index"), input),
    el("button", { type: "submit" }, "Verify entry"),
  );
  main.append(keySec, cpSec, section("entry", "Check an entry", form, out));

  const notes = [];
  let key;
  try {
    key = await trustedKey(notes);
  } catch (e) {
    keySec.replaceChildren(keySec.firstChild, errorBox(e, "Could not fetch the log key"));
    cpSec.replaceChildren(cpSec.firstChild);
    return h1;
  }
  const forget = el("button", { type: "button", class: "secondary" }, "Forget pinned key");
  forget.addEventListener("click", () => {
    localStorage.removeItem(PIN);
    location.reload();
  });
  keySec.replaceChildren(keySec.firstChild, el("p", {}, el("code", { id: "log-key", class: "id" }, key)), ...notes, forget);

  let size = null;
  try {
    const text = await api.checkpoint();
    try {
      const cp = await v.verifyCheckpoint(text, key);
      size = cp.size;
      cpSec.replaceChildren(
        cpSec.firstChild,
        el("div", { class: "verdict ok", id: "checkpoint-verdict" }, el("strong", {}, "Signature verified in this browser (Ed25519, WebCrypto)")),
        el("dl", { class: "facts" }, el("dt", {}, "Origin"), el("dd", {}, cp.origin), el("dt", {}, "Entries"), el("dd", { id: "checkpoint-size" }, String(cp.size)), el("dt", {}, "Root hash"), el("dd", {}, el("code", { class: "id" }, cp.rootText))),
        el("details", {}, el("summary", {}, "Signed note"), el("pre", { tabindex: "0" }, text)),
      );
      cpSec.append(await consistency(cp, key));
      if (cp.size > 0n) cpSec.append(await recent(cp.size, key));
      input.max = String(cp.size - 1n);
    } catch (e) {
      cpSec.replaceChildren(cpSec.firstChild, errorBox({ title: "The checkpoint does not verify", detail: e.message, hint: "the server may be lying about its log, or its key changed" }), el("pre", {}, text));
    }
  } catch (e) {
    cpSec.replaceChildren(cpSec.firstChild, errorBox(e, "Could not fetch the checkpoint"));
  }
  if (size === 0n) out.replaceChildren(el("p", { class: "empty" }, "The log is empty."));

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const n = input.value.trim();
    if (!/^\d+$/.test(n)) {
      out.replaceChildren(errorBox({ title: "Not an index", detail: "enter an entry number, 0 or more" }));
      return;
    }
    if (location.hash !== `#/audit/${n}`) history.replaceState(null, "", `#/audit/${n}`);
    verifyEntry(out, n, key);
  });
  if (index !== null && index !== undefined && index !== "") await verifyEntry(out, index, key);
  return h1;
}
