// Small DOM helpers. Text always goes in as text nodes, never as HTML, so
// names and descriptions from the catalog cannot inject markup.

const SVG = "http://www.w3.org/2000/svg";

function build(node, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (k === "class") node.setAttribute("class", v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/** el makes an HTML element: el("a", {href: "#/"}, "text", child). */
export const el = (tag, attrs, ...children) => build(document.createElement(tag), attrs, children);

/** svg makes an SVG element. */
export const svg = (tag, attrs, ...children) => build(document.createElementNS(SVG, tag), attrs, children);

/** short abbreviates a long id for display; the full id stays in a title. */
export function short(id, n = 10) {
  if (!id || id.length <= 2 * n + 1) return id || "";
  return `${id.slice(0, n)}…${id.slice(-6)}`;
}

/** idText shows an id abbreviated with the full value as its title and accessible name. */
export const idText = (id, n) => el("code", { title: id, "aria-label": id, class: "id" }, short(id, n));

/** assetLink links to an asset page. */
export const assetLink = (id, label) =>
  el("a", { href: `#/asset/${encodeURIComponent(id)}`, title: id }, label || short(id));

/** logLink links to an entry in the audit explorer. */
export const logLink = (index) => el("a", { href: `#/audit/${index}`, class: "logidx" }, `#${index}`);

/** errorBox renders an API error: title, detail and hint. */
export function errorBox(err, context) {
  const title = err && err.title ? err.title : "Something went wrong";
  const detail = err && err.title ? err.detail : String((err && err.message) || err);
  return el(
    "div",
    { class: "error", role: "alert" },
    el("strong", {}, context ? `${context}: ${title}` : title),
    detail ? el("p", {}, detail) : null,
    err && err.hint ? el("p", { class: "hint" }, "Hint: ", err.hint) : null,
  );
}

/** empty renders an empty state. */
export const empty = (text, ...more) => el("p", { class: "empty" }, text, ...more);

/** section makes a titled section with an id for in-page links. */
export function section(id, title, ...children) {
  const hid = `${id}-h`;
  return el("section", { id, "aria-labelledby": hid }, el("h2", { id: hid }, title), ...children);
}

/** loading is the placeholder while data loads. */
export const loading = (what) => el("p", { class: "loading", role: "status" }, `Loading ${what}…`);
