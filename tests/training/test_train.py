"""Training on real faces: runs are written, resumed, time-limited, frozen, and mirrored
over two CPU devices.

No assertion depends on the wall clock or on how well a few epochs happen to train: time
comes from a fake clock, and the schedules are checked against the rules replayed on the
logged values.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

from emonet import _choices
from emonet.models import ModelConfig, build_backbone, build_model, load_model
from emonet.predictions import load_predictions
from emonet.training import (
    RECIPES,
    STRATEGIES,
    AugmentConfig,
    DeviceStrategy,
    TrainingConfig,
    TrainingResult,
    make_strategy,
    train,
)
from emonet.training._distribute import as_strategy
from emonet.training._run import check_resumable, new_state
from emonet.training._schedule import Plateau, cosine_learning_rate, is_improvement
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


class FakeClock:
    """Seconds that pass only when a test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Tick(keras.callbacks.Callback):
    """Let ``seconds`` pass on the fake clock at every training batch."""

    def __init__(self, clock: FakeClock, seconds: float):
        super().__init__()
        self.clock, self.seconds = clock, seconds

    def on_train_batch_begin(self, batch, logs=None):
        self.clock.now += self.seconds


def test_a_tiny_model_fits_a_small_batch_of_real_faces(train_set):
    # 32 faces seen 40 times: a network that learns at all fits them, by a wide margin
    keras.utils.set_random_seed(0)
    model = build_model(TINY_MODEL, features=train_set.features)
    model.compile(keras.optimizers.Adam(3e-3), "categorical_crossentropy")
    inputs = {"face": train_set.images[:32, :, :, None], "features": train_set.features[:32]}
    targets = np.eye(7, dtype="float32")[train_set.labels[:32]]
    before = model.evaluate(inputs, targets, verbose=0)
    model.fit(inputs, targets, batch_size=32, epochs=40, verbose=0)
    assert model.evaluate(inputs, targets, verbose=0) < 0.5 * before


def test_train_writes_a_complete_run_folder(train_set, val_set, tmp_path):
    config = quick(augment=AugmentConfig(), mixed_precision="bfloat16")
    result = train(train_set, val_set, TINY_MODEL, config, out_dir=tmp_path / "run", verbose=0)
    run = tmp_path / "run"
    assert isinstance(result, TrainingResult) and result.out_dir == run
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


def _stored_values(path: Path) -> tuple[int, list[str]]:
    """Values stored in the weights of a .keras file, and the paths of its datasets."""
    names: list[str] = []
    total = 0
    with zipfile.ZipFile(path) as archive, archive.open("model.weights.h5") as stream:
        with h5py.File(stream, "r") as weights:

            def visit(name, item):
                nonlocal total
                if isinstance(item, h5py.Dataset):
                    names.append(name)
                    total += item.size

            weights.visititems(visit)
    return total, names


def test_run_model_file_holds_no_optimizer_state(train_set, val_set, tmp_path):
    # SGD with momentum keeps one value per weight: with it the file would be twice as big
    result = train(train_set, val_set, TINY_MODEL, quick(epochs=1), out_dir=tmp_path, verbose=0)
    assert result.model.optimizer.variables  # the trained model has them
    stored, names = _stored_values(tmp_path / "model.keras")
    variables = sum(int(np.prod(w.shape)) for w in result.model.weights)
    assert stored == variables
    assert not [name for name in names if "optimizer" in name]
    # float32 values plus a little structure (architecture, HDF5 headers, emonet's record)
    assert (tmp_path / "model.keras").stat().st_size < 4 * variables + 200_000


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
    # the format of runs already on disk: they must still resume
    assert set(state) == {
        "model",
        "training",
        "weights",
        "initial_model",
        "epoch",
        "phase",
        "elapsed",
        "best",
        "wait",
        "plateau",
        "history",
        "stop_reason",
        "finished",
        "progress",
    }
    assert set(state["best"]) == {"value", "epoch"} and set(state["plateau"]) == {"best", "wait"}
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "best.weights.h5",
        "last.weights.h5",
        "state.json",
    ]
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
    # 1 s per batch against a 2 s limit: over time in the third batch of the first epoch
    clock = FakeClock()
    result = train(
        train_set,
        val_set,
        TINY_MODEL,
        quick(epochs=50, time_limit=2 / 60),
        callbacks=[Tick(clock, 1.0)],
        clock=clock,
        verbose=0,
    )
    assert result.stop_reason == "time_limit"
    assert result.epochs == 1 and result.best_epoch == 1
    assert result.seconds == pytest.approx(3.0)


def test_cosine_decay_ends_with_the_time_limit(train_set, val_set):
    # 336 faces in batches of 32: 10 steps of 1 s, so 10-second epochs against a 30 s
    # limit. 50 epochs would keep the rate near its peak; the limit leaves room for 3,
    # and the decay ends with the third.
    clock = FakeClock()
    config = quick(epochs=50, time_limit=0.5)
    result = train(
        train_set,
        val_set,
        TINY_MODEL,
        config,
        callbacks=[Tick(clock, 1.0)],
        clock=clock,
        verbose=0,
    )
    assert result.stop_reason == "time_limit" and result.epochs == 3
    assert result.history["seconds"] == [10.0, 10.0, 10.0] and result.seconds == 30.0
    # the rate of each epoch's last batch: warm-up to 0.9 of the first epoch, then the
    # decay over the two epochs the first one's duration left room for
    peak, low = config.learning_rate, config.min_learning_rate
    expected = [
        peak * (0.1 + 0.9 * 0.9),
        cosine_learning_rate(peak, low, 0.9 / 2),
        cosine_learning_rate(peak, low, 1.9 / 2),
    ]
    np.testing.assert_allclose(result.history["learning_rate"], expected, rtol=1e-5)
    assert result.history["learning_rate"][-1] < 0.01 * peak


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


def test_a_run_can_start_from_a_trained_model(train_set, val_set, tmp_path):
    first = train(
        train_set, val_set, TINY_MODEL, quick(epochs=1), out_dir=tmp_path / "a", verbose=0
    )
    start = []

    class Record(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            start.append(self.model.get_weights())

    saved = tmp_path / "a" / "model.keras"
    config = quick(epochs=1)
    result = train(
        train_set,
        val_set,
        TINY_MODEL,
        config,
        initial_model=saved,
        out_dir=tmp_path / "b",
        callbacks=[Record()],
        verbose=0,
    )
    for begun, trained in zip(start[0], first.model.get_weights(), strict=True):
        np.testing.assert_array_equal(begun, trained)
    assert result.history["phase"] == [2]  # nothing frozen, unlike pretrained weights
    assert json.loads((tmp_path / "b" / "config.json").read_text())["initial_model"] == str(saved)
    # a wider network starts from what the trained one computes (transfer_weights)
    wider = dataclasses.replace(TINY_MODEL, head_units=(48,))
    grown = train(train_set, val_set, wider, config, initial_model=saved, verbose=0)
    assert grown.model.get_layer("head_dense1").get_weights()[0].shape[-1] == 48
    # a narrower one is refused before training, naming the file and the layer
    narrower = dataclasses.replace(TINY_MODEL, head_units=(16,))
    with pytest.raises(ValueError, match=r"model\.keras: another network .*'head_dense1'"):
        train(train_set, val_set, narrower, config, initial_model=saved, verbose=0)
    with pytest.raises(FileNotFoundError, match="no such model file"):
        train(train_set, val_set, TINY_MODEL, config, initial_model=tmp_path / "x.keras")


def test_a_resumed_run_keeps_its_initial_model():
    config = quick()
    state = new_state(TINY_MODEL, config, None, "a/model.keras")
    check_resumable(state, TINY_MODEL, config, None, "a/model.keras")
    with pytest.raises(ValueError, match="another initial model"):
        check_resumable(state, TINY_MODEL, config, None, "b/model.keras")
    # a run saved before initial models existed has no such key, and resumes
    del state["initial_model"]
    check_resumable(state, TINY_MODEL, config, None)


def test_plateau_schedule_and_early_stopping_follow_their_rules(train_set, val_set):
    config = TrainingConfig.paper(
        epochs=6,
        learning_rate=0.5,
        plateau_patience=1,
        plateau_factor=0.1,
        early_stopping_patience=2,
        **QUICK,
    )
    result = train(train_set, val_set, TINY_MODEL, config, verbose=0)
    history = result.history
    # replay the rules on the logged validation losses: the run must have done the same,
    # whatever the losses were
    plateau = Plateau(config.plateau_patience, config.plateau_factor, config.min_learning_rate)
    rate, best, best_epoch, wait, stopped = config.learning_rate, None, 0, 0, False
    for epoch, (loss, logged_rate) in enumerate(
        zip(history["val_loss"], history["learning_rate"], strict=True), start=1
    ):
        assert not stopped, "trained on after early stopping"
        assert logged_rate == pytest.approx(rate, rel=1e-6)
        if is_improvement(loss, best, higher_is_better=False):
            best, best_epoch, wait = loss, epoch, 0
        else:
            wait += 1
        stopped = wait >= config.early_stopping_patience
        rate = plateau.step(loss, rate)
    assert result.stop_reason == ("early_stopping" if stopped else "epochs")
    assert result.epochs == (len(history["epoch"])) and (stopped or result.epochs == 6)
    assert result.best_epoch == best_epoch and result.best_value == pytest.approx(best)


def test_recipe_and_strategy_names_are_the_commands_choices():
    assert tuple(RECIPES) == _choices.RECIPE_NAMES
    assert STRATEGIES == _choices.STRATEGIES
    for name, recipe in RECIPES.items():
        assert isinstance(recipe(), TrainingConfig), name
    assert RECIPES["cpu"](epochs=3).epochs == 3
    assert make_strategy("default").num_replicas_in_sync == 1


def test_config_checks_and_strategy_names():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        TrainingConfig(optimizer="lion")
    with pytest.raises(ValueError, match="unknown training configuration keys: speed"):
        TrainingConfig.from_config({"speed": 2})
    with pytest.raises(ValueError, match="unknown strategy 'tpu'"):
        make_strategy("tpu")


def test_strategy_names_map_to_the_backends_own():
    strategy = make_strategy("default")
    assert isinstance(strategy, DeviceStrategy) and strategy.backend == keras.backend.backend()
    assert strategy.num_replicas_in_sync == 1 and strategy.is_chief()
    assert strategy.process_shard() == (0, 1) and not strategy.keras_distribution
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        assert isinstance(strategy.strategy, tf.distribute.Strategy)
        with strategy.scope():
            assert tf.distribute.get_strategy() is strategy.strategy
        wrapped = as_strategy(tf.distribute.MirroredStrategy(["/cpu:0"]))
        assert wrapped.kind == "MirroredStrategy" and wrapped.num_replicas_in_sync == 1
    assert as_strategy(strategy) is strategy and as_strategy(None).num_replicas_in_sync == 1


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
    from emonet.models import ModelConfig
    from emonet.training import AugmentConfig, TrainingConfig, train
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
    # what is always true of two epochs on two devices (whether the loss fell is not)
    assert report["replicas"] == 2
    assert len(report["loss"]) == 2 and np.all(np.isfinite(report["loss"]))


class _Snapshot(keras.callbacks.Callback):
    """The model's weights when training begins."""

    def on_train_begin(self, logs=None):
        self.weights = [np.array(w) for w in self.model.get_weights()]


def _distance(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return float(sum(np.abs(x - y).sum() for x, y in zip(a, b, strict=True)))


def test_a_moving_average_of_the_weights_is_what_training_keeps(train_set, val_set, tmp_path):
    # with momentum 0.9999 the average barely moves after the first of its 20 steps (Keras
    # starts it at the weights after that step): the kept weights stay near the initial
    # ones, while plain training moves them
    moved = {}
    for name, ema in (("plain", None), ("average", 0.9999)):
        snapshot = _Snapshot()
        result = train(
            train_set,
            val_set,
            TINY_MODEL,
            quick(epochs=2, ema_momentum=ema, learning_rate=0.1),
            out_dir=tmp_path / name,
            callbacks=[snapshot],
            verbose=0,
        )
        trainable = {id(v) for v in result.model.trainable_weights}
        mask = [id(v) in trainable for v in result.model.weights]
        final = [w for w, keep in zip(result.model.get_weights(), mask, strict=True) if keep]
        start = [w for w, keep in zip(snapshot.weights, mask, strict=True) if keep]
        moved[name] = _distance(final, start)
        saved = load_model(tmp_path / name / "model.keras")
        for a, b in zip(saved.get_weights(), result.model.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    assert moved["average"] < 0.2 * moved["plain"]


def test_an_interrupted_run_with_an_average_resumes_it(train_set, val_set, tmp_path):
    # no dropout, no augmentation: the resumed run must end where an uninterrupted one does
    model = dataclasses.replace(TINY_MODEL, dropout=0.0)
    config = quick(epochs=3, ema_momentum=0.9)
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(train_set, val_set, model, config, out_dir=run, callbacks=[_Interrupt(2)], verbose=0)
    resumed = train(train_set, val_set, model, config, out_dir=run, resume=True, verbose=0)
    straight = train(train_set, val_set, model, config, out_dir=tmp_path / "straight", verbose=0)
    assert resumed.history["epoch"] == [1, 2, 3]
    assert resumed.best_epoch == straight.best_epoch
    for a, b in zip(resumed.model.get_weights(), straight.model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_a_model_of_the_features_alone_trains(train_set, val_set):
    config = quick(epochs=2, optimizer="adamw", learning_rate=1e-3, augment=AugmentConfig())
    result = train(train_set, val_set, ModelConfig(None, use_features=True), config, verbose=0)
    assert result.epochs == 2 and result.model.name == "features"
    assert result.history["loss"][1] < result.history["loss"][0]
