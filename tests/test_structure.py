"""The structure of the package and of the tests, read from the source with ``ast``.

* The import graph of ``src/sysaware`` (module-level, function-level and ``if TYPE_CHECKING:``
  imports, relative ones resolved) has no cycle.
* The shared layers (``stats/``, ``fit/``, ``train/`` and the top-level modules ``sysaware/*.py``)
  import no analysis package: an analysis is found through :mod:`sysaware.analyses`.
* Parsing the Snakefile imports neither torch nor pyhf.
* No test module imports another test module or ``conftest`` (shared helpers live in
  ``tests/helpers.py``, fixtures in ``conftest.py``).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from helpers import REPO
from sysaware.analyses import ANALYSES, resolve
from sysaware.config import SCHEMA

SRC = REPO / "src"
PACKAGE = "sysaware"
#: what the shared layers must not import: every analysis's package, and the seed talks' toys
ANALYSIS_PACKAGES = sorted({a.package for a in ANALYSES.values()} | {f"{PACKAGE}.toys"})
#: the shared layers: these subpackages and every top-level module
SHARED_PACKAGES = tuple(f"{PACKAGE}.{name}" for name in ("stats", "fit", "train"))


@dataclass(frozen=True)
class Edge:
    """``source`` imports ``target`` at ``line`` of ``path``."""

    source: str
    target: str
    path: Path
    line: int

    def __str__(self) -> str:
        where = self.path.relative_to(REPO) if self.path.is_relative_to(REPO) else self.path
        return f"{self.source} -> {self.target} ({where}:{self.line})"


def module_name(path: Path, root: Path = SRC) -> str:
    """Dotted name of the module at ``path`` (a package's ``__init__.py`` is the package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path = SRC / PACKAGE) -> dict[str, Path]:
    """Every module of the package under ``root``, by dotted name."""
    return {module_name(p): p for p in sorted(root.rglob("*.py"))}


def _resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    """Absolute name of ``from <level dots><name> import ...`` written in ``module``."""
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def imports_of(module: str, path: Path, known: set[str]) -> list[Edge]:
    """Edges from ``module`` to the modules of ``known`` it imports, wherever in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    edges = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_relative(module, is_package, node.level, node.module) if node.level else node.module
            # ``from package import submodule`` imports the submodule; ``from module import name`` the module
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in dict.fromkeys(targets):
            while target and target not in known:  # ``import a.b.c`` of a name inside a module: that module
                target = target.rpartition(".")[0]
            if target and target != module:
                edges.append(Edge(module, target, path, node.lineno))
    return edges


def import_graph(root: Path = SRC / PACKAGE) -> dict[str, list[Edge]]:
    """Every module of the package -> the edges to the package's modules it imports."""
    mods = modules(root)
    return {m: imports_of(m, p, set(mods)) for m, p in mods.items()}


def find_cycle(graph: dict[str, list[Edge]]) -> list[Edge]:
    """The edges of one import cycle of ``graph`` (depth-first search), or ``[]`` if it has none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[Edge] = []

    def visit(node: str) -> list[Edge]:
        state[node] = 1
        for edge in graph.get(node, []):
            if state.get(edge.target) == 1:
                start = next((i for i, e in enumerate(path) if e.source == edge.target), len(path))
                return [*path[start:], edge]
            if edge.target not in state:
                path.append(edge)
                found = visit(edge.target)
                if found:
                    return found
                path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def _within(module: str, packages: tuple[str, ...] | list[str]) -> bool:
    return any(module == p or module.startswith(f"{p}.") for p in packages)


def is_shared_layer(module: str, path: Path) -> bool:
    """``stats``, ``fit``, ``train`` and the top-level modules (``sysaware/*.py`` and ``sysaware/__init__.py``)."""
    top_level = module == PACKAGE or (module.count(".") == 1 and path.name != "__init__.py")
    return top_level or _within(module, SHARED_PACKAGES)


def _small_package(root: Path) -> dict[str, list[Edge]]:
    """A package ``pkg`` under ``root`` whose modules import each other in every way the graph must see."""
    pkg = root / "pkg"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "a.py": "from .sub import b\nimport pkg.c as c_module\n",
        "c.py": "from pkg.sub.b import f as g\n",
        "sub/__init__.py": "",
        "sub/b.py": "import os\n\n\ndef f():\n    from ..c import g\n    return g\n",
    }
    for name, text in files.items():
        (pkg / name).write_text(text)
    mods = {module_name(p, root): p for p in sorted(pkg.rglob("*.py"))}
    return {m: imports_of(m, p, set(mods)) for m, p in mods.items()}


def test_the_graph_sees_relative_function_level_and_submodule_imports(tmp_path):
    """On a small package: ``from .sub import b`` (a submodule), ``import pkg.c``, a relative import
    two levels up inside a function; the cycle they make is found, and each edge names its line."""
    graph = _small_package(tmp_path)
    assert [e.target for e in graph["pkg.a"]] == ["pkg.sub.b", "pkg.c"]
    assert [(e.target, e.line) for e in graph["pkg.sub.b"]] == [("pkg.c", 5)]
    assert [e.target for e in graph["pkg.c"]] == ["pkg.sub.b"]
    cycle = find_cycle(graph)
    assert [(e.source, e.target) for e in cycle] in ([("pkg.sub.b", "pkg.c"), ("pkg.c", "pkg.sub.b")],
                                                     [("pkg.c", "pkg.sub.b"), ("pkg.sub.b", "pkg.c")])
    assert f"pkg.sub.b -> pkg.c ({tmp_path / 'pkg' / 'sub' / 'b.py'}:5)" in [str(e) for e in cycle]
    assert find_cycle({m: [e for e in edges if e.source != "pkg.c"] for m, edges in graph.items()}) == []


def test_no_import_cycle_in_the_package():
    cycle = find_cycle(import_graph())
    assert not cycle, "import cycle:\n  " + "\n  ".join(str(e) for e in cycle)


def test_shared_layers_import_no_analysis():
    """stats/, fit/, train/ and the top-level modules find an analysis through sysaware.analyses only."""
    graph, paths = import_graph(), modules()
    shared = [m for m in graph if is_shared_layer(m, paths[m])]
    assert {"sysaware.config_checks", "sysaware.comparison", "sysaware.binning", "sysaware.io",
            "sysaware.analyses", "sysaware.stats.spec", "sysaware.fit.core", "sysaware.train.loop"} <= set(shared)
    assert not any(_within(m, ANALYSIS_PACKAGES) for m in shared)
    bad = [e for m in shared for e in graph[m] if _within(e.target, ANALYSIS_PACKAGES)]
    assert not bad, "a shared layer imports an analysis:\n  " + "\n  ".join(str(e) for e in bad)


def test_every_analysis_entry_resolves_and_matches_the_schema():
    """The registry's import paths name functions, its packages exist, and its analyses are the schema's."""
    for entry in ANALYSES.values():
        assert (SRC / Path(*entry.package.split("."))).is_dir(), entry.package
        for path in (entry.method_names, entry.config_checks, entry.fit_models):
            if path is not None:
                assert path.startswith(f"{entry.package}."), path
                assert callable(resolve(path)), path
    schema = yaml.safe_load(SCHEMA.read_text())
    assert sorted(schema["properties"]["analysis"]["enum"]) == sorted(ANALYSES)


# parses the Snakefile (as a dry run does: no lock taken) with each config given on the command line,
# results_dir pointed at a temporary folder, and prints which of the heavy modules got imported
_PARSE = """
import sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.enums import Quietness
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

configfile, results = sys.argv[1], sys.argv[2]
sys.argv = ["snakemake", "-n"]  # read-only: the Snakefile's run guard takes no lock
with SnakemakeApi(OutputSettings(quiet={Quietness.ALL}, dryrun=True)) as api:
    api.workflow(snakefile=Path("Snakefile"), resource_settings=ResourceSettings(cores=1),
                 config_settings=ConfigSettings(configfiles=[Path(configfile)] if configfile else [],
                                                config={"results_dir": results})).dag()
print("HEAVY", sorted(m for m in ("torch", "pyhf", "cabinetry") if m in sys.modules))
"""
#: the default config (""), one config per analysis, and the CMS analysis on remote files
PARSED_CONFIGS = ["", "config/inferno_benchmark_quick.yaml", "config/higgsml_tes_quick.yaml",
                  "config/refit_example.yaml", "config/cms_opendata_2015.yaml"]


@pytest.mark.parametrize("configfile", PARSED_CONFIGS)
def test_parsing_the_snakefile_imports_neither_torch_nor_pyhf(tmp_path, configfile):
    """What ``snakemake -n`` parses before any job: the Snakefile, the rules and the modules they import."""
    res = subprocess.run([sys.executable, "-c", _PARSE, configfile, str(tmp_path / "results")], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    assert "HEAVY []" in res.stdout, res.stdout[-2000:]


def test_no_test_module_imports_another_test_module_or_conftest():
    """Shared helpers come from tests/helpers.py (or a helper module), never from test_*.py or conftest."""
    tests = REPO / "tests"
    forbidden = {p.stem for p in tests.glob("test_*.py")} | {"conftest"}
    bad = []
    for path in sorted(tests.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            bad += [f"{path.name}:{node.lineno} imports {n}" for n in names if n.split(".")[0] in forbidden
                    or n.startswith("tests.")]
    assert not bad, "\n".join(bad)
