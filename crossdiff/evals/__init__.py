"""Batched generation and evaluation of models on tool prompts, shared by RL and every experiment."""
