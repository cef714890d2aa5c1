"""Paired collection into a sharded store, and the store's streaming reader.

`ActivationStore` (the read side the crosscoder trainer uses) is importable from here; collection
lives in `crossdiff.activations.collect` (it imports transformers).
"""

from crossdiff.activations.store import ActivationStore
from crossdiff.activations.synthetic import write_synthetic_store

__all__ = ["ActivationStore", "write_synthetic_store"]
