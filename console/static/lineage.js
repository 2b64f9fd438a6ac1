// Lineage graph: the asset in the middle, what it was derived from or
// trained on to the left (ancestors), what was derived from it to the
// right (descendants). Every node is a link to its asset page, reachable
// with the keyboard.

import { svg, el, short } from "./ui.js";

/**
 * layout places the nodes of a lineage answer ({asset, up, down}) in
 * columns by depth. Pure: returns {nodes, edges, width, height}.
 */
export function layout(lin, rootName) {
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
  const W = 190, H = 56, GX = 90, GY = 22, PAD = 12;
  const cols = new Map();
  for (const n of nodes.values()) {
    if (!cols.has(n.depth)) cols.set(n.depth, []);
    cols.get(n.depth).push(n);
  }
  const depths = [...cols.keys()].sort((a, b) => a - b);
  const rows = Math.max(...[...cols.values()].map((c) => c.length));
  const height = PAD * 2 + rows * H + (rows - 1) * GY;
  depths.forEach((d, ci) => {
    const col = cols.get(d).sort((a, b) => (a.name || "").localeCompare(b.name || "") || a.id.localeCompare(b.id));
    const colH = col.length * H + (col.length - 1) * GY;
    col.forEach((n, ri) => {
      n.x = PAD + ci * (W + GX);
      n.y = (height - colH) / 2 + ri * (H + GY);
      n.w = W;
      n.h = H;
    });
  });
  const width = PAD * 2 + depths.length * W + (depths.length - 1) * GX;
  return { nodes: [...nodes.values()], edges: uniq, width, height };
}

function clip(s, n) {
  return s && s.length > n ? s.slice(0, n - 1) + "…" : s || "(unnamed)";
}

/** draw renders the lineage as an SVG element plus a text list. */
export function draw(lin, rootName) {
  const g = layout(lin, rootName);
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const root = lin.asset;
  const s = svg(
    "svg",
    {
      class: "lineage",
      viewBox: `0 0 ${g.width} ${g.height}`,
      width: g.width,
      height: g.height,
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
    const x1 = a.x + a.w, y1 = a.y + a.h / 2, x2 = b.x, y2 = b.y + b.h / 2;
    const mx = (x1 + x2) / 2;
    s.append(
      svg("path", { class: "edge", d: `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2} ${y2}`, "marker-end": "url(#arrow)" }),
    );
    if (e.royalty) {
      s.append(svg("text", { class: "edge-label", x: mx, y: (y1 + y2) / 2 - 6, "text-anchor": "middle" }, e.royalty));
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
      svg("text", { x: n.x + 12, y: n.y + 23, class: "node-name" }, clip(n.name, 22)),
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
  return el("div", { class: "lineage-wrap" }, el("div", { class: "graph-scroll" }, s), list);
}
