"""Command functions of each stage, kept out of cli.py so that it stays thin."""
