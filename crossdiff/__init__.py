"""crossdiff: find where fine-tuning put a skill, and switch it on or off at run time."""

__version__ = "0.1.0"
