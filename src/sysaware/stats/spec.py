"""One statistical-model description, shared by the INFERNO loss and the final fit.

A :class:`ModelSpec` says *which* samples and modifiers exist (built from the
``model`` block of an analysis config); a :class:`Templates` object carries the
histograms that fill it (soft histograms from a network during training, ``hist``
counts at fit time).  :mod:`sysaware.stats.torch_model` turns the pair into a
differentiable Asimov likelihood, :mod:`sysaware.stats.pyhf_export` into the
equivalent pyhf workspace and cabinetry config.

Modifier types follow HistFactory as pyhf implements it:

``normfactor``
    free multiplicative factor (the POI is one), with init and bounds.
``normsys``
    multiplicative factor with lo/hi values at alpha = -1/+1, N(0, 1) constraint.
``histosys``
    additive per-bin shape variation from up/down templates, N(0, 1) constraint.
``normplusshape``
    cabinetry's template systematic: the template's norm effect becomes a
    ``normsys`` and its normalised shape a ``histosys``, both driven by one alpha.
``staterror``
    per-bin gamma shared by the samples that set ``staterror: true``
    (Barlow-Beeston lite, Gaussian constraint of width sqrt(sum w^2)/sum w).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..errors import SysawareError

MODIFIER_TYPES = ("normfactor", "normsys", "histosys", "normplusshape")
NORMSYS_CODES = ("code1", "code4")  # what pyhf accepts for normsys
HISTOSYS_CODES = ("code0", "code4p")

A = TypeVar("A")  # array type: numpy.ndarray or torch.Tensor


class ModelSpecError(SysawareError, ValueError):
    """A model description that cannot be built; the message names the key."""


@dataclass(frozen=True)
class SampleSpec:
    """A physics process contributing to the channel."""

    name: str
    staterror: bool = False


@dataclass(frozen=True)
class ModifierSpec:
    """One modifier (one nuisance or normalisation parameter) and the samples it acts on.

    ``lohi`` holds, for ``normsys``, the (lo, hi) factor per sample; for template
    systematics it is empty, the variations come from :class:`Templates`.
    """

    name: str
    type: str
    samples: tuple[str, ...]
    lohi: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    init: float | None = None
    bounds: tuple[float, float] | None = None
    fixed: bool = False
    constrained: bool = True


@dataclass(frozen=True)
class ModelSpec:
    """Samples, modifiers and interpolation codes of a one-channel HistFactory model."""

    channel: str
    poi: str
    samples: tuple[SampleSpec, ...]
    modifiers: tuple[ModifierSpec, ...]
    normsys_code: str = "code4"
    histosys_code: str = "code4p"

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def sample_names(self) -> list[str]:
        """Sample names in model order."""
        return [s.name for s in self.samples]

    @property
    def staterror_samples(self) -> list[str]:
        """Samples that share the per-bin staterror gammas."""
        return [s.name for s in self.samples if s.staterror]

    @property
    def staterror_name(self) -> str:
        """Name of the staterror parameter set (pyhf/cabinetry convention)."""
        return f"staterror_{self.channel}"

    def modifiers_of(self, kind: str) -> list[ModifierSpec]:
        """Modifiers of one type, in model order."""
        return [m for m in self.modifiers if m.type == kind]

    @property
    def template_systematics(self) -> list[ModifierSpec]:
        """Modifiers whose up/down variations come from templates."""
        return [m for m in self.modifiers if m.type in ("histosys", "normplusshape")]

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> "ModelSpec":
        """Build from the ``model`` block of an analysis config (already schema-validated)."""
        try:
            samples = tuple(
                SampleSpec(name=s["name"], staterror=bool(s.get("staterror", False)))
                for s in cfg["samples"]
            )
            modifiers = tuple(_modifier_from_config(m) for m in cfg.get("modifiers", []))
            interp = cfg.get("interpolation", {})
            return cls(
                channel=cfg.get("channel", "SR"),
                poi=cfg["poi"],
                samples=samples,
                modifiers=modifiers,
                normsys_code=interp.get("normsys", "code4"),
                histosys_code=interp.get("histosys", "code4p"),
            )
        except KeyError as err:
            raise ModelSpecError(f"model config: missing required key {err.args[0]!r}") from err


def _modifier_from_config(m: Mapping[str, Any]) -> ModifierSpec:
    kind = m["type"]
    if kind == "normsys":
        lohi = {name: (float(v["lo"]), float(v["hi"])) for name, v in m["samples"].items()}
        samples = tuple(m["samples"])
    else:
        lohi = {}
        samples = tuple(m["samples"])
    bounds = m.get("bounds")
    return ModifierSpec(
        name=m["name"],
        type=kind,
        samples=samples,
        lohi=lohi,
        init=m.get("init"),
        bounds=None if bounds is None else (float(bounds[0]), float(bounds[1])),
        fixed=bool(m.get("fixed", False)),
        constrained=bool(m.get("constrained", True)),
    )


def _validate(spec: ModelSpec) -> None:
    names = spec.sample_names
    if len(set(names)) != len(names):
        raise ModelSpecError(f"model.samples: duplicate sample name in {names}")
    if not names:
        raise ModelSpecError("model.samples: at least one sample is required")
    if spec.normsys_code not in NORMSYS_CODES:
        raise ModelSpecError(
            f"model.interpolation.normsys: {spec.normsys_code!r} not in {NORMSYS_CODES}"
        )
    if spec.histosys_code not in HISTOSYS_CODES:
        raise ModelSpecError(
            f"model.interpolation.histosys: {spec.histosys_code!r} not in {HISTOSYS_CODES}"
        )
    seen: set[str] = set()
    for mod in spec.modifiers:
        where = f"model.modifiers[{mod.name}]"
        if mod.type not in MODIFIER_TYPES:
            raise ModelSpecError(f"{where}.type: {mod.type!r} not in {MODIFIER_TYPES}")
        if mod.name in seen:
            raise ModelSpecError(f"{where}: duplicate modifier name {mod.name!r}")
        if mod.name == spec.staterror_name:
            raise ModelSpecError(f"{where}: name {mod.name!r} is reserved for staterror")
        seen.add(mod.name)
        for s in mod.samples:
            if s not in names:
                raise ModelSpecError(f"{where}.samples: unknown sample {s!r} (known: {names})")
        if not mod.samples:
            raise ModelSpecError(f"{where}.samples: empty")
        if mod.type == "normsys":
            for s, (lo, hi) in mod.lohi.items():
                if lo <= 0 or hi <= 0:
                    raise ModelSpecError(f"{where}.samples.{s}: lo and hi must be > 0")
        if mod.type == "normfactor":
            if not mod.constrained:
                raise ModelSpecError(f"{where}.constrained: normfactors are always free")
            if mod.bounds is not None and not mod.bounds[0] < mod.bounds[1]:
                raise ModelSpecError(f"{where}.bounds: lower bound must be below upper")
    poi = [m for m in spec.modifiers if m.name == spec.poi]
    if not poi or poi[0].type != "normfactor":
        raise ModelSpecError(f"model.poi: {spec.poi!r} must name a normfactor modifier")
    if poi[0].fixed:
        raise ModelSpecError(f"model.poi: the POI {spec.poi!r} cannot be fixed")


@dataclass
class Templates(Generic[A]):
    """Histograms filling a :class:`ModelSpec`, one array of n_bins per entry.

    ``nominal[sample]``; ``sumw2[sample]`` (only needed for staterror samples);
    ``up[modifier][sample]`` and ``down[modifier][sample]`` for every template
    systematic and sample it acts on.
    """

    nominal: dict[str, A]
    sumw2: dict[str, A] = field(default_factory=dict)
    up: dict[str, dict[str, A]] = field(default_factory=dict)
    down: dict[str, dict[str, A]] = field(default_factory=dict)

    def check(self, spec: ModelSpec) -> int:
        """Check completeness against ``spec``; return the number of bins."""
        missing = [s for s in spec.sample_names if s not in self.nominal]
        if missing:
            raise ModelSpecError(f"templates: no nominal histogram for samples {missing}")
        nbins = {len(self.nominal[s]) for s in spec.sample_names}
        if len(nbins) != 1:
            raise ModelSpecError(f"templates: samples have different bin counts {sorted(nbins)}")
        for s in spec.staterror_samples:
            if s not in self.sumw2:
                raise ModelSpecError(f"templates: staterror sample {s!r} has no sumw2")
        for mod in spec.template_systematics:
            for s in mod.samples:
                for side, store in (("up", self.up), ("down", self.down)):
                    if s not in store.get(mod.name, {}):
                        raise ModelSpecError(
                            f"templates: no {side} variation of {mod.name!r} for sample {s!r}"
                        )
        return nbins.pop()


def parameter_layout(spec: ModelSpec, nbins: int) -> list[tuple[str, int]]:
    """(name, size) of each parameter block in the order the torch model uses."""
    layout = [(m.name, 1) for m in spec.modifiers]
    if spec.staterror_samples:
        layout.append((spec.staterror_name, nbins))
    return layout


def names_of(layout: Sequence[tuple[str, int]]) -> list[str]:
    """Flat parameter labels, staterror gammas as ``name[i]`` (cabinetry's labels)."""
    out: list[str] = []
    for name, size in layout:
        out.extend([name] if size == 1 else [f"{name}[{i}]" for i in range(size)])
    return out
