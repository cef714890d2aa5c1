"""Batched generation and evaluation on tool prompts, shared by RL and every experiment."""
