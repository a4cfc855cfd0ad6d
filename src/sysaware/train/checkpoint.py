"""Per-epoch training checkpoints: a killed training resumes where it stopped, with the same result.

A checkpoint holds everything the next epoch depends on: the network and optimiser states,
the best state and history so far, the batch generators' states, torch's global RNG state,
and the state of any helper that learns alongside (the pivot's adversary).  It is written
after every epoch through a temporary file and a rename, so a job killed at any moment leaves
either the previous or the new checkpoint, never a half-written one.  It is read with
``torch.load(..., weights_only=True)``: tensors and plain containers only, no pickled code.

A checkpoint carries a key (:func:`fingerprint` of the run config and the model's name); one
written under another config or for another model is ignored with a warning, never resumed.
While a training runs it holds an exclusive lock on ``<checkpoint>.lock`` (:meth:`Checkpoint.hold`):
a second process training the same model refuses to start instead of writing beside it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

from ..io import temporary_path
from ..locks import Lock, held

log = logging.getLogger(__name__)


class Stateful(Protocol):
    """Anything with ``state_dict`` / ``load_state_dict`` (modules, optimisers, :class:`GeneratorState`)."""

    def state_dict(self) -> Any: ...  # noqa: D102

    def load_state_dict(self, state: Any) -> Any: ...  # noqa: D102


class GeneratorState:
    """A ``torch.Generator`` seen as :class:`Stateful`."""

    def __init__(self, gen: torch.Generator):
        self.gen = gen

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The generator's state (a byte tensor)."""
        return {"state": self.gen.get_state()}

    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        """Restore the generator to ``state``."""
        self.gen.set_state(state["state"])


def fingerprint(cfg: Mapping[str, Any], *names: object) -> str:
    """SHA-256 of the config (canonical JSON) and the model's names: what a checkpoint belongs to."""
    text = json.dumps(cfg, sort_keys=True, default=str) + "/" + "/".join(map(str, names))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Checkpoint:
    """Where one training keeps its checkpoint, what it belongs to, and its extra stateful parts."""

    path: Path
    key: str
    state: Mapping[str, Stateful] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.path = Path(self.path)

    def load(self) -> dict[str, Any] | None:
        """The saved training state (extra parts restored in place), or None to start afresh."""
        if not self.path.exists():
            return None
        try:
            blob = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - any unreadable file means: start afresh
            log.warning("checkpoint %s is unreadable (%s); training from the start", self.path, err)
            return None
        if not isinstance(blob, dict) or blob.get("key") != self.key:
            log.warning("checkpoint %s belongs to another config or model; training from the start", self.path)
            return None
        missing = set(self.state) - set(blob.get("extra", {}))
        if missing:
            log.warning("checkpoint %s lacks %s; training from the start", self.path, sorted(missing))
            return None
        for name, obj in self.state.items():
            obj.load_state_dict(blob["extra"][name])
        return blob

    def save(self, blob: Mapping[str, Any]) -> None:
        """Write ``blob`` and the extra parts' states atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        full = {**blob, "key": self.key, "extra": {n: o.state_dict() for n, o in self.state.items()}}
        with temporary_path(self.path) as tmp:
            torch.save(full, tmp)

    @contextmanager
    def hold(self) -> Iterator[Lock]:
        """The training's exclusive hold on its checkpoint: a second writer of the same model (an
        orphan of a killed Snakemake run, or a second run) refuses to start, naming the holder."""
        with held(self.path.with_name(self.path.name + ".lock"), f"checkpoint {self.path}") as lock:
            yield lock

    def remove(self) -> None:
        """Delete the checkpoint (training finished and its outputs are written)."""
        self.path.unlink(missing_ok=True)


def training_checkpoint(
    path: str | os.PathLike[str] | None,
    cfg: Mapping[str, Any],
    names: tuple[object, ...],
    gen: torch.Generator,
    **extra: Stateful,
) -> Checkpoint | None:
    """The checkpoint of one training (None without a path): keyed by config and ``names``,
    saving the batch generator ``gen`` and any ``extra`` stateful parts."""
    if path is None:
        return None
    return Checkpoint(Path(path), fingerprint(cfg, *names), {"batches": GeneratorState(gen), **extra})
