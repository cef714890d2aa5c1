"""The built-in model organism: a tiny base model that stalls, and its RL twin that calls tools."""
