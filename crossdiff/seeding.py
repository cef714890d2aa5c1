"""Seeds: every random choice in crossdiff takes one, and the same seed gives the same numbers."""

from __future__ import annotations

import random

import numpy as np
import torch

from crossdiff.errors import CrossdiffError


def check_seed(seed: int, field: str = "--seed") -> int:
    """Return `seed` if it is a valid non-negative integer, else raise a CrossdiffError."""
    if not isinstance(seed, int) or seed < 0:
        raise CrossdiffError(f"{field} must be a non-negative integer, got {seed!r}")
    return seed


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch globally and return a torch Generator seeded the same way."""
    check_seed(seed)
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def derive_seed(seed: int, *labels: str | int) -> int:
    """Derive an independent, reproducible sub-seed from `seed` and some labels."""
    text = "/".join([str(seed), *map(str, labels)])
    value = 0
    for byte in text.encode():
        value = (value * 1099511628211 + byte) % (2**63 - 1)
    return value
