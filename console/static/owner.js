// Owner view: pick your DID, then see the proposals and access requests
// waiting for your signature (with the exact CLI command that signs them)
// and your earnings over time. The console never holds a private key; see
// docs/console.md for why.

import * as api from "./api.js";
import { el, errorBox, empty, assetLink, idText, logLink, section, loading, short } from "./ui.js";
import { percent, decimal } from "./terms.js";
import { envelopePayload, cmd, approveCommand, voteCommand } from "./asset.js";
import { byPeriod, byAsset } from "./charts.js";

const STORE = "charter.did";
const VIEWS = "charter.views"; // sessionStorage: view tokens by DID, for this tab only

/**
 * viewToken returns the view token for did: from the address (a link that
 * `charter earnings --console` printed), which it then removes from the
 * address bar and history, or from this tab's session storage.
 */
function viewToken(did, params) {
  let views = {};
  try {
    views = JSON.parse(sessionStorage.getItem(VIEWS) || "{}");
  } catch {
    views = {};
  }
  const fresh = params.get("view");
  if (fresh) {
    views[did] = fresh;
    try {
      sessionStorage.setItem(VIEWS, JSON.stringify(views));
    } catch {
      /* kept for this render only */
    }
    params.delete("view");
    const h = location.hash.replace(/[?&]view=[^&]*/, "").replace(/^#\/owner&/, "#/owner?");
    history.replaceState(null, "", h);
  }
  return views[did] || "";
}

/** lockedView explains how an owner sees their earnings without a key in the page. */
export function lockedView(did, e) {
  const why = e && e.status === 403 ? "The view link you opened is for another DID or was not signed by this one. " : e && e.detail && /view token/i.test(e.title || "") ? "The view link has expired. " : "";
  return [
    empty(
      why,
      "Earnings are shown only to their owner (and the server's operator). To see yours here, run ",
      el("code", {}, "charter earnings --console"),
      " with your key: it prints a link that opens this view with your earnings for 15 minutes. Or read them in a terminal: ",
      el("code", {}, `charter earnings ${did}`),
      ".",
    ),
  ];
}
const didRE = /^did:key:z[1-9A-HJ-NP-Za-km-z]{20,80}$/;

/** currencyUnit splits a ledger currency ("USD-2", "JPY") into its code and exponent. */
export function currencyUnit(cur) {
  const m = /^([A-Za-z0-9]+)(?:-([1-9][0-9]?))?$/.exec(cur || "");
  return m ? { code: m[1], exp: m[2] ? Number(m[2]) : 0 } : { code: cur || "", exp: 0 };
}

const PERIODS = [["day", "Day"], ["month", "Month"]];

/**
 * earningsView renders a statement of GET /v1/earnings (metering.Earnings:
 * one entry per currency with totals, periods, assets with their sources,
 * and the ledger lines). e is null when the server has no such endpoint.
 */
export function earningsView(e, did, names, period, onPeriod) {
  if (e === null) {
    return [empty("This server does not report earnings (GET /v1/earnings answered 404). ", el("code", {}, `charter earnings ${did}`), " reads them where it is supported.")];
  }
  const sel = el("select", { id: "earn-group", name: "period" }, PERIODS.map(([v, t]) => el("option", { value: v, selected: v === period }, t)));
  sel.addEventListener("change", () => onPeriod(sel.value));
  const out = [el("div", { class: "field inline-field" }, el("label", { for: "earn-group" }, "Group by"), sel)];
  const curs = (e.currencies || []).filter((c) => c.total || c.payouts || c.balance || c.held || (c.lines || []).length);
  if (curs.length === 0) {
    out.push(empty("No earnings yet for this DID. Revenue appears here once usage of your assets (or of assets derived from them) is settled."));
    return out;
  }
  const nameOf = (id) => names.get(id) || short(id);
  curs.forEach((c, i) => {
    const { code, exp } = currencyUnit(c.currency);
    const fmt = (v) => `${decimal(v || 0, exp)} ${code}`;
    out.push(
      el("h3", { id: `earn-cur-${i}` }, `${code}: ${fmt(c.total)} earned`),
      el(
        "dl",
        { class: "facts" },
        [
          ["Own revenue", fmt(c.own)],
          ["Royalties from descendants", fmt(c.royalties)],
          ["Paid out", fmt(c.payouts)],
          ["Balance", fmt(c.balance)],
          c.held ? ["Held by open disputes", fmt(c.held)] : null,
          ["Ledger account", el("code", { class: "id" }, c.account || "")],
        ]
          .filter(Boolean)
          .map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]),
      ),
    );
    const periods = (c.periods || []).map((p) => ({ key: p.period, own: p.own || 0, royalties: p.royalties || 0 }));
    if (periods.length) out.push(byPeriod(`earn-period-${i}`, `Earnings by ${period} (${code})`, periods, exp, code));
    const assets = (c.assets || []).map((a) => ({ key: a.asset, label: nameOf(a.asset), own: a.own || 0, royalties: a.royalties || 0 }));
    if (assets.length) {
      out.push(byAsset(`earn-asset-${i}`, `Earnings by asset (${code})`, assets, exp, code));
      const rows = [];
      for (const a of c.assets || []) {
        for (const src of a.sources || []) {
          rows.push(
            el(
              "tr",
              {},
              el("td", {}, assetLink(a.asset, nameOf(a.asset))),
              el("td", {}, assetLink(src.used, nameOf(src.used))),
              el("td", {}, (src.path || []).map((p) => nameOf(p)).join(" → ")),
              el("td", { class: "num" }, String(src.uses || 0)),
              el("td", { class: "num" }, fmt(src.amount)),
            ),
          );
        }
      }
      if (rows.length) {
        out.push(
          el("h4", {}, "Where the money came from"),
          el(
            "div",
            { class: "table-wrap" },
            el(
              "table",
              { id: `earn-sources-${i}` },
              el("caption", { class: "sr-only" }, `Sources of ${code} earnings`),
              el("thead", {}, el("tr", {}, ["Your asset", "Used asset", "Lineage path", "Uses", "Amount"].map((h) => el("th", { scope: "col" }, h)))),
              el("tbody", {}, rows),
            ),
          ),
        );
      }
    }
    const lines = c.lines || [];
    if (lines.length) {
      out.push(
        el(
          "details",
          {},
          el("summary", {}, `Ledger postings (${lines.length}${c.truncated ? ", truncated" : ""})`),
          el(
            "div",
            { class: "table-wrap" },
            el(
              "table",
              { class: "earn-lines" },
              el("thead", {}, el("tr", {}, ["Time", "Kind", "Asset", "Amount"].map((h) => el("th", { scope: "col" }, h)))),
              el(
                "tbody",
                {},
                lines.map((l) => el("tr", {}, el("td", {}, l.time), el("td", {}, l.kind + (l.held ? " (held)" : "")), el("td", {}, l.asset ? assetLink(l.asset, nameOf(l.asset)) : "—"), el("td", { class: "num" }, fmt(l.amount)))),
              ),
            ),
          ),
        ),
      );
    }
  });
  return out;
}

export async function render(main, params) {
  const h1 = el("h1", { tabindex: "-1" }, "Owner view");
  main.append(h1);
  let did = params.get("did") || "";
  if (!did) {
    try {
      did = localStorage.getItem(STORE) || "";
    } catch {
      did = "";
    }
  }
  // The DIDs offered are those of the catalog's first page: the view
  // never reads the whole catalog (its own assets come from filtered
  // lists below).
  let sample = [];
  let listErr = null;
  try {
    sample = (await api.getJSON("/v1/assets?limit=100")).assets || [];
  } catch (e) {
    listErr = e;
  }
  const known = [...new Set(sample.flatMap((r) => [...(r.state.owners || []), ...(r.state.contributors || [])].map((o) => o.did)))].sort();
  const input = el("input", { id: "did", name: "did", type: "text", value: did, list: "known-dids", spellcheck: "false", autocomplete: "off", "aria-describedby": "did-help", placeholder: "did:key:z6Mk…" });
  const form = el(
    "form",
    { class: "inline", "aria-label": "Choose your identity" },
    el("div", { class: "field grow" }, el("label", { for: "did" }, "Your DID"), input, el("datalist", { id: "known-dids" }, known.map((d) => el("option", { value: d })))),
    el("button", { type: "submit" }, "Show"),
    el("p", { id: "did-help", class: "help" }, "Paste the DID that ", el("code", {}, "charter key new"), " printed, or pick one of the owners and contributors this server knows. Your private key never enters this page."),
  );
  // Load: a file holding the DID (`charter key show > me.did`). A private
  // key file is recognised by its first line and never read further.
  const file = el("input", { id: "did-file", type: "file", accept: ".did,.txt,text/plain", "aria-describedby": "did-file-help" });
  const fileMsg = el("div", { id: "did-file-msg", "aria-live": "polite" });
  file.addEventListener("change", async () => {
    const f = file.files && file.files[0];
    file.value = "";
    if (!f) return;
    const head = await f.slice(0, 64).text();
    if (/PRIVATE KEY|PRIVATE\+KEY/.test(head)) {
      fileMsg.replaceChildren(errorBox({ title: "That is a private key file", detail: "The console does not read private keys; nothing past its first line was read, kept or sent.", hint: "run `charter key show` and paste the DID it prints, or save it with `charter key show > me.did` and load that" }));
      return;
    }
    const m = /did:key:z[1-9A-HJ-NP-Za-km-z]{20,80}/.exec(await f.slice(0, 4096).text());
    if (!m) {
      fileMsg.replaceChildren(errorBox({ title: "No DID in that file", detail: `${f.name} holds no did:key identifier`, hint: "`charter key show > me.did` writes one" }));
      return;
    }
    fileMsg.replaceChildren();
    input.value = m[0];
    location.hash = `#/owner?did=${encodeURIComponent(m[0])}`;
  });
  form.append(
    el("div", { class: "field" }, el("label", { for: "did-file" }, "…or load a file with your DID"), file),
    el("p", { id: "did-file-help", class: "help" }, "A text file such as the output of ", el("code", {}, "charter key show > me.did"), ". Not your key file."),
    fileMsg,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const d = input.value.trim();
    location.hash = `#/owner?did=${encodeURIComponent(d)}`;
  });
  main.append(form);
  if (listErr) {
    main.append(errorBox(listErr, "Could not load the catalog"));
    return h1;
  }
  if (!did) {
    main.append(empty("Choose a DID to see what waits for you."));
    return h1;
  }
  if (!didRE.test(did)) {
    main.append(errorBox({ title: "Not a did:key", detail: `${did} is not a did:key identifier`, hint: "DIDs look like did:key:z6Mk…; `charter key new` prints yours" }));
    return h1;
  }
  try {
    localStorage.setItem(STORE, did);
  } catch {
    /* not remembered */
  }
  let owned, contributed;
  try {
    [owned, contributed] = await Promise.all([api.assetsWhere({ owner: did }), api.assetsWhere({ contributor: did })]);
  } catch (e) {
    main.append(errorBox(e, "Could not load your assets"));
    return h1;
  }
  const recs = [...owned, ...contributed];
  main.append(el("p", {}, "Showing ", idText(did, 16), `: owner of ${owned.length} asset${owned.length === 1 ? "" : "s"}, contributor to ${contributed.length}.`));

  const propSec = section("pending-proposals", "Proposals waiting for your approval", loading("proposals"));
  const reqSec = section("pending-requests", "Access requests waiting for your vote", loading("access requests"));
  const earnSec = section("earnings", "Earnings", loading("earnings"));
  const assetsSec = section(
    "my-assets",
    "Your assets",
    owned.length + contributed.length === 0
      ? empty("This DID owns no asset and contributes to none on this server.")
      : el(
          "ul",
          {},
          [...new Map(recs.map((r) => [r.state.asset, r])).values()].map((r) => {
            const c = (r.state.contributors || []).find((o) => o.did === did);
            const isOwner = owned.some((o) => o.state.asset === r.state.asset);
            return el("li", {}, assetLink(r.state.asset, r.state.manifest.name), isOwner ? " — owner" : "", c ? ` — contributor, ${percent(c.share)} of revenue` : "");
          }),
        ),
  );
  main.append(propSec, reqSec, earnSec, assetsSec);

  const props = async () => {
    const views = await Promise.all(owned.map((r) => api.asset(r.state.asset)));
    const pend = [];
    for (const v of views) for (const p of v.proposals || []) if (p.status === "pending" && !(p.approvers || []).includes(did)) pend.push({ v, p });
    const details = await Promise.all(pend.map(({ p }) => api.getJSON(`/v1/proposals/${encodeURIComponent(p.id)}`).catch(() => null)));
    const bodies = details.map((d) => (d && d.envelope ? envelopePayload(d.envelope) : null));
    // The proposer's own signature counts as their approval.
    const keep = pend.map((_, i) => !(bodies[i] && bodies[i].proposer === did));
    if (!keep.includes(true)) return [empty("Nothing waits for your approval.")];
    return [
      el(
        "ul",
        { class: "cards" },
        pend.map(({ v, p }, i) => {
          if (!keep[i]) return null;
          const body = bodies[i];
          const change = body && body.change ? body.change.kind : "change";
          return el(
            "li",
            { class: "card", "data-proposal": p.id },
            el("p", {}, el("strong", {}, change), " on ", assetLink(v.state.asset, v.state.manifest.name), ` (version ${v.state.version}), proposed by `, body ? idText(body.proposer, 12) : "an owner", ", logged as ", logLink(p.log_index), body && body.expires ? `, expires ${body.expires}` : ""),
            el("p", {}, `Approved so far by ${(p.approvers || []).length} of the owners; the asset needs weight ${v.state.threshold}.`),
            el("p", {}, "Approve with your key: ", cmd(approveCommand(p.id))),
          );
        }),
      ),
    ];
  };
  const reqs = async () => {
    const lists = await Promise.all(owned.map((r) => api.grants(r.state.asset)));
    if (lists.every((g) => g === null)) return [empty("This server does not list access requests (the grants endpoint answered 404).")];
    const pend = [];
    lists.forEach((g, i) => {
      for (const q of (g && g.pending_requests) || []) if (!(q.votes && did in q.votes)) pend.push({ r: owned[i], q });
    });
    if (pend.length === 0) return [empty("No access request waits for your vote.")];
    return [
      el(
        "ul",
        { class: "cards" },
        pend.map(({ r, q }) => {
          const body = envelopePayload(q.envelope) || {};
          return el(
            "li",
            { class: "card", "data-request": q.id },
            el("p", {}, el("strong", {}, body.purpose || "access"), " of ", assetLink(r.state.asset, r.state.manifest.name), body.licensee ? [" requested by ", idText(body.licensee, 12)] : "", ", logged as ", logLink(q.log_index)),
            el("p", {}, "Approve: ", cmd(voteCommand(q.id)), " or deny: ", cmd(`${voteCommand(q.id)} --deny`)),
          );
        }),
      ),
    ];
  };
  const names = new Map(recs.map((r) => [r.state.asset, r.state.manifest.name]));
  const view = viewToken(did, params);
  const loadEarnings = (period) =>
    fill(
      earnSec,
      api.earnings(did, period, view).then((e) => earningsView(e, did, names, period, (p) => {
        history.replaceState(null, "", `#/owner?did=${encodeURIComponent(did)}&period=${p}`);
        earnSec.setAttribute("aria-busy", "true");
        loadEarnings(p).then(() => earnSec.removeAttribute("aria-busy"));
      }), (e) => {
        if (e instanceof api.ApiError && (e.status === 401 || e.status === 403)) return lockedView(did, e);
        throw e;
      }),
      "earnings",
    );
  const fill = (sec, p, what) =>
    p.then(
      (nodes) => sec.replaceChildren(sec.firstChild, ...nodes),
      (e) => sec.replaceChildren(sec.firstChild, errorBox(e, `Could not load ${what}`)),
    );
  await Promise.all([
    fill(propSec, owned.length ? props() : Promise.resolve([empty("You own no assets here, so nothing waits for your approval.")]), "proposals"),
    fill(reqSec, owned.length ? reqs() : Promise.resolve([empty("You own no assets here, so no access request waits for you.")]), "access requests"),
    loadEarnings(params.get("period") || "day"),
  ]);
  return h1;
}
