// Licence terms (docs/spec/license-terms.md) in plain words, and exact
// formatting of money and shares: integers only, never floats.

/** decimal writes amount × 10^-exp exactly. */
export function decimal(amount, exp = 0) {
  const neg = BigInt(amount) < 0n;
  let s = (neg ? -BigInt(amount) : BigInt(amount)).toString();
  if (exp > 0) {
    if (s.length <= exp) s = "0".repeat(exp - s.length + 1) + s;
    s = `${s.slice(0, s.length - exp)}.${s.slice(s.length - exp)}`;
  }
  return (neg ? "-" : "") + s;
}

/** percent writes a share in parts per million (1,000,000 = 100%) as a percentage. */
export function percent(ppm) {
  let s = decimal(ppm, 4);
  if (s.includes(".")) s = s.replace(/0+$/, "").replace(/\.$/, "");
  return `${s}%`;
}

/** money writes an amount in a currency's smallest (or declared) unit. */
export const money = (amount, currency, exp) => `${decimal(amount, exp || 0)} ${currency || ""}`.trim();

const per = {
  flat: "per grant",
  per_gib: "per GiB",
  per_request: "per request",
  per_1k_tokens: "per 1,000 tokens",
  per_training_run: "per training run",
};

/** priceText describes a price. */
export function priceText(price) {
  if (!price || price.model === "free") return "free";
  return `${decimal(price.amount, price.exponent || 0)} ${price.currency} ${per[price.model] || price.model}`;
}

function duration(sec) {
  if (sec === 86400) return "1 day";
  if (sec % 86400 === 0) return `${sec / 86400} days`;
  if (sec % 3600 === 0) return `${sec / 3600} hours`;
  return `${sec} seconds`;
}

/** describe turns terms into plain sentences, one per line (like `charter license show`). */
export function describe(t) {
  const out = [];
  out.push(`Terms ${t.name || "(unnamed)"}, version ${t.version}`);
  if (t.supersedes) out.push(`Replaces terms ${t.supersedes}`);
  out.push(`May be used for: ${(t.purposes || []).join(", ")}`);
  out.push(t.commercial ? "Commercial use is allowed" : "Commercial use is not allowed");
  const l = t.licensees || {};
  if (l.who === "listed") {
    const who = [];
    if (l.principals && l.principals.length) who.push(`${l.principals.length} listed principal(s)`);
    if (l.organisations && l.organisations.length) who.push(`members of ${l.organisations.join(", ")}`);
    out.push(`Who may license: ${who.join(" and ")}`);
  } else {
    out.push("Anyone may license it");
  }
  const w = t.window || {};
  if (w.notBefore && w.notAfter) out.push(`In force from ${w.notBefore} until ${w.notAfter}`);
  else if (w.notBefore) out.push(`In force from ${w.notBefore}`);
  else if (w.notAfter) out.push(`In force until ${w.notAfter}`);
  if (t.grant && t.grant.maxSeconds) out.push(`A grant lasts at most ${duration(t.grant.maxSeconds)}`);
  const ter = t.territory || {};
  if (ter.allow && ter.allow.length) out.push(`Only in: ${ter.allow.join(", ")}`);
  if (ter.deny && ter.deny.length) out.push(`Not in: ${ter.deny.join(", ")}`);
  out.push(t.approval === "owners" ? "Every grant waits for the owners' approval" : "Grants are approved automatically");
  if (t.attribution && t.attribution.required) out.push(`Attribution required: “${t.attribution.text}”`);
  const d = t.derivatives || {};
  if (!d.allowed) out.push("Derivatives (models trained on it, fine-tunes, synthetic data) are not allowed");
  else {
    let s = "Derivatives are allowed";
    if (d.reciprocal) s += ", under these same terms";
    if (d.royalty) s += `, paying ${percent(d.royalty)} of their revenue back (${d.stacking} stacking)`;
    out.push(s);
  }
  const o = t.obligations || {};
  if (o.publishResults) out.push("The licensee must publish results");
  if (o.returnDerivedData) out.push("The licensee must return derived data to the owners");
  if (o.deleteAfterExpiry) out.push("The licensee must delete copies when the grant ends");
  out.push(`Price: ${priceText(t.price)}`);
  const q = t.quotas || {};
  for (const [k, unit] of [["maxBytes", "bytes"], ["maxRequests", "requests"], ["maxTokens", "tokens"], ["maxRuns", "runs"]]) {
    if (q[k]) out.push(`At most ${q[k].toLocaleString("en")} ${unit} per grant`);
  }
  return out;
}

/** priceBand classifies terms for the catalog's price filter. */
export function priceBand(t) {
  if (!t) return "none";
  return !t.price || t.price.model === "free" ? "free" : "paid";
}
