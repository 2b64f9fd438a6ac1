"""The real huggingface_hub (Python) client against Charter's Hugging Face
endpoint. server/hf_npm_test.go (TestHFPythonClient) writes a spec file and
runs: python3 hfhub.py MODE SPEC, with HF_ENDPOINT set; MODE is read or
refuse (as hfhub.mjs). It prints one JSON line and exits non-zero on a
failure. Debian has no huggingface_hub package, so CI skips it; run it with
CHARTER_TEST_PYTHON naming a python that imports huggingface_hub."""

import hashlib
import json
import os
import sys
import tempfile

from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.utils import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

mode, spec_path = sys.argv[1], sys.argv[2]
with open(spec_path) as f:
    spec = json.load(f)
ds, model = spec["dataset"], spec["model"]
out = {}


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def refused(what, exc, fn):
    try:
        fn()
    except exc:
        return
    except Exception as e:  # noqa: BLE001
        raise AssertionError(f"{what}: want {exc.__name__}, got {type(e).__name__}: {e}")
    raise AssertionError(f"{what}: want {exc.__name__}, got success")


if mode == "read":
    tok = spec["token"]
    api = HfApi(token=tok)
    info = api.dataset_info(ds)
    assert info.id == ds and len(info.sha) == 40, info
    files = sorted(api.list_repo_files(ds, repo_type="dataset"))
    assert files == sorted(spec["files"]), files
    tree = [e for e in api.list_repo_tree(ds, repo_type="dataset", recursive=True, expand=True) if hasattr(e, "size")]
    assert sorted(e.path for e in tree) == files and all(e.last_commit is not None for e in tree), tree
    out["listed"] = len(files)
    out["bytes"] = 0
    cache = tempfile.mkdtemp()
    for p in files:
        local = hf_hub_download(ds, p, repo_type="dataset", token=tok, cache_dir=cache)
        assert sha(local) == spec["files"][p]["sha256"], p
        out["bytes"] += spec["files"][p]["size"]
    # Again: answered from the cache after one HEAD per file.
    for p in files:
        hf_hub_download(ds, p, repo_type="dataset", token=tok, cache_dir=cache)
    snap = snapshot_download(ds, repo_type="dataset", token=tok, cache_dir=tempfile.mkdtemp())
    for p in files:
        assert sha(os.path.join(snap, p)) == spec["files"][p]["sha256"], p
        out["bytes"] += spec["files"][p]["size"]
    m = hf_hub_download(model, spec["modelFile"]["path"], token=tok, cache_dir=cache)
    assert sha(m) == spec["modelFile"]["sha256"]
    out["bytes"] += spec["modelFile"]["size"]
    out["model"] = spec["modelFile"]["size"]
    # hf:// paths, as datasets' load_dataset(data_files="hf://...") reads
    # them (HfFileSystem: revision info, tree, paths-info, ranged reads).
    from huggingface_hub import HfFileSystem

    fs = HfFileSystem(token=tok)
    found = sorted(fs.glob(f"datasets/{ds}/data/*.jsonl"))
    assert found == [f"datasets/{ds}/{p}" for p in files if p.startswith("data/train")], found
    with fs.open(found[0], "rb") as fh:
        head = fh.read(100)
        # The file object fetches whole blocks (one ranged GET).
        out["bytes"] += min(fh.size, fh.blocksize)
    assert head == open(hf_hub_download(ds, found[0].split("/", 2)[2], repo_type="dataset", token=tok, cache_dir=cache), "rb").read(100)
    # A pinned revision: the commit the server reported.
    hf_hub_download(ds, files[0], repo_type="dataset", revision=info.sha, token=tok, cache_dir=tempfile.mkdtemp())
    out["bytes"] += spec["files"][files[0]]["size"]
elif mode == "refuse":
    p = sorted(spec["files"])[0]
    cache = tempfile.mkdtemp()
    refused("no token", GatedRepoError, lambda: hf_hub_download(ds, p, repo_type="dataset", token=False, cache_dir=cache))
    refused("another licensee", GatedRepoError, lambda: hf_hub_download(ds, p, repo_type="dataset", token=spec["other"], cache_dir=cache))
    refused("no such file", EntryNotFoundError, lambda: hf_hub_download(ds, "no/such/file", repo_type="dataset", token=spec["token"], cache_dir=cache))
    refused("no such revision", RevisionNotFoundError, lambda: hf_hub_download(ds, p, repo_type="dataset", revision="v2", token=spec["token"], cache_dir=cache))
    refused("no such repo", RepositoryNotFoundError, lambda: HfApi(token=spec["token"]).dataset_info("bafkr4inosuchasset"))
    # huggingface_hub reads this 401 as a wrong token, not a missing repo.
    refused("a forged token", HfHubHTTPError, lambda: HfApi(token="hf_charter_forged").dataset_info(ds))
    try:
        HfApi(token="hf_charter_forged").dataset_info(ds)
    except RepositoryNotFoundError:
        raise AssertionError("a forged token read as RepositoryNotFound")
    except HfHubHTTPError as e:
        assert e.response.status_code == 401, e
    out["refused"] = 6
else:
    raise SystemExit(f"unknown mode {mode}")
print(json.dumps(out))
