package console_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/rogpeppe/go-internal/txtar"
)

// verifierCases is run by the console's verify.js in the browser against
// the audit log's shared test vectors (auditlog/testdata/vectors.txtar):
// every receipt and consistency proof must verify, and every mutation of
// them must be refused with the right kind of error.
const verifierCases = `(async (files) => {
  const v = await import("/console/verify.js");
  const enc = new TextEncoder();
  const out = [];
  const vkey = files["log.vkey"].trim();
  const expect = async (name, kind, f) => {
    try {
      await f();
      if (kind) out.push(name + ": accepted, want a " + kind + " error");
    } catch (e) {
      if (!kind) out.push(name + ": " + e.message);
      else if (e.kind !== kind) out.push(name + ": " + (e.kind || e.name) + " error (" + e.message + "), want " + kind);
    }
  };
  const flip = (s, at) => s.slice(0, at) + (s[at] === "A" ? "B" : "A") + s.slice(at + 1);
  let n = 0;
  for (let i = 0; files["entry-" + i] !== undefined; i++, n++) {
    const entry = enc.encode(files["entry-" + i]);
    const proof = files["receipt-" + i + ".tlog-proof"];
    await expect("receipt " + i, null, async () => {
      const r = await v.verifyReceipt(entry, proof, vkey);
      if (r.index !== BigInt(i)) throw new Error("index " + r.index);
      if (r.checkpoint.size !== BigInt(i + 1)) throw new Error("size " + r.checkpoint.size);
    });
    const altered = entry.slice();
    altered[altered.length - 2] ^= 1;
    await expect("receipt " + i + " with an altered entry", "proof", () => v.verifyReceipt(altered, proof, vkey));
    await expect("receipt " + i + " for another index", "proof", () => v.verifyReceipt(entry, proof.replace("index " + i + "\n", "index " + (i + 1) + "\n"), vkey));
    await expect("receipt " + i + " with a leading-zero index", "malformed", () => v.verifyReceipt(entry, proof.replace("index " + i + "\n", "index 0" + i + "\n"), vkey));
    const lines = proof.split("\n");
    if (lines[2] !== "") {
      const bad = [...lines];
      bad[2] = flip(bad[2], 5);
      await expect("receipt " + i + " with an altered proof hash", "proof", () => v.verifyReceipt(entry, bad.join("\n"), vkey));
      const short = [...lines];
      short.splice(2, 1);
      await expect("receipt " + i + " with a hash left out", "proof", () => v.verifyReceipt(entry, short.join("\n"), vkey));
    }
    const sig = lines.findIndex((l) => l.startsWith("\u2014 "));
    const badSig = [...lines];
    badSig[sig] = flip(badSig[sig], badSig[sig].length - 10);
    await expect("receipt " + i + " with an altered signature", "signature", () => v.verifyReceipt(entry, badSig.join("\n"), vkey));
    const cpAt = lines.indexOf("charter.example/test-vectors");
    const badRoot = [...lines];
    badRoot[cpAt + 2] = flip(badRoot[cpAt + 2], 3);
    await expect("receipt " + i + " under a forged root", "signature", () => v.verifyReceipt(entry, badRoot.join("\n"), vkey));
    await expect("receipt " + i + " under another log's key", "signature", () => v.verifyReceipt(entry, proof, files["other.vkey"].trim()));
  }
  await expect("checkpoint", null, async () => {
    const cp = await v.verifyCheckpoint(files["checkpoint"], vkey);
    if (cp.size !== 5n) throw new Error("size " + cp.size);
  });
  const body = files["checkpoint"].split("\n\n")[0] + "\n";
  await expect("checkpoint body", null, () => v.parseCheckpoint(body));
  await expect("checkpoint body with a non-canonical size", "malformed", () => v.parseCheckpoint(body.replace("\n5\n", "\n05\n")));
  await expect("checkpoint body with a signed size", "malformed", () => v.parseCheckpoint(body.replace("\n5\n", "\n+5\n")));
  await expect("checkpoint body with a short root", "malformed", () => v.parseCheckpoint(body.replace(/\n[^\n]+=\n$/, "\nAAAA\n")));
  await expect("checkpoint body with an empty extension line", "malformed", () => v.parseCheckpoint(body + "\n"));
  await expect("key with a wrong hash", "key", () => v.parseVerifierKey(vkey.replace("+01ec7171+", "+01ec7172+")));
  await expect("key that is not Ed25519", "key", () => v.parseVerifierKey("a+00000000+AgAA"));
  // Consistency: the checkpoint of size A is the one in receipt-(A-1).
  for (const name of Object.keys(files).filter((f) => f.startsWith("consistency-"))) {
    const [, a, b] = name.split("-").map(Number);
    const older = v.parseProof(files["receipt-" + (a - 1) + ".tlog-proof"]).checkpoint;
    const oldCp = await v.verifyCheckpoint(older, vkey);
    const c = v.parseConsistency(files[name]);
    const newCp = await v.verifyCheckpoint(c.checkpoint, vkey);
    await expect(name, null, async () => {
      if (c.old !== BigInt(a) || newCp.size !== BigInt(b)) throw new Error("sizes");
      await v.verifyConsistency(oldCp.size, oldCp.root, newCp.size, newCp.root, c.hashes);
    });
    for (let h = 0; h < c.hashes.length; h++) {
      const hs = c.hashes.map((x) => x.slice());
      hs[h][0] ^= 1;
      await expect(name + " with hash " + h + " altered", "proof", () => v.verifyConsistency(oldCp.size, oldCp.root, newCp.size, newCp.root, hs));
    }
    await expect(name + " with a hash left out", "proof", () => v.verifyConsistency(oldCp.size, oldCp.root, newCp.size, newCp.root, c.hashes.slice(1)));
    const forged = oldCp.root.slice();
    forged[0] ^= 1;
    await expect(name + " from a forked older tree", "proof", () => v.verifyConsistency(oldCp.size, forged, newCp.size, newCp.root, c.hashes));
    await expect(name + " backwards", "proof", () => v.verifyConsistency(newCp.size, newCp.root, oldCp.size, oldCp.root, c.hashes));
  }
  // DSSE: the vector of docs/spec/dsse.md, then altered.
  const env = JSON.parse(files["dsse.json"]);
  await expect("dsse vector", null, async () => {
    const r = await v.verifyEnvelope(env);
    if (r.signatures.length !== 1 || !r.signatures[0].ok) throw new Error("signature refused");
    if (new TextDecoder().decode(r.payload) !== '{"hello":"world"}') throw new Error("payload");
  });
  const tampered = { ...env, payload: btoa('{"hello":"mallory"}') };
  const r2 = await v.verifyEnvelope(tampered);
  if (r2.signatures[0].ok) out.push("dsse with an altered payload: signature accepted");
  const retyped = { ...env, payloadType: "application/vnd.charter.other+json" };
  if ((await v.verifyEnvelope(retyped)).signatures[0].ok) out.push("dsse with another payload type: signature accepted");
  if (v.utf8(v.pae("application/vnd.charter.test+json", enc.encode('{"hello":"world"}'))) !== 'DSSEv1 33 application/vnd.charter.test+json 17 {"hello":"world"}') out.push("pae differs from the spec");
  return { failures: out, receipts: n };
})`

func TestBrowserVerifierVectors(t *testing.T) {
	ctx := browser(t) // first: skip before any work without a browser
	ar, err := txtar.ParseFile("../auditlog/testdata/vectors.txtar")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range ar.Files {
		files[f.Name] = string(f.Data)
	}
	// A valid key of another log (the console's own test server's).
	ts, c := startServer(t, nil)
	other, err := c.LogKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	files["other.vkey"] = other
	// The DSSE example of docs/spec/dsse.md (seed 00…00 key).
	files["dsse.json"] = `{"payloadType":"application/vnd.charter.test+json","payload":"eyJoZWxsbyI6IndvcmxkIn0=","signatures":[{"keyid":"did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp","sig":"+WayoNJ86TtIsLozPfGmHVwrXs8Cxv+ZSROyUT1mH4LvP84rcfUo9EzxKqDCwPQ/mUJRZbZ/TGEa0Gess14TDA=="}]}`
	arg, _ := json.Marshal(files)

	do(t, ctx, chromedp.Navigate(ts.URL+"/#/"))
	waitReady(t, ctx, "#/")
	var res struct {
		Failures []string
		Receipts int
	}
	res = eval[struct {
		Failures []string
		Receipts int
	}](t, ctx, fmt.Sprintf("%s(%s)", verifierCases, arg))
	if res.Receipts != 5 {
		t.Errorf("checked %d receipts, want the 5 of the vectors", res.Receipts)
	}
	if len(res.Failures) > 0 {
		t.Errorf("verify.js against the vectors:\n%s", strings.Join(res.Failures, "\n"))
	}
}

// mutationCases fuzzes verify.js's parsers in the browser: thousands of
// seeded random edits (replace, delete, insert a character; flip an entry
// byte) of every vector receipt, checkpoint and consistency proof. Each
// must be refused with a VerifyError: never accepted, never another
// exception (a TypeError would mean a parser trusted its input).
const mutationCases = `(async (files, rounds) => {
  const v = await import("/console/verify.js");
  const enc = new TextEncoder();
  let seed = 0x9e3779b9;
  const rnd = (n) => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (((t ^ (t >>> 14)) >>> 0) % n);
  };
  const alphabet = "AB+/=0123456789 \n\u2014abcxyz-.";
  const mutate = (s) => {
    const i = rnd(s.length + 1);
    switch (rnd(3)) {
      case 0: return s.slice(0, i) + alphabet[rnd(alphabet.length)] + s.slice(i + 1);
      case 1: return s.slice(0, i) + s.slice(i + 1);
      default: return s.slice(0, i) + alphabet[rnd(alphabet.length)] + s.slice(i);
    }
  };
  const vkey = files["log.vkey"].trim();
  const out = [];
  let tried = 0;
  const refuse = async (name, f) => {
    tried++;
    try {
      await f();
      out.push(name + ": accepted");
    } catch (e) {
      if (!(e instanceof v.VerifyError)) out.push(name + ": " + e.name + ": " + e.message);
    }
  };
  for (let i = 0; files["entry-" + i] !== undefined; i++) {
    const entry = enc.encode(files["entry-" + i]);
    const proof = files["receipt-" + i + ".tlog-proof"];
    for (let r = 0; r < rounds; r++) {
      const p = mutate(proof);
      if (p !== proof) await refuse("receipt " + i + " " + JSON.stringify(p), () => v.verifyReceipt(entry, p, vkey));
      const e = entry.slice();
      e[rnd(e.length)] ^= 1 << rnd(8);
      await refuse("entry " + i + " flipped", () => v.verifyReceipt(e, proof, vkey));
      const k = mutate(vkey);
      // Surrounding white space is trimmed on purpose (/log/key ends in a newline).
      if (k.trim() !== vkey) await refuse("key " + JSON.stringify(k), () => v.verifyReceipt(entry, proof, k));
    }
  }
  for (const name of Object.keys(files).filter((f) => f.startsWith("consistency-"))) {
    const a = Number(name.split("-")[1]);
    const oldCp = await v.verifyCheckpoint(v.parseProof(files["receipt-" + (a - 1) + ".tlog-proof"]).checkpoint, vkey);
    for (let r = 0; r < rounds; r++) {
      const t = mutate(files[name]);
      if (t === files[name]) continue;
      await refuse(name + " " + JSON.stringify(t), async () => {
        const c = v.parseConsistency(t);
        const n = await v.verifyCheckpoint(c.checkpoint, vkey);
        await v.verifyConsistency(c.old, oldCp.root, n.size, n.root, c.hashes);
        if (c.old !== oldCp.size) throw new v.VerifyError("proof", "other size");
      });
    }
  }
  return { failures: out.slice(0, 20), tried };
})`

func TestBrowserVerifierMutations(t *testing.T) {
	ctx := browser(t) // first: skip before any work without a browser
	ar, err := txtar.ParseFile("../auditlog/testdata/vectors.txtar")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range ar.Files {
		files[f.Name] = string(f.Data)
	}
	arg, _ := json.Marshal(files)
	ts, _ := startServer(t, nil)
	do(t, ctx, chromedp.Navigate(ts.URL+"/#/"))
	waitReady(t, ctx, "#/")
	rounds := 200
	if testing.Short() {
		rounds = 20
	}
	res := eval[struct {
		Failures []string
		Tried    int
	}](t, ctx, fmt.Sprintf("%s(%s, %d)", mutationCases, arg, rounds))
	t.Logf("%d mutated inputs refused", res.Tried)
	if res.Tried < rounds*5 {
		t.Errorf("only %d mutations tried", res.Tried)
	}
	if len(res.Failures) > 0 {
		t.Errorf("verify.js on mutated vectors:\n%s", strings.Join(res.Failures, "\n"))
	}
}
