// The console's HTTP client: JSON and text from the Charter API, errors
// as ApiError carrying the RFC 9457 problem's title, detail and hint.

/** ApiError is a failed API call; status is 0 when the network failed. */
export class ApiError extends Error {
  constructor(status, title, detail, hint) {
    super(detail ? `${title}: ${detail}` : title);
    this.name = "ApiError";
    this.status = status;
    this.title = title;
    this.detail = detail || "";
    this.hint = hint || "";
  }
}

async function request(path, accept, headers) {
  let resp;
  try {
    resp = await fetch(path, { headers: { Accept: accept, ...(headers || {}) }, cache: "no-cache" });
  } catch (e) {
    throw new ApiError(0, "Server unreachable", String(e.message || e), "check that `charter serve` is running");
  }
  if (!resp.ok) {
    let p = {};
    const ct = resp.headers.get("Content-Type") || "";
    if (ct.startsWith("application/problem+json") || ct.startsWith("application/json")) {
      try {
        p = await resp.json();
      } catch {
        p = {};
      }
    }
    throw new ApiError(resp.status, p.title || `HTTP ${resp.status}`, p.detail || resp.statusText, p.hint);
  }
  return resp;
}

/** getJSON fetches and decodes a JSON answer; headers are sent with the request. */
export async function getJSON(path, headers) {
  const resp = await request(path, "application/json", headers);
  try {
    return await resp.json();
  } catch {
    throw new ApiError(resp.status, "Malformed answer", `${path} did not answer JSON`);
  }
}

/** getText fetches a text answer (checkpoints, keys). */
export async function getText(path) {
  return (await request(path, "text/plain, */*")).text();
}

/** optionalJSON is getJSON that answers null when the endpoint is missing (404). */
export async function optionalJSON(path, headers) {
  try {
    return await getJSON(path, headers);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

const termsCache = new Map();

/** terms fetches an asset's licence terms blob (canonical JSON) once. */
export function terms(id) {
  if (!id) return Promise.resolve(null);
  if (!termsCache.has(id)) {
    const p = getJSON(`/v1/blobs/${encodeURIComponent(id)}`).catch((e) => {
      termsCache.delete(id);
      throw e;
    });
    termsCache.set(id, p);
  }
  return termsCache.get(id);
}

/** pageURL adds a list's from cursor to path. */
const pageURL = (path, from) => (from ? `${path}${path.includes("?") ? "&" : "?"}from=${encodeURIComponent(from)}` : path);

/**
 * follow reads the pages of a list after first (its "next" cursors, at most
 * 10,000 pages) and appends their records under key to first[key].
 */
async function follow(path, first, key, nextKey = "next") {
  const all = Array.isArray(first[key]) ? [...first[key]] : [];
  let next = first[nextKey];
  for (let i = 0; next && i < 10000; i++) {
    const p = await getJSON(pageURL(path, next));
    if (Array.isArray(p[key])) all.push(...p[key]);
    next = p.next;
  }
  return all;
}

/**
 * assetsWhere lists the assets matching filters (GET /v1/assets
 * parameters, e.g. {owner: did}), every page.
 */
export async function assetsWhere(filters) {
  const path = `/v1/assets?${new URLSearchParams(filters)}`;
  return follow(path, await getJSON(path), "assets");
}

/** grants lists an asset's grants and pending requests, every page; null when the endpoint is missing. */
export async function grants(id) {
  const path = `/v1/assets/${encodeURIComponent(id)}/grants`;
  const g = await optionalJSON(path);
  if (g === null) return null;
  return {
    ...g,
    grants: await follow(path, g, "grants"),
    pending_requests: await follow(`/v1/grant-requests?status=pending&asset=${encodeURIComponent(id)}`, { requests: g.pending_requests, next: g.pending_next }, "requests"),
  };
}

/** disputes lists an asset's disputes, every page; null when the endpoint is missing. */
export async function disputes(id) {
  const path = `/v1/disputes?asset=${encodeURIComponent(id)}`;
  const d = await optionalJSON(path);
  return d === null ? null : { ...d, disputes: await follow(path, d, "disputes") };
}

export const asset = (id) => getJSON(`/v1/assets/${encodeURIComponent(id)}`);
export const lineage = (id) => getJSON(`/v1/assets/${encodeURIComponent(id)}/lineage`);
/**
 * earnings reads a DID's statement. Money is visible to its owner only: view
 * is the token `charter earnings --console` signed with the DID's key, sent
 * as the Charter-View header (docs/console.md).
 */
export const earnings = (did, period, view) =>
  optionalJSON(`/v1/earnings?did=${encodeURIComponent(did)}&period=${encodeURIComponent(period || "day")}`, view ? { "Charter-View": view } : undefined);
export const proof = (index) => getJSON(`/v1/log/proof/${encodeURIComponent(index)}`);
export const checkpoint = () => getText("/log/checkpoint");
export const logKey = () => getText("/log/key");

/** blobBytes fetches a stored blob's raw bytes (small ones: terms). */
export async function blobBytes(id) {
  const resp = await request(`/v1/blobs/${encodeURIComponent(id)}`, "application/octet-stream");
  return new Uint8Array(await resp.arrayBuffer());
}
