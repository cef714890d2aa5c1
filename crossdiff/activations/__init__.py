"""Paired activation collection into a sharded store, and the store's streaming reader."""
