"""The backbone registry: name -> builder, input size, preprocessing, weights.

A backbone is a Keras model from a preprocessed ``(size, size, channels)`` image to one
pooled feature vector; it knows nothing of the task. :func:`emonet.models.build_model`
puts the resizing, the channel and value preprocessing in front of it and the fusion head
behind it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import keras
import numpy as np

from emonet._constants import FACE_SIZE
from emonet.models._layers import FusedBatchNormalization

__all__ = [
    "BackboneSpec",
    "WeightsError",
    "build_backbone",
    "get_backbone",
    "list_backbones",
    "load_backbone_weights",
    "register_backbone",
]


class WeightsError(ValueError):
    """Weights for a backbone could not be obtained or do not fit it."""


@dataclass(frozen=True)
class BackboneSpec:
    """What the registry knows about one backbone.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"resnet50"``.
    builder : callable
        ``builder(input_size, weights, **options) -> keras.Model``; ``weights`` is
        ``None`` or ``"imagenet"`` (a weights file is loaded afterwards, by
        :func:`load_backbone_weights`).
    default_input_size : int
        Side of the square input the backbone sees by default, in pixels.
    min_input_size : int
        Smallest side the architecture accepts.
    channels : int
        Channels of its input: 3 for ImageNet networks (the gray face is repeated), 1 for
        networks that see the gray face itself.
    preprocessing : str
        Mode of :class:`~emonet.models.BackbonePreprocessing` matching its weights.
    application : str or None
        The ``keras.applications`` class it is, if any: a weights file that class's
        ``save_weights`` writes loads into it.
    pretrained : tuple of str
        Named weights it can download, e.g. ``("imagenet",)``.
    description : str
        One line for listings.
    """

    name: str
    builder: Callable[..., keras.Model]
    default_input_size: int
    min_input_size: int
    channels: int
    preprocessing: str
    application: str | None = None
    pretrained: tuple[str, ...] = ()
    description: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)


_REGISTRY: dict[str, BackboneSpec] = {}


def register_backbone(spec: BackboneSpec) -> BackboneSpec:
    """Add a backbone to the registry (or replace one of the same name).

    Parameters
    ----------
    spec : BackboneSpec
        The backbone's description and builder.

    Returns
    -------
    BackboneSpec
        ``spec``, for use as ``SPEC = register_backbone(BackboneSpec(...))``.

    Examples
    --------
    A backbone is a builder from ``(input_size, weights, **options)`` to a Keras model
    from the (preprocessed) face to a pooled vector:

    >>> import keras
    >>> from emonet.models import BackboneSpec, build_model, register_backbone
    >>> def tiny(size, weights, width=8):
    ...     face = keras.Input((size, size, 1))
    ...     x = keras.layers.Conv2D(width, 3, strides=2, activation="relu")(face)
    ...     return keras.Model(face, keras.layers.GlobalAveragePooling2D()(x))
    >>> spec = BackboneSpec("tiny", tiny, default_input_size=48, min_input_size=8,
    ...                     channels=1, preprocessing="unit", options={"width": 8})
    >>> register_backbone(spec)  # doctest: +SKIP
    >>> build_model("tiny", use_features=False).output_shape  # doctest: +SKIP
    (None, 7)
    """
    _REGISTRY[spec.name] = spec
    return spec


def list_backbones() -> list[str]:
    """Names of the registered backbones, sorted.

    Returns
    -------
    list of str

    Examples
    --------
    >>> from emonet.models import list_backbones
    >>> list_backbones()
    ['compact', 'inception_resnet_v2', 'resnet50']
    """
    return sorted(_REGISTRY)


def get_backbone(name: str) -> BackboneSpec:
    """The registry entry of a backbone.

    Parameters
    ----------
    name : str
        A name from :func:`list_backbones`.

    Returns
    -------
    BackboneSpec

    Raises
    ------
    ValueError
        If no backbone has that name.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown backbone {name!r}; choose one of {', '.join(list_backbones())}"
        ) from None


def build_backbone(
    name: str,
    input_size: int | None = None,
    weights: str | os.PathLike[str] | None = None,
    **options: Any,
) -> keras.Model:
    """Build a registered backbone, optionally with weights.

    Parameters
    ----------
    name : str
        A name from :func:`list_backbones`.
    input_size : int, optional
        Side of its square input; default the backbone's ``default_input_size``.
    weights : None, "imagenet" or path, optional
        ``None``: random initialisation. ``"imagenet"``: Keras downloads the ImageNet
        weights on first use. A path: a Keras ``.weights.h5`` file of the same
        architecture, as ``save_weights`` writes it.
    **options
        Architecture options of the backbone (see its ``options`` in the registry).

    Returns
    -------
    keras.Model
        From a ``(input_size, input_size, channels)`` image to a pooled vector.

    Raises
    ------
    ValueError
        If the name, input size or options are unknown or out of range.
    WeightsError
        If the weights cannot be downloaded or the file does not fit the backbone.

    Examples
    --------
    >>> from emonet.models import build_backbone
    >>> build_backbone("compact", widths=(8, 16)).output_shape  # doctest: +SKIP
    (None, 144)
    """
    spec = get_backbone(name)
    size = spec.default_input_size if input_size is None else int(input_size)
    if size < spec.min_input_size:
        raise ValueError(
            f"backbone {name!r} needs an input of at least {spec.min_input_size} pixels, "
            f"got {size}"
        )
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        known = ", ".join(spec.options) or "none"
        raise ValueError(f"backbone {name!r} has no option {unknown[0]!r} (options: {known})")
    named = None
    if isinstance(weights, str) and not _looks_like_path(weights):
        if weights not in spec.pretrained:
            offered = ", ".join(repr(w) for w in spec.pretrained) or "no named weights"
            raise WeightsError(
                f"backbone {name!r} has {offered}, not {weights!r}; pass None to train from "
                "scratch or the path of a .weights.h5 file"
            )
        named = weights
    if named is not None:
        try:
            model = spec.builder(size, named, **options)
        except Exception as error:  # Keras raises a bare Exception when a download fails
            raise WeightsError(_download_help(spec, named, error)) from error
    else:
        model = spec.builder(size, None, **options)
    if weights is not None and named is None:
        load_backbone_weights(model, weights)
    return model


def _looks_like_path(value: str) -> bool:
    return value.endswith(".h5") or os.sep in value or "/" in value or Path(value).exists()


def _download_help(spec: BackboneSpec, weights: str, error: Exception) -> str:
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
    return (
        f"could not get the {weights} weights of backbone {spec.name!r} ({first_line}). "
        f"Keras downloads them on first use into ~/.keras/models; without internet, run "
        f"keras.applications.{spec.application}(include_top=False, weights='{weights}')"
        f".save_weights('{spec.name}_{weights}.weights.h5') on a machine that has it, copy "
        f"the file here and pass its path as the weights"
    )


# --------------------------------------------------------------------------- weights files


def _snake_case(name: str) -> str:
    # The rule Keras uses to name a layer's group in a weights file.
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _expected_entries(model: keras.Model) -> dict[str, tuple[keras.layers.Layer, dict]]:
    """Group path (relative to the model's ``layers`` group) -> (layer, its variables).

    Keras' ``save_weights`` addresses a layer by its class name and its rank among layers
    of that class, not by its (session-dependent) name; so does this.
    """
    used: dict[str, int] = {}
    entries = {}
    for layer in model.layers:
        base = _snake_case(type(layer).__name__)
        if base in used:
            used[base] += 1
            key = f"{base}_{used[base]}"
        else:
            used[base] = 0
            key = base
        own: dict[str, Any] = {}
        layer.save_own_variables(own)
        if own:
            entries[key] = (layer, {k: tuple(np.shape(v)) for k, v in own.items()})
    return entries


def _file_entries(group: h5py.Group) -> dict[str, tuple[str, dict[str, np.ndarray]]]:
    """Layer group -> (stored layer name, its arrays) under one ``layers`` group."""
    entries = {}
    for key, child in group.items():
        if not isinstance(child, h5py.Group) or "vars" not in child:
            continue
        stored = child["vars"]
        arrays = {k: v for k, v in stored.items() if isinstance(v, h5py.Dataset)}
        if arrays:
            entries[key] = (str(stored.attrs.get("name", key)), arrays)
    return entries


def _layers_groups(file: h5py.File, depth: int = 4) -> list[h5py.Group]:
    """Every ``layers`` group, the file's own first, then those of nested models."""
    found = []
    queue: list[tuple[h5py.Group, int]] = [(file, 0)]
    while queue:
        group, level = queue.pop(0)
        if "layers" in group and isinstance(group["layers"], h5py.Group):
            found.append(group["layers"])
            if level < depth:
                queue += [
                    (child, level + 1)
                    for child in group["layers"].values()
                    if isinstance(child, h5py.Group)
                ]
    return found


def _listing(items: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def load_backbone_weights(model: keras.Model, path: str | os.PathLike[str]) -> keras.Model:
    """Load a Keras ``.weights.h5`` file into a backbone, after checking that it fits.

    The file is what ``save_weights`` writes for the same architecture: for instance
    ``keras.applications.ResNet50(include_top=False).save_weights(path)``, or ResNet-50
    weights trained on VGGFace2 and converted into that model. Extra layers in the file
    (a classification top, say) are ignored; a nested model's weights are found too.

    Parameters
    ----------
    model : keras.Model
        The backbone, built.
    path : str or path-like
        The weights file.

    Returns
    -------
    keras.Model
        ``model``, with the weights loaded.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    WeightsError
        If it is not a Keras weights file, or layers of the model are missing from it or
        have other shapes; the message names them.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such weights file")
    expected = _expected_entries(model)
    try:
        file = h5py.File(path, "r")
    except OSError as error:
        raise WeightsError(f"{path}: not an HDF5 weights file ({error})") from None
    with file:
        groups = _layers_groups(file)
        if not groups:
            raise WeightsError(
                f"{path}: not a Keras 3 .weights.h5 file (it has no 'layers' group); write "
                "one with model.save_weights('name.weights.h5')"
            )
        candidates = [_file_entries(g) for g in groups]
        # The layers group whose entries fit most of the model's layers is the backbone's.
        best = max(candidates, key=lambda entries: _fit_score(expected, entries))
        missing, mismatched = [], []
        for key, (layer, shapes) in expected.items():
            if key not in best:
                missing.append(f"{layer.name} ({key})")
                continue
            stored_name, arrays = best[key]
            found = {k: tuple(v.shape) for k, v in arrays.items()}
            if found != shapes:
                mismatched.append(
                    f"{layer.name}: model {_shapes(shapes)}, file {stored_name} {_shapes(found)}"
                )
        if missing or mismatched:
            problems = []
            if mismatched:
                problems.append(f"{len(mismatched)} with other shapes: {_listing(mismatched, 4)}")
            if missing:
                problems.append(f"{len(missing)} missing from the file: {_listing(missing)}")
            raise WeightsError(
                f"{path} does not fit backbone {model.name!r} ({len(expected)} layers with "
                f"weights): {'; '.join(problems)}. Use a file written by save_weights of the "
                f"same architecture with the same options"
            )
        for key, (layer, _) in expected.items():
            layer.load_own_variables({k: np.asarray(v) for k, v in best[key][1].items()})
    return model


def _fit_score(expected: Mapping[str, tuple], entries: Mapping[str, tuple]) -> int:
    return sum(
        key in entries and {k: tuple(v.shape) for k, v in entries[key][1].items()} == shapes
        for key, (_, shapes) in expected.items()
    )


def _shapes(shapes: Mapping[str, tuple]) -> str:
    return "[" + ", ".join(str(shapes[k]) for k in sorted(shapes, key=int)) + "]"


# --------------------------------------------------------------------------- builders


def _keras_application(cls_name: str) -> Callable[..., keras.Model]:
    def builder(size: int, weights: str | None) -> keras.Model:
        application = getattr(keras.applications, cls_name)
        return application(
            include_top=False, weights=weights, input_shape=(size, size, 3), pooling="avg"
        )

    builder.__name__ = f"build_{cls_name}"
    return builder


#: Default architecture of the ``compact`` backbone.
COMPACT_DEFAULTS: dict[str, Any] = {
    "widths": (32, 64, 128, 256),
    "convs_per_block": 2,
    # Runs of an hour underfit: without dropout between blocks (and with lighter
    # augmentation) compact_features reached 48.1% PublicTest after 2 epochs, vs 44.6%.
    "dropout": 0.0,
    "pooling": "flatten",
}


def _as_tuple(value: Any, n: int, name: str) -> tuple:
    values = tuple(value) if isinstance(value, (list, tuple)) else (value,) * n
    if len(values) != n:
        raise ValueError(
            f"compact backbone: {name} needs one value or {n} (one per block), got {value}"
        )
    return values


def build_compact(
    size: int,
    weights: str | None = None,
    widths: Sequence[int] = COMPACT_DEFAULTS["widths"],
    convs_per_block: int | Sequence[int] = COMPACT_DEFAULTS["convs_per_block"],
    dropout: float | Sequence[float] = COMPACT_DEFAULTS["dropout"],
    pooling: str = COMPACT_DEFAULTS["pooling"],
) -> keras.Model:
    """A VGG-style network for 48x48 gray faces that trains on a 2-core CPU.

    Blocks of 3x3 convolutions (batch-normalised, ReLU), each ending in 2x2 max pooling
    (and dropout, if asked); then the map is flattened (``pooling="flatten"``, which keeps
    where on the face a pattern is) or averaged (``"avg"``).

    Parameters
    ----------
    size : int
        Side of the input, at least ``2 ** len(widths)``.
    weights : None
        The compact network has no pretrained weights.
    widths : sequence of int
        Filters of each block.
    convs_per_block : int or sequence of int
        Convolutions per block.
    dropout : float or sequence of float, default=0.0
        Dropout rate after each block (one rate, or one per block); none by default, since
        the short CPU runs it is made for underfit rather than overfit.
    pooling : {"flatten", "avg", "max"}
        How the last map becomes a vector.

    Returns
    -------
    keras.Model
    """
    if weights is not None:
        raise WeightsError("the compact backbone has no pretrained weights")
    widths = tuple(int(w) for w in widths)
    convs = _as_tuple(convs_per_block, len(widths), "convs_per_block")
    rates = _as_tuple(dropout, len(widths), "dropout")
    if pooling not in ("flatten", "avg", "max"):
        raise ValueError(f"compact backbone: pooling must be flatten, avg or max, got {pooling!r}")
    if size < 2 ** len(widths):
        raise ValueError(
            f"compact backbone: {len(widths)} blocks need an input of {2 ** len(widths)}"
            f" pixels or more, got {size}"
        )
    inputs = keras.Input((size, size, 1), name="image")
    x = inputs
    for block, (width, n, rate) in enumerate(zip(widths, convs, rates, strict=True), start=1):
        for conv in range(1, int(n) + 1):
            x = keras.layers.Conv2D(
                width,
                3,
                padding="same",
                use_bias=False,
                kernel_initializer="he_normal",
                name=f"block{block}_conv{conv}",
            )(x)
            x = FusedBatchNormalization(name=f"block{block}_bn{conv}")(x)
            x = keras.layers.ReLU(name=f"block{block}_relu{conv}")(x)
        x = keras.layers.MaxPooling2D(name=f"block{block}_pool")(x)
        if rate:
            x = keras.layers.Dropout(rate, name=f"block{block}_dropout")(x)
    if pooling == "flatten":
        x = keras.layers.Flatten(name="flatten")(x)
    elif pooling == "avg":
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    else:
        x = keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
    return keras.Model(inputs, x, name="compact")


register_backbone(
    BackboneSpec(
        name="inception_resnet_v2",
        builder=_keras_application("InceptionResNetV2"),
        default_input_size=139,
        min_input_size=75,
        channels=3,
        preprocessing="tf",
        application="InceptionResNetV2",
        pretrained=("imagenet",),
        description="Inception-ResNet v2 (model A of the paper), 139 px, ImageNet weights",
    )
)
register_backbone(
    BackboneSpec(
        name="resnet50",
        builder=_keras_application("ResNet50"),
        default_input_size=197,
        min_input_size=32,
        channels=3,
        preprocessing="caffe",
        application="ResNet50",
        pretrained=("imagenet",),
        description="ResNet-50 (model B of the paper), 197 px, ImageNet or VGGFace2 weights",
    )
)
register_backbone(
    BackboneSpec(
        name="compact",
        builder=build_compact,
        default_input_size=FACE_SIZE,
        min_input_size=16,
        channels=1,
        preprocessing="unit",
        description="VGG-style network from scratch at 48 px, trains on a 2-core CPU",
        options=COMPACT_DEFAULTS,
    )
)
