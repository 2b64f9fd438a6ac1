// BLAKE3 (default hash mode, 32-byte output) and Charter content ids, so
// the browser can check that an id names the bytes it was given: an asset
// id is the content id of its canonical signed manifest, a licence id that
// of its canonical terms (docs/spec/content-id.md). WebCrypto has no
// BLAKE3; this is the reference algorithm, written for clarity over speed
// (it hashes statements of a few KiB). Tested against the Go
// implementations in console/format_browser_test.go.

const IV = Uint32Array.of(0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19);
const PERM = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];
const CHUNK_START = 1, CHUNK_END = 2, PARENT = 4, ROOT = 8;
const BLOCK = 64, CHUNK = 1024;

const rotr = (x, n) => (x >>> n) | (x << (32 - n));

function g(s, a, b, c, d, x, y) {
  s[a] = s[a] + s[b] + x;
  s[d] = rotr(s[d] ^ s[a], 16);
  s[c] = s[c] + s[d];
  s[b] = rotr(s[b] ^ s[c], 12);
  s[a] = s[a] + s[b] + y;
  s[d] = rotr(s[d] ^ s[a], 8);
  s[c] = s[c] + s[d];
  s[b] = rotr(s[b] ^ s[c], 7);
}

/** compress is the BLAKE3 compression function; it returns 16 words. */
function compress(cv, m, counter, len, flags) {
  const s = new Uint32Array(16);
  s.set(cv, 0);
  s.set(IV.subarray(0, 4), 8);
  s[12] = counter >>> 0;
  s[13] = Math.floor(counter / 0x100000000) >>> 0;
  s[14] = len;
  s[15] = flags;
  let w = Uint32Array.from(m);
  for (let r = 0; r < 7; r++) {
    g(s, 0, 4, 8, 12, w[0], w[1]);
    g(s, 1, 5, 9, 13, w[2], w[3]);
    g(s, 2, 6, 10, 14, w[4], w[5]);
    g(s, 3, 7, 11, 15, w[6], w[7]);
    g(s, 0, 5, 10, 15, w[8], w[9]);
    g(s, 1, 6, 11, 12, w[10], w[11]);
    g(s, 2, 7, 8, 13, w[12], w[13]);
    g(s, 3, 4, 9, 14, w[14], w[15]);
    w = Uint32Array.from(PERM, (i) => w[i]);
  }
  for (let i = 0; i < 8; i++) {
    s[i] ^= s[i + 8];
    s[i + 8] ^= cv[i];
  }
  return s;
}

function words(bytes) {
  const w = new Uint32Array(16);
  for (let i = 0; i < bytes.length; i++) w[i >> 2] |= bytes[i] << (8 * (i & 3));
  return w;
}

/** output is what finalises a chunk or a parent: a compression not yet run. */
function output(cv, block, counter, len, flags) {
  return { cv, block, counter, len, flags };
}
const chaining = (o) => compress(o.cv, o.block, o.counter, o.len, o.flags).slice(0, 8);

function chunkOutput(data, counter) {
  // data: at most CHUNK bytes; an empty input is one empty block.
  let cv = IV;
  const blocks = Math.max(1, Math.ceil(data.length / BLOCK));
  for (let b = 0; b < blocks - 1; b++) {
    cv = compress(cv, words(data.subarray(b * BLOCK, (b + 1) * BLOCK)), counter, BLOCK, b === 0 ? CHUNK_START : 0).slice(0, 8);
  }
  const last = data.subarray((blocks - 1) * BLOCK);
  return output(cv, words(last), counter, last.length, (blocks === 1 ? CHUNK_START : 0) | CHUNK_END);
}

function parentOutput(left, right) {
  const m = new Uint32Array(16);
  m.set(left, 0);
  m.set(right, 8);
  return output(IV, m, 0, BLOCK, PARENT);
}

/** blake3 returns the 32-byte BLAKE3 hash of bytes. */
export function blake3(bytes) {
  const stack = [];
  const n = Math.max(1, Math.ceil(bytes.length / CHUNK));
  for (let i = 0; i < n - 1; i++) {
    let cv = chaining(chunkOutput(bytes.subarray(i * CHUNK, (i + 1) * CHUNK), i));
    // Merge completed subtrees: one per trailing zero bit of the chunk count.
    let total = i + 1;
    while ((total & 1) === 0) {
      cv = chaining(parentOutput(stack.pop(), cv));
      total /= 2;
    }
    stack.push(cv);
  }
  let out = chunkOutput(bytes.subarray((n - 1) * CHUNK), n - 1);
  while (stack.length) out = parentOutput(stack.pop(), chaining(out));
  const root = compress(out.cv, out.block, out.counter, out.len, out.flags | ROOT);
  const digest = new Uint8Array(32);
  for (let i = 0; i < 32; i++) digest[i] = root[i >> 2] >>> (8 * (i & 3));
  return digest;
}

const B32 = "abcdefghijklmnopqrstuvwxyz234567";

function base32(bytes) {
  let out = "", bits = 0, acc = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += B32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += B32[(acc << (5 - bits)) & 31];
  return out;
}

/**
 * contentID is the Charter content id of bytes: CIDv1, codec raw (0x55),
 * multihash blake3 (0x1e, 32 bytes), multibase base32 ("b…").
 */
export function contentID(bytes) {
  const cid = new Uint8Array(36);
  cid.set([0x01, 0x55, 0x1e, 0x20]);
  cid.set(blake3(bytes), 4);
  return "b" + base32(cid);
}
