"""Command functions of the `crossdiff` CLI, one module per stage (cli.py registers them)."""
