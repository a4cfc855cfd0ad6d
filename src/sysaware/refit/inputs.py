"""The histograms of a refit, checked before anything is fitted, and the refit's workspace.

:func:`check_refit_histograms` reads, with uproot, every histogram one entry of ``refit.fits``
names (:func:`sysaware.refit.entries.histogram_refs`: the nominal of each sample and the data per
channel, the up and down variation of each shape systematic per sample and channel) and
raises :class:`RefitInputError`, naming the file, the object and, where it applies, the bin
and its value, for:

* a missing file, a file uproot cannot read, a missing object, an object that is not a 1D
  histogram, a histogram without bins;
* NaN or inf contents, NaN, inf or negative variances;
* bin counts or edges that differ, within a channel, from those of its first sample's nominal;
* negative data;
* a negative bin of a simulated histogram, nominal or variation (``negative_bins: error``, the
  default; with ``negative_bins: zero`` the bin is set to 0, its variance kept, with a WARNING);
* a variation without events whose nominal has some (its normalisation part would be 0);
* a sample whose nominal is zero in every bin of every channel (a signal: its POI could not
  be measured; a background: it adds nothing and is most likely a wrong histogram).

Bins are counted from 1, as ROOT's ``GetBinContent`` counts them, and shown with their edges.
:func:`refit_workspace` runs these checks, points cabinetry at corrected copies where bins
were set to 0 (``<folder>/corrected.root``, every correction in ``<folder>/corrections.json``)
and builds the workspace.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import uproot

from ..errors import InputError
from ..io import temporary_path, write_json
from ..stats.templates_io import weighted_hist
from .entries import HistogramRef, RefitConfigError, check_refit_entry, histogram_refs, refit_cabinetry_config

log = logging.getLogger(__name__)

NEGATIVE_BIN_POLICIES = ("error", "zero")
CORRECTED_FILE = "corrected.root"
CORRECTIONS_FILE = "corrections.json"
#: object names in the corrected copy: one layout for every naming convention of the inputs
CORRECTED_NOMINAL = "{channel}/{sample}/nominal"
CORRECTED_VARIATION = "{channel}/{sample}/syst_{systematic}_{direction}"
#: names listed when an object is missing from a file
SHOWN_KEYS = 12


class RefitInputError(InputError):
    """A histogram of a refit that cannot be fitted; the message names the file, object and bin."""


@dataclass(frozen=True)
class Histogram:
    """Contents, variances and bin edges of one 1D histogram (no under- or overflow)."""

    values: np.ndarray
    variances: np.ndarray
    edges: np.ndarray


def bin_text(edges: np.ndarray, i: int) -> str:
    """``bin 3 of 4 [2, 3)``: bin index ``i`` counted from 1 as ROOT counts bins, with its edges."""
    return f"bin {i + 1} of {len(edges) - 1} [{edges[i]:g}, {edges[i + 1]:g})"


def _bins(edges: np.ndarray, values: np.ndarray, bad: np.ndarray) -> str:
    return "; ".join(f"{bin_text(edges, int(i))}: {values[i]:g}" for i in np.flatnonzero(bad))


@contextmanager
def _open_files() -> Iterator[dict[str, Any]]:
    """A cache of open ROOT files (file name -> uproot directory), all closed at the end."""
    files: dict[str, Any] = {}
    try:
        yield files
    finally:
        for f in files.values():
            f.close()


def _neighbours(directory: Any, path: str) -> str:
    """What the directory of a missing object holds (the file's top level if that directory is missing too)."""
    parent = path.rpartition("/")[0]
    where, keys = "the file", None
    if parent:
        try:
            keys, where = directory[parent].keys(cycle=False), repr(parent)
        except Exception:  # no such directory, or not a directory
            keys = None
    if keys is None:
        keys = directory.keys(cycle=False)
    shown = ", ".join(keys[:SHOWN_KEYS]) + (f", ... ({len(keys)} in all)" if len(keys) > SHOWN_KEYS else "")
    return f"{where} holds: {shown or 'nothing'}"


def read_histogram(ref: HistogramRef, files: dict[str, Any]) -> Histogram:
    """The 1D histogram ``ref`` names, read with uproot (files opened once, kept in ``files``).

    Raises:
        RefitInputError: the file is missing or unreadable, the object is missing or is not a
            1D histogram, or it has no bins.
    """
    what = ref.describe()
    if ref.file not in files:
        if "://" not in ref.file and not os.path.isfile(ref.file):
            raise RefitInputError(f"{ref.file}: no such file (it should hold {ref.path!r}, {what})")
        try:
            files[ref.file] = uproot.open(ref.file)
        except Exception as err:  # uproot raises many types for a file that is not ROOT
            raise RefitInputError(f"{ref.file}: cannot be read as a ROOT file ({type(err).__name__}: {err})") from err
    directory = files[ref.file]
    try:
        obj = directory[ref.path]
    except uproot.KeyInFileError as err:
        raise RefitInputError(f"{ref.location}: no object {ref.path!r} in {ref.file} ({what}; "
                              f"{_neighbours(directory, ref.path)})") from err
    except Exception as err:
        raise RefitInputError(f"{ref.location}: cannot be read ({what}; {type(err).__name__}: {err})") from err
    if not isinstance(obj, uproot.behaviors.TH1.TH1):
        raise RefitInputError(f"{ref.location}: is a {getattr(obj, 'classname', type(obj).__name__)}, "
                              f"not a 1D histogram ({what})")
    values = np.asarray(obj.values(flow=False), dtype=float)
    if values.size == 0:
        raise RefitInputError(f"{ref.location}: the histogram has no bins ({what})")
    variances = obj.variances(flow=False)
    return Histogram(values, values.copy() if variances is None else np.asarray(variances, dtype=float),
                     np.asarray(obj.axis().edges(flow=False), dtype=float))


def _check_finite(ref: HistogramRef, h: Histogram) -> None:
    """Finite contents; finite, non-negative variances."""
    bad = ~np.isfinite(h.values)
    if bad.any():
        raise RefitInputError(f"{ref.location}: NaN or inf content in {_bins(h.edges, h.values, bad)} "
                              f"({ref.describe()})")
    bad = ~(np.isfinite(h.variances) & (h.variances >= 0))
    if bad.any():
        raise RefitInputError(f"{ref.location}: NaN, inf or negative variance in "
                              f"{_bins(h.edges, h.variances, bad)} ({ref.describe()})")


def _check_binning(ref: HistogramRef, h: Histogram, first: tuple[HistogramRef, Histogram]) -> None:
    """``h`` has the bins of ``first``, the first sample's nominal of its channel."""
    ref0, h0 = first
    if h.values.size != h0.values.size:
        raise RefitInputError(f"{ref.location}: {h.values.size} bins, but {ref0.location} ({ref0.describe()}) "
                              f"has {h0.values.size} ({ref.describe()})")
    span = float(h0.edges[-1] - h0.edges[0])
    differ = ~np.isclose(h.edges, h0.edges, rtol=1e-9, atol=1e-9 * span)
    if differ.any():
        i = int(np.flatnonzero(differ)[0])
        raise RefitInputError(f"{ref.location}: bin edge {i} is {h.edges[i]:g}, but {h0.edges[i]:g} in "
                              f"{ref0.location} ({ref0.describe()}); the bins of a channel must agree "
                              f"({ref.describe()})")


def _negative_bins(ref: HistogramRef, h: Histogram, policy: str, key: str,
                   corrections: list[dict[str, Any]]) -> Histogram:
    """``h``, or a copy with its negative bins set to 0 (``policy`` zero, each one logged and recorded)."""
    negative = h.values < 0
    if not negative.any():
        return h
    if ref.role == "data":
        raise RefitInputError(f"{ref.location}: negative data in {_bins(h.edges, h.values, negative)} "
                              f"({ref.describe()}); data are event counts")
    if policy == "error":
        raise RefitInputError(f"{ref.location}: negative prediction in {_bins(h.edges, h.values, negative)} "
                              f"({ref.describe()}); set {key}.negative_bins: zero to fit with such bins set to 0")
    for i in np.flatnonzero(negative):
        log.warning("%s: %s is %g (%s); set to 0 (%s.negative_bins: zero)", ref.location, bin_text(h.edges, int(i)),
                    h.values[i], ref.describe(), key)
        corrections.append({"histogram": ref.location, "what": ref.describe(), "bin": int(i) + 1,
                            "edges": [float(h.edges[i]), float(h.edges[i + 1])], "value": float(h.values[i])})
    return replace(h, values=np.where(negative, 0.0, h.values))


def _check_samples(fit: Mapping[str, Any], key: str, hists: Mapping[HistogramRef, Histogram]) -> None:
    """No sample is zero in every bin of every channel; no variation is empty where its nominal is not."""
    nominal = {(r.channel, r.sample): (r, h) for r, h in hists.items() if r.role == "nominal"}
    for r, h in hists.items():
        if r.role in ("up", "down") and not h.values.sum() > 0:
            r0, h0 = nominal[r.channel, r.sample]
            if h0.values.sum() > 0:
                raise RefitInputError(f"{r.location}: the variation has no events (sum {h.values.sum():g}) while "
                                      f"the nominal {r0.location} has {h0.values.sum():g} ({r.describe()})")
    poi_samples = next(nf["samples"] for nf in fit["normfactors"] if nf["name"] == fit["poi"])
    for i, s in enumerate(fit["samples"]):
        refs = [r for (_, sample), (r, _) in nominal.items() if sample == s["name"]]
        if any(np.any(hists[r].values != 0) for r in refs):
            continue
        where = ", ".join(r.location for r in refs)
        if s["name"] in poi_samples:
            why = f"it is scaled by the POI {fit['poi']!r}, which cannot be measured without it"
        else:
            why = "it adds nothing to the fit: remove it from the samples, or check its histograms"
        raise RefitInputError(f"{key}.samples[{i}] ({s['name']}): the nominal is zero in every bin of every "
                              f"channel ({where}); {why}")


def check_refit_histograms(
    fit: Mapping[str, Any], key: str = "refit", symmetrize: Sequence[str] = ()
) -> tuple[dict[HistogramRef, Histogram], list[dict[str, Any]]]:
    """Every histogram of one refit entry, read and checked (see the module docstring), in the order
    of :func:`~sysaware.refit.entries.histogram_refs`, with the negative bins of simulated histograms set to 0
    under ``negative_bins: zero``; and the list of those corrections (histogram, bin, edges, value).

    ``key`` names the entry in messages (``refit.fits.<name>``); ``symmetrize`` (``fit.symmetrize``)
    lists systematics whose down variation is not read.  Raises :class:`RefitInputError`.
    """
    check_refit_entry(fit, key)
    policy = fit.get("negative_bins", "error")
    if policy not in NEGATIVE_BIN_POLICIES:
        raise RefitConfigError(f"{key}.negative_bins: {policy!r} is not one of {list(NEGATIVE_BIN_POLICIES)}")
    hists: dict[HistogramRef, Histogram] = {}
    first: dict[str, tuple[HistogramRef, Histogram]] = {}
    corrections: list[dict[str, Any]] = []
    with _open_files() as files:
        for ref in histogram_refs(fit, symmetrize):
            h = read_histogram(ref, files)
            _check_finite(ref, h)
            first.setdefault(ref.channel, (ref, h))
            _check_binning(ref, h, first[ref.channel])
            hists[ref] = _negative_bins(ref, h, policy, key, corrections)
    _check_samples(fit, key, hists)
    return hists, corrections


def write_corrected_inputs(
    fit: Mapping[str, Any], hists: Mapping[HistogramRef, Histogram], folder: str | os.PathLike[str],
    symmetrize: Sequence[str] = (),
) -> dict[str, Any]:
    """Write every histogram of ``hists`` to ``folder/corrected.root``; the entry that reads them from there.

    The copy names its objects ``<channel>/<sample>/nominal`` and
    ``<channel>/<sample>/syst_<systematic>_<direction>`` whatever the inputs' convention;
    the returned entry's ``nominal`` and ``variation`` patterns say so.
    """
    path = Path(folder) / CORRECTED_FILE
    entry = {**fit, "nominal": f"{path}:{CORRECTED_NOMINAL}", "variation": f"{path}:{CORRECTED_VARIATION}"}
    targets = histogram_refs(entry, symmetrize)
    with temporary_path(path) as tmp, uproot.recreate(tmp) as out:
        for h, target in zip(hists.values(), targets, strict=True):
            out[target.path] = weighted_hist(h.edges, h.values, h.variances)
    return entry


def refit_workspace(
    fit: Mapping[str, Any], name: str, folder: str | os.PathLike[str], options: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Workspace and pruning report of the entry ``name`` of ``refit.fits``, its histograms checked first.

    ``folder`` (``fit/<name>/inputs``) receives, besides what
    :func:`~sysaware.stats.workspace_build.workspace_from_cabinetry_config` writes there,
    ``corrections.json`` (the bins ``negative_bins: zero`` set to 0) and, when there were
    any, ``corrected.root``, the copy of the histograms that cabinetry then reads.
    """
    options = options or {}
    key = f"refit.fits.{name}"
    symmetrize = list(options.get("symmetrize", []))
    hists, corrections = check_refit_histograms(fit, key, symmetrize)
    from ..stats.workspace_build import workspace_from_cabinetry_config  # cabinetry, pyhf: once the inputs are good
    folder = Path(folder)
    entry = dict(fit)
    if corrections:
        entry = write_corrected_inputs(fit, hists, folder, symmetrize)
        log.warning("%s: %d negative bin(s) set to 0; the fit reads %s", key, len(corrections), folder / CORRECTED_FILE)
    else:
        (folder / CORRECTED_FILE).unlink(missing_ok=True)
    write_json(folder / CORRECTIONS_FILE, {"negative_bins": fit.get("negative_bins", "error"),
                                           "corrected": corrections,
                                           "histograms": str(folder / CORRECTED_FILE) if corrections else None})
    config = refit_cabinetry_config(entry, str(folder / "histograms"), key)
    return workspace_from_cabinetry_config(config, folder, options)
