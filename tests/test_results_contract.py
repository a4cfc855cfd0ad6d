"""The results contract's JSON Schema (docs/results.md, src/sysaware/schemas/results.schema.json):
what the fit stage writes passes it, a broken document fails naming the key, and the page
documents every field the schema knows.  The workflow tests validate real runs' files."""

from __future__ import annotations

import copy
import json
import logging
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from sysaware.comparison import comparison_table
from sysaware.config import load_config, schema_path
from sysaware.fit import fit_results, merge_ranking, nuisance_impact, nuisance_names, poi_scan
from sysaware.io import write_json
from sysaware.provenance import git_commit, package_versions
from sysaware.results_contract import (
    CONTRACT,
    ResultsContractError,
    kinds,
    load_json,
    validate_document,
    validate_file,
    validate_results,
)
from helpers import small_workspace as workspace
from sysaware.stats.fit_options import prune_workspace

logging.getLogger("cabinetry").setLevel(logging.WARNING)
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def docs() -> dict[str, dict]:
    """One document of each fit-stage kind, made by the code the workflow runs."""
    ws = workspace()
    fit = fit_results(ws)
    impacts = [nuisance_impact(ws, p, fit) for p in nuisance_names(ws)]
    ranking = merge_ranking(impacts)
    sym = {lab: 0.5 * (abs(u) + abs(d)) for lab, u, d in zip(ranking["labels"], ranking["postfit_up"],
                                                              ranking["postfit_down"])}
    return {
        "fit_results": fit,
        "scan": poi_scan(ws, n_steps=5),
        "impact": impacts[0],
        "ranking": ranking,
        "pruning": prune_workspace(ws, 0.045)[1],
        "comparison": comparison_table("refit", {"bce": fit, "other": fit}, {"bce": sym, "other": sym}),
        "run_record": {"config": load_config(REPO / "config" / "refit_example.yaml"),
                       "versions": package_versions(), "git_commit": git_commit(REPO)},
    }


def test_the_schema_is_a_valid_json_schema():
    Draft202012Validator.check_schema(json.loads(schema_path("results.schema.json").read_text()))
    assert {e.kind for entries in CONTRACT.values() for e in entries} <= set(kinds())


def test_what_the_fit_stage_writes_passes(docs):
    assert docs["pruning"]["modifiers"] and any(m["pruned"] for m in docs["pruning"]["modifiers"])
    for kind, doc in docs.items():
        validate_document(doc, kind, kind)


def _drop(key):
    return lambda d: d.pop(key)


def _set(path, value):
    def edit(d):
        for k in path[:-1]:
            d = d[k]
        d[path[-1]] = value
    return edit


BROKEN = [
    ("fit_results", _drop("minos"), "'minos' is a required property"),
    ("fit_results", _drop("warnings"), "'warnings' is a required property"),
    ("fit_results", _set(["bestfit"], "NaN"), "bestfit: 'NaN' is not of type 'number'"),
    ("fit_results", _set(["minos", 1], "nan"), r"minos\[1\]: 'nan' is not of type 'number'"),
    ("fit_results", _set(["correlation", 0, 0], float("nan")), r"correlation\[0\]\[0\]: non-finite number nan"),
    ("fit_results", _set(["minos"], [0.1, 0.3]), r"minos\[0\]: 0.1 is greater than the maximum of 0"),
    ("fit_results", _set(["significance"], {"observed": 1.0}), "significance"),
    ("fit_results", _set(["undocumented"], 1), "'undocumented' was unexpected"),
    ("scan", _drop("delta_twice_nll"), "'delta_twice_nll' is a required property"),
    ("ranking", _set(["postfit_up", 0], "0.1"), r"postfit_up\[0\]: '0.1' is not of type 'number'"),
    ("impact", _set(["converged"], "true"), "converged: 'true' is not of type 'boolean'"),
    ("pruning", _set(["modifiers", 0, "type"], "shapesys"), r"modifiers\[0\].type"),
    ("comparison", lambda d: d["methods"][1].pop("expected"), r"methods\[1\]: 'expected' is a required property"),
    ("comparison", _set(["methods", 0, "ratio_to_bce"], "NaN"), r"methods\[0\].ratio_to_bce: 'NaN'"),
    ("run_record", _set(["config", "fit", "prune_thresh"], 3), "config.fit: .*'prune_thresh' was unexpected"),
    ("run_record", _set(["git_commit"], "abc"), "git_commit"),
]


@pytest.mark.parametrize(("kind", "edit", "message"), BROKEN,
                         ids=[f"{k}-{m[:30]}" for k, _, m in BROKEN])
def test_a_broken_document_fails_naming_the_key(docs, kind, edit, message):
    doc = copy.deepcopy(docs[kind])
    edit(doc)
    with pytest.raises(ResultsContractError, match=message):
        validate_document(doc, kind, "broken.json")


def test_a_nan_literal_in_a_file_is_refused(docs, tmp_path):
    path = tmp_path / "fit_results.json"
    path.write_text(json.dumps(docs["fit_results"] | {"bestfit": float("nan")}))  # json writes NaN
    assert "NaN" in path.read_text()
    with pytest.raises(ResultsContractError, match=f"{path}: not valid JSON: NaN"):
        validate_file(path, "fit_results")
    with pytest.raises(ValueError, match="unknown kind"):
        validate_document({}, "fit_result")


def test_a_results_folder_is_checked_file_by_file(docs, tmp_path):
    """validate_results finds every file of the analysis's contract, names a broken or missing one."""
    out = tmp_path / "refit"
    write_json(out / "config.json", docs["run_record"])
    write_json(out / "comparison.json", docs["comparison"])
    for method in ("bce", "other"):
        for kind, name in (("fit_results", "fit_results"), ("scan", "scan"), ("ranking", "ranking"),
                           ("pruning", "pruning")):
            write_json(out / "fit" / method / f"{name}.json", docs[kind])
        write_json(out / "fit" / method / "impacts" / f"{docs['impact']['parameter']}.json", docs["impact"])
    checked = validate_results(out)
    assert checked["fit/other/scan.json"] == "scan" and checked["config.json"] == "run_record"
    assert len(checked) == 2 + 2 * 5

    broken = load_json(out / "fit" / "other" / "ranking.json")
    broken["labels"] = "b, c"
    write_json(out / "fit" / "other" / "ranking.json", broken)
    with pytest.raises(ResultsContractError, match=re.escape(str(out / "fit/other/ranking.json")) + ".* labels"):
        validate_results(out)
    for path in out.glob("fit/*/scan.json"):
        path.unlink()
    with pytest.raises(ResultsContractError, match=r"no file fit/\*/scan.json"):
        validate_results(out)


def _property_names(node) -> set[str]:
    out = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties":
                out |= set(value)
            out |= _property_names(value)
    elif isinstance(node, list):
        for value in node:
            out |= _property_names(value)
    return out


def test_docs_results_md_describes_every_field():
    page = (REPO / "docs" / "results.md").read_text()
    names = _property_names(json.loads(schema_path("results.schema.json").read_text()))
    assert len(names) > 60
    undocumented = sorted(n for n in names if f"`{n}`" not in page and f".{n}`" not in page)
    assert undocumented == []
    for entries in CONTRACT.values():
        for entry in entries:
            assert f"`{entry.kind}`" in page, entry.kind
