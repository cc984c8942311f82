"""``Recognizer``: the expressions of the faces in photos, folders and videos."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np

from emonet._constants import FACE_SIZE, KERAS_SUFFIX, LABELS, LITE_SUFFIX
from emonet.ensemble import WeightedEnsemble
from emonet.features import (
    Detector,
    FeatureSet,
    align_faces,
    check_detection,
    detect_faces,
)
from emonet.models import (
    LiteModel,
    ModelInfo,
    check_feature_settings,
    load_lite_model,
    load_model,
    predict_crops,
    tta_mode,
)
from emonet.recognize._inputs import PHOTO_EXTENSIONS, find_inputs
from emonet.recognize._photo_result import PhotoResult
from emonet.recognize._photos import check_crops, read_photo, to_gray
from emonet.recognize._presets import DEFAULT_PRESET, load_preset_config, preset_path
from emonet.recognize._result import Face, FrameResult
from emonet.recognize._stream import FrameStream, open_source
from emonet.recognize._video import (
    DEFAULT_FPS,
    FramePipeline,
    TrackingOptions,
    file_frames,
    open_video,
    positive_integer,
    video_info,
    video_path,
)

__all__ = ["Recognizer", "video_info"]

PathLike = str | os.PathLike[str]
#: What detect() gives for one photo: boxes, scores, landmarks and crops.
_Found = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class Recognizer:
    """Find the faces in photos or videos and tell each one's expression.

    Loads a bundled preset (no download, no network) or a user's own models, detects
    faces with dlib, aligns and crops each to 48x48 the way FER2013 faces are framed,
    computes the landmark and HOG features when a member model reads them, and averages
    the members' probabilities with the ensemble's weights. The faces of all photos of a
    call go through the networks in shared batches.

    Parameters
    ----------
    preset : str or path-like, optional
        A name of :func:`emonet.list_presets` or a preset folder; ``"default"`` when
        neither ``preset`` nor ``models`` is given.
    models : list of paths, keras.Model or LiteModel, optional
        A user's own models: ``emonet-train`` run folders, ``.keras`` files, quantized
        ``.tflite`` files (``emonet-quantize``), or models. Not with ``preset``: each
        names the models to load.
    ensemble : path or WeightedEnsemble, optional
        The ``ensemble.json`` of ``emonet-fit-ensemble`` for ``models``; default equal
        weights. Its model names are matched to the members' (a file's name without
        suffix, a run folder's name, or the model's own name), in any order; an
        ensemble of other models is refused. An ensemble fitted without names
        (``model_0``, ``model_1``, ...) is taken in the members' order.
    detector : {"hog", "cnn"} or callable, default="hog"
        dlib's HOG detector (fast), its CNN detector (1-2 s a photo on a CPU), or a
        function of the photo (RGB or gray uint8) that returns face boxes ``(K, 4)`` or
        ``(boxes, scores)``; see :func:`emonet.features.detect_faces`. Boxes can also be
        given per call, to :meth:`predict`.
    upsample : int or None, default=None
        Times a photo is doubled before detection; ``None`` doubles it only when no face
        was found at its own size (faces down to about 40 px then).
    min_score : float, optional
        Lowest detection score kept; default the detector's
        (:data:`emonet.features.DEFAULT_MIN_SCORES`).
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

    Raises
    ------
    ValueError
        If both ``preset`` and ``models`` are given, a setting is out of range, or a
        preset or model cannot be used (naming it).

    Examples
    --------
    >>> from skimage import data
    >>> from emonet import Recognizer
    >>> recognizer = Recognizer()
    >>> (result,) = recognizer.predict(data.astronaut())  # one PhotoResult per photo
    >>> result.width, result.height, len(result.faces), result.faces[0].box
    (512, 512, 1, (179, 83, 266, 170))
    >>> result.faces[0].label in recognizer.labels
    True
    """

    labels: tuple[str, ...] = LABELS

    def __init__(
        self,
        preset: PathLike | None = None,
        *,
        models: Sequence[Any] | None = None,
        ensemble: PathLike | WeightedEnsemble | None = None,
        detector: str | Detector = "hog",
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
        if isinstance(batch_size, bool) or not isinstance(batch_size, Integral) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if preset is not None and models is not None:
            raise ValueError(
                f"Recognizer: preset={os.fsdecode(preset)!r} and models= both name the "
                "models to load; give preset= for bundled or saved presets, or models= "
                "(with ensemble=) for your own, not both"
            )
        tta_mode(tta)  # checked before the models load
        check_detection(detector, upsample, min_score)
        if models is None:
            folder = preset_path(DEFAULT_PRESET if preset is None else preset)
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
        self.weights_ = _member_weights(ensemble, self.models_, paths)
        self.tta_ = tta_mode(default_tta if tta is None else tta)

    # ------------------------------------------------------------------ crops

    def predict_crops(self, images: np.ndarray, tta: bool | str | None = None) -> np.ndarray:
        """Expression probabilities of aligned 48x48 grayscale face crops.

        Parameters
        ----------
        images : (N, 48, 48) or (48, 48) array
            Faces framed as FER2013's (e.g. by :func:`emonet.features.align_faces`);
            uint8, or values mapped to it by the rule photos follow (floats in [0, 1]
            times 255, 16-bit data by its bit depth: :func:`read_photo`).
        tta : bool or {"none", "flip", "multiscale"}, optional
            Test-time augmentation; default the recognizer's, ``tta_``.

        Returns
        -------
        (N, 7) ndarray of float32
            Probabilities in the order of :data:`emonet.LABELS`; rows sum to 1.

        Raises
        ------
        ValueError
            If the crops are not 48x48, or hold values no photo holds (floats outside
            [0, 1] such as 0-255 floats, NaN, negative numbers).

        Examples
        --------
        >>> import numpy as np
        >>> from emonet import Recognizer
        >>> faces = np.full((2, 48, 48), 128, np.uint8)
        >>> Recognizer().predict_crops(faces).shape
        (2, 7)
        """
        images = check_crops(images)
        features: dict[tuple, np.ndarray] = {}

        def vectors(info: ModelInfo) -> np.ndarray:
            # one extraction per distinct setting, shared by the members that read it
            key = tuple(sorted(info.feature_settings.items()))
            if key not in features:
                features[key] = info.feature_extractor().transform(images)
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
        images = check_crops(data.images)

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
            total += weight * predict_crops(
                model, images, features, batch_size=self.batch_size, tta=tta
            )
        return (total / total.sum(axis=1, keepdims=True)).astype(np.float32)

    # ------------------------------------------------------------------ photos

    def detect(
        self, photo: np.ndarray | PathLike, boxes: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Find and align the faces of one photo, without the networks.

        Parameters
        ----------
        photo : array or path
            As for :meth:`predict` (a file, not a folder).
        boxes : (K, 4) array_like, optional
            The faces' boxes ``(left, top, right, bottom)``, found by the recognizer's
            detector when not given.

        Returns
        -------
        boxes : (K, 4) int64
        scores : (K,) float32
            The detector's scores; NaN for boxes given.
        landmarks : (K, 68, 2) float32, in the photo's pixels
        crops : (K, 48, 48) uint8, framed as FER2013's faces
            (:func:`emonet.features.align_faces`)
        """
        return self._detect_image(read_photo(photo), boxes)

    def _detect_image(self, image: np.ndarray, boxes: Any = None) -> _Found:
        """:meth:`detect` of a photo already read (:func:`read_photo`)."""
        gray = to_gray(image)
        if boxes is None:
            found, scores = detect_faces(
                image if callable(self.detector) else gray,
                upsample=self.upsample,
                detector=self.detector,
                min_score=self.min_score,
                return_scores=True,
            )
        else:
            found = _check_boxes(boxes, image.shape)
            scores = np.full(len(found), np.nan, np.float32)
        crops, landmarks = align_faces(gray, found)
        return found, scores, landmarks, crops

    def predict(
        self,
        images: np.ndarray | PathLike | Sequence[np.ndarray | PathLike],
        boxes: np.ndarray | Sequence[np.ndarray] | None = None,
        *,
        keep_images: bool = False,
    ) -> list[PhotoResult]:
        """The faces of photos and their expressions: one :class:`PhotoResult` per photo.

        The faces of all the photos of a call go through the networks in shared
        batches. Each photo is read, its faces found and aligned, and the photo let go
        (unless ``keep_images``) before the next is read: a folder takes the memory of
        its faces' 48x48 crops, not of its photos.

        Parameters
        ----------
        images : array, path, folder, or a list of them
            A photo as an array (``(H, W)`` gray or ``(H, W, 3)`` RGB, as scikit-image
            and Pillow give them; values as :func:`read_photo` takes them), an image file
            (``str``, ``bytes`` or path-like), a folder, or a list of these (or a 4-D
            array of photos). A folder gives its photos (:data:`PHOTO_EXTENSIONS`,
            searched recursively, in sorted order: :func:`find_inputs`); its videos are
            left to :meth:`predict_video`, with a warning that counts them, and a folder
            without photos gives no result, with a warning.
        boxes : (K, 4) array_like, or a list of them per photo, optional
            Face boxes ``(left, top, right, bottom)`` found by other means: the faces
            are aligned from them, and the detector is not run. For one photo its boxes;
            for a list, one ``(K, 4)`` array per item (no folder among them).
        keep_images : bool, default=False
            Keep each photo, as read, in :attr:`PhotoResult.image`. Without it
            :meth:`PhotoResult.plot` reads a file again, and cannot draw a photo given as
            an array.

        Returns
        -------
        list of PhotoResult
            Always a list, one result per photo (for one photo too), in the order given,
            a folder's photos where the folder stands. Each holds the photo's source
            (``None`` for an array), size and faces, largest first; a photo without a
            face has none.

        Raises
        ------
        ValueError
            If a file cannot be read as an image, or an array cannot be a photo, naming
            it; if ``boxes`` do not match the photos, or are given with a folder.
        FileNotFoundError
            If a path names nothing.

        Examples
        --------
        >>> from skimage import data
        >>> from emonet import Recognizer
        >>> results = Recognizer().predict([data.astronaut(), data.coffee()])
        >>> [len(result.faces) for result in results], results[0].source
        ([1, 0], None)
        >>> face = results[0].faces[0]
        >>> face.detection_score > 0, face.label in Recognizer.labels
        (True, True)
        """
        single = _is_single_photo(images)
        items = [images] if single else _photo_list(images)
        if boxes is None:
            per_item: list[Any] = [None] * len(items)
        else:
            per_item = [boxes] if single else list(boxes)
            if len(per_item) != len(items):
                raise ValueError(
                    f"boxes must hold one (K, 4) array per photo: {len(per_item)} for "
                    f"{len(items)} photos"
                )
        photos: list[tuple[Any, Any]] = []
        for item, item_boxes in zip(items, per_item, strict=True):
            if not _is_folder(item):
                photos.append((item, item_boxes))
            elif item_boxes is not None:
                raise ValueError(
                    f"{os.fsdecode(item)}: boxes cannot be given for a folder, whose photos "
                    "are known only when it is read; pass its photos' paths "
                    "(emonet.recognize.find_inputs) with one (K, 4) array each"
                )
            else:
                photos += [(path, None) for path in _folder_photos(item)]
        found, sizes, kept = [], [], []
        for photo, photo_boxes in photos:
            image = read_photo(photo)
            found.append(self._detect_image(image, photo_boxes))
            sizes.append(image.shape[:2])
            kept.append(image if keep_images else None)
        return [
            PhotoResult(
                source=_source_of(photo),
                width=int(width),
                height=int(height),
                faces=faces,
                image=image,
            )
            for (photo, _), (height, width), image, faces in zip(
                photos, sizes, kept, self._faces(found), strict=True
            )
        ]

    def _faces(self, found: list[_Found]) -> list[list[Face]]:
        """The faces of each photo's :meth:`detect`, their crops read in shared batches."""
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
        return results

    # ------------------------------------------------------------------ videos

    def predict_video(
        self,
        path: PathLike,
        every: int = 1,
        *,
        batch_frames: int = 16,
        keep_images: bool = False,
        track: bool = True,
        detect_every: int = 1,
        smoothing: float | None = 1.0,
        keep_lost: float = 10.0,
        reid_threshold: float = 0.5,
    ) -> Iterator[FrameResult]:
        """Stream a video's frames and yield the faces of each, each face with its track.

        Frames are decoded one at a time and processed in small groups (their faces go
        through the networks together), so memory stays flat however long the video.
        Every face gets the id of the person it is (:attr:`Face.track_id`), kept through
        missed detections, people crossing and a person leaving and coming back
        (:class:`emonet.tracking.FaceTracker`), and its track's probabilities smoothed
        over time (:class:`emonet.tracking.TrackSmoother`).

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
        track : bool, default=True
            Give faces track ids and smoothed values; ``False``: each frame on its own,
            as before format version 2 (no ``track_id``, no smoothing).
        detect_every : int, default=1
            Run the detector on every ``detect_every``-th frame read, and follow the
            faces in between: each face's patch is looked for where its track's motion
            puts it (normalised cross-correlation), and its landmarks and aligned crop
            are moved with it. Every frame still gets each face's expression, for much
            less work (5 about triples the frames per second); a face that cannot be
            found (turned away, hidden) waits for the next detection. Needs ``track``.
        smoothing : float or None, default=1.0
            Time constant of the smoothing, in seconds (so neither the frame rate nor
            ``every`` changes it); 0 or ``None``: off (smoothed values = raw ones).
        keep_lost : float, default=10.0
            Seconds a person out of sight is remembered, to get their id back.
        reid_threshold : float, default=0.5
            Largest face-descriptor distance at which a face is taken for a person seen
            before (dlib's descriptors: 0.6 separates most people).

        Returns
        -------
        iterator of FrameResult
            Frame index, time in seconds (index / the video's frame rate) and faces, one
            per frame read. A face followed between detections has a NaN
            ``detection_score``.

        Raises
        ------
        ValueError
            If ``every``, ``batch_frames`` or ``detect_every`` is not a positive integer,
            or a tracking setting is out of range (raised at once), or the file cannot be
            opened as a video (raised on the first frame).
        FileNotFoundError, IsADirectoryError
            If ``path`` names no file, or a folder (raised at once).
        """
        every = positive_integer(every, "every")
        batch_frames = positive_integer(batch_frames, "batch_frames")
        options = TrackingOptions(
            track=track,
            detect_every=detect_every,
            smoothing=smoothing,
            keep_lost=keep_lost,
            reid_threshold=reid_threshold,
        )
        path = video_path(path)
        return self._frames(path, every, batch_frames, keep_images, options)

    def _frames(
        self, path: Path, every: int, batch_frames: int, keep_images: bool, options
    ) -> Iterator[FrameResult]:
        frames = file_frames(open_video(path), every)
        try:
            yield from FramePipeline(self, options).run(frames, batch_frames, keep_images)
        finally:
            frames.close()

    def stream(
        self,
        source: Any,
        *,
        every: int = 1,
        track: bool = True,
        detect_every: int = 1,
        smoothing: float | None = 1.0,
        keep_lost: float = 10.0,
        reid_threshold: float = 0.5,
        keep_images: bool = False,
        duration: float | None = None,
        buffer: int = 4,
        drop: bool | None = None,
        fps: float = DEFAULT_FPS,
        clock: Callable[[], float] = time.monotonic,
    ) -> FrameStream:
        """Yield frame results as they come from a camera, a URL, a file or frames.

        A thread reads the source into a buffer of ``buffer`` frames; the faces of each
        frame are read when the consumer asks for it. Faces are tracked and smoothed as
        by :meth:`predict_video`.

        Parameters
        ----------
        source : int, str, path-like or iterable
            A camera index (``0``), a URL OpenCV reads (``rtsp://...``, ``http://...``),
            a video file, or an iterable of frames (``(H, W, 3)`` RGB or ``(H, W)``
            gray arrays), each alone or as ``(frame, time in seconds)``.
        every : int, default=1
            Keep every ``every``-th frame of the source.
        track, detect_every, smoothing, keep_lost, reid_threshold
            As for :meth:`predict_video`.
        keep_images : bool, default=False
            Put each frame into :attr:`FrameResult.image`.
        duration : float, optional
            Stop after this many seconds of the source.
        buffer : int, default=4
            Frames that may wait for the consumer.
        drop : bool, optional
            When the buffer is full, drop the oldest frame waiting (counted in
            :attr:`FrameStream.dropped`) rather than wait; default ``True`` for cameras
            and URLs, ``False`` for files and iterables.
        fps : float, default=30.0
            Frames per second of frames given without times (their time: index / fps).
        clock : callable, default=time.monotonic
            Seconds, to time the frames of cameras and URLs.

        Returns
        -------
        FrameStream
            An iterator of :class:`FrameResult`, and a context manager: leaving the
            ``with`` block, or :meth:`FrameStream.close`, stops reading and releases the
            camera.

        Raises
        ------
        CameraError
            If a camera index or a URL cannot be opened (an ``OSError``; raised at once).
        ValueError
            If a setting is out of range, or ``source`` is none of the above.
        FileNotFoundError
            If a file source does not exist.

        Examples
        --------
        >>> import numpy as np
        >>> from skimage import data
        >>> from emonet import Recognizer
        >>> frames = [data.astronaut()] * 3
        >>> with Recognizer("fast").stream(frames, fps=25.0) as stream:
        ...     results = list(stream)
        >>> [r.time_s for r in results], [f.track_id for r in results for f in r.faces]
        ([0.0, 0.04, 0.08], [1, 1, 1])
        >>> stream.dropped
        0
        """
        every = positive_integer(every, "every")
        buffer = positive_integer(buffer, "buffer")
        if isinstance(fps, bool) or not isinstance(fps, int | float) or not fps > 0:
            raise ValueError(f"fps must be a number > 0, got {fps!r}")
        if duration is not None and (
            isinstance(duration, bool) or not isinstance(duration, int | float) or duration <= 0
        ):
            raise ValueError(f"duration must be a number of seconds > 0, got {duration!r}")
        options = TrackingOptions(
            track=track,
            detect_every=detect_every,
            smoothing=smoothing,
            keep_lost=keep_lost,
            reid_threshold=reid_threshold,
        )
        frames, live, release = open_source(source, every, float(fps), clock)
        return FrameStream(
            frames,
            release,
            FramePipeline(self, options),
            live=live,
            drop=live if drop is None else bool(drop),
            buffer=buffer,
            keep_images=keep_images,
            duration=duration,
        )

    def explain(
        self, photo_or_crops: Any, method: str = "occlusion", target: Any = None, **options
    ) -> list:
        """Which parts of each face made the call: a map and the regions' shares.

        Parameters
        ----------
        photo_or_crops : array, path or list of them
            A photo (array or path) or a list of photos, whose faces are found as by
            :meth:`predict`; or aligned face crops, an array ``(N, 48, 48)`` or
            ``(48, 48)``.
        method : {"occlusion", "regions", "gradcam"}, default="occlusion"
            :data:`emonet.explain.METHODS`; ``"gradcam"`` needs float ``.keras``
            members (the bundled presets are int8: use the other two).
        target : int, str or sequence of int, optional
            The class explained; default the class the recognizer gives each face.
        **options
            Passed to :func:`emonet.explain.explain` (``baseline``, ``patch``,
            ``stride``).

        Returns
        -------
        list
            For crops, one :class:`emonet.explain.Explanation` per crop; for photos, one
            list of them per photo (its faces, in :meth:`predict`'s order), each with its
            map carried back onto the photo (``photo_map``) and its ``box``.

        Examples
        --------
        >>> from skimage import data
        >>> from emonet import Recognizer
        >>> recognizer = Recognizer("fast")
        >>> ((face,),) = recognizer.explain(data.astronaut(), method="regions")
        >>> face.map.shape, face.photo_map.shape, face.box
        ((48, 48), (512, 512), (179, 83, 266, 170))
        """
        from emonet.recognize._explain import explain_inputs

        return explain_inputs(self, photo_or_crops, method, target, **options)


# ---------------------------------------------------------------------- helpers


def _check_boxes(boxes: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Boxes given by a user, as (K, 4) int64 inside the photo."""
    array = np.asarray(boxes, dtype=np.float64)
    if array.size == 0:
        return np.empty((0, 4), np.int64)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2 or array.shape[1] != 4 or not np.isfinite(array).all():
        raise ValueError(
            f"boxes must be finite (K, 4) (left, top, right, bottom), got shape {array.shape}"
        )
    if (array[:, 2] <= array[:, 0]).any() or (array[:, 3] <= array[:, 1]).any():
        raise ValueError("each box must have right > left and bottom > top")
    height, width = shape[:2]
    if (
        (array[:, 2] < 0).any()
        or (array[:, 0] >= width).any()
        or (array[:, 3] < 0).any()
        or (array[:, 1] >= height).any()
    ):
        raise ValueError(f"a box lies outside the {width}x{height} photo")
    return np.round(array).astype(np.int64)


def _is_folder(item: Any) -> bool:
    return isinstance(item, str | bytes | os.PathLike) and Path(os.fsdecode(item)).is_dir()


def _folder_photos(folder: Any) -> list[Path]:
    """The photos of a folder given to :meth:`Recognizer.predict`; a warning names the
    videos left out, or says there is no photo."""
    photos, videos, _ = find_inputs([folder])
    name = os.fsencode(folder).decode("utf-8", "backslashreplace")
    if videos:
        warnings.warn(
            f"{name}: {len(videos)} video file(s) left out (the first "
            f"{videos[0].name!r}): predict reads photos; pass each video to predict_video",
            UserWarning,
            stacklevel=3,
        )
    if not photos:
        warnings.warn(
            f"{name}: no photo files in this folder (suffixes {', '.join(PHOTO_EXTENSIONS)})",
            UserWarning,
            stacklevel=3,
        )
    return photos


def _source_of(photo: Any) -> str | None:
    """A photo's :attr:`PhotoResult.source`: its path as ``str``, ``None`` for an array."""
    if isinstance(photo, str | bytes | os.PathLike):
        return os.fsdecode(photo)
    return None


def _is_single_photo(images: Any) -> bool:
    if isinstance(images, str | bytes | os.PathLike):
        return True
    if isinstance(images, np.ndarray):
        if images.ndim == 4:
            return False
        return True
    return False


def _photo_list(images: Any) -> list[Any]:
    try:
        return list(images)
    except TypeError:
        raise ValueError(
            "images must be a photo (an array or a path), a folder, or a list of them, got "
            f"{type(images).__name__}"
        ) from None


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


def _member_weights(ensemble: Any, models: list[Any], sources: list[Any]) -> np.ndarray:
    """The ensemble's weights in the members' order, matched by name."""
    n_models = len(models)
    if ensemble is None:
        return np.full(n_models, 1.0 / n_models)
    where = "the ensemble"
    if not isinstance(ensemble, WeightedEnsemble):
        where = f"{os.fsdecode(ensemble)}: the ensemble"
        ensemble = WeightedEnsemble.load(ensemble)
    weights = np.asarray(ensemble.weights_, dtype=np.float64)
    if weights.shape != (n_models,):
        raise ValueError(
            f"{where} has weights for {weights.size} models, but {n_models} were given; "
            "pass the models it was fitted on"
        )
    names = [str(name) for name in ensemble.model_names_]
    if names == [f"model_{index}" for index in range(n_models)]:
        return weights / weights.sum()  # fitted without names: in the members' order
    known = [_member_names(source, model) for source, model in zip(sources, models, strict=True)]
    order = [_find_member(name, known) for name in names]
    if None in order or len(set(order)) != n_models:
        members = ", ".join("/".join(dict.fromkeys(a + b)) or "?" for a, b in known)
        unmatched = [name for name, index in zip(names, order, strict=True) if index is None]
        raise ValueError(
            f"{where} weighs models {', '.join(names)}, but the members are {members} "
            "(file, run folder or model names): "
            + (f"none is {unmatched[0]!r}; " if unmatched else "two names meet one member; ")
            + "pass the models it was fitted on, or refit the ensemble on these models' "
            "predictions (emonet-evaluate --name, emonet-fit-ensemble)"
        )
    matched = np.empty(n_models, np.float64)
    matched[order] = weights
    return matched / matched.sum()


def _member_names(source: Any, model: Any) -> tuple[list[str], list[str]]:
    """The names a member answers to: from its file or run folder, and its own."""
    by_path: list[str] = []
    if isinstance(source, str | bytes | os.PathLike):
        path = Path(os.path.abspath(os.fsdecode(source)))
        if path.is_dir():
            by_path.append(path.name)  # an emonet-train run folder
        else:
            if path.stem == "model":  # the model file of a run folder
                by_path.append(path.parent.name)
            by_path.append(path.stem)
    own = [str(getattr(model, "name", "") or "")]
    config = getattr(getattr(model, "emonet_info", None), "model_config", None)
    if config is not None:
        own.append(config.model_name)
    return by_path, [name for name in own if name]


def _find_member(name: str, known: list[tuple[list[str], list[str]]]) -> int | None:
    """The one member ``name`` names: by its file or folder first, else by its own name."""
    for names_of in (lambda k: k[0], lambda k: k[0] + k[1]):
        hits = [index for index, member in enumerate(known) if name in names_of(member)]
        if len(hits) == 1:
            return hits[0]
        if hits:
            return None
    return None
