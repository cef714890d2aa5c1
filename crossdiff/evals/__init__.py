"""Evaluation: batched generation (also under interventions), scoring, and statistics."""
