"""Training: the paper's two-phase schedule, checkpoints, resumption, many devices.

Phase 1 (only when the backbone starts from pretrained weights): the backbone is frozen
and the rest trains with Adam. Phase 2: everything trains, by default with SGD and
Nesterov momentum, the learning rate reduced when the validation loss stops improving,
and early stopping. A backbone trained from scratch has nothing worth freezing, so it
skips phase 1.

Every epoch writes a checkpoint (weights and optimizer state), the run's state and the
history; ``train(..., resume=True)`` continues an interrupted run from its last epoch.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from emonet._constants import LABELS, NUM_CLASSES
from emonet.features import FeatureSet
from emonet.models._augment import AugmentConfig
from emonet.models._config import config_from_dict
from emonet.models._data import balanced_class_weights, make_dataset
from emonet.models._fusion import BACKBONE_LAYER, ModelConfig, build_model
from emonet.predictions import save_predictions

__all__ = [
    "RECIPES",
    "STRATEGIES",
    "TrainingConfig",
    "TrainingResult",
    "make_strategy",
    "train",
]

OPTIMIZERS = ("sgd", "adam", "adamw")
LR_SCHEDULES = ("plateau", "cosine", "constant")
MONITORS = ("val_loss", "val_accuracy", "loss", "accuracy")
PRECISIONS = (None, "bfloat16", "float16")
STRATEGIES = ("auto", "default", "mirrored", "multiworker")

# File names inside a run folder.
MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"
HISTORY_CSV = "history.csv"
HISTORY_PNG = "history.png"
VAL_PREDICTIONS = "val_predictions.npz"
CHECKPOINTS = "checkpoints"
_STATE = "state.json"
_LAST = "last.weights.h5"
_BEST = "best.weights.h5"


@dataclass
class TrainingConfig:
    """How to train: the schedule, the optimisers, augmentation, precision, limits.

    The defaults are the paper's recipe (:meth:`paper`); :meth:`cpu` is the recipe of the
    ``compact`` backbone on a small CPU. Every field can be changed.

    Parameters
    ----------
    epochs : int
        Total epochs, both phases together (paper: 5 frozen + 50).
    batch_size : int
        Global batch size (split over the devices of a distribution strategy).
    freeze_epochs : int
        Epochs of phase 1, with the backbone frozen; only used when the backbone starts
        from pretrained weights.
    freeze_optimizer, freeze_learning_rate
        Optimiser of phase 1 (paper: Adam, 1e-3).
    optimizer : {"sgd", "adam", "adamw"}
        Optimiser of phase 2 (paper: SGD).
    learning_rate : float
        Initial (peak, with warm-up) learning rate of phase 2.
    momentum, nesterov
        SGD momentum (paper: 0.9, Nesterov).
    weight_decay : float
        Decoupled weight decay (SGD, AdamW); 0 for none.
    lr_schedule : {"plateau", "cosine", "constant"}
        ``"plateau"``: multiply by ``plateau_factor`` when ``val_loss`` has not improved for
        ``plateau_patience`` epochs (Keras' ``ReduceLROnPlateau``). ``"cosine"``: cosine
        decay to ``min_learning_rate`` over phase 2, measured in epochs or, with a time
        limit, in time, whichever runs out first.
    plateau_factor, plateau_patience, min_learning_rate
        Settings of the schedules.
    warmup_epochs : float
        Linear warm-up of the phase 2 learning rate from a tenth of its value.
    early_stopping_patience : int or None
        Stop when ``monitor`` has not improved for this many epochs of phase 2; ``None``
        never stops early.
    monitor : {"val_loss", "val_accuracy", "loss", "accuracy"}
        Quantity that picks the best weights (restored at the end) and stops early.
    label_smoothing : float
        Label smoothing of the cross-entropy.
    class_weight : {None, "balanced"}
        ``"balanced"`` weights each face by the inverse frequency of its class.
    augment : AugmentConfig
        Random geometric augmentation of the training faces (and their features).
    mixed_precision : {None, "bfloat16", "float16"}
        Compute dtype of ``mixed_*`` precision; weights stay float32.
    jit_compile : bool or "auto"
        XLA compilation; ``"auto"`` lets Keras decide (off on a CPU, where it is slower).
    time_limit : float or None
        Minutes of training, after which the run stops cleanly (at the end of an epoch when
        the next would not finish in time) and keeps its best weights.
    seed : int
        Seed of initialisation, shuffling and augmentation.
    validation_batch_size : int
        Batch size of validation and prediction.

    Examples
    --------
    >>> from emonet.models import TrainingConfig
    >>> config = TrainingConfig.cpu()
    >>> config.mixed_precision, config.lr_schedule
    ('bfloat16', 'cosine')
    >>> TrainingConfig.from_config(config.get_config()) == config
    True
    """

    epochs: int = 55
    batch_size: int = 64
    freeze_epochs: int = 5
    freeze_optimizer: str = "adam"
    freeze_learning_rate: float = 1e-3
    optimizer: str = "sgd"
    learning_rate: float = 1e-3
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 0.0
    lr_schedule: str = "plateau"
    plateau_factor: float = 0.5
    plateau_patience: int = 3
    min_learning_rate: float = 1e-6
    warmup_epochs: float = 0.0
    early_stopping_patience: int | None = 8
    monitor: str = "val_loss"
    label_smoothing: float = 0.0
    class_weight: str | None = None
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    mixed_precision: str | None = None
    jit_compile: bool | str = "auto"
    time_limit: float | None = None
    seed: int = 0
    validation_batch_size: int = 256

    def __post_init__(self) -> None:
        if isinstance(self.augment, dict):
            self.augment = AugmentConfig.from_config(self.augment)
        checks = [
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (self.freeze_epochs >= 0, f"freeze_epochs must be >= 0, got {self.freeze_epochs}"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}"),
            (self.freeze_optimizer in OPTIMIZERS, f"freeze_optimizer must be one of {OPTIMIZERS}"),
            (self.lr_schedule in LR_SCHEDULES, f"lr_schedule must be one of {LR_SCHEDULES}"),
            (self.monitor in MONITORS, f"monitor must be one of {MONITORS}"),
            (self.mixed_precision in PRECISIONS, f"mixed_precision must be one of {PRECISIONS}"),
            (self.class_weight in (None, "balanced"), "class_weight must be None or 'balanced'"),
            (self.learning_rate > 0, "learning_rate must be > 0"),
            (0 <= self.label_smoothing < 1, "label_smoothing must lie in [0, 1)"),
            (0 < self.plateau_factor < 1, "plateau_factor must lie in (0, 1)"),
            (self.time_limit is None or self.time_limit > 0, "time_limit must be > 0 minutes"),
            (
                self.jit_compile in (True, False, "auto"),
                "jit_compile must be True, False or 'auto'",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @classmethod
    def paper(cls, **overrides: Any) -> TrainingConfig:
        """The EmoNet paper's recipe: 5 frozen epochs with Adam, then 50 with SGD.

        Batch 64; phase 2 with SGD (Nesterov momentum 0.9, lr 1e-3), the learning rate
        halved after 3 epochs without a better validation loss, early stopping after 8,
        keeping the best weights. Augmentation: rotation up to 10 degrees, shear, zoom
        and horizontal flips, with the features moved and recomputed.
        """
        return cls(**overrides)

    @classmethod
    def cpu(cls, **overrides: Any) -> TrainingConfig:
        """The recipe of the ``compact`` backbone on a 2-core CPU, about 30-60 minutes.

        The network trains from scratch (no phase 1), so phase 2 is tuned for it: SGD
        with Nesterov momentum at lr 0.05 and weight decay 5e-4, batch 128, one warm-up
        epoch then a cosine decay that ends when either ``epochs`` or the ``time_limit``
        runs out; label smoothing 0.1; bfloat16 mixed precision; the paper's augmentation
        without shear, plus shifts of up to 5%; the best weights by validation accuracy.
        """
        settings: dict[str, Any] = {
            "epochs": 60,
            "batch_size": 128,
            "optimizer": "sgd",
            "learning_rate": 0.05,
            "weight_decay": 5e-4,
            "lr_schedule": "cosine",
            "min_learning_rate": 1e-5,
            "warmup_epochs": 1.0,
            "early_stopping_patience": None,
            "monitor": "val_accuracy",
            "label_smoothing": 0.1,
            "augment": AugmentConfig(shear=0.0, translate=0.05),
            "mixed_precision": "bfloat16",
        }
        settings.update(overrides)
        return cls(**settings)

    def get_config(self) -> dict[str, Any]:
        """The configuration as a JSON-compatible dict."""
        config = asdict(self)
        config["augment"] = self.augment.get_config()
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TrainingConfig:
        """Rebuild from :meth:`get_config`'s dict.

        Raises
        ------
        ValueError
            If a key is not a field.
        """
        return config_from_dict(cls, config, "training configuration")


#: Named recipes, for ``emonet-train --recipe``.
RECIPES: dict[str, Callable[..., TrainingConfig]] = {
    "paper": TrainingConfig.paper,
    "cpu": TrainingConfig.cpu,
}


@dataclass
class TrainingResult:
    """What :func:`train` returns.

    Attributes
    ----------
    model : keras.Model
        The trained model, with the best weights by ``monitor``.
    history : dict of str to list
        One list per column of ``history.csv`` (epoch, phase, lr, seconds, metrics).
    epochs : int
        Epochs trained, both phases, over all sessions of a resumed run.
    seconds : float
        Training time (wall), over all sessions.
    best_epoch : int
        Epoch (1-based) whose weights were kept.
    best_value : float
        Value of ``monitor`` at that epoch.
    monitor : str
    stop_reason : str
        ``"epochs"``, ``"early_stopping"`` or ``"time_limit"``.
    out_dir : pathlib.Path or None
    """

    model: keras.Model
    history: dict[str, list]
    epochs: int
    seconds: float
    best_epoch: int
    best_value: float
    monitor: str
    stop_reason: str
    out_dir: Path | None = None


# --------------------------------------------------------------------------- strategies


def make_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """A ``tf.distribute`` strategy by name.

    Parameters
    ----------
    name : {"auto", "default", "mirrored", "multiworker"}
        ``"auto"``: ``MirroredStrategy`` when more than one GPU is visible, else the
        default (one device). ``"mirrored"``: ``MirroredStrategy`` over all visible GPUs
        (or the CPU). ``"multiworker"``: ``MultiWorkerMirroredStrategy``, the cluster read
        from the ``TF_CONFIG`` environment variable.

    Returns
    -------
    tf.distribute.Strategy

    Raises
    ------
    ValueError
        If the name is unknown, or ``"multiworker"`` without ``TF_CONFIG``.
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    if name == "auto":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if not os.environ.get("TF_CONFIG"):
        raise ValueError(
            "strategy 'multiworker' reads the cluster from the TF_CONFIG environment "
            'variable, e.g. {"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}}; it is not set'
        )
    return tf.distribute.MultiWorkerMirroredStrategy()


def _is_chief(strategy: tf.distribute.Strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


# --------------------------------------------------------------------------- files


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as stream:
        stream.write(text)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(tmp, path)


@contextlib.contextmanager
def _atomic_path(path: Path, suffix: str) -> Iterator[Path]:
    """A temporary path with the suffix Keras insists on, moved onto ``path`` on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}{suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_history_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_value(v) for k, v in row.items()})
    _atomic_write_text(path, buffer.getvalue())


def _csv_value(value: Any) -> Any:
    return f"{value:.6g}" if isinstance(value, float) else value


def plot_history(history: dict[str, list] | list[dict[str, Any]], path: str | os.PathLike) -> Path:
    """Draw the training curves (loss, accuracy, learning rate) into a PNG.

    Parameters
    ----------
    history : dict of lists or list of dicts
        Columns as :attr:`TrainingResult.history`, or the rows of ``history.csv``.
    path : str or path-like
        The PNG to write.

    Returns
    -------
    pathlib.Path
    """
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if isinstance(history, list):
        columns: dict[str, list] = {}
        for row in history:
            for key, value in row.items():
                columns.setdefault(key, []).append(value)
        history = columns
    epochs = [int(e) for e in history.get("epoch", [])]
    figure, axes = plt.subplots(1, 3, figsize=(14, 4))
    for axis, metric in zip(axes[:2], ("loss", "accuracy"), strict=True):
        for prefix, style in (("", "-"), ("val_", "--")):
            values = history.get(prefix + metric)
            if values:
                axis.plot(
                    epochs,
                    [float(v) for v in values],
                    style,
                    marker=".",
                    label="validation" if prefix else "training",
                )
        axis.set_title(metric)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.legend()
    if history.get("learning_rate"):
        axes[2].plot(epochs, [float(v) for v in history["learning_rate"]], marker=".")
        axes[2].set_yscale("log")
    axes[2].set_title("learning rate (end of epoch)")
    axes[2].set_xlabel("epoch")
    axes[2].grid(alpha=0.3)
    phases = history.get("phase", [])
    for axis in axes:
        axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        for i in range(1, len(phases)):
            if phases[i] != phases[i - 1]:
                axis.axvline(epochs[i] - 0.5, color="grey", linestyle=":")
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _atomic_path(path, ".png") as tmp:
        figure.savefig(tmp, dpi=100)
    plt.close(figure)
    return path


# --------------------------------------------------------------------------- the monitor


@dataclass
class _Phase:
    index: int  # 1 frozen, 2 full
    start: int  # first epoch (0-based)
    end: int  # epochs after the phase
    optimizer: str
    learning_rate: float
    schedule: str
    early_stopping: bool


class _Monitor(keras.callbacks.Callback):
    """History, checkpoints, best weights, learning-rate schedule, early and timed stops.

    One callback instead of Keras' ReduceLROnPlateau, EarlyStopping and BackupAndRestore,
    because their counters must survive an interruption and span both phases; the rules
    are theirs.
    """

    def __init__(
        self,
        state: dict,
        phase: _Phase,
        config: TrainingConfig,
        steps: int,
        checkpoints: Path | None,
        write: Callable[[], None],
        verbose: int,
    ):
        super().__init__()
        self.state = state
        self.phase = phase
        self.config = config
        self.steps = max(1, steps)
        self.checkpoints = checkpoints
        self.write = write
        self.verbose = verbose
        self.session_start = time.monotonic()
        self.elapsed_before = float(state["elapsed"])
        self.epoch_start = 0.0
        self.durations: list[float] = []
        self.horizon: int | None = None  # last epoch the time limit leaves room for
        self.stop_reason: str | None = None
        self.sign = 1.0 if config.monitor.endswith("accuracy") else -1.0
        # cosine and warm-up move the learning rate every batch; the others once an epoch
        self.per_batch = phase.schedule == "cosine" or (
            phase.index == 2 and config.warmup_epochs > 0
        )

    # time
    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.session_start

    def _limit(self) -> float | None:
        return None if self.config.time_limit is None else self.config.time_limit * 60.0

    # learning rate
    def _scheduled_lr(self, epoch: int, batch: int) -> float | None:
        """The learning rate of this batch, or None where the plateau rule decides."""
        phase = self.phase
        done = (epoch - phase.start) + batch / self.steps
        warmup = self.config.warmup_epochs if phase.index == 2 else 0.0
        base = phase.learning_rate
        if done < warmup:
            return base * (0.1 + 0.9 * done / warmup)
        if phase.schedule == "constant":
            return base
        if phase.schedule == "plateau":
            if warmup and not self.state.get("warmed_up"):
                self.state["warmed_up"] = True
                return base
            return None
        # With a time limit, the decay ends with the last epoch that fits in it: estimated
        # from the epochs timed so far, or, before the first one ends, from the clock.
        end = phase.end if self.horizon is None else self.horizon
        progress = (done - warmup) / max(end - phase.start - warmup, 1e-9)
        if self.horizon is None and self._limit() is not None:
            progress = max(progress, self.elapsed() / self._limit())
        # never back up the curve when a slower or faster epoch moves the estimate
        progress = min(max(progress, self.state.get("progress", 0.0), 0.0), 1.0)
        self.state["progress"] = progress
        low = min(self.config.min_learning_rate, base)
        return low + 0.5 * (base - low) * (1 + math.cos(math.pi * progress))

    def _set_lr(self, value: float) -> None:
        self.model.optimizer.learning_rate = value

    def _lr(self) -> float:
        return float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.monotonic()
        self.epoch = epoch
        lr = self._scheduled_lr(epoch, 0)
        if lr is not None:
            self._set_lr(lr)

    def on_train_batch_begin(self, batch, logs=None):
        if self.per_batch:
            lr = self._scheduled_lr(self.epoch, batch)
            if lr is not None:
                self._set_lr(lr)

    def on_train_batch_end(self, batch, logs=None):
        limit = self._limit()
        if limit is not None and self.elapsed() > limit:
            self.stop_reason = "time_limit"
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        state, config = self.state, self.config
        seconds = time.monotonic() - self.epoch_start
        row = {
            "epoch": epoch + 1,
            "phase": self.phase.index,
            "learning_rate": self._lr(),
            "seconds": round(seconds, 2),
        }
        row.update({k: float(v) for k, v in logs.items() if k != "learning_rate"})
        state["history"].append(row)
        state["epoch"] = epoch + 1
        state["phase"] = self.phase.index

        # best weights
        value = logs.get(config.monitor)
        if value is None:
            raise ValueError(
                f"monitor {config.monitor!r} is not among the logged metrics "
                f"({', '.join(sorted(logs))}); validation metrics need validation data"
            )
        value = float(value)
        best = state["best"]
        improved = best["value"] is None or self.sign * (value - best["value"]) > 0
        if improved:
            state["best"] = {"value": value, "epoch": epoch + 1}
            state["wait"] = 0
            if self.checkpoints is not None:
                with _atomic_path(self.checkpoints / _BEST, ".weights.h5") as tmp:
                    self.model.save_weights(tmp)
            else:
                state["_best_weights"] = self.model.get_weights()
        elif self.phase.early_stopping:
            state["wait"] += 1

        # reduce on plateau (of the validation loss, as the paper)
        if self.phase.schedule == "plateau" and self.phase.index == 2:
            loss = float(logs.get("val_loss", logs.get("loss")))
            plateau = state["plateau"]
            if plateau["best"] is None or loss < plateau["best"]:
                plateau["best"], plateau["wait"] = loss, 0
            else:
                plateau["wait"] += 1
                if plateau["wait"] >= config.plateau_patience:
                    lr = self._lr()
                    new_lr = max(lr * config.plateau_factor, config.min_learning_rate)
                    if new_lr < lr:
                        self._set_lr(new_lr)
                        if self.verbose:
                            print(f"\nepoch {epoch + 1}: learning rate reduced to {new_lr:.3g}")
                    plateau["wait"] = 0

        # stops
        limit = self._limit()
        elapsed = self.elapsed()
        self.durations.append(seconds)
        fit = None
        if limit is not None:
            # the first epoch of a session also builds the graph: prefer later ones
            typical = float(np.median(self.durations[1:] or self.durations))
            fit = int(max(limit - elapsed, 0.0) // max(typical, 1e-9))
            self.horizon = min(self.phase.end, epoch + 1 + fit)
        if (
            self.phase.early_stopping
            and config.early_stopping_patience is not None
            and state["wait"] >= config.early_stopping_patience
        ):
            self.stop_reason = "early_stopping"
        elif self.stop_reason == "time_limit" or (fit == 0 and epoch + 1 < config.epochs):
            self.stop_reason = "time_limit"  # over time, or the next epoch would not end in time
        if self.stop_reason:
            self.model.stop_training = True
            state["stop_reason"] = self.stop_reason
            if self.verbose:
                print(f"\nstopping after epoch {epoch + 1}: {self.stop_reason.replace('_', ' ')}")

        state["elapsed"] = elapsed
        if self.checkpoints is not None:
            with _atomic_path(self.checkpoints / _LAST, ".weights.h5") as tmp:
                self.model.save_weights(tmp)
        self.write()


# --------------------------------------------------------------------------- train


def _make_optimizer(name: str, learning_rate: float, config: TrainingConfig):
    decay = config.weight_decay or None
    if name == "sgd":
        return keras.optimizers.SGD(
            learning_rate, momentum=config.momentum, nesterov=config.nesterov, weight_decay=decay
        )
    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    return keras.optimizers.AdamW(learning_rate, weight_decay=config.weight_decay or 0.004)


def _compile(model: keras.Model, phase: _Phase, config: TrainingConfig) -> None:
    model.compile(
        optimizer=_make_optimizer(phase.optimizer, phase.learning_rate, config),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=["accuracy"],
        jit_compile=config.jit_compile,
    )


def _phases(config: TrainingConfig, pretrained: bool) -> list[_Phase]:
    phases = []
    frozen = min(config.freeze_epochs, config.epochs - 1) if pretrained else 0
    if frozen > 0:
        phases.append(
            _Phase(
                1,
                0,
                frozen,
                config.freeze_optimizer,
                config.freeze_learning_rate,
                "constant",
                early_stopping=False,
            )
        )
    phases.append(
        _Phase(
            2,
            frozen,
            config.epochs,
            config.optimizer,
            config.learning_rate,
            config.lr_schedule,
            early_stopping=True,
        )
    )
    return phases


def _new_state(model_config: ModelConfig, config: TrainingConfig, weights) -> dict:
    return {
        "model": model_config.get_config(),
        "training": config.get_config(),
        "weights": None if weights is None else str(weights),
        "epoch": 0,
        "phase": 0,
        "elapsed": 0.0,
        "best": {"value": None, "epoch": 0},
        "wait": 0,
        "plateau": {"best": None, "wait": 0},
        "history": [],
        "stop_reason": None,
        "finished": False,
    }


def _prepare_out_dir(out_dir: Path, resume: bool, overwrite: bool) -> dict | None:
    """Check the run folder; return the saved state of an interrupted run to resume."""
    state_path = out_dir / CHECKPOINTS / _STATE
    finished = (out_dir / MODEL_FILE).exists()
    if overwrite:
        for name in (MODEL_FILE, CONFIG_FILE, HISTORY_CSV, HISTORY_PNG, VAL_PREDICTIONS):
            (out_dir / name).unlink(missing_ok=True)
        shutil.rmtree(out_dir / CHECKPOINTS, ignore_errors=True)
        return None
    if finished:
        raise FileExistsError(
            f"{out_dir} already holds a trained model ({MODEL_FILE}); choose another output "
            "folder or pass overwrite=True (--overwrite) to train again"
        )
    if state_path.exists():
        if not resume:
            raise FileExistsError(
                f"{out_dir} holds an interrupted run; pass resume=True (--resume) to continue "
                "it, or overwrite=True (--overwrite) to start again"
            )
        return json.loads(state_path.read_text())
    if resume and out_dir.exists() and any(out_dir.iterdir()):
        raise FileNotFoundError(f"{out_dir}: no checkpoint to resume from ({state_path})")
    return None


def train(
    train_data: FeatureSet,
    validation_data: FeatureSet | None,
    model_config: ModelConfig,
    config: TrainingConfig | None = None,
    *,
    weights: str | os.PathLike[str] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    strategy: tf.distribute.Strategy | str | None = "auto",
    callbacks: list[keras.callbacks.Callback] | None = None,
    verbose: int | str = "auto",
) -> TrainingResult:
    """Train an EmoNet model on a feature set, in one or two phases.

    Parameters
    ----------
    train_data : FeatureSet
        Labelled training faces and features (``load_features(path, usage="Training")``).
    validation_data : FeatureSet or None
        Labelled validation faces (PublicTest); needed by the ``val_*`` monitors and the
        plateau schedule.
    model_config : ModelConfig
        The network, e.g. ``variant_config("compact_features")``.
    config : TrainingConfig, optional
        The recipe; default :meth:`TrainingConfig.paper`.
    weights : None, "imagenet" or path, optional
        Initial weights of the backbone; pretrained weights enable phase 1.
    out_dir : str or path-like, optional
        Run folder. With it: ``checkpoints/`` every epoch, ``history.csv`` and
        ``config.json`` as training goes, and at the end ``model.keras``,
        ``history.png`` and ``val_predictions.npz``. Without it, nothing is written and
        a run cannot be resumed.
    resume : bool, default=False
        Continue the interrupted run in ``out_dir`` from its last finished epoch. Its
        model and training configurations must be the ones given (the time limit may
        change). With nothing to resume in an empty or missing ``out_dir``, a new run
        starts, so a job that may be preempted can always pass ``resume=True``.
    overwrite : bool, default=False
        Delete a previous run's files in ``out_dir`` first.
    strategy : tf.distribute.Strategy or str, default="auto"
        How to spread training over devices; a name goes to :func:`make_strategy`.
    callbacks : list of keras.callbacks.Callback, optional
        More callbacks for ``fit``.
    verbose : int or "auto"
        Keras' progress output.

    Returns
    -------
    TrainingResult

    Raises
    ------
    ValueError
        If the data or the configuration cannot train (unlabelled faces, wrong feature
        size, a ``val_*`` monitor without validation data, a resumed run whose
        configuration differs).
    FileExistsError
        If ``out_dir`` already holds a model, or an interrupted run and ``resume`` is False.
    FileNotFoundError
        If ``resume`` is True and there is nothing to resume.
    WeightsError
        If the backbone weights cannot be loaded.

    Examples
    --------
    >>> from emonet.features import load_features
    >>> from emonet.models import TrainingConfig, train, variant_config
    >>> data = load_features("fer2013.h5")  # doctest: +SKIP
    >>> result = train(data.select("Training"), data.select("PublicTest"),
    ...                variant_config("compact_features"), TrainingConfig.cpu(time_limit=30),
    ...                out_dir="runs/compact_features")  # doctest: +SKIP
    """
    config = config or TrainingConfig.paper()
    if validation_data is None and (
        config.monitor.startswith("val_") or config.lr_schedule == "plateau"
    ):
        raise ValueError(
            f"monitor {config.monitor!r} and the plateau schedule need validation data; "
            "pass validation_data or monitor 'loss' with another schedule"
        )
    if isinstance(strategy, str) or strategy is None:
        strategy = make_strategy(strategy or "default")
    chief = _is_chief(strategy)
    out = Path(out_dir) if out_dir is not None else None
    if out is not None and not chief:
        # other workers of a multi-worker run write to a scratch folder of their own
        out = Path(tempfile.mkdtemp(prefix="emonet-worker-"))
    state = None
    if out is not None:
        state = _prepare_out_dir(out, resume, overwrite)
    elif resume:
        raise ValueError("resume needs out_dir")
    if state is not None:
        _check_resumable(state, model_config, config, weights)
        if state.get("finished"):
            raise FileExistsError(f"{out} holds a finished run; nothing to resume")
    else:
        state = _new_state(model_config, config, weights)
    checkpoints = out / CHECKPOINTS if out is not None else None

    keras.utils.set_random_seed(config.seed + len(state["history"]))
    previous_policy = keras.mixed_precision.global_policy()
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy(f"mixed_{config.mixed_precision}")
    try:
        with strategy.scope():
            model = build_model(
                model_config,
                weights=None if state["epoch"] else weights,  # resumed: weights come later
                features=train_data.features if model_config.use_features else None,
            )
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)

    use_features = model_config.use_features
    class_weights = (
        balanced_class_weights(train_data.labels) if config.class_weight == "balanced" else None
    )
    train_ds = make_dataset(
        train_data,
        use_features=use_features,
        batch_size=config.batch_size,
        shuffle=True,
        augment=config.augment,
        class_weights=class_weights,
        seed=config.seed,
        drop_remainder=len(train_data) > config.batch_size,
    )
    val_ds = (
        make_dataset(
            validation_data, use_features=use_features, batch_size=config.validation_batch_size
        )
        if validation_data is not None
        else None
    )
    steps = len(train_data) // config.batch_size if len(train_data) > config.batch_size else 1

    def write_progress() -> None:
        if out is None:
            return
        saved = {k: v for k, v in state.items() if not k.startswith("_")}
        _atomic_write_text(checkpoints / _STATE, json.dumps(saved, indent=1))
        _write_history_csv(out / HISTORY_CSV, state["history"])

    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        _write_run_config(
            out, model_config, config, weights, train_data, validation_data, strategy, state
        )

    backbone = model.get_layer(BACKBONE_LAYER)
    resumed_phase = state["phase"]
    stop_reason = state.get("stop_reason")
    phases = _phases(config, pretrained=weights is not None)
    for phase in phases:
        if stop_reason:
            break
        backbone.trainable = phase.index != 1
        with strategy.scope():
            _compile(model, phase, config)
            if resumed_phase and phase.index == resumed_phase:
                model.optimizer.build(model.trainable_variables)
                model.load_weights(checkpoints / _LAST)
        if resumed_phase > phase.index or state["epoch"] >= phase.end:
            continue
        monitor = _Monitor(
            state, phase, config, steps, checkpoints, write_progress, 0 if verbose == 0 else 1
        )
        model.fit(
            train_ds,
            validation_data=val_ds,
            initial_epoch=state["epoch"],
            epochs=phase.end,
            callbacks=[monitor, *(callbacks or [])],
            shuffle=False,  # the dataset reshuffles itself every epoch
            verbose=verbose,
        )
        stop_reason = monitor.stop_reason
    stop_reason = stop_reason or "epochs"
    state["stop_reason"] = stop_reason

    # keep the best weights
    if checkpoints is not None and (checkpoints / _BEST).exists():
        model.load_weights(checkpoints / _BEST)
    elif "_best_weights" in state:
        model.set_weights(state.pop("_best_weights"))
    backbone.trainable = True

    history = _columns(state["history"])
    result = TrainingResult(
        model=model,
        history=history,
        epochs=int(state["epoch"]),
        seconds=float(state["elapsed"]),
        best_epoch=int(state["best"]["epoch"]),
        best_value=float(state["best"]["value"])
        if state["best"]["value"] is not None
        else math.nan,
        monitor=config.monitor,
        stop_reason=stop_reason,
        out_dir=out,
    )
    if out is not None:
        _finish_run(
            out,
            result,
            model_config,
            config,
            weights,
            train_data,
            validation_data,
            strategy,
            state,
            write_progress,
        )
    return result


def _check_resumable(
    state: dict, model_config: ModelConfig, config: TrainingConfig, weights
) -> None:
    saved_training = dict(state["training"])
    given_training = config.get_config()
    # a resumed run may get a new time limit; everything else must match
    saved_training.pop("time_limit", None)
    given_training.pop("time_limit", None)
    differences = []
    if state["model"] != model_config.get_config():
        differences.append("model configuration")
    if saved_training != json.loads(json.dumps(given_training)):
        keys = sorted(
            k
            for k in given_training
            if json.loads(json.dumps(given_training[k])) != saved_training.get(k)
        )
        differences.append("training configuration (" + ", ".join(keys) + ")")
    if state["weights"] != (None if weights is None else str(weights)):
        differences.append("weights")
    if differences:
        raise ValueError(
            "cannot resume: the interrupted run used another "
            + " and ".join(differences)
            + "; pass the same settings, or overwrite to start again"
        )


def _columns(rows: list[dict[str, Any]]) -> dict[str, list]:
    columns: dict[str, list] = {}
    for row in rows:
        for key in row:
            columns.setdefault(key, [])
    for row in rows:
        for key in columns:
            columns[key].append(row.get(key))
    return columns


def _data_summary(data: FeatureSet | None) -> dict[str, Any] | None:
    if data is None:
        return None
    counts = np.bincount(data.labels[data.labels >= 0], minlength=NUM_CLASSES)
    return {
        "faces": len(data),
        "usage": sorted(set(data.usage.tolist())),
        "per_label": dict(zip(LABELS, counts.tolist(), strict=True)),
        "source": str(data.attrs.get("source", "")),
    }


def _write_run_config(
    out: Path,
    model_config: ModelConfig,
    config: TrainingConfig,
    weights,
    train_data,
    validation_data,
    strategy,
    state,
    results=None,
) -> None:
    from emonet import __version__

    document = {
        "emonet_version": __version__,
        "keras_version": keras.__version__,
        "tensorflow_version": tf.__version__,
        "model": model_config.get_config(),
        "training": config.get_config(),
        "weights": None if weights is None else str(weights),
        "strategy": type(strategy).__name__,
        "replicas": strategy.num_replicas_in_sync,
        "train_data": _data_summary(train_data),
        "validation_data": _data_summary(validation_data),
        "results": results,
    }
    _atomic_write_text(out / CONFIG_FILE, json.dumps(document, indent=2) + "\n")


def _finish_run(
    out: Path,
    result: TrainingResult,
    model_config: ModelConfig,
    config: TrainingConfig,
    weights,
    train_data,
    validation_data,
    strategy,
    state,
    write_progress,
) -> None:
    from emonet.models._evaluate import predict

    results: dict[str, Any] = {
        "epochs": result.epochs,
        "seconds": round(result.seconds, 1),
        "seconds_per_epoch": round(result.seconds / max(result.epochs, 1), 1),
        "stop_reason": result.stop_reason,
        "monitor": result.monitor,
        "best_epoch": result.best_epoch,
        "best_value": result.best_value,
    }
    if validation_data is not None:
        probabilities = predict(
            result.model, validation_data, batch_size=config.validation_batch_size
        )
        save_predictions(
            out / VAL_PREDICTIONS,
            probabilities,
            validation_data.labels,
            validation_data.ids,
            model_name=model_config.model_name,
        )
        known = validation_data.labels >= 0
        if known.any():
            accuracy = float(
                np.mean(probabilities[known].argmax(1) == validation_data.labels[known])
            )
            results["validation_accuracy"] = accuracy
            results["validation_faces"] = int(known.sum())
    with _atomic_path(out / MODEL_FILE, ".keras") as tmp:
        _save_inference_model(result.model, tmp)
    plot_history(result.history, out / HISTORY_PNG)
    _write_run_config(
        out, model_config, config, weights, train_data, validation_data, strategy, state, results
    )
    state["finished"] = True
    write_progress()
    shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)


def _save_inference_model(model: keras.Model, path: Path) -> None:
    # Save without the optimizer: a clone shares the architecture, not the training state.
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    clone.save(path)
