"""Predictions of a trained model, and how good they are: accuracy, per-class scores,
the confusion matrix (drawn by :func:`emonet._plotting.plot_confusion_matrix`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import keras
import numpy as np
from sklearn.metrics import classification_report, confusion_matrix

from emonet._constants import FACE_SIZE, FEATURE_SIZE, LABELS, NUM_CLASSES
from emonet.features import FeatureExtractor, FeatureSet
from emonet.models._fusion import FACE_INPUT, FEATURES_INPUT, model_inputs
from emonet.models._saving import ModelInfo, check_feature_settings
from emonet.models._tta import tta_mode, tta_views

if TYPE_CHECKING:
    from emonet.models._lite import LiteModel

__all__ = ["Evaluation", "evaluate_predictions", "predict_faces", "predict_proba"]


def predict_faces(
    model: keras.Model | LiteModel,
    images: np.ndarray,
    features: np.ndarray | None = None,
    batch_size: int = 256,
    tta: bool | str = False,
) -> np.ndarray:
    """Class probabilities of 48x48 faces, with their features if the model reads them.

    The function a recognizer calls on the faces it cropped: the features are computed
    here when the model needs them and none are given.

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
    >>> from emonet.models import build_model, predict_faces
    >>> model = build_model("compact", use_features=False,
    ...                     backbone_options={"widths": [4], "convs_per_block": 1})
    >>> faces = np.random.default_rng(0).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    >>> probabilities = predict_faces(model, faces, tta="multiscale")
    >>> probabilities.shape, bool(np.allclose(probabilities.sum(axis=1), 1, atol=1e-5))
    ((3, 7), True)
    """
    mode = tta_mode(tta)
    images = _check_faces(images)
    width = _feature_width(model)
    if len(images) == 0:
        return np.zeros((0, _num_outputs(model)), dtype=np.float32)
    if width is None:
        features = None
    elif features is None:
        features = _extractor_of(model).transform(images)
    else:
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2 or len(features) != len(images) or features.shape[1] != width:
            raise ValueError(
                f"features: expected one row of {width} values per face, shape "
                f"({len(images)}, {width}), got {features.shape}"
            )

    def run(faces: np.ndarray, vectors: np.ndarray | None) -> np.ndarray:
        out = np.empty((len(faces), _num_outputs(model)), dtype=np.float32)
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
    out = np.empty((len(images), _num_outputs(model)), dtype=np.float32)
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
        (:func:`predict_faces`).

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
    uses_features = _feature_width(model) is not None
    if uses_features and isinstance(getattr(model, "emonet_info", None), ModelInfo):
        check_feature_settings(model, data)
    return predict_faces(
        model,
        data.images,
        data.features if uses_features else None,
        batch_size=batch_size,
        tta=tta,
    )


def _check_faces(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3 or images.shape[1:] != (FACE_SIZE, FACE_SIZE):
        raise ValueError(
            f"expected {FACE_SIZE}x{FACE_SIZE} grayscale faces, shape (N, {FACE_SIZE}, "
            f"{FACE_SIZE}), got {images.shape}; crop photos with emonet.features.crop_faces"
        )
    if images.dtype != np.uint8:
        raise ValueError(f"expected uint8 faces (0-255), got dtype {images.dtype}")
    return images


def _feature_width(model: keras.Model) -> int | None:
    """Width of the model's features input; ``None`` if it reads none."""
    if not isinstance(model, keras.Model):  # a LiteModel says it
        return model.feature_width
    if FEATURES_INPUT not in model_inputs(model):
        return None
    inputs = model.inputs if isinstance(model.inputs, list) else [model.inputs]
    for tensor in inputs:
        if tensor.name.split(":")[0] == FEATURES_INPUT:
            return int(tensor.shape[-1])
    return FEATURE_SIZE


def _num_outputs(model: keras.Model) -> int:
    if not isinstance(model, keras.Model):
        return model.num_classes
    return int(model.outputs[0].shape[-1])


def _extractor_of(model: keras.Model) -> FeatureExtractor:
    # the settings the model was trained with, when its file records them
    info = getattr(model, "emonet_info", None)
    settings = getattr(info, "feature_settings", None) or {}
    parameters = FeatureExtractor().get_params()
    return FeatureExtractor(**{k: v for k, v in settings.items() if k in parameters})


@dataclass
class Evaluation:
    """Scores of predictions against true labels.

    Attributes
    ----------
    accuracy : float
    confusion : (7, 7) int ndarray
        Rows: true label, columns: predicted label, in the order of :data:`emonet.LABELS`.
    report : dict
        scikit-learn's ``classification_report`` as a dict: per label ``precision``,
        ``recall``, ``f1-score``, ``support``, plus the averages.
    text : str
        The same report as a table.
    n_faces : int
        Faces with a known label that were scored.
    """

    accuracy: float
    confusion: np.ndarray
    report: dict
    text: str
    n_faces: int


def evaluate_predictions(probabilities: np.ndarray, labels: np.ndarray) -> Evaluation:
    """Accuracy, per-class precision / recall / F1 and the confusion matrix.

    Faces whose label is unknown (-1) are left out.

    Parameters
    ----------
    probabilities : (N, 7) array
    labels : (N,) int

    Returns
    -------
    Evaluation

    Raises
    ------
    ValueError
        If no face has a known label.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.models import evaluate_predictions
    >>> result = evaluate_predictions(np.eye(7)[[0, 3, 3]], np.array([0, 3, 4]))
    >>> round(result.accuracy, 3), int(result.confusion[4, 3])
    (0.667, 1)
    """
    probabilities = np.asarray(probabilities)
    labels = np.asarray(labels)
    known = labels >= 0
    if not known.any():
        raise ValueError("no face has a known label; cannot score the predictions")
    y_true = labels[known]
    y_pred = probabilities[known].argmax(axis=1)
    classes = list(range(NUM_CLASSES))
    report = classification_report(
        y_true,
        y_pred,
        labels=classes,
        target_names=list(LABELS),
        output_dict=True,
        zero_division=0,
    )
    text = classification_report(
        y_true, y_pred, labels=classes, target_names=list(LABELS), digits=3, zero_division=0
    )
    return Evaluation(
        accuracy=float(np.mean(y_true == y_pred)),
        confusion=confusion_matrix(y_true, y_pred, labels=classes),
        report=report,
        text=text,
        n_faces=int(known.sum()),
    )
