"""`crossdiff sweep`: train a grid of crosscoders from one activation store, resumably.

Presets: `study` is the study's 48 crosscoders (METHOD.md §7): plain crosscoders over
D ∈ {8192, 16384} × k ∈ {45, 90, 160} × {without, with L1} (12) and DFCs over
D × k × p ∈ {3, 5, 10 %} × λ_excl ∈ {0, 1e-3} (36). `small` is a 6-member grid sized for the
organism on a CPU. Each member is trained into `<out>/<name>/` by the crosscoder stage's trainer;
a member whose `member.json` exists is finished and skipped, so a killed sweep resumes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from crossdiff.errors import CrossdiffError
from crossdiff.files import read_json, write_json_atomic

MEMBER_FILE = "member.json"
STUDY_L1 = 1e-3


@dataclass(frozen=True)
class MemberSpec:
    """One crosscoder of a sweep: a name and the CrosscoderConfig fields it overrides."""

    name: str
    overrides: dict[str, Any]


def study_grid() -> list[MemberSpec]:
    """The study's 48 crosscoders."""
    members = []
    for size, k, l1 in itertools.product((8192, 16384), (45, 90, 160), (0.0, STUDY_L1)):
        name = f"plain-D{size}-k{k}" + ("-l1" if l1 else "")
        members.append(
            MemberSpec(name, {"dict_size": size, "k": k, "partition": None, "l1_coeff": l1})
        )
    for size, k, p, excl in itertools.product(
        (8192, 16384), (45, 90, 160), (0.03, 0.05, 0.10), (0.0, 1e-3)
    ):
        name = f"dfc-D{size}-k{k}-p{round(p * 100)}-" + ("pen" if excl else "free")
        overrides = {"dict_size": size, "k": k, "partition": (p, p), "lambda_excl": excl}
        members.append(MemberSpec(name, overrides))
    return members


def small_grid() -> list[MemberSpec]:
    """Six crosscoders for the organism: two plain (two k), four DFCs (two p × free/penalised)."""
    members = [MemberSpec(f"plain-k{k}", {"k": k, "partition": None}) for k in (4, 8)]
    for p, excl in itertools.product((0.05, 0.10), (0.0, 1e-3)):
        name = f"dfc-p{round(p * 100)}-" + ("pen" if excl else "free")
        members.append(MemberSpec(name, {"partition": (p, p), "lambda_excl": excl}))
    return members


PRESETS: dict[str, Callable[[], list[MemberSpec]]] = {"study": study_grid, "small": small_grid}


def preset_grid(name: str) -> list[MemberSpec]:
    """The members of a preset, or a CrossdiffError naming the presets."""
    if name not in PRESETS:
        raise CrossdiffError(f"unknown sweep preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]()


def member_config(base: Mapping[str, Any], spec: MemberSpec) -> dict[str, Any]:
    """The member's CrosscoderConfig fields: the base DFC's, overridden by the member's."""
    values = {**base, **spec.overrides}
    if values.get("partition") is None:
        values["partition"] = None
        values["lambda_excl"] = 0.0
        values["lambda_shared"] = 0.0
    return values


@torch.no_grad()
def reconstruction_error(
    crosscoder: Any, store: Any, batch_size: int = 4096
) -> tuple[float, float]:
    """Fraction of variance unexplained (FVU) of each model's raw activations over a store."""
    widths = store.widths
    error = torch.zeros(2, dtype=torch.float64)
    sums = [torch.zeros(w, dtype=torch.float64) for w in widths]
    squares = torch.zeros(2, dtype=torch.float64)
    rows = 0
    x_a_all, x_b_all = store.load_all()
    for start in range(0, x_a_all.shape[0], batch_size):
        x_a, x_b = x_a_all[start : start + batch_size], x_b_all[start : start + batch_size]
        hat_a, hat_b = crosscoder.reconstruct(x_a, x_b)
        for m, (x, hat) in enumerate(((x_a, hat_a), (x_b, hat_b))):
            error[m] += (x - hat).double().pow(2).sum()
            sums[m] += x.double().sum(0)
            squares[m] += x.double().pow(2).sum()
        rows += x_a.shape[0]
    centred = [float(squares[m] - sums[m].pow(2).sum() / rows) for m in range(2)]
    return float(error[0]) / max(centred[0], 1e-12), float(error[1]) / max(centred[1], 1e-12)


def train_sweep(
    store_dir: str | Path,
    out_dir: str | Path,
    members: Sequence[MemberSpec],
    base_crosscoder: Mapping[str, Any],
    train: Mapping[str, Any],
    show_progress: bool = True,
    on_member: Callable[[str, bool], None] | None = None,
) -> list[dict[str, Any]]:
    """Train every member not yet finished; return each member's record (member.json).

    `on_member(name, trained)` is called per member (trained False: it was already finished).
    """
    from crossdiff.activations.store import ActivationStore
    from crossdiff.crosscoder.checkpoint import load_crosscoder
    from crossdiff.crosscoder.config import RunConfig, build_config
    from crossdiff.crosscoder.data import open_store
    from crossdiff.crosscoder.trainer import FINAL_DIR, train_crosscoder

    names = [m.name for m in members]
    if len(set(names)) != len(names):
        raise CrossdiffError(f"sweep member names repeat: {names}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    store = ActivationStore(store_dir)
    records = []
    for spec in members:
        record_path = out / spec.name / MEMBER_FILE
        if record_path.is_file():
            records.append(read_json(record_path, "sweep member record"))
            if on_member:
                on_member(spec.name, False)
            continue
        values = member_config(base_crosscoder, spec)
        run = build_config(
            RunConfig,
            {"crosscoder": {**values, "widths": list(store.widths)}, "train": dict(train)},
            f"sweep member {spec.name}",
        )
        train_dir = out / spec.name / "train"
        if not (train_dir / FINAL_DIR).is_dir():  # resumes from the trainer's last checkpoint
            train_crosscoder(run, open_store(store_dir), train_dir, show_progress=show_progress)
        model = load_crosscoder(train_dir / FINAL_DIR)
        fvu_a, fvu_b = reconstruction_error(model, store)
        record = {
            "name": spec.name,
            "overrides": dict(spec.overrides),
            "crosscoder": str(Path(spec.name) / "train" / FINAL_DIR),
            "fvu_a": fvu_a,
            "fvu_b": fvu_b,
        }
        write_json_atomic(record_path, record)  # written last: marks the member finished
        records.append(record)
        if on_member:
            on_member(spec.name, True)
    return records


def evaluate_members(setup: Any, member_dirs: Sequence[Path]) -> Any:
    """Splice model A through each member (a directory with crosscoder/ and member.json) on
    `test`; return the gain-vs-error correlation with every member's adjusted p-value."""
    import dataclasses

    from crossdiff.evals.harness import LoadedDictionary, load_dictionary
    from crossdiff.evals.interventions import Intervention
    from crossdiff.experiments.core import baseline_intervention, compare, run_condition
    from crossdiff.experiments.sweeps import SweepMember, gain_vs_error, members_with_adjusted_p

    base = run_condition(setup, baseline_intervention(0, setup.policy), None, "test")
    members = []
    for member in member_dirs:
        record = read_json(Path(member) / MEMBER_FILE, "sweep member record")
        crosscoder = Path(member) / "crosscoder"
        if not crosscoder.is_dir():
            crosscoder = Path(member) / "train" / "crosscoder"
        loaded = load_dictionary(str(crosscoder))
        name = str(record["name"])
        member_setup = dataclasses.replace(
            setup,
            dictionaries={name: LoadedDictionary(loaded.dictionary, loaded.description, None)},
        )
        spliced = run_condition(
            member_setup, Intervention("splice", 0, policy=setup.policy), name, "test"
        )
        members.append(
            SweepMember(
                name,
                dict(record["overrides"]),
                float(record["fvu_a"]),
                float(record["fvu_b"]),
                compare(setup, base, spliced),
            )
        )
    return gain_vs_error(members_with_adjusted_p(members))
