"""``Recognizer``: the expressions of the faces in photos, folders and videos."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from emonet._constants import FACE_SIZE, KERAS_SUFFIX, LABELS, LITE_SUFFIX
from emonet.ensemble import WeightedEnsemble
from emonet.features import FeatureExtractor, FeatureSet, align_faces, detect_faces
from emonet.models import (
    LiteModel,
    ModelInfo,
    check_feature_settings,
    load_lite_model,
    load_model,
    predict_faces,
    tta_mode,
)
from emonet.recognize._presets import DEFAULT_PRESET, load_preset_config, preset_path
from emonet.recognize._result import Face, FrameResult

__all__ = ["Recognizer"]

PathLike = str | os.PathLike[str]
_HOG_PARAMETERS = ("window", "step", "orientations", "pixels_per_cell", "block_norm")


class Recognizer:
    """Find the faces in photos or videos and tell each one's expression.

    Loads a bundled preset (no download, no network) or a user's own models, detects
    faces with dlib, aligns and crops each to 48x48 the way FER2013 faces are framed,
    computes the landmark and HOG features when a member model reads them, and averages
    the members' probabilities with the ensemble's weights. The faces of all photos of a
    call go through the networks in shared batches.

    Parameters
    ----------
    preset : str or path-like, default="default"
        A name of :func:`emonet.list_presets` or a preset folder. Ignored when
        ``models`` is given.
    models : list of paths, keras.Model or LiteModel, optional
        A user's own models: ``emonet-train`` run folders, ``.keras`` files, quantized
        ``.tflite`` files (``emonet-quantize``), or models.
    ensemble : path or WeightedEnsemble, optional
        The ``ensemble.json`` of ``emonet-fit-ensemble`` for ``models``, in their order;
        default equal weights.
    detector : {"hog", "cnn"}, default="hog"
        dlib's HOG detector (fast) or its CNN detector (finds more faces, 1-2 s a photo
        on a CPU), see :func:`emonet.features.detect_faces`.
    upsample : int or None, default=None
        Times a photo is doubled before detection; ``None`` doubles it only when no face
        was found at its own size (faces down to about 40 px then).
    min_score : float, optional
        Lowest detection score kept; default 0.3 (see :func:`emonet.features.detect_faces`).
    tta : bool or {"none", "flip", "multiscale"}, optional
        Test-time augmentation (:func:`emonet.models.tta_views`): also read each face's
        mirror image and average (``True`` or ``"flip"``: twice the network work), or
        both at three zooms (``"multiscale"``: six times); default the preset's setting
        (``"none"`` for ``models``).
    batch_size : int, default=256
        Faces per network batch.

    Attributes
    ----------
    models_ : list of keras.Model or LiteModel
        The member models, each with its ``emonet_info``.
    weights_ : ndarray of shape (n_models,)
        Their weights in the average.
    preset_ : dict or None
        The preset's ``preset.json`` (None for ``models``).
    tta_ : str
        The test-time augmentation used when a call names none, a name of
        :data:`emonet.models.TTA_MODES`.

    Examples
    --------
    >>> from skimage import data
    >>> from emonet import Recognizer
    >>> recognizer = Recognizer()
    >>> faces = recognizer.predict(data.astronaut())
    >>> len(faces), faces[0].box
    (1, (179, 83, 266, 170))
    >>> faces[0].label in recognizer.labels
    True
    """

    labels: tuple[str, ...] = LABELS

    def __init__(
        self,
        preset: PathLike = DEFAULT_PRESET,
        *,
        models: Sequence[Any] | None = None,
        ensemble: PathLike | WeightedEnsemble | None = None,
        detector: str = "hog",
        upsample: int | None = None,
        min_score: float | None = None,
        tta: bool | str | None = None,
        batch_size: int = 256,
    ) -> None:
        self.preset = preset
        self.models = models
        self.ensemble = ensemble
        self.detector = detector
        self.upsample = upsample
        self.min_score = min_score
        self.tta = tta
        self.batch_size = batch_size
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        tta_mode(tta)  # checked before the models load
        # checks the detector's arguments now rather than on the first photo
        detect_faces(
            np.zeros((8, 8), np.uint8), upsample=upsample, detector=detector, min_score=min_score
        )
        if models is None:
            folder = preset_path(preset)
            self.preset_ = load_preset_config(folder)
            paths: list[Any] = [folder / name for name in self.preset_["members"]]
            ensemble_file = self.preset_["ensemble"]
            ensemble = folder / ensemble_file if ensemble_file else None
            default_tta = self.preset_["tta"]
        else:
            self.preset_ = None
            paths = list(models)
            default_tta = "none"
        if not paths:
            raise ValueError("models must name at least one model")
        self.models_ = [_load_member(item) for item in paths]
        self.weights_ = _member_weights(ensemble, len(self.models_))
        self.tta_ = tta_mode(default_tta if tta is None else tta)

    # ------------------------------------------------------------------ crops

    def predict_crops(self, images: np.ndarray, tta: bool | str | None = None) -> np.ndarray:
        """Expression probabilities of aligned 48x48 grayscale face crops.

        Parameters
        ----------
        images : (N, 48, 48) or (48, 48) array of uint8
            Faces framed as FER2013's (e.g. by :func:`emonet.features.align_faces`).
        tta : bool or {"none", "flip", "multiscale"}, optional
            Test-time augmentation; default the recognizer's, ``tta_``.

        Returns
        -------
        (N, 7) ndarray of float32
            Probabilities in the order of :data:`emonet.LABELS`; rows sum to 1.

        Examples
        --------
        >>> import numpy as np
        >>> from emonet import Recognizer
        >>> faces = np.full((2, 48, 48), 128, np.uint8)
        >>> Recognizer().predict_crops(faces).shape
        (2, 7)
        """
        images = _check_crops(images)
        features: dict[tuple, np.ndarray] = {}

        def vectors(info: ModelInfo) -> np.ndarray:
            # one extraction per distinct setting, shared by the members that read it
            key = tuple(sorted(info.feature_settings.items()))
            if key not in features:
                params = {k: info.feature_settings[k] for k in _HOG_PARAMETERS}
                features[key] = FeatureExtractor(**params).transform(images)
            return features[key]

        return self._average(images, vectors, tta)

    def predict_feature_set(self, data: FeatureSet, tta: bool | str | None = None) -> np.ndarray:
        """Expression probabilities of the faces of a features file, with its features.

        The file's landmarks and HOG are used as they are (no extraction), after checking
        that each member that reads them was trained on the same settings.

        Parameters
        ----------
        data : FeatureSet
            From :func:`emonet.features.load_features`.
        tta : bool or {"none", "flip", "multiscale"}, optional
            Test-time augmentation; default the recognizer's, ``tta_``.

        Returns
        -------
        (N, 7) ndarray of float32

        Raises
        ------
        ValueError
            If a member was trained on features made with other settings.

        Examples
        --------
        >>> from emonet import Recognizer
        >>> from emonet.features import load_features
        >>> data = load_features("fer2013.h5", usage="PublicTest")  # doctest: +SKIP
        >>> probabilities = Recognizer().predict_feature_set(data)  # doctest: +SKIP
        """
        images = _check_crops(data.images)

        def vectors(info: ModelInfo) -> np.ndarray:
            check_feature_settings(info, data)
            return data.features

        return self._average(images, vectors, tta)

    def _average(
        self,
        images: np.ndarray,
        vectors: Callable[[ModelInfo], np.ndarray],
        tta: bool | str | None,
    ) -> np.ndarray:
        """The members' probabilities of the crops, averaged with the ensemble's weights;
        ``vectors(info)`` gives the features of a member that reads them."""
        tta = self.tta_ if tta is None else tta_mode(tta)
        if len(images) == 0:
            return np.empty((0, len(LABELS)), np.float32)
        total = np.zeros((len(images), len(LABELS)), np.float64)
        for weight, model in zip(self.weights_, self.models_, strict=True):
            if weight == 0:
                continue
            info = model.emonet_info
            features = vectors(info) if info.uses_features else None
            total += weight * predict_faces(
                model, images, features, batch_size=self.batch_size, tta=tta
            )
        return (total / total.sum(axis=1, keepdims=True)).astype(np.float32)

    # ------------------------------------------------------------------ photos

    def detect(
        self, photo: np.ndarray | PathLike
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Find and align the faces of one photo, without the networks.

        Returns
        -------
        boxes : (K, 4) int64
        scores : (K,) float32
        landmarks : (K, 68, 2) float32, in the photo's pixels
        crops : (K, 48, 48) uint8
        """
        gray = to_gray(read_photo(photo))
        boxes, scores = detect_faces(
            gray,
            upsample=self.upsample,
            detector=self.detector,
            min_score=self.min_score,
            return_scores=True,
        )
        crops, landmarks = align_faces(gray, boxes)
        return boxes, scores, landmarks, crops

    def predict(
        self, images: np.ndarray | PathLike | Sequence[np.ndarray | PathLike]
    ) -> list[Face] | list[list[Face]]:
        """The faces of a photo (or of each photo of a list) and their expressions.

        Parameters
        ----------
        images : array, path, or a list of them
            A photo as an array (``(H, W)`` gray or ``(H, W, 3)`` RGB, as scikit-image
            and Pillow give them; uint8, or float in [0, 1]) or an image file, or a list
            of photos (or a 4-D array).

        Returns
        -------
        list of Face, or a list of them per photo
            For one photo its faces, largest first; for a list, one such list per photo.
            A photo without a face gives an empty list.

        Raises
        ------
        ValueError
            If a file cannot be read as an image, naming it.
        """
        single = _is_single_photo(images)
        photos = [images] if single else list(images)
        found = [self.detect(photo) for photo in photos]
        crops = [crops for *_, crops in found]
        probabilities = self.predict_crops(
            np.concatenate(crops) if crops else np.empty((0, FACE_SIZE, FACE_SIZE), np.uint8)
        )
        results, start = [], 0
        for boxes, scores, landmarks, _ in found:
            stop = start + len(boxes)
            results.append(
                [
                    Face.from_probabilities(box, score, points, row)
                    for box, score, points, row in zip(
                        boxes, scores, landmarks, probabilities[start:stop], strict=True
                    )
                ]
            )
            start = stop
        return results[0] if single else results

    # ------------------------------------------------------------------ videos

    def predict_video(
        self,
        path: PathLike,
        every: int = 1,
        *,
        batch_frames: int = 16,
        keep_images: bool = False,
    ) -> Iterator[FrameResult]:
        """Stream a video's frames and yield the faces of each.

        Frames are decoded one at a time and processed in small groups (their faces go
        through the networks together), so memory stays flat however long the video.

        Parameters
        ----------
        path : str or path-like
            A video file OpenCV can read (mp4, avi, mkv, ...).
        every : int, default=1
            Read every ``every``-th frame (the others are skipped without decoding).
        batch_frames : int, default=16
            Frames whose faces share one network pass.
        keep_images : bool, default=False
            Put each frame (RGB) into :attr:`FrameResult.image`, e.g. to annotate it.

        Yields
        ------
        FrameResult
            Frame index, time in seconds (index / the video's frame rate) and faces.

        Raises
        ------
        ValueError
            If the file cannot be opened as a video.
        """
        if int(every) != every or every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}")
        for chunk, fps in _video_chunks(Path(path), int(every), int(batch_frames)):
            faces = self.predict([image for _, image in chunk])
            for (index, image), frame_faces in zip(chunk, faces, strict=True):
                yield FrameResult(
                    index=index,
                    time_s=index / fps if fps else float("nan"),
                    faces=frame_faces,
                    image=image if keep_images else None,
                )


def video_info(path: PathLike) -> dict[str, float]:
    """Frame rate, frame count and size of a video, as OpenCV reports them.

    Raises
    ------
    ValueError
        If the file cannot be opened as a video.
    """
    capture = _open_video(Path(path))
    try:
        return {
            "fps": float(capture.get(cv2.CAP_PROP_FPS) or 0.0),
            "frames": int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0),
            "width": int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            "height": int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        }
    finally:
        capture.release()


def _open_video(path: Path) -> cv2.VideoCapture:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such video file")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise ValueError(f"{path}: cannot be opened as a video")
    return capture


def _video_chunks(
    path: Path, every: int, size: int
) -> Iterator[tuple[list[tuple[int, np.ndarray]], float]]:
    capture = _open_video(path)
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    try:
        chunk: list[tuple[int, np.ndarray]] = []
        index = 0
        # grab() advances without decoding; only the frames kept are retrieved
        while capture.grab():
            if index % every == 0:
                ok, frame = capture.retrieve()
                if ok:
                    chunk.append((index, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)))
                if len(chunk) == size:
                    yield chunk, fps
                    chunk = []
            index += 1
        if chunk:
            yield chunk, fps
    finally:
        capture.release()


# ---------------------------------------------------------------------- helpers


def read_photo(photo: np.ndarray | PathLike) -> np.ndarray:
    """A photo as a uint8 array: gray ``(H, W)`` or RGB ``(H, W, 3)``.

    Files are read with OpenCV (its BGR turned into RGB); arrays are taken as gray or
    RGB(A), uint8 or floats in [0, 1].

    Raises
    ------
    ValueError
        If a file cannot be read as an image or an array cannot be a photo, naming it.
    """
    if isinstance(photo, str | os.PathLike):
        path = Path(photo)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such image file")
        data = np.fromfile(path, dtype=np.uint8)
        image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
        if image is None:
            raise ValueError(f"{path}: not an image file OpenCV can read")
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    image = np.asarray(photo)
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise ValueError(f"a photo must be (H, W) gray or (H, W, 3) RGB, got shape {image.shape}")
    if min(image.shape[:2]) < 8:
        raise ValueError(f"a photo of {image.shape[1]}x{image.shape[0]} pixels holds no face")
    if image.dtype == np.bool_ or image.dtype.kind not in "uif":
        raise ValueError(f"a photo must hold numbers, got dtype {image.dtype}")
    if image.dtype.kind == "f":
        if np.nanmax(image) > 1.0 or np.nanmin(image) < 0.0:
            raise ValueError("a float photo must hold values in [0, 1] (or pass uint8 0-255)")
        image = np.round(np.nan_to_num(image) * 255)
    elif image.dtype != np.uint8:
        if image.max() > 255 or image.min() < 0:
            raise ValueError(
                f"a {image.dtype} photo must hold values 0-255 (or pass floats in [0, 1])"
            )
    return np.ascontiguousarray(image, dtype=np.uint8)


def to_gray(image: np.ndarray) -> np.ndarray:
    """Grayscale of a gray or RGB uint8 photo (luma weights of RGB order)."""
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def _is_single_photo(images: Any) -> bool:
    if isinstance(images, str | os.PathLike):
        return True
    if isinstance(images, np.ndarray):
        if images.ndim == 4:
            return False
        return True
    return False


def _check_crops(images: Any) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim == 2:
        images = images[None]
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3 or images.shape[1:] != (FACE_SIZE, FACE_SIZE):
        raise ValueError(
            f"face crops must be (N, {FACE_SIZE}, {FACE_SIZE}) grayscale, got shape "
            f"{images.shape}; photos go through predict()"
        )
    if images.dtype != np.uint8:
        if images.dtype.kind not in "uif" or images.min() < 0 or images.max() > 255:
            raise ValueError(f"face crops must be uint8 0-255, got dtype {images.dtype}")
        images = images.astype(np.uint8)
    return images


def _load_member(item: Any):
    import keras

    if isinstance(item, LiteModel):
        return item
    if isinstance(item, keras.Model):
        if not hasattr(item, "emonet_info"):
            raise ValueError(
                "a model given as an object needs its emonet record: load it with "
                "emonet.models.load_model, or pass its .keras path"
            )
        return item
    path = Path(item)
    if path.is_dir():
        path = path / "model.keras"
    if path.suffix not in (KERAS_SUFFIX, LITE_SUFFIX):
        raise ValueError(
            f"{path}: expected an emonet-train run folder, a .keras model file or a .tflite "
            "file of emonet-quantize"
        )
    return load_lite_model(path) if path.suffix == LITE_SUFFIX else load_model(path)


def _member_weights(ensemble: Any, n_models: int) -> np.ndarray:
    if ensemble is None:
        return np.full(n_models, 1.0 / n_models)
    if not isinstance(ensemble, WeightedEnsemble):
        ensemble = WeightedEnsemble.load(ensemble)
    weights = np.asarray(ensemble.weights_, dtype=np.float64)
    if weights.shape != (n_models,):
        raise ValueError(
            f"the ensemble has weights for {weights.size} models, but {n_models} were given; "
            "pass the models it was fitted on, in the same order"
        )
    return weights / weights.sum()
