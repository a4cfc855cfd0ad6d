"""Config loading outside Snakemake: safe YAML and the workflow's JSON schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .config_checks import ConfigError, check_config

__all__ = ["SCHEMA", "ConfigError", "load_config"]

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


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
        raise ConfigError(f"config file {path}: {err}") from err
    try:
        check_config(cfg)
    except ConfigError as err:
        raise ConfigError(f"config file {path}: {err}") from err
    return cfg
