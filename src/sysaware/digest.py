"""Content hashes of a results folder: two runs of one config must give the same digests.

Files are hashed by what they hold, not by their bytes where a format stores the time of
writing: ``.npz`` by its arrays, ``.root`` by every histogram's edges, values and variances and
every tree's branches, ``.pt`` by the tensors and metadata, JSON by its canonical text with
run times (keys in ``TIMING_KEYS``) left out and the results folder's own path written as
``<results>`` (two runs in two folders compare equal), ``.onnx`` by its graph without the
exporter's per-node stack traces (they name the source files of the checkout).  Other files are
hashed as bytes.  Logs, timing benchmarks, figures and the run record (``config.json``, which holds the
git commit) are left out.

    sysaware digest results/cms_ttbar_taujets [--out digest.json]
    python -m sysaware.digest results/cms_ttbar_taujets [--out digest.json]   (the same)
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

#: JSON keys that hold run times, not results
TIMING_KEYS = frozenset({"seconds"})

#: relative paths (glob patterns) that hold timings, pictures or provenance rather than numbers
EXCLUDE = ("logs/*", "benchmarks/*", "*.png", "*.pdf", "*.svg", "*.tmp", "*.ckpt", "*.lock", "config.json", "*.md")


def _update_array(h: "hashlib._Hash", name: str, arr: np.ndarray) -> None:
    arr = np.ascontiguousarray(arr)
    h.update(f"{name}|{arr.dtype.str}|{arr.shape}|".encode())
    h.update(arr.tobytes())


def _npz(path: Path, h: "hashlib._Hash") -> None:
    with np.load(path, allow_pickle=False) as f:
        for name in sorted(f.files):
            _update_array(h, name, f[name])


def _root(path: Path, h: "hashlib._Hash") -> None:
    import awkward as ak
    import uproot

    with uproot.open(path) as f:
        for key in sorted(f.keys(cycle=False)):
            obj = f[key]
            if isinstance(obj, uproot.behaviors.TTree.TTree):
                for branch in sorted(obj.keys()):
                    arr = obj[branch].array(library="ak")
                    h.update(f"{key}/{branch}|{ak.type(arr)}|".encode())
                    for buf in ak.to_buffers(arr)[2].values():
                        h.update(np.asarray(buf).tobytes())
            elif hasattr(obj, "values") and hasattr(obj, "axes"):
                _update_array(h, f"{key}/values", obj.values(flow=True))
                _update_array(h, f"{key}/variances", obj.variances(flow=True))
                for i, axis in enumerate(obj.axes):
                    _update_array(h, f"{key}/axis{i}", np.asarray(axis.edges()))


def _pt(path: Path, h: "hashlib._Hash") -> None:
    import torch

    blob = torch.load(path, map_location="cpu", weights_only=True)
    h.update(json.dumps(blob.get("meta", {}), sort_keys=True).encode())
    for name, t in sorted(blob["state_dict"].items()):
        _update_array(h, name, t.numpy())


def _canonical(obj: Any, folder: str) -> Any:
    if isinstance(obj, dict):
        return {k: _canonical(v, folder) for k, v in obj.items() if k not in TIMING_KEYS}
    if isinstance(obj, list):
        return [_canonical(v, folder) for v in obj]
    if isinstance(obj, str) and folder:
        return obj.replace(folder, "<results>")
    return obj


def _json(path: Path, h: "hashlib._Hash", folder: str = "") -> None:
    blob = _canonical(json.loads(path.read_text()), folder)
    h.update(json.dumps(blob, sort_keys=True).encode())


def _onnx(path: Path, h: "hashlib._Hash") -> None:
    import onnx

    model = onnx.load(str(path))
    for node in model.graph.node:  # the exporter's stack traces name the source files: not content
        del node.metadata_props[:]
        node.doc_string = ""
    h.update(model.graph.SerializeToString(deterministic=True))


READERS = {".npz": _npz, ".root": _root, ".pt": _pt, ".onnx": _onnx}


def file_digest(path: str | Path, folder: str | Path | None = None) -> str:
    """SHA-256 of one file's content (see the module docstring for what counts as content);
    ``folder``: the results folder, whose path inside JSON strings is not content."""
    path = Path(path)
    h = hashlib.sha256()
    if path.suffix == ".json":
        _json(path, h, str(Path(folder).resolve()) if folder is not None else "")
    elif path.suffix in READERS:
        READERS[path.suffix](path, h)
    else:
        h.update(path.read_bytes())
    return h.hexdigest()


def digest_tree(folder: str | Path, exclude: Iterable[str] = EXCLUDE) -> dict[str, str]:
    """``{relative path: digest}`` of every file under ``folder`` not matched by ``exclude``."""
    folder = Path(folder)
    patterns = tuple(exclude)
    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if not any(fnmatch.fnmatch(rel, pat) for pat in patterns):
            out[rel] = file_digest(path, folder)
    return out


def add_arguments(ap: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of the digest command (``python -m sysaware.digest`` and ``sysaware digest``)."""
    ap.add_argument("folder", help="results folder, e.g. results/cms_ttbar_taujets")
    ap.add_argument("--out", help="write the JSON here instead of stdout")
    return ap


def run(args: argparse.Namespace) -> int:
    """Print (or write to ``args.out``) the digests of ``args.folder`` as JSON; 1 if it is no folder."""
    if not Path(args.folder).is_dir():
        sys.stderr.write(f"error: results folder {args.folder} does not exist or is not a folder\n")
        return 1
    text = json.dumps(digest_tree(args.folder), indent=2) + "\n"
    if args.out:
        Path(args.out).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Print (or write) the digests of a results folder as JSON."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    return run(add_arguments(ap).parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
