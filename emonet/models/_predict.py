"""Predictions of a trained network (or its int8 copy): of face crops, and of a feature set.

How good they are is :func:`emonet.predictions.evaluate_predictions`' to say.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np

from emonet.features import FeatureSet
from emonet.models._fusion import FACE_INPUT, FEATURES_INPUT
from emonet.models._inputs import check_faces, extractor_of, feature_width, num_outputs
from emonet.models._lite import LiteModel
from emonet.models._saving import ModelInfo, check_feature_settings
from emonet.models._tta import tta_mode, tta_views

__all__ = ["predict_crops", "predict_faces", "predict_proba"]


def predict_crops(
    model: keras.Model | LiteModel,
    images: np.ndarray,
    features: np.ndarray | None = None,
    batch_size: int = 256,
    tta: bool | str = False,
) -> np.ndarray:
    """Class probabilities of face crops (48x48 aligned faces), with their features if the
    model reads them.

    The function a recognizer calls on the faces it cropped: the features are computed
    here when the model needs them and none are given. (It was called
    ``predict_faces``: that name stays a deprecated alias for one more release.)

    Parameters
    ----------
    model : keras.Model or LiteModel
        A model of :func:`build_model` (or loaded by :func:`load_model`), or its int8
        copy (:func:`quantize_model`, :func:`load_lite_model`).
    images : (N, 48, 48) uint8 array_like
        Grayscale faces, as :func:`emonet.features.crop_faces` gives them (a trailing
        channel axis of 1 is accepted).
    features : (N, 2728) float array_like, optional
        Landmarks then HOG of each face (:class:`~emonet.features.FeatureExtractor`).
        Ignored by a model without features; for one with features, computed here when
        ``None``, with the settings recorded in a model of :func:`load_model`.
    batch_size : int, default=256
    tta : bool or {"none", "flip", "multiscale"}, default=False
        Test-time augmentation (:func:`tta_views`): average the probabilities of each
        face and of its mirror image (``True`` or ``"flip"``: twice the work), or of both
        at three zooms (``"multiscale"``: six times the work). Each view's landmarks move
        with it and its HOG is computed again. Models trained with flips and zooms gain
        from it.

    Returns
    -------
    (N, 7) ndarray of float32
        Rows sum to 1; no rows for no faces.

    Raises
    ------
    ValueError
        If the faces are not (N, 48, 48) uint8, or the features have another number of
        rows than the faces or another width than the model reads.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.models import build_model, predict_crops
    >>> model = build_model("compact", use_features=False,
    ...                     backbone_options={"widths": [4], "convs_per_block": 1})
    >>> faces = np.random.default_rng(0).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    >>> probabilities = predict_crops(model, faces, tta="multiscale")
    >>> probabilities.shape, bool(np.allclose(probabilities.sum(axis=1), 1, atol=1e-5))
    ((3, 7), True)
    """
    mode = tta_mode(tta)
    images = check_faces(images)
    width = feature_width(model)
    if len(images) == 0:
        return np.zeros((0, num_outputs(model)), dtype=np.float32)
    if width is None:
        features = None
    elif features is None:
        features = extractor_of(model).transform(images)
    else:
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2 or len(features) != len(images) or features.shape[1] != width:
            raise ValueError(
                f"features: expected one row of {width} values per face, shape "
                f"({len(images)}, {width}), got {features.shape}"
            )

    def run(faces: np.ndarray, vectors: np.ndarray | None) -> np.ndarray:
        out = np.empty((len(faces), num_outputs(model)), dtype=np.float32)
        for start in range(0, len(faces), batch_size):
            stop = start + batch_size
            # uint8 faces in memory, cast batch by batch: a float copy of every face would
            # take four times the memory
            inputs = {FACE_INPUT: faces[start:stop, :, :, None].astype(np.float32)}
            if vectors is not None:
                inputs[FEATURES_INPUT] = np.asarray(vectors[start:stop], dtype=np.float32)
            # predict_on_batch: the compiled function, without model.predict's 100+ ms of
            # set-up a call (which one photo or video frame cannot afford); measured on one
            # face, 3 ms against 16 ms for an eager call; on every Keras backend
            out[start:stop] = np.asarray(model.predict_on_batch(inputs), dtype=np.float32)
        return out

    if mode == "none":
        return run(images, features)
    out = np.empty((len(images), num_outputs(model)), dtype=np.float32)
    # a batch of faces at a time, its views in the same call: one call for a photo's few
    # faces instead of one a view, and views of a batch only in memory, not of a dataset
    for start in range(0, len(images), batch_size):
        stop = start + batch_size
        views = tta_views(
            images[start:stop], None if features is None else features[start:stop], mode
        )
        both = run(
            np.concatenate([faces for faces, _ in views]),
            None if features is None else np.concatenate([vectors for _, vectors in views]),
        )
        out[start:stop] = both.reshape(len(views), -1, both.shape[1]).mean(axis=0)
    return out


def predict_proba(
    model: keras.Model | LiteModel,
    data: FeatureSet,
    batch_size: int = 256,
    tta: bool | str = False,
) -> np.ndarray:
    """Class probabilities of every face of a feature set.

    Named as scikit-learn names it: ``predict`` gives labels (the ensembles'),
    ``predict_proba`` probabilities.

    Parameters
    ----------
    model : keras.Model or LiteModel
        A model of :func:`build_model` (or loaded by :func:`load_model`), or its int8
        copy (:func:`quantize_model`, :func:`load_lite_model`).
    data : FeatureSet
        Faces, and features when the model takes them. For a model of
        :func:`load_model`, features made with other HOG settings than it was trained
        on are refused (:func:`check_feature_settings`).
    batch_size : int, default=256
    tta : bool or {"none", "flip", "multiscale"}, default=False
        Test-time augmentation: average the probabilities of each face's views
        (:func:`predict_crops`).

    Returns
    -------
    (N, 7) ndarray of float32
        Rows sum to 1.

    Examples
    --------
    >>> from emonet.features import load_features
    >>> from emonet.models import load_model, predict_proba
    >>> model = load_model("runs/compact_features/model.keras")  # doctest: +SKIP
    >>> data = load_features("fer2013.h5", usage="PublicTest")  # doctest: +SKIP
    >>> predict_proba(model, data).shape  # doctest: +SKIP
    (3589, 7)
    """
    uses_features = feature_width(model) is not None
    if uses_features and isinstance(getattr(model, "emonet_info", None), ModelInfo):
        check_feature_settings(model, data)
    return predict_crops(
        model,
        data.images,
        data.features if uses_features else None,
        batch_size=batch_size,
        tta=tta,
    )


def predict_faces(
    model: keras.Model | LiteModel,
    images: np.ndarray,
    features: np.ndarray | None = None,
    batch_size: int = 256,
    tta: bool | str = False,
) -> np.ndarray:
    """Deprecated: :func:`predict_crops`, under its old name; removed in the next release.

    Warns a ``DeprecationWarning``, then returns ``predict_crops(model, images, features,
    batch_size, tta)``.
    """
    warnings.warn(
        "emonet.models.predict_faces is deprecated and will be removed in the next "
        "release; call emonet.models.predict_crops (the same arguments)",
        DeprecationWarning,
        stacklevel=2,
    )
    return predict_crops(model, images, features, batch_size=batch_size, tta=tta)
