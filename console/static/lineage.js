// Lineage graph: the asset in the middle, what it was derived from or
// trained on to the left (ancestors), what was derived from it to the
// right (descendants). Every node is a link to its asset page, reachable
// with the keyboard.

import { svg, el, short } from "./ui.js";

/**
 * layout places the nodes of a lineage answer ({asset, up, down}) by
 * depth: in columns, ancestors to the left, or, when vertical, in rows,
 * ancestors above (for narrow screens). Pure: returns {nodes, edges,
 * width, height, vertical}.
 */
export function layout(lin, rootName, vertical = false) {
  const nodes = new Map();
  const add = (id, name, depth) => {
    const n = nodes.get(id);
    if (!n) nodes.set(id, { id, name, depth });
    else if (Math.abs(depth) < Math.abs(n.depth)) n.depth = depth;
  };
  add(lin.asset, rootName, 0);
  const edges = [];
  for (const e of lin.up || []) {
    add(e.asset, e.name, e.depth);
    edges.push({ from: e.asset, to: e.child, royalty: e.royalty, stacking: e.stacking });
  }
  for (const e of lin.down || []) {
    add(e.asset, e.name, e.depth);
    edges.push({ from: e.parent, to: e.asset, royalty: e.royalty, stacking: e.stacking });
  }
  const seen = new Set();
  const uniq = edges.filter((e) => {
    const k = `${e.from} ${e.to}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  const PAD = 12;
  // Across a rank the nodes sit side by side; ranks follow each other
  // along the lineage's direction.
  const W = vertical ? 170 : 190, H = 56;
  const along = vertical ? H : W, across = vertical ? W : H;
  const gapAlong = vertical ? 46 : 90, gapAcross = vertical ? 14 : 22;
  const ranks = new Map();
  for (const n of nodes.values()) {
    if (!ranks.has(n.depth)) ranks.set(n.depth, []);
    ranks.get(n.depth).push(n);
  }
  const depths = [...ranks.keys()].sort((a, b) => a - b);
  const most = Math.max(...[...ranks.values()].map((c) => c.length));
  const span = PAD * 2 + most * across + (most - 1) * gapAcross;
  depths.forEach((d, ri) => {
    const rank = ranks.get(d).sort((a, b) => (a.name || "").localeCompare(b.name || "") || a.id.localeCompare(b.id));
    const len = rank.length * across + (rank.length - 1) * gapAcross;
    rank.forEach((n, i) => {
      const a = PAD + ri * (along + gapAlong), c = (span - len) / 2 + i * (across + gapAcross);
      [n.x, n.y] = vertical ? [c, a] : [a, c];
      n.w = W;
      n.h = H;
    });
  });
  const length = PAD * 2 + depths.length * along + (depths.length - 1) * gapAlong;
  return { nodes: [...nodes.values()], edges: uniq, width: vertical ? span : length, height: vertical ? length : span, vertical };
}

function clip(s, n) {
  return s && s.length > n ? s.slice(0, n - 1) + "…" : s || "(unnamed)";
}

/**
 * draw renders the lineage as an SVG element, a legend of its node
 * colours and a text list. width is the room the graph has: the graph is
 * laid out in columns when they fit, else in rows, and scaled down (never
 * up) to the room.
 */
export function draw(lin, rootName, width = 1000) {
  let g = layout(lin, rootName);
  if (g.width > width) g = layout(lin, rootName, true);
  const scale = Math.min(1, width / g.width);
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const root = lin.asset;
  const s = svg(
    "svg",
    {
      class: "lineage",
      viewBox: `0 0 ${g.width} ${g.height}`,
      width: Math.floor(g.width * scale),
      height: Math.ceil(g.height * scale),
      role: "group",
      "aria-label": `Lineage graph: ${(lin.up || []).length} upstream and ${(lin.down || []).length} downstream links`,
    },
    svg(
      "defs",
      {},
      svg(
        "marker",
        { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" },
        svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrowhead" }),
      ),
    ),
  );
  for (const e of g.edges) {
    const a = byId.get(e.from), b = byId.get(e.to);
    if (!a || !b) continue;
    let d, lx, ly;
    if (g.vertical) {
      const x1 = a.x + a.w / 2, y1 = a.y + a.h, x2 = b.x + b.w / 2, y2 = b.y;
      const my = (y1 + y2) / 2;
      d = `M ${x1} ${y1} C ${x1} ${my}, ${x2} ${my}, ${x2} ${y2}`;
      [lx, ly] = [(x1 + x2) / 2 + 6, my + 4];
    } else {
      const x1 = a.x + a.w, y1 = a.y + a.h / 2, x2 = b.x, y2 = b.y + b.h / 2;
      const mx = (x1 + x2) / 2;
      d = `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2} ${y2}`;
      [lx, ly] = [mx, (y1 + y2) / 2 - 6];
    }
    s.append(svg("path", { class: "edge", d, "marker-end": "url(#arrow)" }));
    if (e.royalty) {
      s.append(svg("text", { class: "edge-label", x: lx, y: ly, "text-anchor": g.vertical ? "start" : "middle" }, e.royalty));
    }
  }
  for (const n of g.nodes) {
    const rel = n.id === root ? "this asset" : n.depth < 0 ? `upstream, depth ${-n.depth}` : `downstream, depth ${n.depth}`;
    const node = svg(
      "a",
      {
        href: `#/asset/${encodeURIComponent(n.id)}`,
        class: n.id === root ? "node root" : n.depth < 0 ? "node up" : "node down",
        "aria-label": `${n.name || "(unnamed)"} (${rel})`,
        "aria-current": n.id === root ? "page" : null,
        "data-asset": n.id,
      },
      svg("title", {}, `${n.name || "(unnamed)"}\n${n.id}`),
      svg("rect", { x: n.x, y: n.y, width: n.w, height: n.h, rx: 8 }),
      svg("text", { x: n.x + 12, y: n.y + 23, class: "node-name" }, clip(n.name, g.vertical ? 19 : 22)),
      svg("text", { x: n.x + 12, y: n.y + 42, class: "node-id" }, short(n.id, 8)),
    );
    s.append(node);
  }
  const list = el(
    "ul",
    { class: "lineage-list" },
    (lin.up || []).map((e) =>
      el("li", {}, "Derived from ", el("a", { href: `#/asset/${encodeURIComponent(e.asset)}` }, e.name || short(e.asset)), e.child !== root ? ` (via ${short(e.child)})` : "", e.royalty ? `, royalty ${e.royalty} (${e.stacking})` : ""),
    ),
    (lin.down || []).map((e) =>
      el("li", {}, "Used by ", el("a", { href: `#/asset/${encodeURIComponent(e.asset)}` }, e.name || short(e.asset)), e.parent !== root ? ` (via ${short(e.parent)})` : "", e.royalty ? `, pays ${e.royalty} (${e.stacking})` : ""),
    ),
  );
  const swatch = (cls, label) => el("span", {}, el("span", { class: `swatch node-${cls}`, "aria-hidden": "true" }), label);
  const legend = el(
    "p",
    { class: "legend", id: "lineage-legend", "aria-label": "Legend of the graph's colours" },
    swatch("root", "this asset"),
    (lin.up || []).length ? swatch("up", "upstream: what it was derived from or trained on") : null,
    (lin.down || []).length ? swatch("down", "downstream: what was derived from it") : null,
    el("span", {}, "arrows point from a parent to what was derived from it"),
  );
  return el("div", { class: "lineage-wrap" }, el("div", { class: "graph-scroll" }, s), legend, list);
}
