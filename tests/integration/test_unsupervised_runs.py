"""Unsupervised multi-view PIB end to end: training never reads a label, and the command line
writes the four representations' scores and the embedding plot (the rule's own tests are in
tests/unit/test_unsupervised.py)."""

from __future__ import annotations

import dataclasses
import json

import torch

from pnnkit.cli import main
from pnnkit.experiment import TrainConfig, Trainer


def test_labels_are_never_used_in_training(tmp_path):
    """Shuffling the training labels leaves the trained hardware bit-identical."""
    states = []
    for shuffle in (False, True):
        config = TrainConfig(
            task="unsupervised",
            dataset="iris",
            epochs=2,
            hidden=[8, 6],
            batch_size=32,
            activation="tanh",
            out=str(tmp_path / f"run{shuffle}"),
        )
        trainer = Trainer(config)
        if shuffle:
            data = trainer.data
            order = torch.randperm(len(data.y_train), generator=torch.Generator().manual_seed(1))
            assert not torch.equal(data.y_train[order], data.y_train)
            trainer.data = dataclasses.replace(data, y_train=data.y_train[order])
        trainer.train(progress=False)
        states.append([u.stage.read_parameters() for u in trainer.network.units])
    for a, b in zip(*states, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_cli_unsupervised_run_writes_scores_and_embedding(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--task", "unsupervised", "--dataset", "iris", "--epochs", "2"]
    args += ["--hidden", "8,6", "--batch-size", "32", "--quiet", "--out", str(out)]
    assert main([*args, "--json"]) == 0
    stdout = capsys.readouterr().out
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["task"] == "unsupervised"
    results = summary["unsupervised"]
    for metric in ("probe", "nmi"):
        assert set(results[metric]) == {"learned", "untrained", "raw", "pca"}
        assert all(0 <= v <= 1 for v in results[metric].values())
    # two passes per unit and training sample (112 of iris), two epochs, two units
    assert summary["physical_queries"] == 2 * 2 * 2 * 112
    assert summary["evaluation_queries"] > 0
    embedding = out / "embedding.png"
    assert str(embedding) in summary["plots"]
    assert embedding.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "summary.json").read_text())["unsupervised"] == results
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in metrics] == [1, 2]
    assert metrics[-1]["probe_accuracy"] == results["probe"]["learned"]
    # the readable summary names all four representations
    assert main([*args, "--overwrite"]) == 0
    text = capsys.readouterr().out
    for name in ("trained network", "untrained network", "raw input", "PCA to 4"):
        assert name in text
