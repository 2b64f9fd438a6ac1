// Verification of the transparency log in the browser, trusting nothing
// the server says: C2SP signed notes (Ed25519, WebCrypto), C2SP
// tlog-checkpoint bodies, C2SP tlog-proof receipts and RFC 6962 Merkle
// inclusion proofs (SHA-256, SubtleCrypto). Pure functions over bytes and
// text; no network. Formats: docs/spec/checkpoint.md, docs/spec/receipt.md,
// docs/spec/log-entry.md.

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

/** VerifyError is thrown for anything that does not verify or parse. */
export class VerifyError extends Error {
  constructor(kind, message) {
    super(message);
    this.name = "VerifyError";
    this.kind = kind; // "malformed" | "key" | "signature" | "proof"
  }
}

const malformed = (m) => new VerifyError("malformed", m);

/** Standard base64 (with padding) to bytes; strict: must re-encode equal. */
export function b64decode(s) {
  if (typeof s !== "string" || !/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s)) {
    throw malformed("not standard base64");
  }
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  if (b64encode(out) !== s) throw malformed("non-canonical base64");
  return out;
}

/** Bytes to standard base64 with padding. */
export function b64encode(bytes) {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function concat(...parts) {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

/** RFC 6962 leaf hash: SHA-256(0x00 ‖ entry). */
export function leafHash(entry) {
  return sha256(concat(Uint8Array.of(0), entry));
}

/** RFC 6962 interior node hash: SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(1), left, right));
}

const decimalRE = /^(0|[1-9][0-9]*)$/;

function parseDecimal(s, what) {
  if (!decimalRE.test(s)) throw malformed(`${what} ${JSON.stringify(s)} is not a canonical decimal`);
  const n = BigInt(s);
  if (n > 0xffffffffffffffffn) throw malformed(`${what} out of range`);
  return n;
}

/**
 * parseVerifierKey reads a note verifier key
 * "<name>+<hash hex8>+<base64(0x01 ‖ ed25519 public key)>".
 */
export async function parseVerifierKey(vkey) {
  const s = vkey.trim();
  // The key's base64 may itself hold "+": split at the first two only.
  const i = s.indexOf("+");
  const j = s.indexOf("+", i + 1);
  if (i < 0 || j < 0) throw new VerifyError("key", "verifier key is not name+hash+key");
  const name = s.slice(0, i), hash8 = s.slice(i + 1, j), k64 = s.slice(j + 1);
  if (!name || /[\s+]/.test(name)) throw new VerifyError("key", "bad key name");
  if (!/^[0-9a-f]{8}$/.test(hash8)) throw new VerifyError("key", "bad key hash");
  let raw;
  try {
    raw = b64decode(k64);
  } catch {
    throw new VerifyError("key", "key is not base64");
  }
  if (raw.length !== 33 || raw[0] !== 1) throw new VerifyError("key", "not an Ed25519 note key");
  const want = await keyHash(name, raw);
  if (hex(want) !== hash8) throw new VerifyError("key", "key hash does not match the key");
  const pub = raw.slice(1);
  const key = await crypto.subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]);
  return { name, hash: want, pub, key, text: s };
}

/** keyHash is the first 4 bytes of SHA-256(name ‖ "\n" ‖ 0x01 ‖ pub). */
async function keyHash(name, alg01pub) {
  return (await sha256(concat(enc.encode(name + "\n"), alg01pub))).slice(0, 4);
}

/**
 * openNote checks a C2SP signed note against a verifier key and returns
 * its body text. Signatures by other keys (witness cosignatures) are
 * ignored; at least one by the given key must verify.
 */
export async function openNote(text, vk) {
  if (!text.endsWith("\n")) throw malformed("note does not end in a newline");
  const split = text.lastIndexOf("\n\n");
  if (split < 0) throw malformed("note has no signature block");
  const body = text.slice(0, split + 1);
  const sigLines = text.slice(split + 2, -1).split("\n");
  if (body.includes("\r") || sigLines.length === 0) throw malformed("malformed note");
  let found = false;
  for (const line of sigLines) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (!m) throw malformed(`malformed signature line ${JSON.stringify(line)}`);
    if (m[1] !== vk.name) continue;
    const sig = b64decode(m[2]);
    if (sig.length < 5 || !equal(sig.slice(0, 4), vk.hash)) continue;
    if (sig.length !== 68) throw new VerifyError("signature", "Ed25519 signature has the wrong length");
    const ok = await crypto.subtle.verify({ name: "Ed25519" }, vk.key, sig.slice(4), enc.encode(body));
    if (!ok) throw new VerifyError("signature", "the log key's signature on the checkpoint does not verify");
    found = true;
  }
  if (!found) throw new VerifyError("signature", "the checkpoint carries no signature by the log key");
  return body;
}

/** parseCheckpoint reads a checkpoint body: origin, size, root hash, extensions. */
export function parseCheckpoint(body) {
  const lines = body.split("\n");
  if (lines.length < 4 || lines[lines.length - 1] !== "") throw malformed("checkpoint has fewer than three lines");
  const [origin, size, root] = lines;
  if (!origin || /[\s+]/.test(origin)) throw malformed("bad checkpoint origin");
  for (const ext of lines.slice(3, -1)) if (ext === "") throw malformed("empty checkpoint extension line");
  const rootBytes = b64decode(root);
  if (rootBytes.length !== 32) throw malformed("root hash is not 32 bytes");
  return { origin, size: parseDecimal(size, "tree size"), root: rootBytes, rootText: root };
}

/**
 * verifyCheckpoint opens a signed checkpoint with the log's verifier key:
 * a valid signature by the key, and origin equal to the key's name.
 */
export async function verifyCheckpoint(text, vkeyText) {
  const vk = typeof vkeyText === "string" ? await parseVerifierKey(vkeyText) : vkeyText;
  const body = await openNote(text, vk);
  const cp = parseCheckpoint(body);
  if (cp.origin !== vk.name) throw new VerifyError("signature", `checkpoint origin ${cp.origin} is not the key's name ${vk.name}`);
  return cp;
}

/** parseProof reads a C2SP tlog-proof: index, inclusion hashes, checkpoint text. */
export function parseProof(text) {
  const lines = text.split("\n");
  let i = 0;
  if (lines[i++] !== "c2sp.org/tlog-proof@v1") throw malformed("not a c2sp.org/tlog-proof@v1");
  if (lines[i] !== undefined && lines[i].startsWith("extra ")) {
    b64decode(lines[i].slice(6));
    i++;
  }
  const im = /^index (\S+)$/.exec(lines[i++] ?? "");
  if (!im) throw malformed("missing index line");
  const index = parseDecimal(im[1], "index");
  const hashes = [];
  while (i < lines.length && lines[i] !== "") {
    const h = b64decode(lines[i++]);
    if (h.length !== 32) throw malformed("proof hash is not 32 bytes");
    hashes.push(h);
    if (hashes.length > 64) throw malformed("more than 64 proof hashes");
  }
  if (i >= lines.length) throw malformed("no checkpoint after the proof");
  const checkpoint = lines.slice(i + 1).join("\n");
  return { index, hashes, checkpoint };
}

/**
 * rootFromInclusion walks an RFC 6962 inclusion proof (RFC 9162
 * §2.1.3.2) from a leaf hash and returns the root it implies.
 */
export async function rootFromInclusion(index, size, leaf, proof) {
  if (index >= size) throw new VerifyError("proof", `index ${index} is not below tree size ${size}`);
  let fn = index;
  let sn = size - 1n;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0n) throw new VerifyError("proof", "inclusion proof is too long");
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new VerifyError("proof", "inclusion proof is too short");
  return r;
}

/**
 * verifyReceipt checks a tlog-proof for an encoded log entry against the
 * log's verifier key and returns {index, checkpoint, leaf}. Every step runs
 * here: signature, origin, index < size, leaf hash, path to the root.
 */
export async function verifyReceipt(entry, proofText, vkeyText) {
  const p = parseProof(proofText);
  const cp = await verifyCheckpoint(p.checkpoint, vkeyText);
  const leaf = await leafHash(entry);
  const root = await rootFromInclusion(p.index, cp.size, leaf, p.hashes);
  if (!equal(root, cp.root)) throw new VerifyError("proof", "the inclusion proof does not lead to the checkpoint's root hash");
  return { index: p.index, checkpoint: cp, leaf, hashes: p.hashes };
}

/**
 * parseConsistency reads a consistency proof in the body format of the
 * C2SP tlog-witness add-checkpoint request: "old N", hashes, an empty
 * line, the newer signed checkpoint.
 */
export function parseConsistency(text) {
  const lines = text.split("\n");
  const om = /^old (\S+)$/.exec(lines[0] ?? "");
  if (!om) throw malformed("missing old line");
  const old = parseDecimal(om[1], "old size");
  const hashes = [];
  let i = 1;
  while (i < lines.length && lines[i] !== "") {
    const h = b64decode(lines[i++]);
    if (h.length !== 32) throw malformed("proof hash is not 32 bytes");
    hashes.push(h);
    if (hashes.length > 64) throw malformed("more than 64 proof hashes");
  }
  if (i >= lines.length) throw malformed("no checkpoint after the proof");
  return { old, hashes, checkpoint: lines.slice(i + 1).join("\n") };
}

/**
 * verifyConsistency checks an RFC 6962 consistency proof (RFC 9162
 * §2.1.4.2): the tree of size oldSize and root oldRoot is a prefix of the
 * tree of size newSize and root newRoot.
 */
export async function verifyConsistency(oldSize, oldRoot, newSize, newRoot, proof) {
  const fail = (m) => new VerifyError("proof", m);
  if (oldSize > newSize) throw fail(`the log shrank from ${oldSize} to ${newSize} entries`);
  if (oldSize === newSize) {
    if (proof.length !== 0) throw fail("a proof between equal sizes must be empty");
    if (!equal(oldRoot, newRoot)) throw fail("same size, different root hash: the log forked");
    return;
  }
  if (oldSize === 0n) {
    if (proof.length !== 0) throw fail("a proof from the empty tree must be empty");
    return;
  }
  if (proof.length === 0) throw fail("empty consistency proof");
  let path = proof;
  if ((oldSize & (oldSize - 1n)) === 0n) path = [oldRoot, ...proof];
  let fn = oldSize - 1n;
  let sn = newSize - 1n;
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) throw fail("consistency proof is too long");
    if ((fn & 1n) === 1n || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw fail("consistency proof is too short");
  if (!equal(fr, oldRoot)) throw fail("the proof does not lead to the older root: the log forked");
  if (!equal(sr, newRoot)) throw fail("the proof does not lead to the newer root");
}

/** decodeEntry splits an encoded log entry into its type and payload. */
export function decodeEntry(entry) {
  const prefix = "charter/log-entry@v1 ";
  const nl = entry.indexOf(0x0a);
  if (nl < 0) throw malformed("entry has no newline");
  let head;
  try {
    head = dec.decode(entry.slice(0, nl));
  } catch {
    throw malformed("entry header is not UTF-8");
  }
  if (!head.startsWith(prefix)) throw malformed("not a charter/log-entry@v1");
  const type = head.slice(prefix.length);
  if (type.length > 64 || !/^[a-z][a-z0-9]*(?:[._-][a-z0-9]+)*$/.test(type)) throw malformed("bad entry type");
  const payload = entry.slice(nl + 1);
  if (payload.length === 0) throw malformed("empty payload");
  return { type, payload };
}

/**
 * verifyBundle checks a receipt bundle (docs/spec/receipt-bundle.md) under
 * a log key the caller trusts (fetched once from /log/key and pinned), and
 * returns what it proves. The bundle's own log_key must equal the pinned one.
 */
export async function verifyBundle(bundle, pinnedKey) {
  if (!bundle || bundle.format !== "charter.receipt/v1") throw malformed("not a charter.receipt/v1 bundle");
  if (pinnedKey && bundle.log_key !== pinnedKey.trim()) {
    throw new VerifyError("key", "the bundle names a log key other than the one pinned in this browser");
  }
  const entry = b64decode(bundle.entry);
  const res = await verifyReceipt(entry, bundle.proof, pinnedKey || bundle.log_key);
  if (res.index !== BigInt(bundle.index)) throw new VerifyError("proof", `proof is for index ${res.index}, bundle says ${bundle.index}`);
  const e = decodeEntry(entry);
  if (e.type !== bundle.entry_type) throw new VerifyError("proof", `entry type ${e.type}, bundle says ${bundle.entry_type}`);
  return { ...res, type: e.type, payload: e.payload, entry };
}

const B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/** base58btc decodes the Bitcoin base58 alphabet. */
export function base58(s) {
  let n = 0n;
  for (const ch of s) {
    const d = B58.indexOf(ch);
    if (d < 0) throw malformed("not base58");
    n = n * 58n + BigInt(d);
  }
  const out = [];
  while (n > 0n) {
    out.unshift(Number(n & 0xffn));
    n >>= 8n;
  }
  for (const ch of s) {
    if (ch !== "1") break;
    out.unshift(0);
  }
  return Uint8Array.from(out);
}

/** didKeyPublic returns the Ed25519 public key a did:key names (multicodec 0xed 0x01). */
export function didKeyPublic(did) {
  if (typeof did !== "string" || !did.startsWith("did:key:z")) throw new VerifyError("key", "not a did:key");
  const b = base58(did.slice("did:key:z".length));
  if (b.length !== 34 || b[0] !== 0xed || b[1] !== 0x01) throw new VerifyError("key", "not an Ed25519 did:key");
  return b.slice(2);
}

/** pae is the DSSE v1 pre-authentication encoding. */
export function pae(payloadType, payload) {
  const t = enc.encode(payloadType);
  return concat(enc.encode(`DSSEv1 ${t.length} `), t, enc.encode(` ${payload.length} `), payload);
}

function b64any(s) {
  return b64decode(s.replace(/-/g, "+").replace(/_/g, "/"));
}

/**
 * verifyEnvelope checks every signature of a DSSE envelope (parsed JSON)
 * against the Ed25519 key its did:key keyid names. It returns the payload
 * and, per signature, whether it verified. Which signers are enough is the
 * statement's own rule; this only says who really signed.
 */
export async function verifyEnvelope(env) {
  if (!env || typeof env.payloadType !== "string" || typeof env.payload !== "string" || !Array.isArray(env.signatures)) {
    throw malformed("not a DSSE envelope");
  }
  const payload = b64any(env.payload);
  const msg = pae(env.payloadType, payload);
  const sigs = [];
  for (const s of env.signatures) {
    let ok = false;
    try {
      const pub = didKeyPublic(s.keyid);
      const key = await crypto.subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]);
      const sig = b64any(s.sig);
      ok = sig.length === 64 && (await crypto.subtle.verify({ name: "Ed25519" }, key, sig, msg));
    } catch {
      ok = false;
    }
    sigs.push({ keyid: s.keyid, ok });
  }
  return { payload, payloadType: env.payloadType, signatures: sigs };
}

/** utf8 decodes bytes leniently, for display. */
export function utf8(bytes) {
  return new TextDecoder().decode(bytes);
}
