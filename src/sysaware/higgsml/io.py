"""Readers for the HiggsML H->tau tau data sets.

Two formats are supported:

* the ATLAS 2014 HiggsML challenge CSV (CERN Open Data record 328), columns ``EventId``,
  ``DER_*``, ``PRI_*``, ``Weight``, ``Label`` (``s``/``b``), ``KaggleSet``, ``KaggleWeight``;
  ``-999.0`` marks an undefined value (:data:`ATLAS_UNDEFINED`).  Plain or gzip-compressed
  (detected from the content, not the suffix), local path or URL (anything pandas can open).
* the FAIR-Universe HiggsML uncertainty-challenge parquet, columns ``PRI_*``, ``DER_*``,
  ``weights``, ``labels`` (0/1), ``detailed_labels`` (``htautau``, ``ztautau``, ``ttbar``,
  ``diboson``); ``-25`` marks an undefined value (:data:`FAIR_UNDEFINED`).  The tau is called
  ``had`` there (``PRI_had_pt``, ``DER_deltar_had_lep``...) and the jet multiplicity
  ``PRI_n_jets``; the native names are kept.  The file has no event id: the row number is used.

Undefined values
----------------
Both sentinels are replaced by :data:`UNDEFINED` (``NaN``) in the returned feature arrays, so
downstream code can never use -999 or -25 as a number by accident; ``events.undefined[name]``
(or :meth:`HiggsMLEvents.undefined_mask`) is the boolean mask of the entries that were
undefined in the file.  A genuine NaN or infinity in the file (not the sentinel) is an error
naming the file, the column and the count, unless the reader is given
``nonfinite_features="keep"``: the value then stays in the feature array, not marked undefined,
for the caller to drop the row (:func:`sysaware.higgsml.dataset.drop_nonfinite`).

Bad input (missing file, a directory, an unreadable file, missing required column, non-numeric
or non-finite weight / label / id / feature, label other than s/b or 0/1) raises
:class:`HiggsMLInputError`, whose message names the file and the column (and, for labels and
non-numeric columns, the values found).  Weights and features that cannot make a yield or
inform a network are checked per sample by :func:`sysaware.higgsml.dataset.prepare`.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Mapping
from typing import Literal
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError

UNDEFINED = np.nan
"""What an undefined feature value becomes in the returned arrays."""
ATLAS_UNDEFINED = -999.0
"""Sentinel for an undefined value in the ATLAS 2014 CSV."""
FAIR_UNDEFINED = -25.0
"""Sentinel for an undefined value in the FAIR-Universe parquet."""

ATLAS_FEATURES: tuple[str, ...] = (
    "DER_mass_MMC", "DER_mass_transverse_met_lep", "DER_mass_vis", "DER_pt_h",
    "DER_deltaeta_jet_jet", "DER_mass_jet_jet", "DER_prodeta_jet_jet", "DER_deltar_tau_lep",
    "DER_pt_tot", "DER_sum_pt", "DER_pt_ratio_lep_tau", "DER_met_phi_centrality",
    "DER_lep_eta_centrality", "PRI_tau_pt", "PRI_tau_eta", "PRI_tau_phi", "PRI_lep_pt",
    "PRI_lep_eta", "PRI_lep_phi", "PRI_met", "PRI_met_phi", "PRI_met_sumet", "PRI_jet_num",
    "PRI_jet_leading_pt", "PRI_jet_leading_eta", "PRI_jet_leading_phi", "PRI_jet_subleading_pt",
    "PRI_jet_subleading_eta", "PRI_jet_subleading_phi", "PRI_jet_all_pt",
)
"""The 30 features of the ATLAS 2014 CSV, in file order."""

FAIR_FEATURES: tuple[str, ...] = (
    "PRI_lep_pt", "PRI_lep_eta", "PRI_lep_phi", "PRI_had_pt", "PRI_had_eta", "PRI_had_phi",
    "PRI_jet_leading_pt", "PRI_jet_leading_eta", "PRI_jet_leading_phi", "PRI_jet_subleading_pt",
    "PRI_jet_subleading_eta", "PRI_jet_subleading_phi", "PRI_n_jets", "PRI_jet_all_pt", "PRI_met",
    "PRI_met_phi", "DER_mass_transverse_met_lep", "DER_mass_vis", "DER_pt_h",
    "DER_deltaeta_jet_jet", "DER_mass_jet_jet", "DER_prodeta_jet_jet", "DER_deltar_had_lep",
    "DER_pt_tot", "DER_sum_pt", "DER_pt_ratio_lep_had", "DER_met_phi_centrality",
    "DER_lep_eta_centrality",
)
"""The 28 features of the FAIR-Universe parquet, in file order."""


NonFinite = Literal["error", "keep"]
"""What a reader does with a NaN/inf feature value: raise, or keep it (not marked undefined)."""


class HiggsMLInputError(InputError):
    """A HiggsML input file is missing, lacks a column or holds an invalid value."""


@dataclass(frozen=True)
class HiggsMLEvents:
    """Events of a HiggsML file as numpy arrays (one entry per event, same order as the file).

    ``features`` maps every ``PRI_*``/``DER_*`` name to a float64 array, NaN where undefined;
    ``undefined`` maps the same names to the boolean mask of the undefined entries.
    ``label`` is 1 for signal, 0 for background; ``detailed_label`` is the process name
    (FAIR-Universe) or None (ATLAS CSV).  ``extra`` holds other per-event columns
    (``KaggleSet``, ``KaggleWeight`` of the ATLAS CSV).  ``row`` is each event's 0-based data
    row in the file (None: its position), ``weight_column`` the file's name of the weights and
    ``undefined_value`` its sentinel of an undefined entry (for messages).
    """

    features: dict[str, np.ndarray]
    weight: np.ndarray
    label: np.ndarray
    event_id: np.ndarray
    source: str
    detailed_label: np.ndarray | None = None
    undefined: dict[str, np.ndarray] = field(default_factory=dict)
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    row: np.ndarray | None = None
    weight_column: str = "Weight"
    undefined_value: float = ATLAS_UNDEFINED

    @property
    def n_events(self) -> int:
        return int(self.weight.shape[0])

    def __len__(self) -> int:
        return self.n_events

    @property
    def feature_names(self) -> list[str]:
        return list(self.features)

    @property
    def rows(self) -> np.ndarray:
        """0-based data row of every event in the file."""
        return np.arange(self.n_events) if self.row is None else self.row

    def undefined_mask(self, name: str) -> np.ndarray:
        """Boolean mask of the events where feature ``name`` is undefined (NaN)."""
        if name in self.undefined:
            return self.undefined[name]
        return np.isnan(self.features[name])

    def select(self, mask: np.ndarray) -> HiggsMLEvents:
        """The events where ``mask`` (boolean, one per event, or an index array) is set."""
        mask = np.asarray(mask)

        def take(d: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
            return {k: v[mask] for k, v in d.items()}

        return HiggsMLEvents(
            features=take(self.features), weight=self.weight[mask], label=self.label[mask],
            event_id=self.event_id[mask], source=self.source,
            detailed_label=None if self.detailed_label is None else self.detailed_label[mask],
            undefined=take(self.undefined), extra=take(self.extra), row=self.rows[mask],
            weight_column=self.weight_column, undefined_value=self.undefined_value,
        )

    def with_features(self, features: Mapping[str, np.ndarray], kept: np.ndarray | None = None) -> HiggsMLEvents:
        """These events restricted to ``kept`` (if given), with ``features`` replacing the features."""
        base = self if kept is None else self.select(kept)
        feats = {k: np.asarray(v, dtype=np.float64) for k, v in features.items()}
        return HiggsMLEvents(
            features=feats, weight=base.weight, label=base.label, event_id=base.event_id,
            source=base.source, detailed_label=base.detailed_label,
            undefined={k: np.isnan(v) for k, v in feats.items()}, extra=base.extra, row=base.row,
            weight_column=base.weight_column, undefined_value=base.undefined_value,
        )


def _is_url(path: str | os.PathLike[str]) -> bool:
    return "://" in str(path)


def _check_exists(path: str | os.PathLike[str]) -> None:
    if _is_url(path):
        return
    if Path(path).is_dir():
        raise HiggsMLInputError(f"{path}: is a directory, not a file (higgsml.input names one CSV or parquet file)")
    if not Path(path).is_file():
        raise HiggsMLInputError(f"{path}: file not found")


def _values_found(values, limit: int = 5) -> str:
    """``'b' (664), 's' (336)``: the distinct values (repr) and their counts, most frequent first."""
    import pandas as pd

    plain = [v.item() if isinstance(v, np.generic) else v for v in values]  # 2.0, not np.float32(2.0)
    counts = pd.Series(plain, dtype=object).value_counts(dropna=False)
    ranked = sorted(counts.items(), key=lambda vk: (-int(vk[1]), repr(vk[0])))
    shown = ", ".join(f"{v!r} ({int(k)})" for v, k in ranked[:limit])
    more = len(ranked) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def _numeric(df, column: str, path) -> np.ndarray:
    """Column ``column`` as float64; a value that is not a number is an error naming it (and NaN/inf too)."""
    import pandas as pd

    col = df[column]
    if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        return _finite(col.to_numpy(dtype=np.float64), path, column)
    num = pd.to_numeric(col, errors="coerce")
    lost = (num.isna() & col.notna()).to_numpy()
    if lost.any():
        raise HiggsMLInputError(
            f"{path}: column {column} is not numeric ({int(lost.sum())} value(s) that are not numbers: "
            f"{_values_found(col[lost])}; first at data row {int(np.flatnonzero(lost)[0])})"
        )
    return _finite(num.to_numpy(dtype=np.float64), path, column)


def _require(columns, required, path) -> None:
    missing = [c for c in required if c not in columns]
    if missing:
        raise HiggsMLInputError(f"{path}: missing required column(s) {', '.join(missing)}")


def _nonfinite_note(arr: np.ndarray, column: str) -> str:
    """``column C has n non-finite value(s) (first at data row i: v)``, or '' if all are finite."""
    bad = ~np.isfinite(arr)
    if not bad.any():
        return ""
    i = int(np.flatnonzero(bad)[0])
    return f"column {column} has {int(bad.sum())} non-finite value(s) (first at data row {i}: {arr[i]})"


def _finite(values: np.ndarray, path, column: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    note = _nonfinite_note(arr, column)
    if note:
        raise HiggsMLInputError(f"{path}: {note}")
    return arr


def _features(
    df, names, sentinel: float, path, nonfinite: NonFinite = "error"
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    if nonfinite not in ("error", "keep"):
        raise ValueError(f"nonfinite_features {nonfinite!r} not in ['error', 'keep']")
    feats: dict[str, np.ndarray] = {}
    undef: dict[str, np.ndarray] = {}
    notes: list[str] = []
    bad_rows = np.zeros(len(df), dtype=bool)
    for name in names:
        try:
            raw = df[name].to_numpy(dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise HiggsMLInputError(f"{path}: column {name} is not numeric ({exc})") from exc
        if nonfinite == "error" and (note := _nonfinite_note(raw, name)):
            notes.append(note)
            bad_rows |= ~np.isfinite(raw)
        mask = raw == sentinel
        arr = raw.copy()
        arr[mask] = UNDEFINED
        feats[name] = arr
        undef[name] = mask
    if notes:
        raise HiggsMLInputError(
            f"{path}: {int(bad_rows.sum())} row(s) with NaN or inf features: {', '.join(notes)}; "
            "higgsml.nan_policy 'drop' removes such rows, counted and logged"
        )
    return feats, undef


def _compression(path) -> str | None:
    if _is_url(path):
        return "infer"
    with open(path, "rb") as fh:
        return "gzip" if fh.read(2) == b"\x1f\x8b" else None


def read_higgsml_csv(
    path_or_url: str | os.PathLike[str], *, nonfinite_features: NonFinite = "error"
) -> HiggsMLEvents:
    """Read the ATLAS 2014 HiggsML CSV (plain or gzip, path or URL).

    Returns the 30 features (-999.0 -> NaN, see the module docstring), ``weight`` (column
    ``Weight``), ``label`` (``s`` -> 1, ``b`` -> 0), ``event_id`` (``EventId``), and, when
    present, ``KaggleSet`` / ``KaggleWeight`` in ``extra``.  ``detailed_label`` is None.
    ``nonfinite_features``: see the module docstring (weights, labels and ids must be finite).
    """
    import pandas as pd

    _check_exists(path_or_url)
    try:
        df = pd.read_csv(path_or_url, compression=_compression(path_or_url), low_memory=False)
    except (OSError, ValueError, EOFError, zlib.error, pd.errors.ParserError) as exc:  # EOFError: truncated gzip
        raise HiggsMLInputError(f"{path_or_url}: cannot read as CSV ({type(exc).__name__}: {exc})") from exc
    _require(df.columns, ("EventId", *ATLAS_FEATURES, "Weight", "Label"), path_or_url)
    feats, undef = _features(df, ATLAS_FEATURES, ATLAS_UNDEFINED, path_or_url, nonfinite_features)
    weight = _numeric(df, "Weight", path_or_url)
    event_id = _numeric(df, "EventId", path_or_url)
    lab = df["Label"].astype(str).str.strip().to_numpy()
    ok = (lab == "s") | (lab == "b")
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise HiggsMLInputError(f"{path_or_url}: column Label must be 's' or 'b' (values found: "
                                f"{_values_found(lab[~ok])}; first at data row {i})")
    extra: dict[str, np.ndarray] = {}
    if "KaggleSet" in df.columns:
        extra["KaggleSet"] = df["KaggleSet"].astype(str).to_numpy()
    if "KaggleWeight" in df.columns:
        extra["KaggleWeight"] = pd.to_numeric(df["KaggleWeight"], errors="coerce").to_numpy(dtype=np.float64)
    return HiggsMLEvents(
        features=feats, weight=weight, label=(lab == "s").astype(np.int8),
        event_id=event_id.astype(np.int64), source=str(path_or_url), detailed_label=None,
        undefined=undef, extra=extra, row=np.arange(len(df)), weight_column="Weight",
        undefined_value=ATLAS_UNDEFINED,
    )


def read_fair_universe_parquet(
    path: str | os.PathLike[str], *, nonfinite_features: NonFinite = "error"
) -> HiggsMLEvents:
    """Read a FAIR-Universe HiggsML parquet file.

    Returns every ``PRI_*``/``DER_*`` column present (-25 -> NaN; at least
    :data:`FAIR_FEATURES` are required), ``weight`` (``weights``), ``label`` (``labels``, 0/1),
    ``detailed_label`` (``detailed_labels``, str, when present) and ``event_id`` (the row
    number: the format has no id column).  ``nonfinite_features``: see the module docstring.
    """
    import pandas as pd

    _check_exists(path)
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types
        raise HiggsMLInputError(f"{path}: cannot read as parquet ({exc})") from exc
    _require(df.columns, (*FAIR_FEATURES, "weights", "labels"), path)
    names = [c for c in df.columns if c.startswith(("PRI_", "DER_"))]
    feats, undef = _features(df, names, FAIR_UNDEFINED, path, nonfinite_features)
    weight = _numeric(df, "weights", path)
    raw = df["labels"]
    numeric = pd.api.types.is_numeric_dtype(raw) or pd.api.types.is_bool_dtype(raw)
    labels = _finite(raw.to_numpy(dtype=np.float64), path, "labels") if numeric else None
    ok = np.isin(labels, (0.0, 1.0)) if labels is not None else np.zeros(len(raw), dtype=bool)
    if not ok.all():  # e.g. the ATLAS CSV's 's'/'b' strings
        raise HiggsMLInputError(
            f"{path}: column labels must be 0 or 1 (1 signal, 0 background; values found: "
            f"{_values_found(raw[~ok])}; first at data row {int(np.flatnonzero(~ok)[0])})"
        )
    detailed = None
    if "detailed_labels" in df.columns:
        detailed = df["detailed_labels"].astype(str).to_numpy()
    return HiggsMLEvents(
        features=feats, weight=weight, label=labels.astype(np.int8),
        event_id=np.arange(len(df), dtype=np.int64), source=str(path),
        detailed_label=detailed, undefined=undef, row=np.arange(len(df)), weight_column="weights",
        undefined_value=FAIR_UNDEFINED,
    )
