"""Model files that say what they are: a ``.keras`` file with emonet's own record inside.

A model saved by :func:`save_model` holds, beside Keras' ``config.json`` and weights, an
``emonet.json`` entry: the :class:`ModelConfig` it was built from, the label order, and
the feature-extraction settings (HOG window, step, orientations, cell size, block norm,
landmark model) of the features it was trained on. Loading it then tells whether it reads
features and how to compute them, and features made with other settings are refused
instead of silently lowering the accuracy. Keras ignores the extra entry, so the file
stays an ordinary ``.keras`` file.

The record is checked when a model is saved and when it is loaded (here for ``.keras``
files, by :class:`~emonet.models.LiteModel` for ``.tflite`` ones), with the file named in
the error: the feature settings must be ones :class:`~emonet.features.FeatureExtractor`
accepts, the number of values they give must be the width of the model's features input,
and the labels must be :data:`emonet.LABELS`, in that order. A model whose record lists the
labels in another order is refused, not reordered: emonet reads every model's outputs, an
ensemble's weights and a prediction file's columns in the order of ``emonet.LABELS``, and a
record that disagrees with it is either damaged or from a model trained on other labels.
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
    FACE_SIZE,
    HOG_BLOCK_NORM,
    HOG_ORIENTATIONS,
    HOG_PIXELS_PER_CELL,
    HOG_SETTINGS,
    HOG_STEP,
    HOG_WINDOW,
    LABELS,
    LANDMARK_FEATURES,
    hog_cells_per_axis,
)
from emonet._io import atomic_path
from emonet.features import BLOCK_NORMS, FeatureExtractor, FeatureSet
from emonet.models._fusion import FEATURES_INPUT, ModelConfig, model_inputs
from emonet.models._inputs import keras_feature_width

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
_HOG_KEYS = HOG_SETTINGS
_ALL_KEYS = (*_HOG_KEYS, "landmark_model")


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
    for key in _HOG_KEYS[:-1]:  # the integers; block_norm is a name
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

    def feature_extractor(self) -> FeatureExtractor:
        """The extractor that computes the features this model reads, with the settings
        it was trained on (:attr:`feature_settings`).

        Returns
        -------
        emonet.features.FeatureExtractor

        Raises
        ------
        ValueError
            If the model reads no features (``feature_settings`` is ``None``).

        Examples
        --------
        >>> from emonet.models import ModelInfo, feature_settings
        >>> info = ModelInfo(None, uses_features=True,
        ...                  feature_settings=feature_settings({"block_norm": "L1"}))
        >>> extractor = info.feature_extractor()
        >>> extractor.block_norm, extractor.fit().n_features_out_
        ('L1', 2728)
        """
        if self.feature_settings is None:
            raise ValueError(
                "this model reads no features (its record has no feature settings), so "
                "it has no feature extractor; give it the faces alone"
            )
        return FeatureExtractor(**{key: self.feature_settings[key] for key in _HOG_KEYS})

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
                feature_settings=None if settings is None else _checked_settings(settings, source),
                labels=tuple(str(name) for name in config["labels"]),
                emonet_version=str(config.get("emonet_version", "")),
                keras_backend=str(config.get("keras_backend", "")),
            )
        except _UnusableSettings as error:
            raise ValueError(str(error)) from None
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{source}: damaged emonet model record ({error})") from None


class _UnusableSettings(ValueError):
    """Feature settings of a record that no extractor computes: their own message."""


def _unusable(source: str, problem: str) -> str:
    return (
        f"{source}: its emonet record holds feature settings no extractor computes "
        f"({problem}); save the model again with emonet.models.save_model and "
        "feature_config= the features file it was trained on"
    )


def _settings_problem(values: dict) -> str | None:
    """What makes settings unusable, by :class:`FeatureExtractor`'s rules; ``None`` if
    nothing does.

    Checked here, not by ``FeatureExtractor.fit``, which builds the HOG cell layout:
    minutes for a hostile record's ``step = 1`` with 1-pixel cells. ``fit`` runs too, once
    the settings are known to give the model's feature width (:func:`_check_record`).
    """
    for key in _HOG_KEYS[:-1]:  # the integers; block_norm is a name
        value = values[key]
        whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        if isinstance(value, bool) or not whole or value < 1:
            return f"{key} must be a positive integer, got {value!r}"
    if not isinstance(values["block_norm"], str) or values["block_norm"] not in BLOCK_NORMS:
        return f"block_norm must be one of {BLOCK_NORMS}, got {values['block_norm']!r}"
    if values["landmark_model"] != LANDMARK_MODEL:
        return (
            f"landmark model {values['landmark_model']!r}, but emonet computes landmarks "
            f"with {LANDMARK_MODEL!r} only"
        )
    return None


def _checked_settings(settings: Any, source: str) -> dict:
    """A record's feature settings, checked by :class:`FeatureExtractor`'s rules.

    The raw values are checked before :func:`feature_settings` rounds them to integers,
    so that ``step = 1.5`` is refused rather than read as 1.
    """
    if not isinstance(settings, dict):
        raise TypeError(f"feature_settings is a {type(settings).__name__}, not a mapping")
    values = {**feature_settings(), **{k: v for k, v in settings.items() if k in _ALL_KEYS}}
    problem = _settings_problem(values)
    if problem is not None:
        raise _UnusableSettings(_unusable(source, problem))
    return feature_settings(values)


def _n_feature_values(settings: dict) -> int:
    """Values per face of the features of ``settings`` (:func:`feature_settings`' keys).

    The count ``FeatureExtractor(**hog_settings).n_features_out`` gives, computed from the
    number of HOG cells alone: settings of a hostile record (``step = 1``) must not
    build the extractor's cell layout to be refused.
    """
    cells = hog_cells_per_axis(
        FACE_SIZE, settings["window"], settings["step"], settings["pixels_per_cell"]
    )
    return LANDMARK_FEATURES + cells**2 * settings["orientations"]


def _keras_num_classes(model: keras.Model) -> int:
    outputs = model.outputs if isinstance(model.outputs, list) else [model.outputs]
    return int(outputs[0].shape[-1])


def _check_record(
    info: ModelInfo,
    source: str,
    *,
    feature_width: int | None,
    num_classes: int,
    inferred: bool = False,
) -> None:
    """Refuse a model whose record does not describe it, naming ``source``.

    Parameters
    ----------
    info : ModelInfo
        The record read from the file (or inferred for a plain Keras file).
    source : str
        The file, named in the errors.
    feature_width : int or None
        The width of the model's features input; ``None`` if it reads none.
    num_classes : int
        The width of the model's output.
    inferred : bool, default=False
        Whether the record was inferred (emonet's default settings), not read.

    Raises
    ------
    ValueError
        If the labels are not :data:`emonet.LABELS` in that order (the model is refused,
        not reordered), the output is not one value per label, or the feature settings
        give another number of values than the features input takes.
    """
    if tuple(info.labels) != LABELS:
        raise ValueError(
            f"{source}: its outputs are labelled {list(info.labels)}, but emonet reads a "
            f"model's outputs in the order of emonet.LABELS {list(LABELS)}; reorder the "
            "model's last layer to that order and save it with emonet.models.save_model, "
            "or train it with emonet-train"
        )
    if num_classes != len(LABELS):
        raise ValueError(
            f"{source}: the model gives {num_classes} class probabilities, but emonet "
            f"reads {len(LABELS)}, one per label of emonet.LABELS; train it with emonet-train"
        )
    if (feature_width is not None) != info.uses_features:
        raise ValueError(f"{source}: its emonet record does not match the model's inputs")
    if feature_width is None or info.feature_settings is None:
        return
    settings = info.feature_settings
    problem = _settings_problem(settings)
    if problem is not None:
        raise ValueError(_unusable(source, problem))
    expected = _n_feature_values(settings)
    if expected == feature_width:
        # the extractor's own rules and count, now that its cell layout is small
        extractor = FeatureExtractor(**{key: settings[key] for key in _HOG_KEYS})
        try:
            expected = extractor.fit().n_features_out_
        except ValueError as error:
            raise ValueError(_unusable(source, str(error))) from None
    if expected != feature_width:
        hog = ", ".join(f"{key}={settings[key]!r}" for key in _HOG_KEYS)
        whose = "emonet's default feature settings" if inferred else "its feature settings"
        raise ValueError(
            f"{source}: {whose} ({hog}) give {expected} values per face, but the model's "
            f"features input takes {feature_width}; save the model with "
            "emonet.models.save_model and feature_config= the features file it was "
            "trained on"
        )


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

    Raises
    ------
    ValueError
        If ``path`` does not end in ``.keras``, or the feature settings give another
        number of values per face than the model's features input takes.

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
    _check_model(model, info, str(path))
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
        If it is not a ``.keras`` model file, or not one emonet can use: a damaged
        record, labels other than :data:`emonet.LABELS` in that order (refused, not
        reordered), or feature settings that no extractor computes or that give another
        number of values than the model's features input takes. The error names the file.
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
    inferred = info is None
    if inferred:
        info = _model_info(model, None, None)
    _check_model(model, info, str(path), inferred=inferred)
    model.emonet_info = info
    return model


def _check_model(
    model: keras.Model, info: ModelInfo, source: str, *, inferred: bool = False
) -> None:
    _check_record(
        info,
        source,
        feature_width=(
            keras_feature_width(model) if FEATURES_INPUT in model_inputs(model) else None
        ),
        num_classes=_keras_num_classes(model),
        inferred=inferred,
    )


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
