"""Analysis benchmark: wall time of `analyze_activations` on synthetic paired activations.

Two shapes: the organism's (small widths) and a study-like dictionary (D = 8192) on fewer rows.
Run: python benchmarks/analysis.py   (prints one JSON object; heavy: run under the shared lock)
"""

from __future__ import annotations

import json
import time

import psutil
import torch

from crossdiff.analysis import AnalysisConfig, RowTable, analyze_activations
from crossdiff.crosscoder import Crosscoder, CrosscoderConfig

TOKENS_PER_TEXT = 50


def synthetic_rows(num_rows: int) -> RowTable:
    """Half tool prompts, half general texts, TOKENS_PER_TEXT rows per text."""
    rows = []
    for row in range(num_rows):
        text = row // TOKENS_PER_TEXT
        source = "tool_prompts:train" if text % 2 == 0 else "general:train"
        rows.append(
            {
                "source": source,
                "text_id": f"t{text}",
                "text_index": text,
                "position": row % TOKENS_PER_TEXT,
                "token_id": (row * 7919) % 1000,
            }
        )
    return RowTable.from_rows(rows)


def measure(width: int, dict_size: int, k: int, num_rows: int, batch_size: int) -> dict:
    """Seconds and rows per second of one analysis of random data at this shape."""
    generator = torch.Generator().manual_seed(0)
    config = CrosscoderConfig(
        widths=(width, width),
        dict_size=dict_size,
        sparsity="topk",
        k=k,
        partition=(0.1, 0.1),
        normalisation="none",
    )
    crosscoder = Crosscoder(config)
    x_a = torch.randn(num_rows, width, generator=generator)
    x_b = x_a + 0.3 * torch.randn(num_rows, width, generator=generator)
    rows = synthetic_rows(num_rows)
    batches = (
        (start, x_a[start : start + batch_size], x_b[start : start + batch_size])
        for start in range(0, num_rows, batch_size)
    )
    start = time.perf_counter()
    analyze_activations(crosscoder, batches, rows, {}, AnalysisConfig(batch_size=batch_size))
    seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 3), "rows_per_second": round(num_rows / seconds, 1)}


def main() -> None:
    """Measure both shapes and print one JSON object."""
    torch.manual_seed(0)
    organism = measure(width=64, dict_size=1024, k=16, num_rows=40_000, batch_size=1024)
    study_like = measure(width=512, dict_size=8192, k=45, num_rows=8_192, batch_size=1024)
    peak_rss = psutil.Process().memory_info().rss
    print(
        json.dumps(
            {
                "organism_d64_D1024_rows40000_seconds": organism["seconds"],
                "organism_rows_per_second": organism["rows_per_second"],
                "d512_D8192_rows8192_seconds": study_like["seconds"],
                "d512_D8192_rows_per_second": study_like["rows_per_second"],
                "final_rss_gib": round(peak_rss / 2**30, 3),
                "torch_threads": torch.get_num_threads(),
            }
        )
    )


if __name__ == "__main__":
    main()
