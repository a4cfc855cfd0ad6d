"""The two ways a training epoch is cut into batches (seeded by the training's generator).

* :func:`pooled_batches`: one permutation of all events, cut into slices (classification with
  class-balanced event weights);
* :func:`per_sample_batches`: one permutation per sample (or class), the same number of events
  of each in every batch, smaller samples wrapping around (INFERNO's soft histograms need every
  sample in every batch; the benchmark's classifiers see equal halves of signal and background).

Permutations are drawn on the CPU generator, so the batches do not depend on the device.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import torch
from torch import Tensor


def pooled_batches(n: int, batch: int, gen: torch.Generator) -> Iterator[Tensor]:
    """Index slices of one permutation of ``n`` events, ``batch`` events each (the last may be shorter)."""
    perm = torch.randperm(n, generator=gen)
    for i in range(0, n, batch):
        yield perm[i : i + batch]


def per_sample_batches(sizes: Mapping[str, int], per_sample: int, gen: torch.Generator) -> Iterator[dict[str, Tensor]]:
    """Per batch, ``per_sample`` indices of every sample; as many batches as the largest sample fills."""
    perms = {name: torch.randperm(n, generator=gen) for name, n in sizes.items()}
    n_steps = max(1, max(sizes.values()) // per_sample)
    for k in range(n_steps):
        window = torch.arange(k * per_sample, (k + 1) * per_sample)
        yield {name: perm[window % len(perm)] for name, perm in perms.items()}
