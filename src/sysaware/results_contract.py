"""The results contract (docs/results.md) as code: which file under ``results/<analysis>/`` is
which kind of document, and a strict check of each against ``schemas/results.schema.json``
(package data, one ``$defs`` entry per kind).

Strict means: every documented key present, no undocumented key, numbers as JSON numbers
(never ``NaN``/``Infinity``, which Python's ``json`` would otherwise read, nor numbers in
strings), ``config.json``'s config valid under the config schema itself.

    from sysaware.results_contract import validate_results
    validate_results("results/inferno_benchmark")   # {relative path: kind}, or ResultsContractError
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlparse
from urllib.request import url2pathname

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .config import schema_path
from .errors import SysawareError

SCHEMA_FILE = "results.schema.json"


class ResultsContractError(SysawareError, ValueError):
    """A results file that breaks the contract; the message names the file and the key."""


class Entry(NamedTuple):
    """Files matching ``pattern`` (relative to the results folder) are documents of ``kind``
    (an entry of the schema's ``$defs``); a complete run writes at least one where ``required``."""

    pattern: str
    kind: str
    required: bool = True


_RUN = (Entry("config.json", "run_record"),)
_FIT_STAGE = (
    Entry("fit/*/fit_results.json", "fit_results"),
    Entry("fit/*/scan.json", "scan"),
    Entry("fit/*/impacts/*.json", "impact"),
    Entry("fit/*/ranking.json", "ranking"),
    Entry("fit/*/pruning.json", "pruning"),
    Entry("comparison.json", "comparison"),
)

#: the contract's files of each analysis
CONTRACT: dict[str, tuple[Entry, ...]] = {
    "inferno_benchmark": (*_RUN, *_FIT_STAGE, Entry("paper_table.json", "paper_table")),
    # data_truth.json exists where the pseudo-data are generated (not with real NanoAOD inputs)
    "cms_ttbar_taujets": (*_RUN, *_FIT_STAGE, Entry("generated/data_truth.json", "data_truth", required=False),
                          Entry("fit/*/grid_fit.json", "grid_fit", required=False)),
    "refit": (*_RUN, *_FIT_STAGE),
    "higgsml_tes": (*_RUN, Entry("fit/*/fit_results.json", "higgsml_fit_results"),
                    Entry("comparison.json", "higgsml_comparison")),
}


def _load_schema_file(path: Path) -> Any:
    text = path.read_text()
    return yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)


def _retrieve(uri: str) -> Resource:
    """Schemas referred to by ``$ref`` (the config schema): files next to the results schema."""
    return Resource.from_contents(_load_schema_file(Path(url2pathname(urlparse(uri).path))),
                                  default_specification=DRAFT202012)


@cache
def _schema() -> dict[str, Any]:
    path = schema_path(SCHEMA_FILE)
    schema = _load_schema_file(path)
    schema["$id"] = path.resolve().as_uri()  # relative $ref's resolve to the files beside it
    return schema


def kinds() -> list[str]:
    """The document kinds the schema defines (its ``$defs`` entries)."""
    return sorted(_schema()["$defs"])


@cache
def _validator(kind: str) -> Draft202012Validator:
    schema = _schema()
    if kind not in schema["$defs"]:
        raise ValueError(f"unknown kind of results document {kind!r} (known: {kinds()})")
    return Draft202012Validator({"$ref": f"{schema['$id']}#/$defs/{kind}"},
                                registry=Registry(retrieve=_retrieve).with_resource(
                                    schema["$id"], Resource.from_contents(schema)))


def _key(path: Iterable[str | int]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "<top level>"


def _non_finite(obj: Any, path: tuple[str | int, ...] = ()) -> tuple[tuple[str | int, ...], float] | None:
    if isinstance(obj, float) and not math.isfinite(obj):
        return path, obj
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for k, v in items:
        bad = _non_finite(v, (*path, k))
        if bad is not None:
            return bad
    return None


def validate_document(doc: Any, kind: str, where: str = "document") -> None:
    """Check one parsed JSON document against the ``$defs`` entry ``kind``.

    Raises:
        ResultsContractError: naming ``where`` and the key at fault.
        ValueError: ``kind`` is not defined by the schema.
    """
    validator = _validator(kind)
    bad = _non_finite(doc)
    if bad is not None:
        raise ResultsContractError(f"{where}: {_key(bad[0])}: non-finite number {bad[1]} (the contract "
                                   "allows finite numbers only)")
    errors = list(validator.iter_errors(doc))
    # a key that fails inside allOf also counts as "unevaluated": report the failure itself
    specific = [e for e in errors if e.validator != "unevaluatedProperties"] or errors
    err = best_match(specific)
    if err is not None:
        more = f" (and {len(specific) - 1} more)" if len(specific) > 1 else ""
        raise ResultsContractError(f"{where} ({kind}): {_key(err.absolute_path)}: {err.message}{more}")


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def load_json(path: str | Path) -> Any:
    """A JSON file parsed strictly: ``NaN``, ``Infinity`` and ``-Infinity`` are errors naming the file."""
    try:
        return json.loads(Path(path).read_text(), parse_constant=_refuse_constant)
    except ValueError as err:
        raise ResultsContractError(f"{path}: not valid JSON: {err}") from err


def validate_file(path: str | Path, kind: str) -> None:
    """:func:`load_json` then :func:`validate_document` of one file."""
    validate_document(load_json(path), kind, str(path))


def analysis_of(folder: str | Path) -> str:
    """The analysis of a results folder, from its run record ``config.json``."""
    record = Path(folder) / "config.json"
    if not record.is_file():
        raise ResultsContractError(f"{folder}: no config.json (the run record); is this a results/<analysis> folder?")
    doc = load_json(record)
    try:
        return str(doc["config"]["analysis"])
    except (KeyError, TypeError) as err:
        raise ResultsContractError(f"{record}: config.analysis missing") from err


def validate_results(folder: str | Path, complete: bool = True) -> dict[str, str]:
    """Check every contract file of a results folder (``results/<analysis>``).

    Returns ``{relative path: kind}`` of the files checked.  With ``complete`` (a finished
    run), a required entry of :data:`CONTRACT` that matches no file is an error too.

    Raises:
        ResultsContractError: naming the file and the key (or the missing file pattern).
    """
    folder = Path(folder)
    analysis = analysis_of(folder)
    if analysis not in CONTRACT:
        raise ResultsContractError(f"{folder}: analysis {analysis!r} has no results contract (known: {sorted(CONTRACT)})")
    checked: dict[str, str] = {}
    for entry in CONTRACT[analysis]:
        paths = sorted(folder.glob(entry.pattern))
        if complete and entry.required and not paths:
            raise ResultsContractError(f"{folder}: no file {entry.pattern} ({entry.kind}) of the results contract")
        for path in paths:
            validate_file(path, entry.kind)
            checked[path.relative_to(folder).as_posix()] = entry.kind
    return checked
