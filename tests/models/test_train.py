"""Training on real faces: loss goes down, runs are written, resumed, time-limited, frozen,
and mirrored over two CPU devices."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from emonet.models import (
    AugmentConfig,
    ModelConfig,
    TrainingConfig,
    build_backbone,
    build_model,
    load_model,
    make_dataset,
    make_strategy,
    train,
)
from emonet.predictions import load_predictions
from tests.models.conftest import TINY

TINY_MODEL = ModelConfig(
    "compact",
    use_features=True,
    backbone_options=TINY,
    feature_units=(32,),
    head_units=(32,),
    dropout=0.1,
)
QUICK = {"batch_size": 32, "augment": AugmentConfig(mode="none"), "mixed_precision": None}


def quick(**overrides) -> TrainingConfig:
    """The CPU recipe, tiny: a few epochs of a few steps."""
    return TrainingConfig.cpu(**{"epochs": 2, **QUICK, **overrides})


def test_a_few_training_steps_on_real_faces_lower_the_loss(train_set):
    keras.utils.set_random_seed(0)
    model = build_model(TINY_MODEL, features=train_set.features)
    model.compile(keras.optimizers.Adam(3e-3), "categorical_crossentropy")
    data = make_dataset(train_set, use_features=True, batch_size=32)
    before = model.evaluate(data, verbose=0)
    model.fit(
        make_dataset(train_set, use_features=True, batch_size=32, shuffle=True, seed=0),
        epochs=4,
        shuffle=False,
        verbose=0,
    )
    after = model.evaluate(data, verbose=0)
    assert after < before - 0.1


def test_train_writes_a_complete_run_folder(train_set, val_set, tmp_path):
    config = quick(augment=AugmentConfig(), mixed_precision="bfloat16")
    result = train(train_set, val_set, TINY_MODEL, config, out_dir=tmp_path / "run", verbose=0)
    run = tmp_path / "run"
    assert result.epochs == 2 and result.stop_reason == "epochs"
    assert sorted(p.name for p in run.iterdir()) == [
        "config.json",
        "history.csv",
        "history.png",
        "model.keras",
        "val_predictions.npz",
    ]
    with open(run / "history.csv") as stream:
        rows = list(csv.DictReader(stream))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert {
        "phase",
        "learning_rate",
        "seconds",
        "loss",
        "accuracy",
        "val_loss",
        "val_accuracy",
    } <= set(rows[0])
    document = json.loads((run / "config.json").read_text())
    assert document["model"] == TINY_MODEL.get_config()
    assert TrainingConfig.from_config(document["training"]) == config
    assert document["results"]["epochs"] == 2
    predictions = load_predictions(run / "val_predictions.npz")
    assert predictions.model_name == "compact_features"
    np.testing.assert_array_equal(predictions.ids, val_set.ids)
    np.testing.assert_array_equal(predictions.labels, val_set.labels)
    accuracy = np.mean(predictions.probabilities.argmax(1) == val_set.labels)
    assert accuracy == pytest.approx(document["results"]["validation_accuracy"])
    # the saved model predicts what the trained one does
    loaded = load_model(run / "model.keras")
    inputs = {"face": val_set.images[:8, :, :, None], "features": val_set.features[:8]}
    np.testing.assert_allclose(
        loaded.predict(inputs, verbose=0),
        result.model.predict(inputs, verbose=0),
        rtol=1e-3,
        atol=1e-3,
    )
    with pytest.raises(FileExistsError, match="already holds a trained model"):
        train(train_set, val_set, TINY_MODEL, config, out_dir=run, verbose=0)


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, after: int):
        super().__init__()
        self.after = after

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.after:
            raise KeyboardInterrupt


def test_an_interrupted_run_resumes_from_its_last_epoch(train_set, val_set, tmp_path):
    config = quick(epochs=3)
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(
            train_set,
            val_set,
            TINY_MODEL,
            config,
            out_dir=run,
            callbacks=[_Interrupt(2)],
            verbose=0,
        )
    state = json.loads((run / "checkpoints" / "state.json").read_text())
    assert state["epoch"] == 2 and not (run / "model.keras").exists()
    with pytest.raises(FileExistsError, match="interrupted run; pass resume=True"):
        train(train_set, val_set, TINY_MODEL, config, out_dir=run, verbose=0)
    with pytest.raises(ValueError, match=r"training configuration \(learning_rate\)"):
        train(
            train_set,
            val_set,
            TINY_MODEL,
            quick(epochs=3, learning_rate=0.1),
            out_dir=run,
            resume=True,
            verbose=0,
        )
    result = train(train_set, val_set, TINY_MODEL, config, out_dir=run, resume=True, verbose=0)
    assert result.epochs == 3
    assert result.history["epoch"] == [1, 2, 3]
    # the cosine schedule went on where it stopped: the last learning rate is the lowest
    assert result.history["learning_rate"][2] < result.history["learning_rate"][1]
    assert not (run / "checkpoints").exists()


def test_time_limit_stops_cleanly_and_keeps_the_best_weights(train_set, val_set):
    result = train(train_set, val_set, TINY_MODEL, quick(epochs=50, time_limit=0.0005), verbose=0)
    assert result.stop_reason == "time_limit"
    assert result.epochs == 1 and result.best_epoch == 1


def test_cosine_decay_ends_with_the_time_limit(train_set, val_set):
    # 50 epochs would keep the rate near its peak; the time limit brings the decay forward.
    # 7 s: the first epoch (graph tracing) took over 3.6 s when the whole suite ran on 2
    # busy cores, and 50 epochs take about 14 s even on idle ones.
    result = train(train_set, val_set, TINY_MODEL, quick(epochs=50, time_limit=0.12), verbose=0)
    assert result.stop_reason == "time_limit" and 2 <= result.epochs < 50
    rates = result.history["learning_rate"]
    assert rates[-1] < 0.5 * TrainingConfig.cpu().learning_rate
    assert all(later <= earlier for earlier, later in zip(rates[1:], rates[2:], strict=False))


def test_pretrained_backbone_is_frozen_in_phase_one(train_set, val_set, tmp_path):
    path = tmp_path / "tiny.weights.h5"
    pretrained = build_backbone("compact", **TINY)
    pretrained.save_weights(path)
    seen = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(self.model.get_layer("backbone").get_weights())

    config = quick(epochs=2, freeze_epochs=1)
    result = train(
        train_set, val_set, TINY_MODEL, config, weights=path, callbacks=[Record()], verbose=0
    )
    assert result.history["phase"] == [1, 2]
    for a, b in zip(seen[0], pretrained.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # frozen: not even batch statistics move
    assert not all(np.array_equal(a, b) for a, b in zip(seen[1], seen[0], strict=True))
    # from scratch there is nothing to freeze: phase 2 only
    scratch = train(train_set, val_set, TINY_MODEL, config, verbose=0)
    assert scratch.history["phase"] == [2, 2]


def test_plateau_schedule_and_early_stopping(train_set, val_set):
    config = TrainingConfig.paper(
        epochs=6,
        learning_rate=0.5,
        plateau_patience=1,
        plateau_factor=0.1,
        early_stopping_patience=2,
        **QUICK,
    )
    result = train(train_set, val_set, TINY_MODEL, config, verbose=0)
    rates = result.history["learning_rate"]
    assert min(rates) < 0.5  # reduced at least once
    if result.stop_reason == "early_stopping":
        assert result.epochs - result.best_epoch == 2


def test_config_checks_and_strategy_names():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        TrainingConfig(optimizer="lion")
    with pytest.raises(ValueError, match="unknown training configuration keys: speed"):
        TrainingConfig.from_config({"speed": 2})
    with pytest.raises(ValueError, match="unknown strategy 'tpu'"):
        make_strategy("tpu")


def test_multiworker_needs_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        make_strategy("multiworker")


MIRRORED = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from emonet.features import load_features
    from emonet.models import AugmentConfig, ModelConfig, TrainingConfig, train
    data = load_features(sys.argv[1])
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    model = ModelConfig("compact", use_features=True, feature_units=(16,), head_units=(16,),
                        backbone_options={"widths": [8, 16], "convs_per_block": 1})
    config = TrainingConfig.cpu(epochs=2, batch_size=32, mixed_precision=None)
    result = train(data.select("Training"), data.select("PublicTest"), model, config,
                   strategy=strategy, verbose=0)
    print(json.dumps({"replicas": strategy.num_replicas_in_sync,
                      "loss": result.history["loss"]}))
""")


def test_mirrored_strategy_on_two_cpu_devices(features_file, tmp_path):
    script = tmp_path / "mirrored.py"
    script.write_text(MIRRORED)
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, str(script), str(features_file)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2
    assert np.all(np.isfinite(report["loss"])) and report["loss"][1] < report["loss"][0]
