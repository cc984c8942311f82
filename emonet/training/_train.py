"""Training: the paper's two-phase schedule, checkpoints, resumption, many devices.

Phase 1 (only when the backbone starts from pretrained weights): the backbone is frozen
and the rest trains with Adam. Phase 2: everything trains, by default with SGD and
Nesterov momentum, the learning rate reduced when the validation loss stops improving,
and early stopping. A backbone trained from scratch has nothing worth freezing, so it
skips phase 1.

The parts, as timm splits them: the configuration and recipes (:mod:`._recipes`), the
learning-rate and stopping rules as pure functions (:mod:`._schedule`), the run folder
with its checkpoints and resumption (:mod:`._run`), the history (:mod:`._history`) and
the devices (:mod:`._distribute`). Here: the phases, and one callback that applies the
rules every batch and epoch and saves the run's progress.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from emonet.features import FeatureSet
from emonet.models import (
    BACKBONE_LAYER,
    ModelConfig,
    build_model,
    load_model,
    transfer_weights,
)
from emonet.training._data import FaceBatches, balanced_class_weights
from emonet.training._distribute import DeviceStrategy, as_strategy
from emonet.training._history import history_columns
from emonet.training._pipeline import make_dataset
from emonet.training._recipes import TrainingConfig
from emonet.training._run import (
    BEST_WEIGHTS,
    LAST_WEIGHTS,
    RunFolder,
    check_resumable,
    new_state,
    run_document,
)
from emonet.training._schedule import (
    Plateau,
    cosine_learning_rate,
    cosine_progress,
    epochs_that_fit,
    is_improvement,
    warmup_learning_rate,
)

__all__ = ["TrainingResult", "train"]


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


# --------------------------------------------------------------------------- phases


@dataclass
class _Phase:
    index: int  # 1 frozen, 2 full
    start: int  # first epoch (0-based)
    end: int  # epochs after the phase
    optimizer: str
    learning_rate: float
    schedule: str
    early_stopping: bool


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


def _make_optimizer(name: str, learning_rate: float, config: TrainingConfig):
    decay = config.weight_decay or None
    ema = {}
    if config.ema_momentum is not None:
        ema = {"use_ema": True, "ema_momentum": config.ema_momentum}
    if name == "sgd":
        return keras.optimizers.SGD(
            learning_rate,
            momentum=config.momentum,
            nesterov=config.nesterov,
            weight_decay=decay,
            **ema,
        )
    if name == "adam":
        return keras.optimizers.Adam(learning_rate, **ema)
    return keras.optimizers.AdamW(learning_rate, weight_decay=config.weight_decay or 0.004, **ema)


def _compile(model: keras.Model, phase: _Phase, config: TrainingConfig) -> None:
    model.compile(
        optimizer=_make_optimizer(phase.optimizer, phase.learning_rate, config),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=["accuracy"],
        jit_compile=config.jit_compile,
    )


# --------------------------------------------------------------------------- the callback


class _Monitor(keras.callbacks.Callback):
    """History, checkpoints, best weights, learning rate, early and timed stops.

    One callback instead of Keras' ReduceLROnPlateau, EarlyStopping and BackupAndRestore,
    because their counters must survive an interruption and span both phases; the rules
    are theirs, in :mod:`emonet.training._schedule`. Every counter lives in ``state``, the
    dict saved as ``checkpoints/state.json``.
    """

    def __init__(
        self,
        state: dict,
        phase: _Phase,
        config: TrainingConfig,
        steps: int,
        run: RunFolder | None,
        verbose: int,
        clock: Callable[[], float] = time.monotonic,
    ):
        super().__init__()
        self.state = state
        self.phase = phase
        self.config = config
        self.steps = max(1, steps)
        self.run = run
        self.verbose = verbose
        self.clock = clock
        self.session_start = clock()
        self.elapsed_before = float(state["elapsed"])
        self.epoch = phase.start
        self.epoch_start = 0.0
        self.durations: list[float] = []
        self.horizon: int | None = None  # last epoch the time limit leaves room for
        self.stop_reason: str | None = None
        self.limit = None if config.time_limit is None else config.time_limit * 60.0
        self.warmup = config.warmup_epochs if phase.index == 2 else 0.0
        # cosine and warm-up move the learning rate every batch; the others once an epoch
        self.per_batch = phase.schedule == "cosine" or self.warmup > 0

    def elapsed(self) -> float:
        """Seconds of training, over all sessions of the run."""
        return self.elapsed_before + self.clock() - self.session_start

    def _scheduled_lr(self, epoch: int, batch: int) -> float | None:
        """The learning rate of this batch, or None where the plateau rule decides."""
        phase, state = self.phase, self.state
        done = (epoch - phase.start) + batch / self.steps
        if done < self.warmup:
            return warmup_learning_rate(phase.learning_rate, done, self.warmup)
        if phase.schedule == "constant":
            return phase.learning_rate
        if phase.schedule == "plateau":
            # the end of the warm-up hands the plateau rule the peak rate, once
            if self.warmup and not state.get("warmed_up"):
                state["warmed_up"] = True
                return phase.learning_rate
            return None
        # With a time limit, the decay ends with the last epoch that fits in it: estimated
        # from the epochs timed so far, or, before the first one ends, from the clock.
        end = phase.end if self.horizon is None else self.horizon
        time_used = None
        if self.horizon is None and self.limit is not None:
            time_used = self.elapsed() / self.limit
        progress = cosine_progress(
            done,
            end - phase.start,
            self.warmup,
            time_used=time_used,
            previous=state.get("progress", 0.0),
        )
        state["progress"] = progress
        return cosine_learning_rate(phase.learning_rate, self.config.min_learning_rate, progress)

    def _set_lr(self, value: float) -> None:
        self.model.optimizer.learning_rate = value

    def _lr(self) -> float:
        return float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = self.clock()
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
        if self.limit is not None and self.elapsed() > self.limit:
            self.stop_reason = "time_limit"
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        state = self.state
        seconds = self.clock() - self.epoch_start
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
        self._keep_best(epoch, logs)
        if self.phase.schedule == "plateau" and self.phase.index == 2:
            self._plateau(epoch, logs)
        self._stops(epoch, seconds)
        state["elapsed"] = self.elapsed()
        if self.run is not None:
            self.run.save_weights(self.model, LAST_WEIGHTS)
            self.run.save_progress(state)

    def _keep_best(self, epoch: int, logs: dict) -> None:
        state, monitor = self.state, self.config.monitor
        value = logs.get(monitor)
        if value is None:
            raise ValueError(
                f"monitor {monitor!r} is not among the logged metrics "
                f"({', '.join(sorted(logs))}); validation metrics need validation data"
            )
        value = float(value)
        if is_improvement(value, state["best"]["value"], monitor.endswith("accuracy")):
            state["best"] = {"value": value, "epoch": epoch + 1}
            state["wait"] = 0
            if self.run is not None:
                self.run.save_weights(self.model, BEST_WEIGHTS)
            else:
                state["_best_weights"] = self.model.get_weights()
        elif self.phase.early_stopping:
            state["wait"] += 1

    def _plateau(self, epoch: int, logs: dict) -> None:
        # of the validation loss, as the paper
        config = self.config
        plateau = Plateau(
            config.plateau_patience,
            config.plateau_factor,
            config.min_learning_rate,
            **self.state["plateau"],
        )
        lr = self._lr()
        new_lr = plateau.step(float(logs.get("val_loss", logs.get("loss"))), lr)
        self.state["plateau"] = plateau.get_state()
        if new_lr < lr:
            self._set_lr(new_lr)
            if self.verbose:
                print(f"\nepoch {epoch + 1}: learning rate reduced to {new_lr:.3g}")

    def _stops(self, epoch: int, seconds: float) -> None:
        state, config = self.state, self.config
        self.durations.append(seconds)
        fit = None
        if self.limit is not None:
            fit = epochs_that_fit(self.limit - self.elapsed(), self.durations)
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


class _SwapAverage(keras.callbacks.SwapEMAWeights):
    """Keras' EMA swap, at each epoch's end too, so the best weights and the checkpoints
    are the average; a resumed run starts with the average in the model, as it was saved."""

    def __init__(self, average_in_model: bool):
        super().__init__(swap_on_epoch=True)
        self._ema_weights_in_model = average_in_model


class _EpochFeed(keras.callbacks.Callback):
    """Tells the batches which epoch begins: its order and augmentation follow from it,
    so a resumed run sees the batches the interrupted one would have seen."""

    def __init__(self, batches: FaceBatches):
        super().__init__()
        self.batches = batches

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.epoch = epoch


# --------------------------------------------------------------------------- train


def train(
    train_data: FeatureSet,
    validation_data: FeatureSet | None,
    model_config: ModelConfig,
    config: TrainingConfig | None = None,
    *,
    weights: str | os.PathLike[str] | None = None,
    initial_model: str | os.PathLike[str] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    strategy: DeviceStrategy | str | Any = "auto",
    pipeline: str = "auto",
    workers: int | None = None,
    use_multiprocessing: bool = False,
    callbacks: list[keras.callbacks.Callback] | None = None,
    verbose: int | str = "auto",
    clock: Callable[[], float] = time.monotonic,
    targets: np.ndarray | None = None,
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
    initial_model : str or path-like, optional
        A ``.keras`` file (``emonet-train``'s ``model.keras``) whose weights, all of
        them, the run starts from instead of random ones: to go on from a trained model
        with another recipe, teacher or data. The network to train is the same, or a
        wider one of it (more channels or units in some layers): it then starts from
        what the trained model computes (:func:`transfer_weights`). Unlike ``weights``,
        it freezes nothing.
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
    strategy : str or DeviceStrategy, default="auto"
        How to spread training over devices, on the current Keras backend: a name goes
        to :func:`make_strategy`; a ``tf.distribute.Strategy`` (TensorFlow) or a
        :class:`keras.distribution.DataParallel` (JAX) is used as it is.
    pipeline : {"auto", "py", "tf"}, default="auto"
        The input pipeline (:func:`make_dataset`): :class:`FaceBatches` on any backend,
        or ``tf.data`` on TensorFlow.
    workers : int, optional
        Batches made at once: ``tf.data``'s parallel calls (default: autotuned), or the
        :class:`FaceBatches`' Keras workers (default: up to 4 threads).
    use_multiprocessing : bool, default=False
        :class:`FaceBatches` workers are processes, not threads.
    callbacks : list of keras.callbacks.Callback, optional
        More callbacks for ``fit``.
    verbose : int or "auto"
        Keras' progress output.
    clock : callable, default=time.monotonic
        Seconds, for the time limit and the history's timings; tests pass a fake one.
    targets : (N, 7) array, optional
        Target probabilities of the training faces instead of their one-hot labels: a
        teacher's, for :func:`distill`.

    Returns
    -------
    TrainingResult

    Raises
    ------
    ValueError
        If the data or the configuration cannot train (unlabelled faces, wrong feature
        size, a ``val_*`` monitor without validation data, a resumed run whose
        configuration differs, an ``initial_model`` of another network).
    FileExistsError
        If ``out_dir`` already holds a model, or an interrupted run and ``resume`` is False.
    FileNotFoundError
        If ``resume`` is True and there is nothing to resume, or ``initial_model`` is
        no file.
    WeightsError
        If the backbone weights cannot be loaded.

    Examples
    --------
    >>> from emonet.features import load_features
    >>> from emonet.models import variant_config
    >>> from emonet.training import TrainingConfig, train
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
    strategy = as_strategy(strategy)
    data_parallel = strategy.keras_distribution
    replicas = strategy.num_replicas_in_sync
    if data_parallel and config.batch_size % replicas:
        raise ValueError(
            f"batch size {config.batch_size} does not split over {replicas} devices; "
            f"choose a multiple of {replicas}"
        )
    run = None
    if out_dir is not None:
        # other workers of a multi-worker run write to a scratch folder of their own
        chief = strategy.is_chief()
        run = RunFolder(
            Path(out_dir) if chief else Path(tempfile.mkdtemp(prefix="emonet-worker-"))
        )
    elif resume:
        raise ValueError("resume needs out_dir")
    state = run.prepare(resume, overwrite) if run is not None else None
    if state is not None:
        check_resumable(state, model_config, config, weights, initial_model)
        if state.get("finished"):
            raise FileExistsError(f"{run.path} holds a finished run; nothing to resume")
    else:
        state = new_state(model_config, config, weights, initial_model)

    keras.utils.set_random_seed(config.seed + len(state["history"]))
    model = _build(model_config, config, strategy, train_data, None if state["epoch"] else weights)
    if initial_model is not None and not state["epoch"]:
        _start_from(model, initial_model)
    use_features = model_config.use_features
    class_weights = (
        balanced_class_weights(train_data.labels) if config.class_weight == "balanced" else None
    )
    feeding = {
        "pipeline": pipeline,
        "workers": workers,
        "use_multiprocessing": use_multiprocessing,
        "pad_to": replicas if data_parallel else 1,
        "shard": strategy.process_shard(),
    }
    train_ds = make_dataset(
        train_data,
        use_features=use_features,
        batch_size=config.batch_size,
        shuffle=True,
        augment=config.augment,
        class_weights=class_weights,
        targets=targets,
        mixup=config.mixup,
        seed=config.seed,
        drop_remainder=len(train_data) > config.batch_size,
        **feeding,
    )
    val_ds = (
        make_dataset(
            validation_data,
            use_features=use_features,
            batch_size=config.validation_batch_size,
            **feeding,
        )
        if validation_data is not None
        else None
    )
    train_batches = train_ds if isinstance(train_ds, FaceBatches) else train_ds.face_batches
    steps = len(train_data) // config.batch_size if len(train_data) > config.batch_size else 1
    document: dict[str, Any] = {}
    if run is not None:
        document = run_document(
            model_config,
            config,
            weights,
            train_data,
            validation_data,
            strategy,
            pipeline="py" if isinstance(train_ds, FaceBatches) else "tf",
            initial_model=initial_model,
        )
        run.path.mkdir(parents=True, exist_ok=True)
        run.write_config(document)

    # a model of the features alone has no backbone to freeze
    backbone = model.get_layer(BACKBONE_LAYER) if model_config.backbone is not None else None
    resumed_phase = state["phase"]
    stop_reason = state.get("stop_reason")
    for phase in _phases(config, pretrained=weights is not None):
        if stop_reason:
            break
        if backbone is not None:
            backbone.trainable = phase.index != 1
        with strategy.scope():
            _compile(model, phase, config)
            if resumed_phase and phase.index == resumed_phase:
                # the optimizer's variables must exist before its state can be loaded
                model.optimizer.build(model.trainable_variables)
                model.load_weights(run.last_checkpoint())
        if resumed_phase > phase.index or state["epoch"] >= phase.end:
            continue
        monitor = _Monitor(
            state, phase, config, steps, run, verbose=0 if verbose == 0 else 1, clock=clock
        )
        average = []
        if config.ema_momentum is not None:
            resumed = bool(resumed_phase and phase.index == resumed_phase)
            average = [_SwapAverage(average_in_model=resumed)]
        with strategy.run_scope():
            model.fit(
                train_ds,
                validation_data=val_ds,
                initial_epoch=state["epoch"],
                epochs=phase.end,
                # the average swaps in before the monitor keeps the best weights
                callbacks=[_EpochFeed(train_batches), *average, monitor, *(callbacks or [])],
                shuffle=False,  # the dataset reshuffles itself every epoch
                verbose=verbose,
            )
        stop_reason = monitor.stop_reason
    state["stop_reason"] = stop_reason = stop_reason or "epochs"

    # keep the best weights
    best = run.weights(BEST_WEIGHTS) if run is not None else None
    if best is not None:
        model.load_weights(best)
    elif "_best_weights" in state:
        model.set_weights(state.pop("_best_weights"))
    if backbone is not None:
        backbone.trainable = True

    result = TrainingResult(
        model=model,
        history=history_columns(state["history"]),
        epochs=int(state["epoch"]),
        seconds=float(state["elapsed"]),
        best_epoch=int(state["best"]["epoch"]),
        best_value=math.nan if state["best"]["value"] is None else float(state["best"]["value"]),
        monitor=config.monitor,
        stop_reason=stop_reason,
        out_dir=None if run is None else run.path,
    )
    if run is not None:
        results: dict[str, Any] = {
            "epochs": result.epochs,
            "seconds": round(result.seconds, 1),
            "seconds_per_epoch": round(result.seconds / max(result.epochs, 1), 1),
            "stop_reason": result.stop_reason,
            "monitor": result.monitor,
            "best_epoch": result.best_epoch,
            "best_value": result.best_value,
        }
        run.finish(
            model,
            state,
            results,
            document,
            model_config=model_config,
            train_data=train_data,
            validation_data=validation_data,
            batch_size=config.validation_batch_size,
        )
    return result


def _start_from(model: keras.Model, path: str | os.PathLike[str]) -> None:
    """Give ``model`` the weights of the trained model in ``path``: the same network, or a
    wider one of it (:func:`transfer_weights`)."""
    source = load_model(path)
    try:
        transfer_weights(source, model)
    except ValueError as error:
        raise ValueError(
            f"{path}: another network than the one to train ({error}); give the variant "
            "and backbone options it was trained with (its config.json names them), or "
            "wider ones"
        ) from None


def _build(
    model_config: ModelConfig,
    config: TrainingConfig,
    strategy: DeviceStrategy,
    train_data: FeatureSet,
    weights: str | os.PathLike[str] | None,
) -> keras.Model:
    """The model, in the strategy's scope and the recipe's precision policy."""
    previous_policy = keras.mixed_precision.global_policy()
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy(f"mixed_{config.mixed_precision}")
    try:
        with strategy.scope():
            return build_model(
                model_config,
                weights=weights,
                features=train_data.features if model_config.use_features else None,
            )
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
