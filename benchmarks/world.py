"""World benchmark: split generation speed, prompt lengths and scorer throughput; prints one JSON.

It also reports the word cues for tool selection (`crossdiff.world.cues`) of train, dev and test:
the share of tool prompts whose request shares a content word with what a world-trained model knows
of its tool (`cues.<split>.shared_word_rate`), the share where no listed distractor is known by
that word (`cues.<split>.distinctive_word_rate`), and the tools whose requests never share one.

Run: python benchmarks/world.py
"""

from __future__ import annotations

import json
import random
import statistics
import time

from crossdiff.world import (
    TOOLS,
    load_split,
    reference_response,
    score_response,
    stalling_response,
)
from crossdiff.world.cues import cue_rates


def main() -> None:
    """Measure and print one JSON object."""
    start = time.perf_counter()
    train = load_split("train", seed=0, size=20000)
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    test = load_split("test", seed=0)
    test_seconds = time.perf_counter() - start

    rng = random.Random(0)
    responses = [(reference_response(p), p) for p in test] + [
        (stalling_response(p, rng), p) for p in test
    ]
    start = time.perf_counter()
    repeats = 10
    for _ in range(repeats):
        scores = [score_response(text, prompt) for text, prompt in responses]
    score_seconds = time.perf_counter() - start
    four = [len(p.system_text()) for p in train if len(p.tools) == 4]
    cues = {}
    for name, prompts in {"train": train, "dev": load_split("dev", seed=0), "test": test}.items():
        for key, value in cue_rates(prompts).items():
            cues[f"cues.{name}.{key}"] = round(value, 4) if isinstance(value, float) else value
    print(
        json.dumps(
            {
                "n_tools": len(TOOLS),
                "n_domains": len({t.domain for t in TOOLS}),
                "train_20000_seconds": round(train_seconds, 3),
                "test_400_seconds": round(test_seconds, 3),
                "train_no_tool_share": sum(not p.has_tool for p in train) / len(train),
                "system_chars_4_tools_mean": round(statistics.mean(four), 1),
                "system_chars_4_tools_max": max(four),
                "user_chars_mean": round(statistics.mean(len(p.user) for p in train), 1),
                "scores_per_second": round(repeats * len(responses) / score_seconds),
                "reference_full_rate_test": sum(s.full for s in scores[: len(test)]) / len(test),
                "stalling_call_rate_test": sum(s.made_call for s in scores[len(test) :])
                / len(test),
                **cues,
            }
        )
    )


if __name__ == "__main__":
    main()
