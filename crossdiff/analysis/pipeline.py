"""The analysis in one pass over paired activations: encode each batch once, feed every statistic.

`analyze_activations` works on any ordered stream of (first_row, x_A, x_B) batches plus the row
metadata; `analyze_store` feeds it an activation store's rows in store order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import Tensor

from crossdiff.analysis.config import AnalysisConfig
from crossdiff.analysis.context import TokenContext
from crossdiff.analysis.examples import (
    ActivatingExample,
    Decode,
    ids_decoder,
    max_activating_examples,
)
from crossdiff.analysis.firing import FiringAccumulator, FiringStats
from crossdiff.analysis.geometry import DecoderGeometry, decoder_geometry
from crossdiff.analysis.latent_scaling import LatentScaling, LatentScalingAccumulator
from crossdiff.analysis.ranking import BehaviourScores, Ranking, behaviour_scores, rank_candidates
from crossdiff.analysis.rows import RowTable, sample_rows
from crossdiff.analysis.template import TemplateFlags, template_flags
from crossdiff.analysis.topk import TopActivations, TopActivationTracker
from crossdiff.crosscoder import Crosscoder
from crossdiff.errors import CrossdiffError

Batches = Iterable[tuple[int, Tensor, Tensor]]


@dataclass(frozen=True)
class AnalysisResult:
    """Everything `crossdiff analyze` computes about one crosscoder on one activation store."""

    geometry: DecoderGeometry
    firing: FiringStats
    latent_scaling: LatentScaling
    looks_exclusive_only: np.ndarray  # object (D,): True / False / None (undefined ratios)
    behaviour: BehaviourScores
    ranking: Ranking
    template: TemplateFlags
    top: TopActivations
    examples: dict[int, list[ActivatingExample]]
    info: dict[str, Any]  # num_rows, positions, sources, tool/general sources and text counts

    @property
    def dict_size(self) -> int:
        """Number of features D."""
        return int(self.geometry.norm_a.shape[0])


def looks_exclusive_only(
    geometry: DecoderGeometry, scaling: LatentScaling, ratio: float
) -> np.ndarray:
    """True for features that look exclusive (partition or relative norm) but whose Latent
    Scaling ratio ν_ε or ν_r is ≥ `ratio`; None when they look exclusive and both ratios are
    undefined; False otherwise."""
    exclusive = (geometry.partition != "shared") | np.isin(
        geometry.norm_class, ["a_only", "b_only"]
    )
    with np.errstate(invalid="ignore"):
        high = (scaling.nu_error >= ratio) | (scaling.nu_reconstruction >= ratio)
    undefined = np.isnan(scaling.nu_error) & np.isnan(scaling.nu_reconstruction)
    flag = np.where(exclusive & high, True, False).astype(object)
    flag[exclusive & undefined] = None
    return flag


def _behaviour_groups(rows: RowTable, config: AnalysisConfig) -> tuple[np.ndarray, np.ndarray]:
    """Global row indices of the last token of each tool prompt and each general text."""
    last = rows.last_rows()
    groups = []
    for label, selectors in (("tool", config.tool_sources), ("general", config.general_sources)):
        chosen = last[rows.source_mask(selectors)[last]]
        if chosen.size < 2:
            raise CrossdiffError(
                f"the store has {chosen.size} {label} text(s) from sources matching "
                f"{list(selectors)} (store sources: {list(rows.sources)}); the ranking needs at "
                "least 2: collect them, or name the right sources (--tool-source/--general-source)"
            )
        groups.append(sample_rows(chosen, config.max_texts_per_group, config.seed, label))
    return groups[0], groups[1]


def _example_features(ranking: Ranking, behaviour: BehaviourScores, count: int) -> list[int]:
    chosen: dict[int, None] = {}
    for scope in ranking.scopes:
        chosen.update(dict.fromkeys(ranking.top(scope, count)))
    d = np.nan_to_num(behaviour.cohens_d, nan=-np.inf)
    by_d = np.argsort(-d, kind="stable")[:count]
    chosen.update(dict.fromkeys(int(i) for i in by_d))
    return sorted(chosen)


@torch.no_grad()
def analyze_activations(
    crosscoder: Crosscoder,
    batches: Batches,
    rows: RowTable,
    texts: Mapping[int, str],
    config: AnalysisConfig,
    decode: Decode = ids_decoder,
    on_batch: Callable[[int], None] | None = None,
) -> AnalysisResult:
    """Analyse a crosscoder on an ordered stream of paired activation batches.

    `batches` yields (first_row, x_A, x_B) covering rows 0..n-1 of `rows` in order; `on_batch`
    is called with the number of rows of each finished batch (for progress bars).
    """
    crosscoder.eval()
    size = crosscoder.config.dict_size
    tool_rows, general_rows = _behaviour_groups(rows, config)
    group_of_row = np.full(len(rows), -1, dtype=np.int64)
    group_of_row[tool_rows], group_of_row[general_rows] = 0, 1
    dec_a, dec_b = crosscoder.decoder_vectors(0), crosscoder.decoder_vectors(1)
    constant = crosscoder.decode(torch.zeros(1, size))
    firing = FiringAccumulator(rows.sources, size, config.firing_threshold)
    scaling = LatentScalingAccumulator(dec_a, dec_b, (constant[0][0], constant[1][0]))
    tracker = TopActivationTracker(size, config.top_examples)
    picked: list[tuple[Tensor, Tensor]] = []
    seen = 0
    for first_row, x_a, x_b in batches:
        if first_row != seen:
            raise CrossdiffError(f"batches must cover the rows in order: expected row {seen}")
        count = x_a.shape[0]
        codes = crosscoder.encode(x_a, x_b)
        x_hat = crosscoder.decode(codes)
        index = torch.arange(first_row, first_row + count)
        firing.add(codes, torch.from_numpy(rows.source_index[first_row : first_row + count]))
        scaling.add(codes, (x_a, x_b), x_hat)
        tracker.add(codes, first_row)
        keep = torch.from_numpy(group_of_row[first_row : first_row + count] >= 0)
        picked.append((index[keep], codes[keep]))
        seen += count
        if on_batch is not None:
            on_batch(count)
    if seen != len(rows):
        raise CrossdiffError(f"the activations hold {seen} rows but the row metadata {len(rows)}")
    picked_rows = torch.cat([p[0] for p in picked]).numpy()
    picked_codes = torch.cat([p[1] for p in picked])
    where = {int(r): i for i, r in enumerate(picked_rows)}
    tool_codes = picked_codes[[where[int(r)] for r in tool_rows]]
    general_codes = picked_codes[[where[int(r)] for r in general_rows]]

    geometry = decoder_geometry(crosscoder, config.exclusive_relative_norm)
    latent = scaling.result()
    behaviour = behaviour_scores(tool_codes, general_codes, config.firing_threshold)
    top = tracker.result()
    context = TokenContext(rows)
    template = template_flags(
        top,
        rows,
        config.template_ngram,
        config.template_share,
        config.template_min_examples,
        config.template_min_texts,
        context,
    )
    exclusive_only = looks_exclusive_only(geometry, latent, config.latent_scaling_ratio)
    ranking = rank_candidates(behaviour, geometry.partition, config, template.flag, exclusive_only)
    features = _example_features(ranking, behaviour, config.examples_per_scope)
    examples = max_activating_examples(
        top, features, rows, texts, decode, config.context_before, config.context_after, context
    )
    info = {
        "num_rows": len(rows),
        "num_texts": int(np.unique(rows.text_index).size),
        "sources": list(rows.sources),
        "tool_texts": int(tool_rows.size),
        "general_texts": int(general_rows.size),
    }
    return AnalysisResult(
        geometry=geometry,
        firing=firing.result(),
        latent_scaling=latent,
        looks_exclusive_only=exclusive_only,
        behaviour=behaviour,
        ranking=ranking,
        template=template,
        top=top,
        examples=examples,
        info=info,
    )


def store_batches(store: Any, batch_size: int) -> Iterator[tuple[int, Tensor, Tensor]]:
    """(first_row, x_A, x_B) float32 batches of an ActivationStore in store order."""
    first = 0
    for index in range(len(store.shards)):
        shard = store.read_shard(index)
        x_a, x_b = shard["x_a"].float(), shard["x_b"].float()
        for start in range(0, x_a.shape[0], batch_size):
            chunk_a, chunk_b = x_a[start : start + batch_size], x_b[start : start + batch_size]
            yield first + start, chunk_a, chunk_b
        first += x_a.shape[0]


def analyze_store(
    crosscoder: Crosscoder,
    store: Any,
    config: AnalysisConfig,
    decode: Decode = ids_decoder,
    show_progress: bool = True,
) -> AnalysisResult:
    """Analyse `crosscoder` on every row of an opened `ActivationStore`."""
    if tuple(store.widths) != tuple(crosscoder.config.widths):
        raise CrossdiffError(
            f"{store.path}: activation widths {tuple(store.widths)} do not match the crosscoder's "
            f"widths {tuple(crosscoder.config.widths)}: analyse it on a store of the hook points "
            "it was trained on"
        )
    rows = RowTable.from_store(store)
    texts = {int(entry["index"]): str(entry["text"]) for entry in store.texts()}
    progress = Progress(
        TextColumn("analysing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=not show_progress,
        transient=True,
    )
    with progress:
        task = progress.add_task("analyze", total=len(rows))
        result = analyze_activations(
            crosscoder,
            store_batches(store, config.batch_size),
            rows,
            texts,
            config,
            decode,
            on_batch=lambda count: progress.advance(task, count),
        )
    result.info["positions"] = store.manifest.get("positions")
    return result
