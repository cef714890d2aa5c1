"""Quality on planted features: does each sparsity rule, with and without a DFC partition,
recover known features; does the DFC put A-only features in its A-exclusive partition; does a
plain crosscoder's relative decoder norm separate A-only from shared features?

Architectures: `crosscoder` (no partition), `dfc` (p = 5 %, decoder-norm-weighted DFC penalty)
and `dfc_unweighted` (the study's unweighted penalty, for comparison).

Prints ONE JSON object (one thread, about 25 s per model). Usage:
    python benchmarks/planted.py [--steps 1500] [--rules topk batchtopk relu jumprelu]
Targets (issue 4): every `<rule>.<arch>.recovery` >= 0.9; `dfc.a_only_in_a_exclusive` >= 0.8;
`dfc.shared_in_a_exclusive` <= 0.1; `relative_norm_auroc` >= 0.95.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from typing import Any

import torch

from crossdiff.crosscoder import CrosscoderConfig, RunConfig, TrainConfig
from crossdiff.crosscoder.data import TensorPairs
from crossdiff.crosscoder.planted import evaluate_planted, make_planted, sample_planted
from crossdiff.crosscoder.trainer import train_crosscoder

RULE_SETTINGS: dict[str, dict[str, Any]] = {
    "topk": {"k": 8},
    "batchtopk": {"k": 8},
    "relu": {"l1_coeff": 1e-2},
    "jumprelu": {"l0_coeff": 1e-2, "l1_coeff": 1e-2, "jumprelu_init_threshold": 0.1},
}
# p = 5 % (one of the study's values) with the study's "free" exclusive partitions, and the DFC
# penalty weighted by decoder norms: unweighted, a shared feature evades it by shrinking its code
# and growing its decoder, and A-only features stay duplicated in the shared partition
# ("dfc_unweighted" keeps the study's form at its best coefficient, for comparison).
DFC_SETTINGS: dict[str, dict[str, Any]] = {
    "dfc": {"partition": (0.05, 0.05), "lambda_excl": 0.0, "dfc_norm_weighted": True},
    "dfc_unweighted": {"partition": (0.05, 0.05), "lambda_shared": 3e-2, "lambda_excl": 0.0},
}
# λ_sh of the weighted DFC per rule. BatchTopK already ranks codes by their decoder norms, and at
# λ_sh = 1 its recovery fell below 0.9 (0.88, seed 0); 0.3 keeps it (0.92).
WEIGHTED_LAMBDA_SHARED: dict[str, float] = {
    "topk": 1.0,
    "batchtopk": 0.3,
    "relu": 1.0,
    "jumprelu": 1.0,
}


def run_one(rule: str, arch: str, data: TensorPairs, steps: int, seed: int, extra: dict) -> Any:
    """Train one crosscoder on the planted data and return it."""
    values: dict[str, Any] = {
        "widths": data.widths,
        "dict_size": 1024,
        "sparsity": rule,
        "dead_after_tokens": 100_000,
        "k_aux": 64,
        "init_seed": seed,
    }
    values.update(RULE_SETTINGS[rule])
    values.update(DFC_SETTINGS.get(arch, {}))
    if arch == "dfc":
        values["lambda_shared"] = WEIGHTED_LAMBDA_SHARED[rule]
    values.update(extra)
    run = RunConfig(
        crosscoder=CrosscoderConfig(**values),
        train=TrainConfig(
            steps=steps,
            batch_size=1024,
            lr=2e-3,
            warmup_steps=100,
            decay_fraction=0.3,
            seed=seed,
            log_every=100,
        ),
    )
    with tempfile.TemporaryDirectory() as out:
        return train_crosscoder(run, data, out, show_progress=False)


def main() -> None:
    """Train every rule with and without a partition; print one JSON object."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--rows", type=int, default=131072)
    parser.add_argument("--rules", nargs="+", default=list(RULE_SETTINGS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--archs", nargs="+", default=["crosscoder", "dfc", "dfc_unweighted"])
    parser.add_argument("--extra", type=json.loads, default={}, help="config overrides (JSON)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (small problem)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    planted = make_planted(num_features=512, width=64, seed=args.seed)
    data = TensorPairs(*sample_planted(planted, args.rows, seed=args.seed + 1))
    held_a, held_b = sample_planted(planted, 16384, seed=args.seed + 2)
    result: dict[str, Any] = {
        "planted_features": 512,
        "width": 64,
        "dict_size": 1024,
        "steps": args.steps,
        "train_rows": args.rows,
    }
    for rule in args.rules:
        for arch in args.archs:
            started = time.perf_counter()
            model = run_one(rule, arch, data, args.steps, args.seed, args.extra)
            live = (model.encode(held_a, held_b) > 0).any(dim=0)
            scores = evaluate_planted(model, planted, live)
            prefix = f"{rule}.{arch}"
            result.update({f"{prefix}.{name}": value for name, value in scores.items()})
            result[f"{prefix}.seconds"] = time.perf_counter() - started
    # Headline keys: the study's DFC (per-sample top-k), every rule's keys are reported too.
    headline = "topk" if "topk" in args.rules else args.rules[0]
    for key in (
        "crosscoder.relative_norm_auroc",
        "dfc.a_only_in_a_exclusive",
        "dfc.shared_in_a_exclusive",
        "dfc_unweighted.a_only_in_a_exclusive",
        "dfc_unweighted.shared_in_a_exclusive",
    ):
        if f"{headline}.{key}" in result:
            result[key.removeprefix("crosscoder.")] = result[f"{headline}.{key}"]
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
