"""The ``sysaware`` console command: check, digest, methods; in-process and through the installed script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sysaware import cli
from sysaware.config import SCHEMA
from sysaware.digest import digest_tree
from sysaware.io import write_json

REPO = Path(__file__).resolve().parents[1]
GOOD = [REPO / "config" / "inferno_benchmark_quick.yaml", REPO / "config" / "higgsml_tes_quick.yaml"]


def _bad(tmp_path: Path) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"analysis": "inferno_benchmark", "seed": 1, "training": {"n_bins": "ten"}}))
    return path


def test_check_prints_ok_for_valid_configs(capsys):
    assert cli.main(["check", *map(str, GOOD)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"OK {GOOD[0]} (analysis inferno_benchmark)", f"OK {GOOD[1]} (analysis higgsml_tes)"]


def test_check_names_the_file_and_key_and_exits_1(tmp_path, capsys):
    bad = _bad(tmp_path)
    cross = tmp_path / "cross.yaml"  # schema-valid, but the cross-checks fail
    cross.write_text(yaml.safe_dump({"analysis": "inferno_benchmark", "seed": 1, "fit": {"smoothing": ["nope"]}}))
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert cli.main(["check", str(bad), str(GOOD[0]), str(cross), str(empty), str(tmp_path / "nope.yaml")]) == 1
    cap = capsys.readouterr()
    assert cap.out.splitlines() == [f"OK {GOOD[0]} (analysis inferno_benchmark)"]
    err = cap.err.splitlines()
    assert err[0] == f"FAIL config file {bad}: training.n_bins: 'ten' is not of type 'integer'"
    assert err[1].startswith(f"FAIL config file {cross}: fit.smoothing")
    assert err[2].startswith(f"FAIL config file {empty} is empty")
    assert err[3] == f"FAIL config file {tmp_path / 'nope.yaml'} not found"


def test_digest_prints_the_digests_of_a_folder(tmp_path, capsys):
    folder = tmp_path / "results"
    write_json(folder / "fit" / "bce" / "fit_results.json", {"bestfit": 1.0, "seconds": 3.0})
    (folder / "logs").mkdir()
    (folder / "logs" / "a.log").write_text("left out\n")
    assert cli.main(["digest", str(folder)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == digest_tree(folder) and list(printed) == ["fit/bce/fit_results.json"]
    assert cli.main(["digest", str(folder), "--out", str(tmp_path / "d.json")]) == 0
    assert json.loads((tmp_path / "d.json").read_text()) == printed
    assert cli.main(["digest", str(tmp_path / "missing")]) == 1
    assert "missing does not exist" in capsys.readouterr().err


def test_methods_covers_every_analysis_of_the_schema(capsys):
    from sysaware.train.methods import all_methods

    table = cli.training_methods()
    assert set(table) == set(yaml.safe_load(SCHEMA.read_text())["properties"]["analysis"]["enum"])
    assert table["inferno_benchmark"] == table["higgsml_tes"] == list(all_methods())
    assert table["cms_ttbar_taujets"] == [m for m in all_methods() if m != "true_z"]
    assert table["refit"] == []
    assert cli.main(["methods"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "higgsml_tes: bce, augment, aware, pivot, disco, inferno, true_z" in lines
    assert cli.main(["methods", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == table


def test_usage_errors_exit_2(capsys):
    for argv in ([], ["check"], ["frobnicate"]):
        with pytest.raises(SystemExit) as stop:
            cli.main(argv)
        assert stop.value.code == 2
    capsys.readouterr()


def _script() -> str:
    """The console script installed next to this interpreter (pip install -e . puts it there)."""
    script = shutil.which("sysaware", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip(f"no sysaware console script next to {sys.executable} (pip install -e . installs it)")
    return script


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([_script(), *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env=os.environ | {"PYTHONPATH": str(REPO / "src")})


def test_console_script_help_of_every_command(tmp_path):
    res = _run("--help", cwd=tmp_path)
    assert res.returncode == 0 and "usage: sysaware" in res.stdout
    for command in ("check", "digest", "methods"):
        assert f"    {command} " in res.stdout
        sub = _run(command, "--help", cwd=tmp_path)
        assert sub.returncode == 0 and sub.stdout.startswith(f"usage: sysaware {command}"), sub.stderr


def test_console_script_checks_and_digests(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("\n")
    res = _run("check", str(GOOD[0]), str(empty), cwd=tmp_path)
    assert res.returncode == 1
    assert res.stdout.startswith(f"OK {GOOD[0]}")
    assert f"config file {empty} is empty" in res.stderr
    write_json(tmp_path / "results" / "scan.json", {"values": [1.0, 2.0]})
    res = _run("digest", "results", cwd=tmp_path)
    assert res.returncode == 0 and json.loads(res.stdout) == digest_tree(tmp_path / "results")
    # the module form of docs/reliability.md prints the same
    mod = subprocess.run([sys.executable, "-m", "sysaware.digest", "results"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120, env=os.environ | {"PYTHONPATH": str(REPO / "src")})
    assert mod.returncode == 0 and mod.stdout == res.stdout
