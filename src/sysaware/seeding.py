"""Deterministic seeds derived from the config seed and names (no global RNG state)."""

from __future__ import annotations

import hashlib

import numpy as np
import torch


def derive_seed(base: int, *names: object) -> int:
    """A 63-bit seed from ``base`` and any names (stage, method, repeat index)."""
    key = "/".join([str(int(base)), *map(str, names)]).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "little") >> 1


def rng_for(base: int, *names: object) -> np.random.Generator:
    """numpy Generator seeded by :func:`derive_seed`."""
    return np.random.default_rng(derive_seed(base, *names))


def torch_generator(base: int, *names: object) -> torch.Generator:
    """torch Generator seeded by :func:`derive_seed` (also seeds torch's global RNG for init)."""
    seed = derive_seed(base, *names)
    torch.manual_seed(seed)
    g = torch.Generator()
    g.manual_seed(seed)
    return g
