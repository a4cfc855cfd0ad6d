"""Config loading outside Snakemake: safe YAML and the workflow's JSON schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """Config file that does not satisfy the schema; the message names the key."""


def load_config(path: str | Path, schema: str | Path = SCHEMA) -> dict[str, Any]:
    """Read a config YAML with ``yaml.safe_load`` and validate it (filling defaults)."""
    from snakemake.utils import validate
    from snakemake.exceptions import WorkflowError

    try:
        with open(path) as fh:
            cfg = yaml.safe_load(fh)
    except FileNotFoundError as err:
        raise ConfigError(f"config file {path} not found") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {err}") from err
    if not isinstance(cfg, dict):
        raise ConfigError(f"config file {path}: top level must be a mapping")
    try:
        validate(cfg, schema=str(schema), set_default=True)
    except WorkflowError as err:
        raise ConfigError(f"config file {path}: {err}") from err
    return cfg
