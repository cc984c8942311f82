"""The run folder: what a run writes as it trains, and what lets it resume.

::

    OUT/
      config.json            configurations, versions, data summary; results at the end
      history.csv            one row per finished epoch
      checkpoints/           while training only
        state.json           epoch, phase, elapsed time, best value, counters, history
        last.weights.h5      weights and optimizer state after the last finished epoch
        best.weights.h5      weights of the best epoch so far
      model.keras            at the end: the best weights, without optimizer state
      history.png            at the end
      val_predictions.npz    at the end, with validation data

Every file is written under a temporary name and renamed, so a kill at any moment leaves
the previous version whole. The format of ``state.json`` is the one runs already on disk
were written with; keep it so that they still resume.
"""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path
from typing import Any

import keras
import numpy as np

from emonet import __version__
from emonet._constants import LABELS, NUM_CLASSES
from emonet._io import atomic_path, atomic_write_text
from emonet.features import FeatureSet
from emonet.models import ModelConfig, predict_proba, save_model
from emonet.predictions import save_predictions
from emonet.training._distribute import DeviceStrategy
from emonet.training._history import plot_history, write_history_csv
from emonet.training._recipes import TrainingConfig

# File names inside a run folder.
MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"
HISTORY_CSV = "history.csv"
HISTORY_PNG = "history.png"
VAL_PREDICTIONS = "val_predictions.npz"
CHECKPOINTS = "checkpoints"
STATE_FILE = "state.json"
LAST_WEIGHTS = "last.weights.h5"
BEST_WEIGHTS = "best.weights.h5"


def _text(path: Any) -> str | None:
    """A path as ``state.json`` and ``config.json`` keep it."""
    return None if path is None else str(path)


def new_state(
    model_config: ModelConfig, config: TrainingConfig, weights: Any, initial_model: Any = None
) -> dict:
    """The state of a run that has not trained yet (the format of ``state.json``).

    Keys starting with ``_`` live in memory only. The cosine schedule adds
    ``"progress"`` and a warmed-up plateau schedule ``"warmed_up"``.
    """
    return {
        "model": model_config.get_config(),
        "training": config.get_config(),
        "weights": _text(weights),
        "initial_model": _text(initial_model),
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


def check_resumable(
    state: dict,
    model_config: ModelConfig,
    config: TrainingConfig,
    weights: Any,
    initial_model: Any = None,
) -> None:
    """Refuse to resume a run with other settings (only the time limit may change).

    Raises
    ------
    ValueError
        Naming what differs, and the training keys that do.
    """
    saved_training = dict(state["training"])
    given_training = config.get_config()
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
    if state["weights"] != _text(weights):
        differences.append("weights")
    if state.get("initial_model") != _text(initial_model):
        differences.append("initial model")
    if differences:
        raise ValueError(
            "cannot resume: the interrupted run used another "
            + " and ".join(differences)
            + "; pass the same settings, or overwrite to start again"
        )


def data_summary(data: FeatureSet | None) -> dict[str, Any] | None:
    """Faces, usages, faces per label and source of a feature set, for ``config.json``."""
    if data is None:
        return None
    counts = np.bincount(data.labels[data.labels >= 0], minlength=NUM_CLASSES)
    return {
        "faces": len(data),
        "usage": sorted(set(data.usage.tolist())),
        "per_label": dict(zip(LABELS, counts.tolist(), strict=True)),
        "source": str(data.attrs.get("source", "")),
    }


class RunFolder:
    """The files of one run in ``path`` (see the module's docstring).

    Parameters
    ----------
    path : pathlib.Path
        The run folder; created when the run starts.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.checkpoints = self.path / CHECKPOINTS

    # ------------------------------------------------------------------ starting

    def prepare(self, resume: bool, overwrite: bool) -> dict | None:
        """Check the folder; return the saved state of an interrupted run to resume.

        Raises
        ------
        FileExistsError
            If the folder holds a finished run, or an interrupted one and neither
            ``resume`` nor ``overwrite`` is set.
        FileNotFoundError
            If ``resume`` is set, the folder holds files, and none is a checkpoint.
        """
        out, state_path = self.path, self.checkpoints / STATE_FILE
        if overwrite:
            for name in (MODEL_FILE, CONFIG_FILE, HISTORY_CSV, HISTORY_PNG, VAL_PREDICTIONS):
                (out / name).unlink(missing_ok=True)
            shutil.rmtree(self.checkpoints, ignore_errors=True)
            return None
        if (out / MODEL_FILE).exists():
            raise FileExistsError(
                f"{out} already holds a trained model ({MODEL_FILE}); choose another output "
                "folder or pass overwrite=True (--overwrite) to train again"
            )
        if state_path.exists():
            if not resume:
                raise FileExistsError(
                    f"{out} holds an interrupted run; pass resume=True (--resume) to continue "
                    "it, or overwrite=True (--overwrite) to start again"
                )
            try:
                return json.loads(state_path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise ValueError(
                    f"{state_path}: damaged run state ({error}); pass overwrite=True "
                    "(--overwrite) to start again"
                ) from None
        if resume and out.exists() and any(out.iterdir()):
            raise FileNotFoundError(f"{out}: no checkpoint to resume from ({state_path})")
        return None

    def write_config(self, document: dict[str, Any]) -> None:
        """Write ``config.json``."""
        atomic_write_text(self.path / CONFIG_FILE, json.dumps(document, indent=2) + "\n")

    # ------------------------------------------------------------------ every epoch

    def save_progress(self, state: dict) -> None:
        """Write ``checkpoints/state.json`` and ``history.csv``."""
        saved = {k: v for k, v in state.items() if not k.startswith("_")}
        atomic_write_text(self.checkpoints / STATE_FILE, json.dumps(saved, indent=1))
        write_history_csv(self.path / HISTORY_CSV, state["history"])

    def save_weights(self, model: keras.Model, name: str) -> None:
        """Save the weights (and the optimizer's state) as ``checkpoints/NAME``."""
        with atomic_path(self.checkpoints / name, ".weights.h5") as tmp:
            model.save_weights(tmp)

    def weights(self, name: str) -> Path | None:
        """``checkpoints/NAME`` if it exists."""
        path = self.checkpoints / name
        return path if path.exists() else None

    def last_checkpoint(self) -> Path:
        """``checkpoints/last.weights.h5``, which a run being resumed must have.

        Raises
        ------
        FileNotFoundError
            If it is missing.
        """
        path = self.checkpoints / LAST_WEIGHTS
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: no such checkpoint, although {STATE_FILE} says epoch(s) were "
                "trained; pass overwrite=True (--overwrite) to start again"
            )
        return path

    # ------------------------------------------------------------------ the end

    def finish(
        self,
        model: keras.Model,
        state: dict,
        results: dict[str, Any],
        document: dict[str, Any],
        *,
        model_config: ModelConfig,
        train_data: FeatureSet,
        validation_data: FeatureSet | None,
        batch_size: int,
    ) -> None:
        """Write the model, the curves, the validation predictions and the results.

        ``results`` is completed with the validation accuracy and stored in ``document``
        (``config.json``); the checkpoints are removed last, once everything is written.
        """
        if validation_data is not None:
            probabilities = predict_proba(model, validation_data, batch_size=batch_size)
            save_predictions(
                self.path / VAL_PREDICTIONS,
                probabilities,
                validation_data.labels,
                validation_data.ids,
                model_name=model_config.model_name,
            )
            known = validation_data.labels >= 0
            if known.any():
                predicted = probabilities[known].argmax(1)
                results["validation_accuracy"] = float(
                    np.mean(predicted == validation_data.labels[known])
                )
                results["validation_faces"] = int(known.sum())
        # the features' settings travel with the model (they are the defaults when the
        # feature set does not record them)
        save_model(
            model, self.path / MODEL_FILE, model_config=model_config, feature_config=train_data
        )
        plot_history(state["history"], self.path / HISTORY_PNG)
        self.write_config({**document, "results": results})
        state["finished"] = True
        self.save_progress(state)
        shutil.rmtree(self.checkpoints, ignore_errors=True)


def run_document(
    model_config: ModelConfig,
    config: TrainingConfig,
    weights: Any,
    train_data: FeatureSet,
    validation_data: FeatureSet | None,
    strategy: DeviceStrategy,
    pipeline: str | None = None,
    initial_model: Any = None,
) -> dict[str, Any]:
    """The content of ``config.json`` (``results`` is ``None`` until the run ends)."""
    return {
        "emonet_version": __version__,
        "keras_version": keras.__version__,
        **backend_versions(),
        "model": model_config.get_config(),
        "training": config.get_config(),
        "weights": _text(weights),
        "initial_model": _text(initial_model),
        "strategy": strategy.kind,
        "replicas": strategy.num_replicas_in_sync,
        "pipeline": pipeline,
        "train_data": data_summary(train_data),
        "validation_data": data_summary(validation_data),
        "results": None,
    }


def backend_versions() -> dict[str, str]:
    """The Keras backend (``KERAS_BACKEND``) and its version, e.g. ``{"keras_backend":
    "jax", "jax_version": "0.4.35"}``."""
    backend = keras.backend.backend()
    versions = {"keras_backend": backend}
    if backend in ("tensorflow", "jax", "torch"):
        versions[f"{backend}_version"] = importlib.import_module(backend).__version__
    return versions
