"""The BCE-vs-INFERNO comparison of one analysis: POI widths, scans and impacts per method.

Reads the per-method fit results (``fit/<method>/fit_results.json``, the results
contract), scans and impact rankings, and writes what a reader compares: the half-width
(up - down) / 2 of the POI's 68% MINOS interval with all uncertainties, stat-only and
expected (Asimov), its ratio to BCE, and the post-fit impact of each systematic.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .io import save_figure


def half_width(minos: list[float]) -> float:
    """(up - down) / 2 of MINOS errors given as [down (negative), up]."""
    down, up = minos
    return 0.5 * (float(up) - float(down))


def comparison_table(
    analysis: str,
    fits: Mapping[str, Mapping[str, Any]],
    impacts: Mapping[str, Mapping[str, float]] | None = None,
    grid_fits: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """``comparison.json``: one row per method, BCE first when present.

    ``impacts[method][parameter]`` is the symmetrised post-fit impact on the POI.  ``grid_fits``:
    the fits of summaries that take a nuisance as an input, with templates and data rebuilt on a
    grid of it (``fit/<method>/grid_fit.json``), listed apart as ``grid_fits`` with their ratio to
    BCE's ordinary fit.
    """
    order = sorted(fits, key=lambda m: (m != "bce", m))
    rows = []
    for m in order:
        f = fits[m]
        rows.append(
            {
                "method": m,
                "poi_bestfit": float(f["bestfit"]),
                "poi_uncertainty": half_width(f["minos"]),
                "stat_only": half_width(f["stat_only_minos"]),
                "expected": half_width(f["asimov_minos"]),
                "warnings": list(f.get("warnings", [])),
            }
        )
    ref = next((r for r in rows if r["method"] == "bce"), None)
    for r in rows:
        for key in ("poi_uncertainty", "expected"):
            suffix = "" if key == "poi_uncertainty" else "_expected"
            r[f"ratio_to_bce{suffix}"] = r[key] / ref[key] if ref else None
    out: dict[str, Any] = {"analysis": analysis, "poi": next(iter(fits.values()))["poi"], "methods": rows}
    if grid_fits:
        grid_rows = []
        for m, f in sorted(grid_fits.items()):
            row = {"method": m, "nuisance": f["grid"]["nuisance"], "nodes": list(f["grid"]["nodes"]),
                   "poi_bestfit": float(f["bestfit"]), "poi_uncertainty": half_width(f["minos"]),
                   "stat_only": half_width(f["stat_only_minos"]), "expected": half_width(f["asimov_minos"]),
                   "warnings": list(f.get("warnings", []))}
            row["ratio_to_bce"] = row["poi_uncertainty"] / ref["poi_uncertainty"] if ref else None
            row["ratio_to_bce_expected"] = row["expected"] / ref["expected"] if ref else None
            grid_rows.append(row)
        out["grid_fits"] = grid_rows
    if impacts:
        params = sorted({p for imp in impacts.values() for p in imp})
        out["impacts"] = {p: {m: impacts[m].get(p) for m in order if m in impacts} for p in params}
    return out


def comparison_markdown(table: Mapping[str, Any]) -> str:
    """Markdown rendering of :func:`comparison_table`."""

    def num(x: float | None, fmt: str = ".4f") -> str:
        return "-" if x is None else format(x, fmt)

    poi = table["poi"]
    s = f"# {table['analysis']}: uncertainty on {poi} per method\n\n"
    s += f"Half-widths of the 68% MINOS interval of {poi}.\n\n"
    s += "| method | best fit | full | stat-only | expected (Asimov) | full / BCE | expected / BCE |\n"
    s += "|---|---|---|---|---|---|---|\n"
    for r in table["methods"]:
        s += (
            f"| {r['method']} | {num(r['poi_bestfit'])} | {num(r['poi_uncertainty'])} | {num(r['stat_only'])} | "
            f"{num(r['expected'])} | {num(r['ratio_to_bce'], '.3f')} | {num(r['ratio_to_bce_expected'], '.3f')} |\n"
        )
    if table.get("grid_fits"):
        s += ("\nSummaries that take a nuisance as an input, fitted with their templates and the data histogram "
              "rebuilt at each hypothesised value of it (the rows above evaluate them at its nominal value):\n\n")
        s += "| method | nuisance (nodes) | best fit | full | stat-only | expected (Asimov) | full / BCE | expected / BCE |\n"
        s += "|---|---|---|---|---|---|---|---|\n"
        for r in table["grid_fits"]:
            nodes = ", ".join(f"{z:g}" for z in r["nodes"])
            s += (f"| {r['method']} | {r['nuisance']} ({nodes}) | {num(r['poi_bestfit'])} | {num(r['poi_uncertainty'])} | "
                  f"{num(r['stat_only'])} | {num(r['expected'])} | {num(r['ratio_to_bce'], '.3f')} | "
                  f"{num(r['ratio_to_bce_expected'], '.3f')} |\n")
    warned = [r for r in table["methods"] + table.get("grid_fits", []) if r["warnings"]]
    for r in warned:
        s += f"\n{r['method']}: " + "; ".join(r["warnings"])
    if "impacts" in table:
        methods = [r["method"] for r in table["methods"]]
        s += f"\n\n## Post-fit impact on {poi} per systematic\n\n| systematic | " + " | ".join(methods) + " |\n"
        s += "|---" * (len(methods) + 1) + "|\n"
        for p, per in table["impacts"].items():
            s += f"| {p} | " + " | ".join(num(per.get(m)) for m in methods) + " |\n"
    return s


def plot_scans(scans: Mapping[str, Mapping[str, Any]], path: str) -> None:
    """Overlaid -2 delta ln L scans of the POI, one curve per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep

    plt.style.use(mplhep.style.ROOT)
    fig, ax = plt.subplots(figsize=(8, 6))
    for m in sorted(scans, key=lambda m: (m != "bce", m)):
        sc = scans[m]
        ax.plot(sc["values"], sc["delta_twice_nll"], label=m)
    ax.axhline(1.0, color="grey", ls="--", lw=1)
    ax.set_xlabel(next(iter(scans.values()))["poi"])
    ax.set_ylabel(r"$-2\,\Delta\ln L$")
    ax.set_ylim(0, 5)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
