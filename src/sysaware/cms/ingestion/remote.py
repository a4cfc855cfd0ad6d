"""Remote NanoAOD inputs (``root://``, ``https://``): read directly, or staged by Snakemake first.

``cms.remote_inputs`` chooses:

* ``direct`` (default): the ingestion job opens the URLs itself with uproot (HTTP through
  fsspec/aiohttp, XRootD through fsspec-xrootd); Snakemake tracks only the local files.
* ``stage``: the rule's input function wraps every URL in Snakemake's storage support
  (``storage.http(url)`` for ``http(s)://``, ``storage.xrootd(url)`` for ``root://``), so
  Snakemake downloads each file before the job (under ``.snakemake/storage/``), checks that it
  exists before the run starts, and the job reads the local copies (``--files`` of
  ``scripts/cms_ingest.py``, in the order of the config's list).  It needs the storage plugin of
  each scheme: ``snakemake-storage-plugin-http`` and, for ``root://``,
  ``snakemake-storage-plugin-xrootd`` with the XRootD Python bindings (PyPI ``xrootd``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

from ...errors import SysawareError

__all__ = [
    "REMOTE_INPUTS",
    "STAGING_PROVIDERS",
    "RemoteInputError",
    "is_remote",
    "job_files",
    "rule_inputs",
    "staging_provider",
]

#: Values of ``cms.remote_inputs``.
REMOTE_INPUTS: tuple[str, ...] = ("direct", "stage")

#: URL scheme -> Snakemake storage provider that stages it.
STAGING_PROVIDERS: dict[str, str] = {"http": "http", "https": "http", "root": "xrootd", "xroot": "xrootd"}

#: Storage provider -> (pip package of the plugin, modules it needs).
_PLUGINS: dict[str, tuple[str, tuple[str, ...]]] = {
    "http": ("snakemake-storage-plugin-http", ("snakemake_storage_plugin_http",)),
    "xrootd": ("snakemake-storage-plugin-xrootd", ("snakemake_storage_plugin_xrootd", "XRootD")),
}


class RemoteInputError(SysawareError, ValueError):
    """A remote input cannot be staged as asked; the message says what to install or change."""


def is_remote(path: str) -> bool:
    """Whether ``path`` is a URL (``scheme://...``) rather than a local file."""
    return "://" in str(path)


def _missing_modules(modules: Sequence[str]) -> list[str]:
    missing = []
    for m in modules:
        try:
            if importlib.util.find_spec(m) is None:
                missing.append(m)
        except (ImportError, ValueError):  # a broken install counts as missing
            missing.append(m)
    return missing


def staging_provider(url: str) -> str:
    """The Snakemake storage provider (``http`` or ``xrootd``) that stages ``url``.

    :class:`RemoteInputError` for a scheme no plugin stages, or when the plugin (or the XRootD
    bindings it needs) is not installed, naming the package to install and the alternative.
    """
    scheme = urlparse(str(url)).scheme.lower()
    provider = STAGING_PROVIDERS.get(scheme)
    if provider is None:
        raise RemoteInputError(
            f"cms.remote_inputs 'stage': no Snakemake storage plugin stages {scheme}:// URLs ({url}); "
            f"known schemes: {', '.join(s + '://' for s in STAGING_PROVIDERS)}"
        )
    package, modules = _PLUGINS[provider]
    missing = _missing_modules(modules)
    if missing:
        extra = " with the XRootD Python bindings (pip package xrootd)" if provider == "xrootd" else ""
        raise RemoteInputError(
            f"cms.remote_inputs 'stage': staging {url} needs the Snakemake storage plugin {package}{extra}, "
            f"which is not installed here (no module {', '.join(missing)}): pip install {package}; "
            "or set cms.remote_inputs: direct to let the ingestion job read the URL with uproot"
        )
    return provider


def rule_inputs(files: Sequence[str], mode: str = "direct") -> list[tuple[str | None, str]]:
    """``(storage provider or None, path)`` of every file Snakemake should track for a sample.

    ``direct``: the local files only (URLs are read by the job); ``stage``: every file, the URLs
    with the provider that fetches them.
    """
    if mode not in REMOTE_INPUTS:
        raise RemoteInputError(f"cms.remote_inputs {mode!r} not in {list(REMOTE_INPUTS)}")
    if mode == "direct":
        return [(None, f) for f in files if not is_remote(f)]
    return [(staging_provider(f) if is_remote(f) else None, f) for f in files]


def job_files(sample: Mapping[str, Any], mode: str, staged: Sequence[str] | None) -> list[str] | None:
    """Files the ingestion job reads for a config sample: the staged local copies, or ``None``.

    ``None`` (read the config's ``files``/the generator's file) unless ``mode`` is ``stage`` and
    the sample lists ``files``; then ``staged`` (the rule's input, in the config's order) replaces
    them, one for one.
    """
    if mode != "stage" or "files" not in sample:
        return None
    files = list(sample["files"])
    if staged is None or len(staged) != len(files):
        raise RemoteInputError(
            f"sample {sample['name']!r}: cms.remote_inputs 'stage' needs the local copy of each of its "
            f"{len(files)} file(s) (--files, the rule's input), got {0 if staged is None else len(staged)}"
        )
    return [str(s) for s in staged]
