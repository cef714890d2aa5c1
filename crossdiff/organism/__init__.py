"""The built-in model organism: a tiny base model that stalls and its RL-tuned twin that calls tools."""
