"""Packaging: the schemas are package data, found the same way from a source tree and from a wheel.

The wheel test builds the project's wheel, installs it without dependencies into a fresh
virtual environment that sees this environment's packages (so torch and the rest are not
downloaded again) and validates a config there, from a folder outside the repository.
"""

from __future__ import annotations

import inspect
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import yaml

from sysaware.config import SCHEMA, prepare_config, schema_path

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = ("config.schema.yaml", "results.schema.json")


def test_the_snakefile_validates_against_the_package_schema():
    """One config schema: the package's, which the Snakefile and load_config both use."""
    assert SCHEMA == schema_path("config.schema.yaml") and SCHEMA.is_file()
    assert SCHEMA.parent == REPO / "src" / "sysaware" / "schemas"
    snakefile = (REPO / "Snakefile").read_text()
    # the Snakefile validates through prepare_config, whose schema is the package's
    assert "from sysaware.config import prepare_config" in snakefile and "prepare_config(config)" in snakefile
    assert inspect.signature(prepare_config).parameters["schema"].default == SCHEMA
    # tracked and new (not ignored) files
    tracked = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard",
                              "*.schema.yaml", "*.schema.json"], cwd=REPO,
                             capture_output=True, text=True)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    assert sorted(tracked.stdout.split()) == [f"src/sysaware/schemas/{name}" for name in sorted(SCHEMAS)]
    with pytest.raises(FileNotFoundError, match="nope.json"):
        schema_path("nope.json")


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kwargs)
    assert res.returncode == 0, f"{cmd}\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}"
    return res


@pytest.mark.slow
def test_wheel_installs_schemas_and_validates_a_config_outside_the_repository(tmp_path):
    # build from a copy, so that the checkout gets no build/ or egg-info folder
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "-w", str(tmp_path / "dist"), str(src)])
    (wheel,) = (tmp_path / "dist").glob("sysaware-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {f"sysaware/schemas/{name}" for name in SCHEMAS} <= set(names)

    # a fresh environment with this one's packages behind it (a plain path entry: not its editable sysaware)
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    outer = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    (site / "outer_environment.pth").write_text("".join(f"{p}\n" for p in outer))
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)])

    work = tmp_path / "elsewhere"
    work.mkdir()
    (work / "run.yaml").write_text(yaml.safe_dump({"analysis": "inferno_benchmark", "seed": 5}))
    (work / "bad.yaml").write_text(yaml.safe_dump({"analysis": "inferno_benchmark", "seed": 5, "trainng": {}}))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    probe = (
        "import sysaware, sysaware.config as c, sysaware.results_contract as r\n"
        "cfg = c.load_config('run.yaml')\n"
        "print(sysaware.__file__); print(c.SCHEMA); print(c.schema_path('results.schema.json'))\n"
        "print(cfg['training']['n_bins'], len(r.kinds()))\n"
    )
    lines = _run([str(python), "-c", probe], cwd=work, env=env).stdout.splitlines()
    installed = site / "sysaware"
    assert lines[:3] == [str(installed / "__init__.py"), str(installed / "schemas" / SCHEMAS[0]),
                         str(installed / "schemas" / SCHEMAS[1])]
    assert lines[3].split()[0] == "10"  # the schema's default, filled in

    script = python.parent / "sysaware"
    res = subprocess.run([str(script), "check", "run.yaml", "bad.yaml"], cwd=work, env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 1, res.stderr
    assert res.stdout.strip() == "OK run.yaml (analysis inferno_benchmark)"
    assert "FAIL config file bad.yaml: Additional properties are not allowed ('trainng' was unexpected)" in res.stderr
