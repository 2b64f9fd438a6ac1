// Catalog page: the registered assets, one page at a time, searchable by
// name and filterable by media type, licence, allowed purpose and price.
// The server pages and filters (GET /v1/assets with limit, from and the
// filters): the page never loads the whole catalog, so it renders as fast
// with 10,000 assets as with 10.

import * as api from "./api.js";
import { el, errorBox, empty, assetLink, idText } from "./ui.js";
import { priceText } from "./terms.js";

export const PURPOSES = ["train", "fine-tune", "infer", "evaluate", "embed", "synthesize", "research"];
/** TEMPLATES are the licence names offered in the filter (charter license templates). */
export const TEMPLATES = ["open", "research-only", "commercial-training", "inference-metered", "approval-required"];
/** MEDIA are media types offered as suggestions in the media filter. */
export const MEDIA = ["application/vnd.charter.dataset+json", "application/x-safetensors", "application/octet-stream", "text/plain"];
/** PAGE is how many assets a page shows. */
export const PAGE = 50;
/** FILTERS are the catalog's filters, each a GET /v1/assets parameter. */
export const FILTERS = ["q", "media", "license", "purpose", "price"];
// A filtered page the server could not fill (it reads a bounded part of
// the catalog a request) is continued this many times before the page
// says it searched part of the catalog and offers to search on.
const CONTINUE = 9;

function select(id, label, value, options) {
  return el(
    "div",
    { class: "field" },
    el("label", { for: id }, label),
    el("select", { id, name: id }, options.map(([v, text]) => el("option", { value: v, selected: v === value }, text))),
  );
}

/** query is the catalog's address for filters f, from a cursor at a position. */
export function query(f, from, at) {
  const q = new URLSearchParams(FILTERS.filter((k) => f[k]).map((k) => [k, f[k]]));
  if (from) {
    q.set("from", from);
    q.set("at", String(at));
  }
  const s = q.toString();
  return `#/${s ? "?" + s : ""}`;
}

/**
 * page reads up to PAGE assets matching f from the cursor from: one
 * request, continued while a filtered page came back short with a next
 * cursor (at most CONTINUE times). It answers {assets, next, partial}:
 * partial when it stopped before filling the page with more to search.
 */
export async function page(f, from) {
  const base = new URLSearchParams(FILTERS.filter((k) => f[k]).map((k) => [k, f[k]]));
  const assets = [];
  let next = from || "";
  for (let i = 0; ; i++) {
    const q = new URLSearchParams(base);
    q.set("limit", String(PAGE - assets.length));
    if (next) q.set("from", next);
    const p = await api.getJSON(`/v1/assets?${q}`);
    assets.push(...(p.assets || []));
    next = p.next || "";
    if (!next || assets.length >= PAGE) return { assets, next, partial: false };
    if (i >= CONTINUE) return { assets, next, partial: true };
  }
}

export async function render(main, params) {
  const h1 = el("h1", { tabindex: "-1" }, "Catalog");
  main.append(h1);
  const f = Object.fromEntries(FILTERS.map((k) => [k, params.get(k) || ""]));
  const from = params.get("from") || "";
  const at = Math.max(1, Number.parseInt(params.get("at") || "1", 10) || 1);
  const licenses = [...new Set([...TEMPLATES, ...(f.license ? [f.license] : [])])];
  const medias = el("datalist", { id: "media-list" }, MEDIA.map((m) => el("option", { value: m })));
  const form = el(
    "form",
    { role: "search", class: "filters", "aria-label": "Filter the catalog", onsubmit: (e) => e.preventDefault() },
    el(
      "div",
      { class: "field grow" },
      el("label", { for: "q" }, "Search by name"),
      el("input", { id: "q", name: "q", type: "search", value: f.q, placeholder: "e.g. corpus", autocomplete: "off" }),
    ),
    el(
      "div",
      { class: "field" },
      el("label", { for: "media" }, "Media type"),
      el("input", { id: "media", name: "media", type: "search", value: f.media, list: "media-list", placeholder: "any", autocomplete: "off", spellcheck: "false" }),
      medias,
    ),
    select("license", "Licence", f.license, [["", "Any"], ...licenses.map((n) => [n, n])]),
    select("purpose", "Purpose allowed", f.purpose, [["", "Any"], ...PURPOSES.map((p) => [p, p])]),
    select("price", "Price", f.price, [["", "Any"], ["free", "Free"], ["paid", "Paid"], ["none", "No licence"]]),
  );
  const status = el("p", { id: "catalog-status", role: "status", "aria-live": "polite" }, "Loading assets…");
  const results = el("div", { id: "catalog-results", "data-state": "loading" });
  const pager = el("nav", { class: "pager", "aria-label": "Catalog pages" });
  main.append(form, status, results, pager);

  let seq = 0;
  const load = async (from, at) => {
    const mine = ++seq;
    results.dataset.state = "loading";
    let p;
    try {
      p = await page(f, from);
    } catch (e) {
      if (mine !== seq) return;
      status.textContent = "";
      results.replaceChildren(errorBox(e, "Could not load the catalog"));
      pager.replaceChildren();
      results.dataset.state = "done";
      return;
    }
    // Terms of the licensed assets shown, once per distinct terms blob.
    const termsOf = new Map();
    const termsErr = new Set();
    await Promise.all(
      [...new Set(p.assets.map((r) => r.state.license).filter(Boolean))].map((id) =>
        api.terms(id).then(
          (t) => termsOf.set(id, t),
          () => termsErr.add(id),
        ),
      ),
    );
    if (mine !== seq) return;
    for (const r of p.assets) {
      const m = r.state.manifest.mediaType;
      if (![...medias.options].some((o) => o.value === m)) medias.append(el("option", { value: m }));
    }
    draw(p, from, at, termsOf, termsErr);
    results.dataset.state = "done";
  };

  const filtered = () => FILTERS.some((k) => f[k]);
  const draw = (p, from, at, termsOf, termsErr) => {
    const n = p.assets.length;
    const plural = (k) => `${k} asset${k === 1 ? "" : "s"}`;
    if (p.partial) status.textContent = n ? `Searched part of the catalog: ${plural(n)} found so far` : "Searched part of the catalog: no match so far";
    else if (!from && !p.next) status.textContent = n === 0 ? (filtered() ? "No asset matches these filters." : "No assets are registered yet.") : filtered() ? `${plural(n)} match these filters` : plural(n);
    else status.textContent = n === 0 ? "No more assets." : `Assets ${at}–${at + n - 1}${p.next ? "" : " (the last page)"}`;
    results.replaceChildren();
    pager.replaceChildren(
      from ? el("a", { href: query(f), class: "first" }, "← First page") : null,
      p.next ? el("a", { href: query(f, p.next, at + n), class: "next", rel: "next" }, p.partial ? "Search further →" : "Next page →") : null,
    );
    if (n === 0) {
      if (!filtered() && !from) results.append(empty("Publish one with ", el("code", {}, "charter publish PATH --license research-only"), "."));
      else if (!p.partial) results.append(empty("No asset matches these filters."));
      return;
    }
    const rows = p.assets.map((r) => {
      const m = r.state.manifest;
      const t = termsOf.get(r.state.license);
      let lic = "none";
      if (r.state.license) lic = t ? t.name || "(unnamed)" : termsErr.has(r.state.license) ? "unreadable terms" : "…";
      return el(
        "tr",
        { "data-asset": r.state.asset },
        el(
          "th",
          { scope: "row" },
          assetLink(r.state.asset, m.name),
          r.claim === "conflict" ? el("span", { class: "badge warn", title: "another registration of the same content came first" }, "conflicting claim") : null,
          r.state.delisted ? el("span", { class: "badge" }, "delisted") : null,
        ),
        el("td", { "data-label": "Media type" }, el("code", {}, m.mediaType)),
        el("td", { "data-label": "Licence" }, lic),
        el("td", { "data-label": "Purposes" }, t ? (t.purposes || []).join(", ") : "—"),
        el("td", { "data-label": "Price" }, t ? priceText(t.price) : "—"),
        el("td", { "data-label": "Asset id" }, idText(r.state.asset, 8)),
      );
    });
    results.append(
      el(
        "div",
        { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Assets" },
        el(
          "table",
          { class: "assets" },
          el("caption", { class: "sr-only" }, "Registered assets"),
          el("thead", {}, el("tr", {}, ["Name", "Media type", "Licence", "Purposes", "Price", "Asset id"].map((c) => el("th", { scope: "col" }, c)))),
          el("tbody", {}, rows),
        ),
      ),
    );
  };

  // A change of filters starts again at the first page; typing waits for
  // a pause before asking the server.
  let timer = 0;
  const changed = (e) => {
    const typed = e.type === "input" && e.target.tagName === "INPUT";
    let same = true;
    for (const k of FILTERS) {
      const v = form.elements[k].value.trim();
      if (v !== f[k]) same = false;
      f[k] = v;
    }
    if (same) return;
    history.replaceState(null, "", query(f));
    results.dataset.state = "loading";
    clearTimeout(timer);
    timer = setTimeout(() => load("", 1), typed ? 250 : 0);
  };
  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  await load(from, at);
  return h1;
}
