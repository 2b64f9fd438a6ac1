// Catalog page: every asset, searchable by name and filterable by media
// type, licence template, allowed purpose and price.

import * as api from "./api.js";
import { el, errorBox, empty, assetLink, idText } from "./ui.js";
import { priceText, priceBand } from "./terms.js";

export const PURPOSES = ["train", "fine-tune", "infer", "evaluate", "embed", "synthesize", "research"];

function select(id, label, value, options) {
  return el(
    "div",
    { class: "field" },
    el("label", { for: id }, label),
    el("select", { id, name: id }, options.map(([v, text]) => el("option", { value: v, selected: v === value }, text))),
  );
}

/** matches applies the filters to one asset and its terms. */
export function matches(rec, terms, f) {
  const m = rec.state.manifest;
  if (f.q && !m.name.toLowerCase().includes(f.q.toLowerCase()) && !rec.state.asset.includes(f.q)) return false;
  if (f.media && m.mediaType !== f.media) return false;
  if (f.license === "-" && terms) return false;
  if (f.license && f.license !== "-" && (!terms || (terms.name || "(unnamed)") !== f.license)) return false;
  if (f.purpose && (!terms || !(terms.purposes || []).includes(f.purpose))) return false;
  if (f.price && priceBand(terms) !== f.price) return false;
  return true;
}

export async function render(main, params) {
  const h1 = el("h1", { tabindex: "-1" }, "Catalog");
  main.append(h1);
  const status = el("p", { id: "catalog-status", role: "status", "aria-live": "polite" }, "Loading assets…");
  main.append(status);
  let recs;
  try {
    recs = await api.assets();
  } catch (e) {
    status.remove();
    main.append(errorBox(e, "Could not load the catalog"));
    return;
  }
  // Terms of every licensed asset, fetched once per distinct terms blob.
  const termsOf = new Map();
  const termsErr = new Map();
  await Promise.all(
    [...new Set(recs.map((r) => r.state.license).filter(Boolean))].map((id) =>
      api.terms(id).then(
        (t) => termsOf.set(id, t),
        (e) => termsErr.set(id, e),
      ),
    ),
  );
  const f = {
    q: params.get("q") || "",
    media: params.get("media") || "",
    license: params.get("license") || "",
    purpose: params.get("purpose") || "",
    price: params.get("price") || "",
  };
  const medias = [...new Set(recs.map((r) => r.state.manifest.mediaType))].sort();
  const names = [...new Set([...termsOf.values()].map((t) => t.name || "(unnamed)"))].sort();
  const form = el(
    "form",
    { role: "search", class: "filters", "aria-label": "Filter the catalog", onsubmit: (e) => e.preventDefault() },
    el(
      "div",
      { class: "field grow" },
      el("label", { for: "q" }, "Search by name"),
      el("input", { id: "q", name: "q", type: "search", value: f.q, placeholder: "e.g. corpus", autocomplete: "off" }),
    ),
    select("media", "Media type", f.media, [["", "Any"], ...medias.map((m) => [m, m])]),
    select("license", "Licence", f.license, [["", "Any"], ["-", "No licence"], ...names.map((n) => [n, n])]),
    select("purpose", "Purpose allowed", f.purpose, [["", "Any"], ...PURPOSES.map((p) => [p, p])]),
    select("price", "Price", f.price, [["", "Any"], ["free", "Free"], ["paid", "Paid"], ["none", "No licence"]]),
  );
  main.insertBefore(form, status);
  const results = el("div", { id: "catalog-results" });
  main.append(results);

  const draw = () => {
    for (const k of Object.keys(f)) f[k] = form.elements[k].value;
    const q = new URLSearchParams(Object.entries(f).filter(([, v]) => v));
    history.replaceState(null, "", `#/${q.toString() ? "?" + q : ""}`);
    const shown = recs.filter((r) => matches(r, termsOf.get(r.state.license), f));
    status.textContent =
      recs.length === 0
        ? "No assets are registered yet."
        : `${shown.length} of ${recs.length} asset${recs.length === 1 ? "" : "s"}`;
    results.replaceChildren();
    if (recs.length === 0) {
      results.append(empty("Publish one with ", el("code", {}, "charter publish PATH --license research-only"), "."));
      return;
    }
    if (shown.length === 0) {
      results.append(empty("No asset matches these filters."));
      return;
    }
    const rows = shown.map((r) => {
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
  form.addEventListener("input", draw);
  form.addEventListener("change", draw);
  draw();
  return h1;
}
