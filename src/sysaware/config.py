"""Config loading outside Snakemake: safe YAML and the config's JSON schema.

The schemas ship inside the package (``sysaware/schemas/``, package data) and are found with
:mod:`importlib.resources`, the same way from a source checkout, an editable install and a
wheel.  The Snakefile validates against the very file :data:`SCHEMA` names.
"""

from __future__ import annotations

import atexit
import contextlib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .config_checks import ConfigError, check_config

__all__ = ["SCHEMA", "ConfigError", "load_config", "prepare_config", "schema_path"]

_FILES = contextlib.ExitStack()
atexit.register(_FILES.close)


@cache
def schema_path(name: str = "config.schema.yaml") -> Path:
    """File system path of the schema ``name`` shipped in ``sysaware/schemas/``.

    A package imported from a zip archive gets a temporary copy, removed at exit.
    """
    res = resources.files("sysaware").joinpath("schemas", name)
    if not res.is_file():
        raise FileNotFoundError(f"schema {name!r} is not among the package's schemas (sysaware/schemas/)")
    return _FILES.enter_context(resources.as_file(res))


#: the JSON schema of the analysis config (YAML), which the Snakefile validates against too
SCHEMA = schema_path()


def _schema_message(err: Exception) -> str:
    """``key.path: reason`` of the schema violation behind Snakemake's ``WorkflowError`` (whose own
    text embeds the whole violated sub-schema, the entire schema for an unknown top-level key)."""
    from jsonschema import ValidationError

    cause = err.__cause__ or err.__context__
    if not isinstance(cause, ValidationError):
        return str(err)
    key = ".".join(str(p) for p in cause.absolute_path)
    return f"{key}: {cause.message}" if key else cause.message


def prepare_config(cfg: dict[str, Any], schema: str | Path = SCHEMA) -> dict[str, Any]:
    """Check and complete ``cfg`` in place, as the Snakefile and :func:`load_config` do; returns it.

    1. the configured analysis reads every section given (:attr:`~sysaware.analyses.Analysis.sections`):
       another analysis's section is an error naming it;
    2. the schema (defaults filled in);
    3. every method given under ``methods`` is one the analysis can train (its data provide what
       the method needs, :mod:`sysaware.train.methods`);
    4. only the analysis's own sections and methods are kept (no other's defaults);
    5. the cross-references (:func:`sysaware.config_checks.check_config`).

    Raises:
        ConfigError: naming the key at fault.
    """
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    from .analyses import ANALYSES, COMMON_SECTIONS

    name = cfg.get("analysis")
    if name not in ANALYSES:
        raise ConfigError(f"analysis: {name!r} not in {sorted(ANALYSES)}")
    entry = ANALYSES[name]
    reads = set(COMMON_SECTIONS) | set(entry.sections)
    with open(schema) as fh:
        known = set(yaml.safe_load(fh)["properties"])
    for key in cfg:
        if key in known and key not in reads:
            raise ConfigError(f"{key}: analysis {name} does not read this section (it reads "
                              f"{', '.join(k for k in known if k in reads)})")
    given_methods = list(cfg.get("methods") or {})
    try:
        validate(cfg, schema=str(schema), set_default=True)
    except WorkflowError as err:
        raise ConfigError(_schema_message(err)) from err
    if "methods" in reads:
        can = entry.training_methods(cfg)
        for method in given_methods:
            if method not in can:
                raise ConfigError(f"methods.{method}: analysis {name} cannot train {method} "
                                  f"(its data do not give what it needs; it trains {can})")
        cfg["methods"] = {m: v for m, v in cfg["methods"].items() if m in can}
    for key in [k for k in cfg if k not in reads]:
        del cfg[key]
    check_config(cfg)
    return cfg


def load_config(path: str | Path, schema: str | Path = SCHEMA) -> dict[str, Any]:
    """Read a config YAML with ``yaml.safe_load`` and :func:`prepare_config` it; errors name the file."""
    try:
        with open(path) as fh:
            cfg = yaml.safe_load(fh)
    except FileNotFoundError as err:
        raise ConfigError(f"config file {path} not found") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {err}") from err
    if cfg is None:
        raise ConfigError(f"config file {path} is empty (it needs at least the keys analysis and seed)")
    if not isinstance(cfg, dict):
        raise ConfigError(f"config file {path}: top level must be a mapping of keys, not a {type(cfg).__name__}")
    try:
        return prepare_config(cfg, schema)
    except ConfigError as err:
        raise ConfigError(f"config file {path}: {err}") from err
