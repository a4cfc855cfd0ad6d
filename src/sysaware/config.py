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

__all__ = ["SCHEMA", "ConfigError", "load_config", "schema_path"]

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


def load_config(path: str | Path, schema: str | Path = SCHEMA) -> dict[str, Any]:
    """Read a config YAML with ``yaml.safe_load``, validate it (filling defaults) and check its
    cross-references (:func:`sysaware.config_checks.check_config`)."""
    from snakemake.utils import validate
    from snakemake.exceptions import WorkflowError

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
        validate(cfg, schema=str(schema), set_default=True)
    except WorkflowError as err:
        raise ConfigError(f"config file {path}: {_schema_message(err)}") from err
    try:
        check_config(cfg)
    except ConfigError as err:
        raise ConfigError(f"config file {path}: {err}") from err
    return cfg
