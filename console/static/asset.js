// Asset page: manifest, owners and threshold, contributors, lineage graph,
// licence in plain words, conflicting claims, proposals, grants and the
// audit trail with links into the audit explorer.

import * as api from "./api.js";
import { el, errorBox, empty, assetLink, idText, logLink, section, loading } from "./ui.js";
import { describe, percent } from "./terms.js";
import { draw } from "./lineage.js";
import * as vfy from "./verify.js";
import { contentID } from "./blake3.js";
import { trustedKey } from "./trust.js";

/** DATASET is the media type of a dataset's index (content.DatasetMediaType). */
export const DATASET = "application/vnd.charter.dataset+json";

/** stable writes JSON with sorted object keys, to compare documents. */
export function stable(x) {
  if (Array.isArray(x)) return `[${x.map(stable).join(",")}]`;
  if (x && typeof x === "object") {
    return `{${Object.keys(x)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable(x[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(x);
}

const check = (ok, text, detail) =>
  el("li", { class: ok ? "ok" : "bad" }, el("span", { class: "mark", "aria-hidden": "true" }, ok ? "✓" : "✗"), el("span", { class: "sr-only" }, ok ? "passed: " : "failed: "), text, detail ? el("code", { class: "detail" }, detail) : null);

/**
 * logCheck checks what the page shows against the transparency log, in the
 * browser: the registration entry's inclusion under the pinned log key, its
 * owners' DSSE signatures, that the asset id is the BLAKE3 content id of
 * the signed manifest, that the manifest shown is the signed one, and that
 * the licence terms shown hash to the licence id.
 */
async function logCheck(v0, id) {
  const st = v0.state;
  const steps = [];
  let ok = true;
  const add = (good, text, detail) => {
    ok = ok && good;
    steps.push(check(good, text, detail));
  };
  try {
    const key = await trustedKey([]);
    const res = await vfy.verifyBundle(await api.proof(v0.log_index), key);
    add(true, `Registration entry #${res.index} is in the log (inclusion proof and checkpoint signature checked under the pinned log key)`);
    add(res.type === "asset.register", `The entry is an asset registration`, res.type);
    const env = JSON.parse(vfy.utf8(res.payload));
    const sig = await vfy.verifyEnvelope(env);
    const good = new Set(sig.signatures.filter((s) => s.ok).map((s) => s.keyid));
    const m = JSON.parse(vfy.utf8(sig.payload));
    const owners = m.owners || [];
    const weight = owners.filter((o) => good.has(o.did)).reduce((a, o) => a + o.weight, 0);
    const total = owners.reduce((a, o) => a + o.weight, 0);
    add(sig.signatures.every((s) => s.ok) && weight === total, `Signed by every owner (weight ${weight} of ${total}), each Ed25519 signature checked against its did:key`);
    const cid = contentID(sig.payload);
    add(cid === id, "The asset id is the BLAKE3 content id of the signed manifest", cid);
    add(stable(m) === stable(st.manifest), "The manifest shown is the signed one");
    if (st.version > 1) {
      steps.push(el("li", { class: "note" }, `Version ${st.version}: the ${st.version - 1} change(s) applied by proposals since are not replayed here; their entries are in the audit trail below.`));
    }
    if (st.license) {
      const bytes = await api.blobBytes(st.license);
      const tid = contentID(bytes);
      add(tid === st.license, st.license === m.license ? "The licence terms shown are the ones the owners signed for (their BLAKE3 content id is the manifest's licence id)" : "The licence terms shown hash to the current licence id (set by a later proposal)", tid);
    }
  } catch (e) {
    add(false, `Could not check against the log: ${e.message}`);
  }
  return [
    el("div", { class: ok ? "verdict ok" : "verdict bad", role: "status", id: "logcheck-verdict" }, el("strong", {}, ok ? "Checked in this browser: this page matches the log" : "This page does NOT match the log")),
    el("ul", { class: "steps" }, steps),
  ];
}

/** envelopePayload decodes the JSON payload of a DSSE envelope given as base64 of its JSON. */
export function envelopePayload(b64) {
  try {
    const env = JSON.parse(atob(b64));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(env.payload), (c) => c.charCodeAt(0))));
  } catch {
    return null;
  }
}

const dl = (pairs) =>
  el("dl", { class: "facts" }, pairs.filter(Boolean).map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));

function table(caption, cols, rows) {
  return el(
    "div",
    { class: "table-wrap" },
    el(
      "table",
      {},
      el("caption", { class: "sr-only" }, caption),
      el("thead", {}, el("tr", {}, cols.map((c) => el("th", { scope: "col" }, c)))),
      el("tbody", {}, rows),
    ),
  );
}

export const approveCommand = (id) => `charter approve ${id}`;
export const voteCommand = (id) => `charter grant approve ${id}`;

/** cmd shows a CLI command with a copy button. */
export function cmd(text) {
  const code = el("code", {}, text);
  const btn = el("button", { type: "button", class: "copy", "aria-label": `Copy command: ${text}` }, "Copy");
  btn.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      btn.textContent = "Copied";
    } catch {
      btn.textContent = "Select and copy";
    }
  });
  return el("span", { class: "cmd" }, code, btn);
}

export async function render(main, id) {
  main.append(loading("asset"));
  let v;
  try {
    v = await api.asset(id);
  } catch (e) {
    main.replaceChildren(el("h1", { tabindex: "-1" }, "Asset"), errorBox(e, "Could not load the asset"), el("p", {}, el("a", { href: "#/" }, "Back to the catalog")));
    return main.querySelector("h1");
  }
  const st = v.state;
  const m = st.manifest;
  const h1 = el("h1", { tabindex: "-1" }, m.name || "(unnamed)");
  main.replaceChildren(
    el("p", { class: "crumbs" }, el("a", { href: "#/" }, "Catalog"), " / ", m.name || "(unnamed)"),
    h1,
    el(
      "p",
      { class: "badges", id: "asset-badges" },
      el("span", { class: v.claim === "conflict" ? "badge warn" : "badge ok" }, v.claim === "priority" ? "priority claim" : v.claim === "conflict" ? "conflicting claim" : v.claim),
      el("span", { class: "badge" }, `version ${st.version}`),
      st.delisted ? el("span", { class: "badge warn" }, "delisted") : null,
    ),
  );
  if (m.description) main.append(el("p", {}, m.description));
  // The lineage first: where the asset comes from and what uses it.
  const linSec = section("lineage", "Lineage", loading("lineage"));
  main.append(linSec);
  const totalWeight = (st.owners || []).reduce((a, o) => a + o.weight, 0);
  main.append(
    section(
      "manifest",
      "Manifest",
      dl([
        ["Asset id", idText(st.asset, 64)],
        ["Content id", idText(m.content, 64)],
        ["Media type", el("span", { id: "media-type" }, el("code", {}, m.mediaType), m.mediaType === DATASET ? " — a dataset: an index of files, each with its own type" : " — a single file, of this type")],
        ["Created", m.created],
        ["Registered", el("span", {}, "log entry ", logLink(v.log_index))],
        ["Licence", st.license ? idText(st.license, 64) : "none"],
      ]),
    ),
    section(
      "owners",
      "Owners",
      el("p", {}, `Changes need the signatures of owners holding ${st.threshold} of ${totalWeight} weight.`),
      table("Owners", ["Owner", "Weight"], (st.owners || []).map((o) => el("tr", {}, el("td", {}, idText(o.did, 16)), el("td", {}, String(o.weight))))),
    ),
    section(
      "contributors",
      "Contributors",
      (st.contributors || []).length === 0
        ? empty("No contributors.")
        : table(
            "Contributors and their share of revenue",
            ["Contributor", "Share of revenue"],
            (st.contributors || []).map((c) =>
              el(
                "tr",
                {},
                el("td", {}, idText(c.did, 16)),
                el("td", {}, el("span", { class: "share" }, el("meter", { min: 0, max: 1000000, value: c.share, "aria-hidden": "true" }), " ", percent(c.share))),
              ),
            ),
          ),
    ),
  );
  const checkSec = section("logcheck", "Checked against the log", loading("proofs"));
  main.append(checkSec);
  const licSec = section("license", "Licence", st.license ? loading("terms") : empty("No licence: the owners published this asset without terms."));
  main.append(licSec);

  // Conflicting claims.
  const conf = [];
  if (v.claim === "conflict") conf.push(el("p", { class: "warn-text" }, "This registration is a conflicting claim: the same content was registered first as ", assetLink(v.priority), "."));
  if ((v.conflicts || []).length) {
    conf.push(el("p", {}, "The same content is also registered as:"), el("ul", {}, v.conflicts.map((c) => el("li", {}, assetLink(c)))));
  }
  const conflictSec = section("conflicts", "Conflicting claims and disputes", conf.length ? conf : empty("No other registration of this content."));
  main.append(conflictSec);

  // Proposals, with the change and proposer from the signed proposal.
  const props = v.proposals || [];
  const bodies = await Promise.all(
    props.map((p) =>
      api.getJSON(`/v1/proposals/${encodeURIComponent(p.id)}`).then(
        (d) => (d && d.envelope ? envelopePayload(d.envelope) : null),
        () => null,
      ),
    ),
  );
  const propSec = section(
    "proposals",
    "Proposals",
    props.length === 0
      ? empty("No proposals.")
      : table(
          "Proposals",
          ["Proposal", "Change", "Status", "Signed by", "Logged", "Approve with"],
          props.map((p, i) => {
            const b = bodies[i];
            const signers = [...new Set([...(b && b.proposer ? [b.proposer] : []), ...(p.approvers || [])])];
            return el(
              "tr",
              { "data-proposal": p.id },
              el("td", {}, idText(p.id, 10)),
              el("td", {}, b && b.change ? b.change.kind : "—", b && b.expires && p.status === "pending" ? el("br") : null, b && b.expires && p.status === "pending" ? `until ${b.expires}` : null),
              el("td", {}, el("span", { class: `badge status-${p.status}` }, p.status)),
              el("td", {}, signers.length ? signers.map((a) => el("div", {}, idText(a, 10), b && a === b.proposer ? " (proposer)" : "")) : "nobody yet"),
              el("td", {}, logLink(p.log_index)),
              el("td", {}, p.status === "pending" ? cmd(approveCommand(p.id)) : "—"),
            );
          }),
        ),
  );
  const grantSec = section("grants", "Grants", loading("grants"));
  main.append(propSec, grantSec);

  // Audit trail.
  const trail = v.trail || [];
  main.append(
    section(
      "trail",
      "Audit trail",
      trail.length === 0
        ? empty("No logged statements.")
        : el(
            "ol",
            { class: "trail" },
            trail.map((t) => el("li", {}, logLink(t.log_index), " ", el("code", {}, t.type), " ", t.summary)),
          ),
    ),
  );

  // Slower parts, filled in as they arrive.
  const jobs = [
    logCheck(v, id).then((nodes) => checkSec.replaceChildren(checkSec.firstChild, ...nodes)),
    api.lineage(id).then(
      (lin) => {
        const up = (lin.up || []).length, down = (lin.down || []).length;
        linSec.replaceChildren(linSec.firstChild, up + down === 0 ? empty("No parents and no descendants.") : draw(lin, m.name, Math.max(240, linSec.clientWidth)));
      },
      (e) => linSec.replaceChildren(linSec.firstChild, errorBox(e, "Could not load the lineage")),
    ),
    api.disputes(id).then(
      (d) => {
        conflictSec.append(...disputesView(d));
        const open = ((d && d.disputes) || []).filter((x) => x.status === "open").length;
        if (open) {
          main.querySelector("#asset-badges").append(
            el("span", { class: "badge warn", id: "disputed-badge", title: "revenue is held in escrow while a dispute is open" }, open === 1 ? "disputed" : `disputed (${open} open)`),
          );
        }
      },
      (e) => conflictSec.append(errorBox(e, "Could not load the disputes")),
    ),
    api.grants(id).then(
      (g) => grantSec.replaceChildren(grantSec.firstChild, ...grantsView(g)),
      (e) => grantSec.replaceChildren(grantSec.firstChild, errorBox(e, "Could not load the grants")),
    ),
  ];
  if (st.license) {
    jobs.push(
      api.terms(st.license).then(
        (t) =>
          licSec.replaceChildren(
            licSec.firstChild,
            el("ul", { class: "terms" }, describe(t).map((line) => el("li", {}, line))),
            el("p", {}, el("a", { href: `/v1/blobs/${encodeURIComponent(st.license)}` }, "The terms as signed (canonical JSON)")),
          ),
        (e) => licSec.replaceChildren(licSec.firstChild, errorBox(e, "Could not load the licence terms")),
      ),
    );
  }
  await Promise.all(jobs);
  return h1;
}

function disputesView(d) {
  if (d === null) return [];
  const ds = d.disputes || [];
  if (ds.length === 0) return [empty("No disputes.")];
  return [
    el("h3", {}, "Disputes"),
    el("p", {}, "While a dispute is open, the revenue this asset would pay out is held in escrow."),
    table(
      "Disputes",
      ["Status", "Opened by", "Reason", "Logged", "Resolved"],
      ds.map((x) =>
        el(
          "tr",
          { "data-dispute": x.id },
          el("td", {}, el("span", { class: x.status === "open" ? "badge warn" : "badge" }, x.status)),
          el("td", {}, idText(x.opener, 12)),
          el("td", {}, x.reason || "—"),
          el("td", {}, logLink(x.log_index)),
          el("td", {}, x.resolved_index ? logLink(x.resolved_index) : "—"),
        ),
      ),
    ),
  ];
}

function grantsView(g) {
  if (g === null) return [empty("This server does not list grants (GET /v1/assets/{id}/grants answered 404).")];
  const grants = g.grants || [];
  const pending = g.pending_requests || [];
  const out = [];
  if (grants.length === 0) out.push(empty("No grants yet."));
  else
    out.push(
      table(
        "Grants",
        ["Licensee", "Purpose", "Valid until", "Served", "State", "Logged"],
        grants.map((gr) => {
          const p = envelopePayload(gr.envelope) || {};
          return el(
            "tr",
            {},
            el("td", {}, idText(gr.licensee, 12)),
            el("td", {}, p.purpose || "—"),
            el("td", {}, p.notAfter || "—"),
            el("td", {}, `${(gr.bytes_served || 0).toLocaleString("en")} bytes, ${gr.requests_served || 0} requests`),
            el("td", {}, gr.revoked ? el("span", { class: "badge warn" }, "revoked") : el("span", { class: "badge ok" }, "active")),
            el("td", {}, logLink(gr.log_index)),
          );
        }),
      ),
    );
  if (pending.length) {
    out.push(
      el("h3", {}, "Requests waiting for the owners"),
      table(
        "Pending access requests",
        ["Request", "Votes", "Logged", "Approve with"],
        pending.map((r) =>
          el(
            "tr",
            {},
            el("td", {}, idText(r.id, 10)),
            el("td", {}, String(Object.keys(r.votes || {}).length)),
            el("td", {}, logLink(r.log_index)),
            el("td", {}, cmd(voteCommand(r.id))),
          ),
        ),
      ),
    );
  }
  return out;
}
