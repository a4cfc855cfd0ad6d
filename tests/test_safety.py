"""Nothing unsafe is loaded or executed: models only as weights (or ONNX), YAML only through safe
loaders, no eval/exec/pickle, shell commands quote every path from the config."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from helpers import REPO, snakemake_env
from sysaware.train.networks import load_model

PY_FILES = sorted([*(REPO / "src").rglob("*.py"), *(REPO / "scripts").glob("*.py"), *(REPO / "bench").glob("*.py")])
SMK_FILES = sorted((REPO / "workflow" / "rules").glob("*.smk"))


def _call_name(node: ast.Call) -> str:
    f = node.func
    parts = []
    while isinstance(f, ast.Attribute):
        parts.append(f.attr)
        f = f.value
    parts.append(f.id if isinstance(f, ast.Name) else "?")  # "?": a method of a computed value
    return ".".join(reversed(parts))


def _kw(node: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in node.keywords if k.arg == name), None)


def _unsafe_calls(path: Path) -> list[str]:
    """Calls that would run code from data: eval/exec, pickle, unsafe YAML, torch.load without
    weights_only=True, np.load with allow_pickle=True, shell=True, os.system/popen."""
    bad = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        where = f"{path.relative_to(REPO)}:{node.lineno} {name}"
        if name in ("eval", "exec", "compile", "os.system", "os.popen", "yaml.unsafe_load", "yaml.full_load"):
            bad.append(where)
        elif name.startswith(("pickle.", "dill.", "cloudpickle.", "marshal.")) and name.endswith(("load", "loads")):
            bad.append(where)
        elif name == "yaml.load" and not (isinstance(_kw(node, "Loader"), ast.Attribute)
                                          and _kw(node, "Loader").attr in ("SafeLoader", "CSafeLoader")):
            bad.append(where)
        elif name == "torch.load":
            w = _kw(node, "weights_only")
            if not (isinstance(w, ast.Constant) and w.value is True):
                bad.append(where + " (without weights_only=True)")
        elif name in ("np.load", "numpy.load"):
            p = _kw(node, "allow_pickle")
            if p is not None and not (isinstance(p, ast.Constant) and p.value is False):
                bad.append(where + " (allow_pickle)")
        elif (s := _kw(node, "shell")) is not None and not (isinstance(s, ast.Constant) and s.value is False):
            bad.append(where + " (shell=True)")
    return bad


def test_no_code_runs_from_data_in_any_module():
    assert len(PY_FILES) > 50
    bad = [b for p in PY_FILES for b in _unsafe_calls(p)]
    assert bad == []


def test_the_scanner_catches_what_it_looks_for(tmp_path):
    """The check above can fail: each forbidden call in a scratch file is reported."""
    src = tmp_path / "bad.py"
    src.write_text("import torch, yaml, pickle, subprocess\n"
                   "eval('1')\ntorch.load('m.pt')\nyaml.load(open('c'))\npickle.loads(b'')\n"
                   "subprocess.run('ls', shell=True)\ntorch.load('m.pt', weights_only=True)\n"
                   "yaml.load(open('c'), Loader=yaml.SafeLoader)\n")
    src = src.rename(REPO / "tests" / f"_scratch_{os.getpid()}.py")
    try:
        found = _unsafe_calls(src)
    finally:
        src.unlink()
    assert [f.split(" ", 1)[1] for f in found] == [
        "eval", "torch.load (without weights_only=True)", "yaml.load", "pickle.loads", "subprocess.run (shell=True)"]


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch pwned_by_pickle",))


def test_a_pickled_model_with_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {}, "meta": _Payload()}, path)
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        with pytest.raises(Exception, match="Weights only load failed|Unsupported global"):
            load_model(str(path))
    finally:
        os.chdir(cwd)
    assert not (tmp_path / "pwned_by_pickle").exists()


def test_every_shell_placeholder_is_quoted():
    """Paths in shell commands come from the config (results_dir, input files): each is quoted (:q)."""
    unquoted = []
    for path in SMK_FILES:
        in_shell = False
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if line.strip() == "shell:":
                in_shell = True
                continue
            if in_shell and not line.strip().startswith('"'):
                in_shell = False
            if in_shell:
                unquoted += [f"{path.name}:{n} {m}" for m in re.findall(r"\{[^{}]+\}", line)
                             if not m.endswith(":q}") and m != "{threads}"]
    assert unquoted == []


def test_results_dir_with_shell_metacharacters_runs_and_injects_nothing(tmp_path):
    """A real job (the toy figure) with a results_dir holding a space, a quote and '; touch':
    the job writes where asked and no command is injected."""
    weird = tmp_path / "a b'c; touch INJECTED"
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({"analysis": "inferno_benchmark", "seed": 1, "results_dir": str(weird)}))
    res = subprocess.run(
        [sys.executable, "-m", "snakemake", "--nolock", "--cores", "1", f"{weird}/toys/classifier_output.json",
         "--configfile", str(cfg)],
        cwd=REPO, capture_output=True, text=True, timeout=300, env=snakemake_env())
    assert res.returncode == 0, res.stderr[-3000:]
    assert (weird / "toys" / "classifier_output.json").stat().st_size > 0
    assert not (REPO / "INJECTED").exists() and not list(tmp_path.rglob("INJECTED"))
