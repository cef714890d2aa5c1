"""CLI command functions, one module per stage; `crossdiff/cli.py` registers them."""
