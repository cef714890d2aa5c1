"""Paired activation collection into a sharded store, and the store's streaming reader."""

from crossdiff.activations.store import ActivationStore

__all__ = ["ActivationStore"]
