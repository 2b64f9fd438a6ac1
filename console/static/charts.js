// SVG charts for earnings: stacked columns by period (own revenue and
// royalties from descendants) and bars by asset. Amounts stay integers;
// only the drawing scales them. Each chart has a title, a description and
// a table beside it, so nothing is shown only as a picture.

import { svg, el } from "./ui.js";
import { decimal } from "./terms.js";

const SERIES = [
  ["own", "Own revenue", "s-own"],
  ["royalties", "Royalties from descendants", "s-roy"],
];

/** niceMax rounds a maximum up to 1, 2 or 5 × 10^k so axis labels read well. */
export function niceMax(n) {
  if (n <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 5, 10]) if (m * p >= n) return m * p;
  return 10 * p;
}

/** pageWidth is the width charts are drawn at: the page's content width. */
function pageWidth() {
  const m = document.getElementById("main");
  return Math.max(300, Math.min(1600, Math.floor(m ? m.clientWidth : 640)));
}

function legend() {
  return el("p", { class: "legend" }, SERIES.map(([, label, cls]) => el("span", {}, el("span", { class: `swatch ${cls}`, "aria-hidden": "true" }), label)));
}

/** byPeriod draws stacked columns, one per period; groups: [{key, own, royalties}]. */
export function byPeriod(id, title, groups, exp, currency) {
  const W = pageWidth(), H = 260, L = 70, B = 36, T = 14;
  const max = niceMax(Math.max(0, ...groups.map((g) => g.own + g.royalties)));
  const step = (W - L - 10) / Math.max(groups.length, 1);
  const bw = Math.min(56, step * 0.6);
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const s = svg(
    "svg",
    { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-labelledby": `${id}-t ${id}-d`, id },
    svg("title", { id: `${id}-t` }, title),
    svg("desc", { id: `${id}-d` }, groups.map((g) => `${g.key}: own ${decimal(g.own, exp)} ${currency}, royalties ${decimal(g.royalties, exp)} ${currency}`).join("; ")),
  );
  for (const f of [0, 0.5, 1]) {
    const v = Math.round(max * f);
    s.append(svg("line", { x1: L, x2: W - 4, y1: y(v), y2: y(v), class: "grid" }), svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", class: "axis" }, decimal(v, exp)));
  }
  groups.forEach((g, i) => {
    const x = L + i * step + (step - bw) / 2;
    let base = 0;
    for (const [k, label, cls] of SERIES) {
      const val = g[k];
      if (val > 0) {
        s.append(svg("rect", { x, width: bw, y: y(base + val), height: y(base) - y(base + val), class: cls }, svg("title", {}, `${g.key} ${label}: ${decimal(val, exp)} ${currency}`)));
      }
      base += val;
    }
    s.append(svg("text", { x: x + bw / 2, y: H - B + 16, "text-anchor": "middle", class: "axis" }, g.key));
  });
  return el("figure", {}, el("figcaption", {}, title), el("div", { class: "graph-scroll" }, s), legend());
}

/** byAsset draws one horizontal stacked bar per asset; groups: [{key, label, own, royalties}]. */
export function byAsset(id, title, groups, exp, currency) {
  const W = pageWidth(), RH = 30, L = Math.min(170, Math.floor(W * 0.35)), T = 6;
  const H = T * 2 + groups.length * RH;
  const max = niceMax(Math.max(0, ...groups.map((g) => g.own + g.royalties)));
  const x = (v) => L + (W - L - 90) * (v / max);
  const s = svg(
    "svg",
    { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-labelledby": `${id}-t ${id}-d`, id },
    svg("title", { id: `${id}-t` }, title),
    svg("desc", { id: `${id}-d` }, groups.map((g) => `${g.label}: own ${decimal(g.own, exp)}, royalties ${decimal(g.royalties, exp)} ${currency}`).join("; ")),
  );
  groups.forEach((g, i) => {
    const yy = T + i * RH;
    s.append(svg("text", { x: L - 8, y: yy + 19, "text-anchor": "end", class: "axis" }, g.label.length > Math.floor((L - 8) / 7) ? g.label.slice(0, Math.floor((L - 8) / 7) - 1) + "…" : g.label));
    let base = 0;
    for (const [k, label, cls] of SERIES) {
      const val = g[k];
      if (val > 0) s.append(svg("rect", { x: x(base), y: yy + 5, height: RH - 10, width: x(base + val) - x(base), class: cls }, svg("title", {}, `${g.label} ${label}: ${decimal(val, exp)} ${currency}`)));
      base += val;
    }
    s.append(svg("text", { x: x(base) + 6, y: yy + 19, class: "axis" }, `${decimal(base, exp)} ${currency}`));
  });
  return el("figure", {}, el("figcaption", {}, title), el("div", { class: "graph-scroll" }, s), legend());
}
