// The console's router: hash routes, so the server serves one page and
// every view is a link that can be bookmarked and shared.
//   #/                 catalog (?q=&media=&license=&purpose=&price=)
//   #/asset/ID         asset page
//   #/owner?did=DID    owner view
//   #/audit[/INDEX]    audit explorer

import * as catalog from "./catalog.js";
import * as assetPage from "./asset.js";
import * as owner from "./owner.js";
import * as audit from "./audit.js";
import { el, errorBox } from "./ui.js";

const main = document.getElementById("main");
let generation = 0;

/** route splits a location hash into a path and query parameters. */
export function route(hash) {
  const h = (hash || "").replace(/^#/, "") || "/";
  const [path, query] = h.split("?", 2);
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(query || "") };
}

async function show() {
  const gen = ++generation;
  const { parts, params } = route(location.hash);
  const view = el("div", { class: "view" });
  main.replaceChildren(view);
  main.setAttribute("aria-busy", "true");
  let section = "catalog";
  let title = "Catalog";
  let h1;
  try {
    if (parts.length === 0) {
      h1 = await catalog.render(view, params);
    } else if (parts[0] === "asset" && parts[1]) {
      section = "catalog";
      title = "Asset";
      h1 = await assetPage.render(view, parts[1]);
    } else if (parts[0] === "owner") {
      section = "owner";
      title = "Owner view";
      h1 = await owner.render(view, params);
    } else if (parts[0] === "audit") {
      section = "audit";
      title = "Audit explorer";
      h1 = await audit.render(view, parts[1] ?? null);
    } else {
      view.append(el("h1", { tabindex: "-1" }, "Page not found"), el("p", {}, "No such page. ", el("a", { href: "#/" }, "Go to the catalog")));
    }
  } catch (e) {
    view.append(errorBox(e, "The page failed"));
  }
  if (gen !== generation) return;
  main.removeAttribute("aria-busy");
  for (const a of document.querySelectorAll("nav a[data-section]")) {
    if (a.dataset.section === section) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const name = view.querySelector("h1");
  document.title = `${name ? name.textContent : title} · Charter`;
  // Move focus to the new page's heading so keyboard and screen reader
  // users start at the top of what changed (not on the first load).
  if (show.moved && (h1 || name)) (h1 || name).focus();
  show.moved = true;
  // The first page rendered after a load: what the browser tests time.
  if (!show.marked) performance.mark("charter:ready");
  show.marked = true;
  document.body.dataset.ready = location.hash || "#/";
}

// The skip link moves focus without touching the route.
document.querySelector("a.skip").addEventListener("click", (e) => {
  e.preventDefault();
  main.focus();
});
window.addEventListener("hashchange", () => {
  if (!location.hash.startsWith("#/") && location.hash !== "") return;
  show();
});
show();
