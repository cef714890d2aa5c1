"""Training: bit-exact resume, config validation, the `crossdiff train` CLI, torchrun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from typer.testing import CliRunner

from crossdiff.cli import app
from crossdiff.crosscoder import CrosscoderConfig, RunConfig, TrainConfig
from crossdiff.crosscoder.checkpoint import load_crosscoder
from crossdiff.crosscoder.config import build_config
from crossdiff.crosscoder.data import TensorPairs, load_activation_file
from crossdiff.crosscoder.optim import k_at_step, lr_factor
from crossdiff.crosscoder.trainer import train_crosscoder
from crossdiff.errors import CrossdiffError

ROOT = Path(__file__).resolve().parents[1]


def _pairs(n: int = 384, seed: int = 0) -> TensorPairs:
    gen = torch.Generator().manual_seed(seed)
    latent = torch.randn(n, 12, generator=gen).relu()
    x_a = latent @ torch.randn(12, 10, generator=gen) + 0.1 * torch.randn(n, 10, generator=gen)
    x_b = latent @ torch.randn(12, 8, generator=gen) + 0.1 * torch.randn(n, 8, generator=gen)
    return TensorPairs(x_a, x_b)


def _run(rule: str = "batchtopk", steps: int = 23, **train) -> RunConfig:
    crosscoder = CrosscoderConfig(
        widths=(10, 8),
        dict_size=48,
        sparsity=rule,
        k=4,
        partition=(0.1, 0.1),
        lambda_shared=1e-3,
        dead_after_tokens=200,
        k_aux=8,
        l1_coeff=1e-2 if rule == "relu" else 0.0,
    )
    values = dict(
        steps=steps,
        batch_size=32,
        lr=3e-3,
        warmup_steps=3,
        checkpoint_every=5,
        log_every=2,
        k_start=8,
        k_anneal_steps=10,
    )
    values.update(train)
    return RunConfig(crosscoder=crosscoder, train=TrainConfig(**values))


def _weights(model) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


@pytest.mark.parametrize("rule", ["batchtopk", "relu"])
def test_killed_and_resumed_run_is_bit_exact(tmp_path: Path, rule: str) -> None:
    source = _pairs()
    full = train_crosscoder(_run(rule), source, tmp_path / "full", show_progress=False)
    stopped = tmp_path / "stopped"
    train_crosscoder(_run(rule), source, stopped, show_progress=False, stop_after_steps=13)
    assert not (stopped / "crosscoder").exists()
    assert json.loads((stopped / "checkpoints" / "latest.json").read_text())["step"] == 10
    resumed = train_crosscoder(_run(rule), source, stopped, show_progress=False)
    for name, tensor in _weights(full).items():
        assert torch.equal(tensor, _weights(resumed)[name]), name
    steps = [
        json.loads(line)["step"] for line in (stopped / "metrics.jsonl").read_text().splitlines()
    ]
    assert steps == sorted(set(steps)) and steps[-1] == 23
    saved = load_crosscoder(stopped / "crosscoder")
    assert torch.equal(saved.W_dec_Dd, full.W_dec_Dd)


def test_resume_refuses_a_different_config(tmp_path: Path) -> None:
    source = _pairs()
    train_crosscoder(_run(), source, tmp_path, show_progress=False, stop_after_steps=6)
    with pytest.raises(CrossdiffError, match="different config"):
        train_crosscoder(_run(lr=1e-3), source, tmp_path, show_progress=False)


def test_metrics_log_has_the_promised_fields(tmp_path: Path) -> None:
    train_crosscoder(_run(steps=8), _pairs(), tmp_path, show_progress=False)
    record = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    for key in (
        "mse",
        "fvu_a",
        "fvu_b",
        "l0_a_exclusive",
        "l0_b_exclusive",
        "l0_shared",
        "dead_fraction",
        "lr",
        "k",
        "threshold",
        "loss_auxk",
    ):
        assert key in record, key
    assert 0 < record["fvu_a"] < 1.5


def test_schedules() -> None:
    config = TrainConfig(
        steps=100, warmup_steps=10, decay_fraction=0.2, k_start=64, k_anneal_steps=50
    )
    assert lr_factor(0, config) == pytest.approx(0.1)
    assert lr_factor(50, config) == 1.0
    assert lr_factor(90, config) == pytest.approx(0.5)
    assert k_at_step(0, 16, config) == 64 and k_at_step(25, 16, config) == 40
    assert k_at_step(80, 16, config) == 16


@pytest.mark.parametrize(
    ("values", "field"),
    [
        (dict(widths=(4, 4), dict_size=16, k=16), "k must satisfy"),
        (dict(widths=(4, 4), dict_size=16, k=2, partition=(0.5, 0.5)), "p_A + p_B < 1"),
        (dict(widths=(4, 0), dict_size=16, k=2), "widths[1]"),
        (dict(widths=(4, 4), dict_size=16, sparsity="gelu"), "sparsity"),
        (dict(widths=(4, 4), dict_size=16, k=2, l1_coeff=-1), "l1_coeff"),
    ],
)
def test_bad_crosscoder_configs_are_refused(values: dict, field: str) -> None:
    with pytest.raises(CrossdiffError, match=field.replace("[", r"\[").replace("+", r"\+")):
        build_config(CrosscoderConfig, values)


def test_unregularised_relu_is_refused() -> None:
    with pytest.raises(CrossdiffError, match="l1_coeff > 0"):
        build_config(
            RunConfig, {"crosscoder": {"widths": (4, 4), "dict_size": 8, "sparsity": "relu"}}
        )


def test_bad_train_configs_are_refused_before_work(tmp_path: Path) -> None:
    with pytest.raises(CrossdiffError, match="lr must be > 0"):
        build_config(TrainConfig, {"lr": -1e-3})
    run = RunConfig(crosscoder=CrosscoderConfig(widths=(9, 8), dict_size=16, k=2))
    with pytest.raises(CrossdiffError, match="widths"):
        train_crosscoder(run, _pairs(), tmp_path / "never", show_progress=False)
    assert not (tmp_path / "never").exists()


def test_a_run_too_short_for_auxk_is_warned_about(tmp_path: Path) -> None:
    short = _run(steps=6)  # 6 x 32 = 192 samples, dead_after_tokens = 200
    with pytest.warns(UserWarning, match="AuxK loss never runs"):
        train_crosscoder(short, _pairs(), tmp_path / "short", show_progress=False)
    assert (tmp_path / "short").is_dir()  # a warning, not a refusal
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train_crosscoder(_run(steps=7), _pairs(), tmp_path / "long", show_progress=False)


def _write_activations(path: Path, n: int = 256) -> None:
    source = _pairs(n)
    save_file({"x_a": source.x_a, "x_b": source.x_b}, str(path))


def test_cli_train_on_a_tiny_file(tmp_path: Path) -> None:
    data = tmp_path / "acts.safetensors"
    _write_activations(data)
    config = tmp_path / "run.toml"
    config.write_text(
        '[crosscoder]\nsparsity = "topk"\ndict_size = 32\nk = 3\ndead_after_tokens = 32\n'
        "[train]\nlr = 1e-3\n"
    )
    args = [
        "train",
        "--activations",
        str(data),
        "--out",
        str(tmp_path / "run"),
        "--config",
        str(config),
        "--steps",
        "12",
        "--batch-size",
        "32",
        "--p-a",
        "0.1",
        "--p-b",
        "0.1",
        "--no-progress",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    model = load_crosscoder(tmp_path / "run" / "crosscoder")
    assert model.config.k == 3 and model.config.partition == (0.1, 0.1)
    assert model.config.widths == (10, 8)
    bad = CliRunner().invoke(app, [*args[:-1], "--k", "32", "--force"])
    assert bad.exit_code != 0 and isinstance(bad.exception, CrossdiffError)
    assert "k must satisfy" in str(bad.exception)


def test_cli_train_from_an_activation_store(tmp_path: Path) -> None:
    from crossdiff.activations.synthetic import write_synthetic_store

    write_synthetic_store(tmp_path / "store", num_rows=600, widths=(6, 5), shard_size=200)
    args = [
        "train",
        "--store",
        str(tmp_path / "store"),
        "--out",
        str(tmp_path / "run"),
        "--sparsity",
        "batchtopk",
        "--dict-size",
        "24",
        "--k",
        "3",
        "--steps",
        "8",
        "--batch-size",
        "64",
        "--dead-after-tokens",
        "128",
        "--no-progress",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    model = load_crosscoder(tmp_path / "run" / "crosscoder")
    assert model.config.widths == (6, 5) and model.stats is not None
    assert model.config.dead_after_tokens == 128
    (tmp_path / "c.toml").write_text("[crosscoder]\nwidths = [7, 5]\n")
    wrong = CliRunner().invoke(app, [*args, "--force", "--config", str(tmp_path / "c.toml")])
    assert wrong.exit_code != 0 and "set widths = [6, 5]" in str(wrong.exception)


def _train_cli(args: list[str], nproc: int | None) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    if nproc:
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc-per-node={nproc}",
            "-m",
            "crossdiff.cli",
            *args,
        ]
    else:
        cmd = [sys.executable, "-m", "crossdiff.cli", *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("rule", ["batchtopk"])
def test_torchrun_two_processes_match_one(tmp_path: Path, rule: str) -> None:
    data = tmp_path / "acts.safetensors"
    _write_activations(data, 512)
    common = [
        "train",
        "--activations",
        str(data),
        "--sparsity",
        rule,
        "--dict-size",
        "48",
        "--k",
        "4",
        "--p-a",
        "0.1",
        "--p-b",
        "0.1",
        "--steps",
        "15",
        "--batch-size",
        "64",
        "--lr",
        "1e-3",
        "--checkpoint-every",
        "5",
        "--no-progress",
    ]
    _train_cli([*common, "--out", str(tmp_path / "single")], None)
    _train_cli([*common, "--out", str(tmp_path / "double")], 2)
    single = load_crosscoder(tmp_path / "single" / "crosscoder")
    double = load_crosscoder(tmp_path / "double" / "crosscoder")
    for name, tensor in single.state_dict().items():
        torch.testing.assert_close(double.state_dict()[name], tensor, rtol=1e-4, atol=1e-5)
    source = load_activation_file(data)
    torch.testing.assert_close(
        double.encode(source.x_a, source.x_b),
        single.encode(source.x_a, source.x_b),
        rtol=1e-3,
        atol=1e-4,
    )


@pytest.mark.slow
def test_sigkilled_cli_run_resumes_to_the_same_weights(tmp_path: Path) -> None:
    import signal
    import time

    data = tmp_path / "acts.safetensors"
    _write_activations(data, 512)
    common = [
        "train",
        "--activations",
        str(data),
        "--sparsity",
        "batchtopk",
        "--dict-size",
        "64",
        "--k",
        "4",
        "--p-a",
        "0.1",
        "--p-b",
        "0.1",
        "--steps",
        "400",
        "--batch-size",
        "32",
        "--lr",
        "1e-3",
        "--checkpoint-every",
        "20",
        "--no-progress",
    ]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    killed = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, "-m", "crossdiff.cli", *common, "--out", str(killed)], env=env
    )
    pointer = killed / "checkpoints" / "latest.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if pointer.exists() and json.loads(pointer.read_text())["step"] >= 40:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (killed / "crosscoder").exists(), "the run finished before it could be killed"
    _train_cli([*common, "--out", str(killed)], None)
    _train_cli([*common, "--out", str(tmp_path / "whole")], None)
    resumed = load_crosscoder(killed / "crosscoder")
    whole = load_crosscoder(tmp_path / "whole" / "crosscoder")
    for name, tensor in whole.state_dict().items():
        assert torch.equal(resumed.state_dict()[name], tensor), name


def _process_group_worker(rank: int, port: int, out: str) -> None:
    """One rank of a two-process group: records whether the group is up inside the `with`,
    after it, and after a body that raises."""
    from crossdiff.crosscoder.distributed import process_group_from_environment

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank))
    os.environ.update(WORLD_SIZE="2", LOCAL_RANK=str(rank))
    seen: dict[str, object] = {}
    with process_group_from_environment() as joined:
        seen["joined"] = joined
        seen["inside"] = torch.distributed.is_initialized()
        seen["world"] = torch.distributed.get_world_size()
    seen["after"] = torch.distributed.is_initialized()
    try:
        with process_group_from_environment():
            raise RuntimeError("body failed")
    except RuntimeError:
        seen["after_error"] = torch.distributed.is_initialized()
    Path(out, f"rank{rank}.json").write_text(json.dumps(seen))


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_process_group_context_does_nothing_outside_torchrun(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from crossdiff.crosscoder.distributed import process_group_from_environment, rank_and_world

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with process_group_from_environment() as joined:
        assert joined is False
        assert not torch.distributed.is_initialized()
        assert rank_and_world() == (0, 1)


@pytest.mark.slow
def test_process_group_context_leaves_the_group_even_when_the_body_raises(
    tmp_path: Path,
) -> None:
    import torch.multiprocessing as mp

    mp.spawn(_process_group_worker, args=(_free_port(), str(tmp_path)), nprocs=2, join=True)
    for rank in (0, 1):
        seen = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert seen == {
            "joined": True,
            "inside": True,
            "world": 2,
            "after": False,
            "after_error": False,
        }
