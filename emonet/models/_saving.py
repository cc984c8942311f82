"""Model files that say what they are: a ``.keras`` file with emonet's own record inside.

A model saved by :func:`save_model` holds, beside Keras' ``config.json`` and weights, an
``emonet.json`` entry: the :class:`ModelConfig` it was built from, the label order, and
the feature-extraction settings (HOG window, step, orientations, cell size, block norm,
landmark model) of the features it was trained on. Loading it then tells whether it reads
features and how to compute them, and features made with other settings are refused
instead of silently lowering the accuracy. Keras ignores the extra entry, so the file
stays an ordinary ``.keras`` file.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras

from emonet._constants import (
    HOG_BLOCK_NORM,
    HOG_ORIENTATIONS,
    HOG_PIXELS_PER_CELL,
    HOG_STEP,
    HOG_WINDOW,
    LABELS,
)
from emonet._io import atomic_path
from emonet.features import FeatureExtractor, FeatureSet
from emonet.models._fusion import FEATURES_INPUT, ModelConfig, model_inputs

__all__ = [
    "ModelInfo",
    "check_feature_settings",
    "feature_settings",
    "load_model",
    "read_model_info",
    "save_model",
]

INFO_ENTRY = "emonet.json"
INFO_FORMAT = "emonet-model"
INFO_VERSION = 1
#: The landmark model every emonet feature vector is made with (dlib, iBUG 300-W).
LANDMARK_MODEL = "shape_predictor_68_face_landmarks.dat"
_HOG_KEYS = ("window", "step", "orientations", "pixels_per_cell", "block_norm")


def feature_settings(source: FeatureSet | FeatureExtractor | dict | None = None) -> dict:
    """The feature-extraction settings of a features file, an extractor, or the defaults.

    Parameters
    ----------
    source : FeatureSet, FeatureExtractor, dict or None
        Where to read the settings: a :class:`~emonet.features.FeatureSet` (its file's
        ``hog_*`` attributes), a :class:`~emonet.features.FeatureExtractor` (its
        parameters), a dict of the same keys, or ``None`` for emonet's defaults.

    Returns
    -------
    dict
        ``window``, ``step``, ``orientations``, ``pixels_per_cell``, ``block_norm`` and
        ``landmark_model``.

    Examples
    --------
    >>> from emonet.features import FeatureExtractor
    >>> from emonet.models import feature_settings
    >>> feature_settings(FeatureExtractor(block_norm="L1"))["block_norm"]
    'L1'
    """
    defaults = {
        "window": HOG_WINDOW,
        "step": HOG_STEP,
        "orientations": HOG_ORIENTATIONS,
        "pixels_per_cell": HOG_PIXELS_PER_CELL,
        "block_norm": HOG_BLOCK_NORM,
        "landmark_model": LANDMARK_MODEL,
    }
    if source is None:
        return defaults
    if isinstance(source, FeatureExtractor):
        values = source.get_params()
    elif isinstance(source, FeatureSet):
        values = {
            key: source.attrs[f"hog_{key}"] for key in _HOG_KEYS if f"hog_{key}" in source.attrs
        }
    elif isinstance(source, dict):
        values = dict(source)
    else:
        raise TypeError(
            f"feature settings come from a FeatureSet, a FeatureExtractor or a dict, "
            f"got {type(source).__name__}"
        )
    settings = {**defaults, **{k: v for k, v in values.items() if k in defaults}}
    # numpy scalars from HDF5 attributes -> plain JSON values
    for key in ("window", "step", "orientations", "pixels_per_cell"):
        settings[key] = int(settings[key])
    settings["block_norm"] = str(settings["block_norm"])
    settings["landmark_model"] = str(settings["landmark_model"])
    return settings


@dataclass(frozen=True)
class ModelInfo:
    """What a saved emonet model is: its configuration and the features it reads.

    Attributes
    ----------
    model_config : ModelConfig or None
        The configuration it was built from; ``None`` for a ``.keras`` file saved
        without emonet's record.
    uses_features : bool
        Whether the model takes the 2,728-value feature vector.
    feature_settings : dict or None
        The HOG and landmark settings of the features it was trained on
        (:func:`feature_settings`); ``None`` when it takes no features.
    labels : tuple of str
        The class names, in the order of the model's outputs.
    emonet_version, keras_backend : str
        What wrote the file.
    """

    model_config: ModelConfig | None
    uses_features: bool
    feature_settings: dict | None
    labels: tuple[str, ...] = LABELS
    emonet_version: str = ""
    keras_backend: str = ""

    def get_config(self) -> dict[str, Any]:
        """The record as a JSON-compatible dict (the ``emonet.json`` entry)."""
        return {
            "format": INFO_FORMAT,
            "format_version": INFO_VERSION,
            "model_config": None if self.model_config is None else self.model_config.get_config(),
            "uses_features": self.uses_features,
            "feature_settings": self.feature_settings,
            "labels": list(self.labels),
            "emonet_version": self.emonet_version,
            "keras_backend": self.keras_backend,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], source: str = "model") -> ModelInfo:
        """Rebuild the record from :meth:`get_config`'s dict; ``source`` names it in errors."""
        if not isinstance(config, dict) or config.get("format") != INFO_FORMAT:
            raise ValueError(f"{source}: its {INFO_ENTRY} is not an emonet model record")
        if config.get("format_version") != INFO_VERSION:
            raise ValueError(
                f"{source}: emonet model record version {config.get('format_version')!r}; "
                f"this emonet reads version {INFO_VERSION}: upgrade emonet"
            )
        try:
            model_config = config.get("model_config")
            settings = config.get("feature_settings")
            return cls(
                model_config=None
                if model_config is None
                else ModelConfig.from_config(model_config),
                uses_features=bool(config["uses_features"]),
                feature_settings=None if settings is None else feature_settings(dict(settings)),
                labels=tuple(str(name) for name in config["labels"]),
                emonet_version=str(config.get("emonet_version", "")),
                keras_backend=str(config.get("keras_backend", "")),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{source}: damaged emonet model record ({error})") from None


def _model_info(
    model: keras.Model,
    model_config: ModelConfig | None,
    settings: FeatureSet | FeatureExtractor | dict | None,
) -> ModelInfo:
    from emonet import __version__

    uses_features = FEATURES_INPUT in model_inputs(model)
    if model_config is not None and model_config.use_features != uses_features:
        raise ValueError(
            f"model_config says use_features={model_config.use_features}, but the model "
            f"{'takes' if uses_features else 'does not take'} features"
        )
    return ModelInfo(
        model_config=model_config,
        uses_features=uses_features,
        feature_settings=feature_settings(settings) if uses_features else None,
        labels=LABELS,
        emonet_version=__version__,
        keras_backend=keras.backend.backend(),
    )


def save_model(
    model: keras.Model,
    path: str | os.PathLike[str],
    *,
    model_config: ModelConfig | None = None,
    feature_config: FeatureSet | FeatureExtractor | dict | None = None,
) -> Path:
    """Save a model for inference, with emonet's record inside, atomically.

    The file holds the architecture and weights, not the optimizer's state (half the
    size for SGD with momentum), and an ``emonet.json`` entry (:class:`ModelInfo`).

    Parameters
    ----------
    model : keras.Model
        A model of :func:`build_model`.
    path : str or path-like
        The ``.keras`` file to write.
    model_config : ModelConfig, optional
        The configuration the model was built from.
    feature_config : FeatureSet, FeatureExtractor or dict, optional
        Where the training features' settings come from (see :func:`feature_settings`);
        default emonet's. Ignored for a model without features.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile
    >>> from emonet.models import build_model, load_model, save_model, variant_config
    >>> config = variant_config("compact", backbone_options={"widths": [4]})
    >>> path = save_model(build_model(config), tempfile.mkdtemp() + "/m.keras",
    ...                   model_config=config)
    >>> load_model(path).emonet_info.model_config == config
    True
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"{path}: a model file must end in .keras")
    info = _model_info(model, model_config, feature_config)
    # Rebuilt from its config, the model shares the architecture but not the training
    # state (clone_model would carry the compiled optimizer along): no optimizer in the file.
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    with atomic_path(path, suffix=".keras") as tmp:
        clone.save(tmp)
        with zipfile.ZipFile(tmp, "a") as archive:
            archive.writestr(INFO_ENTRY, json.dumps(info.get_config(), indent=2))
    return path


def read_model_info(path: str | os.PathLike[str]) -> ModelInfo | None:
    """The emonet record of a ``.keras`` file, or ``None`` if it has none.

    Raises
    ------
    ValueError
        If the file is not a ``.keras`` archive or its record is damaged.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            if INFO_ENTRY not in archive.namelist():
                return None
            config = json.loads(archive.read(INFO_ENTRY))
    except (zipfile.BadZipFile, EOFError) as error:
        raise ValueError(f"{path}: not a .keras model file ({error})") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError(f"{path}: damaged emonet model record ({INFO_ENTRY})") from None
    return ModelInfo.from_config(config, source=str(path))


def load_model(path: str | os.PathLike[str]) -> keras.Model:
    """Load a model saved by :func:`save_model` or ``emonet-train``, in safe mode.

    The returned model carries its record as ``model.emonet_info`` (:class:`ModelInfo`).
    A ``.keras`` file without emonet's record (saved by plain Keras) loads too; its
    record is then inferred from the model's inputs, with emonet's default feature
    settings.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    keras.Model

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is not a ``.keras`` model file, or not one emonet can use.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    if path.suffix != ".keras":
        raise ValueError(f"{path}: expected a .keras model file written by emonet-train")
    info = read_model_info(path)
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many types for a damaged or foreign file
        message = (
            str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        )
        raise ValueError(f"{path}: cannot load this model file: {message[:300]}") from None
    if not isinstance(model, keras.Model):
        raise ValueError(f"{path}: holds a {type(model).__name__}, not a Keras model")
    if info is None:
        info = _model_info(model, None, None)
    elif info.uses_features != (FEATURES_INPUT in model_inputs(model)):
        raise ValueError(f"{path}: its emonet record does not match the model's inputs")
    model.emonet_info = info
    return model


def check_feature_settings(
    model_or_info: keras.Model | ModelInfo, features: FeatureSet | FeatureExtractor | dict
) -> None:
    """Refuse features made with other settings than the model was trained on.

    Parameters
    ----------
    model_or_info : keras.Model or ModelInfo
        A model loaded by :func:`load_model` (or its ``emonet_info``).
    features : FeatureSet, FeatureExtractor or dict
        The features about to go through it.

    Raises
    ------
    ValueError
        Naming each setting that differs, with both values.

    Examples
    --------
    >>> from emonet.features import FeatureExtractor
    >>> from emonet.models import ModelInfo, check_feature_settings, feature_settings
    >>> info = ModelInfo(None, uses_features=True, feature_settings=feature_settings())
    >>> check_feature_settings(info, FeatureExtractor(block_norm="L1"))
    Traceback (most recent call last):
    ...
    ValueError: the features were made with block_norm='L1', but the model was trained on ...
    """
    info = model_or_info if isinstance(model_or_info, ModelInfo) else _info_of(model_or_info)
    if not info.uses_features or info.feature_settings is None:
        return
    given = feature_settings(features)
    expected = info.feature_settings
    keys = [key for key in expected if given[key] != expected[key]]
    if keys:
        made = ", ".join(f"{key}={given[key]!r}" for key in keys)
        trained = ", ".join(f"{key}={expected[key]!r}" for key in keys)
        raise ValueError(
            f"the features were made with {made}, but the model was trained on {trained}; "
            "extract them again with the model's settings"
        )


def _info_of(model: keras.Model) -> ModelInfo:
    info = getattr(model, "emonet_info", None)
    return info if isinstance(info, ModelInfo) else _model_info(model, None, None)
