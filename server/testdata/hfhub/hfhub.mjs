// The real @huggingface/hub client against Charter's Hugging Face endpoint.
// server/hf_npm_test.go writes a spec file and runs: node hfhub.mjs MODE SPEC
//   read     list, download (whole, ranged, to the cache dir) a licensed
//            dataset and a licensed model with the licensee's token
//   refuse   no token, another licensee's token, a token limited to one
//            asset reaching for another through "..", a missing file
//   revoked  the licensee's token after the grant was revoked
// It prints one JSON line of what it did and exits non-zero on a failure.
import { createHash } from "node:crypto";
import { readFile, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as hub from "@huggingface/hub";

const [mode, specPath] = process.argv.slice(2);
const spec = JSON.parse(await readFile(specPath, "utf8"));
const hubUrl = spec.endpoint;
const dataset = { type: "dataset", name: spec.dataset };
const model = { type: "model", name: spec.model };
const sha = (b) => createHash("sha256").update(Buffer.from(b)).digest("hex");
// probes counts the one-byte reads (Range: bytes=0-0) the client makes
// to learn a file's size and ETag: fileDownloadInfo, and downloadFile
// through it.
const out = { probes: 0 };

function assert(ok, msg) {
	if (!ok) throw new Error(msg);
}

// refused runs fn and wants a HubApiError of status (and, when given, a
// message containing text).
async function refused(what, fn, status, text) {
	try {
		await fn();
	} catch (e) {
		assert(e.statusCode === status, `${what}: want HTTP ${status}, got ${e.statusCode}: ${e.message}`);
		if (text) assert(e.message.includes(text), `${what}: message ${JSON.stringify(e.message)} lacks ${JSON.stringify(text)}`);
		return;
	}
	throw new Error(`${what}: want HTTP ${status}, got success`);
}

async function list(repo, accessToken) {
	const files = [];
	for await (const f of hub.listFiles({ repo, recursive: true, hubUrl, accessToken })) {
		if (f.type === "file") files.push(f);
	}
	return files;
}

if (mode === "read") {
	const accessToken = spec.token;
	const info = await hub.datasetInfo({ name: spec.dataset, hubUrl, accessToken });
	assert(info.name === spec.dataset && info.gated === "manual", `datasetInfo: ${JSON.stringify(info)}`);
	const files = await list(dataset, accessToken);
	const want = Object.keys(spec.files).sort();
	assert(JSON.stringify(files.map((f) => f.path).sort()) === JSON.stringify(want), `listFiles: ${JSON.stringify(files)}`);
	out.listed = files.length;
	out.bytes = 0;
	for (const f of files) {
		const exp = spec.files[f.path];
		assert(f.size === exp.size && f.oid === exp.id, `listFiles entry ${JSON.stringify(f)}, want ${JSON.stringify(exp)}`);
		out.probes++;
		const di = await hub.fileDownloadInfo({ repo: dataset, path: f.path, hubUrl, accessToken });
		assert(di && di.size === exp.size && di.etag === `"${exp.id}"`, `fileDownloadInfo ${f.path}: ${JSON.stringify(di)}`);
		out.probes++;
		const blob = await hub.downloadFile({ repo: dataset, path: f.path, hubUrl, accessToken });
		const body = await blob.arrayBuffer();
		assert(sha(body) === exp.sha256, `downloadFile ${f.path}: sha256 ${sha(body)}, want ${exp.sha256}`);
		out.bytes += body.byteLength;
		if (exp.size > 20) {
			// A ranged read: WebBlob.slice sends Range: bytes=a-b.
			const part = await blob.slice(7, 20).arrayBuffer();
			assert(sha(part) === sha(Buffer.from(body).subarray(7, 20)), `ranged read of ${f.path}`);
			out.ranged = (out.ranged ?? 0) + 1;
			out.bytes += part.byteLength;
		}
	}
	assert(await hub.fileExists({ repo: dataset, path: want[0], hubUrl, accessToken }), "fileExists of a file");
	assert(!(await hub.fileExists({ repo: dataset, path: "no/such/file", hubUrl, accessToken })), "fileExists of no file");
	// The cache layout the Python client shares (paths-info, then resolve).
	const cacheDir = await mkdtemp(join(tmpdir(), "hfhub-"));
	out.probes++;
	const cached = await hub.downloadFileToCacheDir({ repo: dataset, path: want[0], hubUrl, accessToken, cacheDir });
	assert(sha(await readFile(cached)) === spec.files[want[0]].sha256, `downloadFileToCacheDir: ${cached}`);
	out.bytes += spec.files[want[0]].size;

	const mi = await hub.modelInfo({ name: spec.model, hubUrl, accessToken });
	assert(mi.name === spec.model, `modelInfo: ${JSON.stringify(mi)}`);
	const mfiles = await list(model, accessToken);
	assert(mfiles.length === 1 && mfiles[0].path === spec.modelFile.path, `model listFiles: ${JSON.stringify(mfiles)}`);
	out.probes++;
	const mb = await (await hub.downloadFile({ repo: model, path: spec.modelFile.path, hubUrl, accessToken })).arrayBuffer();
	assert(sha(mb) === spec.modelFile.sha256, "model download");
	out.bytes += mb.byteLength;
	out.model = mb.byteLength;
} else if (mode === "refuse") {
	const path = Object.keys(spec.files).sort()[0];
	await refused("listFiles without a token", () => list(dataset, undefined), 401, "grant");
	await refused("download without a token", () => hub.downloadFile({ repo: dataset, path, hubUrl }), 401, "grant");
	await refused("download with another licensee's token", () => hub.downloadFile({ repo: dataset, path, hubUrl, accessToken: spec.other }), 403, "no live grant");
	await refused("listFiles with another licensee's token", () => list(dataset, spec.other), 403);
	// A path that climbs out of the repo names no repo (fetch folds the
	// ".." segments before sending: /datasets/DS/MODEL/resolve/main/...),
	// and a token limited to the dataset cannot read the model directly.
	const escape = `../../${spec.model}/resolve/main/${spec.modelFile.path}`;
	await refused("a path out of the repo", () => hub.downloadFile({ repo: dataset, path: escape, hubUrl, accessToken: spec.onlyDataset }), 404, "Repository not found");
	await refused("the model with a token limited to the dataset", () => hub.downloadFile({ repo: model, path: spec.modelFile.path, hubUrl, accessToken: spec.onlyDataset }), 403);
	// A file of another repo is no entry of this one.
	const none = await hub.fileDownloadInfo({ repo: dataset, path: spec.modelFile.path, hubUrl, accessToken: spec.token });
	assert(none === null, `another repo's file: ${JSON.stringify(none)}`);
	await refused("a malformed token", () => list(dataset, "hf_charter_forged"), 401, "Invalid credentials");
	out.refused = 7;
} else if (mode === "revoked") {
	const path = Object.keys(spec.files).sort()[0];
	await refused("download under a revoked grant", () => hub.downloadFile({ repo: dataset, path, hubUrl, accessToken: spec.token }), 403, "no live grant");
	await refused("listFiles under a revoked grant", () => list(dataset, spec.token), 403, "no live grant");
	out.refused = 2;
} else {
	throw new Error(`unknown mode ${mode}`);
}
console.log(JSON.stringify(out));
