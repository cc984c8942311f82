"""The faces of one photo (:class:`PhotoResult`), drawn or as JSON, and the one JSON
document of photos' and videos' results (:func:`results_document`)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emonet._constants import LABELS
from emonet.recognize._annotate import annotate, save_image
from emonet.recognize._photos import read_photo
from emonet.recognize._result import Face, VideoResult, _printable

__all__ = ["RESULTS_FORMAT", "RESULTS_FORMAT_VERSION", "PhotoResult", "results_document"]

#: The ``format`` of :func:`results_document`'s document, and its ``format_version``.
RESULTS_FORMAT = "emonet-predictions"
RESULTS_FORMAT_VERSION = 2


#: Attributes of a face that old code asked of ``predict(photo)[0]``, which is now a
#: :class:`PhotoResult`: asked of one, they raise an error that says where faces went.
_FACE_ATTRIBUTES = frozenset(
    ("box", "detection_score", "score", "landmarks", "probabilities", "label", "confidence")
)


@dataclass(frozen=True)
class PhotoResult:
    """The faces of one photo, and where the photo came from.

    :meth:`Recognizer.predict` returns one per photo, a photo without a face included.
    It holds its faces as a list does: ``len(result)``, ``for face in result``,
    ``result[0]`` (so a result without a face is falsy).

    Attributes
    ----------
    source : str or None
        The photo's file (a path as given, or a file found in a folder given), as
        ``str``; ``None`` for a photo given as an array.
    width, height : int
        The photo's size in pixels.
    faces : list of Face
        Its faces, largest first.
    image : ndarray or None
        The photo as it was read (``(H, W)`` gray or ``(H, W, 3)`` RGB, uint8), kept only
        when asked for (``predict(..., keep_images=True)``); ``None`` otherwise, so that
        a folder's results take little memory.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.recognize import Face, PhotoResult
    >>> face = Face.from_probabilities((10, 10, 60, 60), 1.0, np.zeros((68, 2)),
    ...                                np.eye(7)[3])
    >>> result = PhotoResult("a.jpg", width=120, height=100, faces=[face])
    >>> len(result), result[0].label, [f.box for f in result]
    (1, 'happy', [(10, 10, 60, 60)])
    >>> result.to_dict()["source"], result.to_rows()[0]["source"]
    ('a.jpg', 'a.jpg')
    >>> kept = PhotoResult(None, 120, 100, [face], image=np.zeros((100, 120), np.uint8))
    >>> kept.plot().shape
    (100, 120, 3)
    """

    source: str | None
    width: int
    height: int
    faces: list[Face]
    image: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.faces)

    def __iter__(self) -> Iterator[Face]:
        return iter(self.faces)

    def __getitem__(self, index: int) -> Face:
        return self.faces[index]

    def __getattr__(self, name: str) -> Any:
        # only called for names a PhotoResult lacks: a face's, asked by older code
        if name in _FACE_ATTRIBUTES:
            raise AttributeError(
                f"a PhotoResult has no {name!r}: Recognizer.predict returns one "
                "PhotoResult per photo, its faces in result.faces; the first face's is "
                f"result.faces[0].{name}"
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def to_dict(self) -> dict[str, Any]:
        """The photo as a JSON-compatible dict: ``source``, ``width``, ``height`` and
        ``faces`` (each :meth:`Face.to_dict`)."""
        return {
            "source": None if self.source is None else _printable(self.source),
            "width": int(self.width),
            "height": int(self.height),
            "faces": [face.to_dict() for face in self.faces],
        }

    def to_rows(self) -> list[dict[str, Any]]:
        """One :meth:`Face.to_row` per face (the CSV rows of ``emonet-predict``); the
        source is ``""`` for a photo given as an array."""
        source = "" if self.source is None else _printable(self.source)
        return [face.to_row(source, face=i) for i, face in enumerate(self.faces)]

    def plot(self) -> np.ndarray:
        """The photo with each face's box, label and probabilities drawn
        (:func:`emonet.recognize.annotate`).

        Drawn on :attr:`image` when it was kept, else on the photo read again from
        :attr:`source`.

        Returns
        -------
        (H, W, 3) uint8 ndarray
            A new RGB image.

        Raises
        ------
        ValueError
            If the result holds neither the image nor a file to read it from (a photo
            given as an array without ``keep_images=True``), or the file no longer reads
            as the photo it was (another size).
        """
        return annotate(self._photo(), self.faces)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`plot`'s image to ``path`` (its format from the suffix: ``.png``,
        ``.jpg``, ...), atomically (:func:`emonet.recognize.save_image`).

        Returns
        -------
        pathlib.Path

        Raises
        ------
        ValueError
            As :meth:`plot`, or if OpenCV cannot write images of the path's suffix.
        """
        return save_image(self.plot(), path)

    def _photo(self) -> np.ndarray:
        if self.image is not None:
            return self.image
        if self.source is None:
            raise ValueError(
                "this PhotoResult holds no image to draw on, and no file to read it from "
                "(the photo was given as an array): call predict(..., keep_images=True)"
            )
        image = read_photo(self.source)
        if image.shape[:2] != (self.height, self.width):
            raise ValueError(
                f"{_printable(self.source)}: now {image.shape[1]}x{image.shape[0]} pixels, "
                f"not the {self.width}x{self.height} photo its faces were found in; call "
                "predict(..., keep_images=True) to keep the photo with its result"
            )
        return image


def results_document(
    photos: Sequence[PhotoResult] = (), videos: Sequence[VideoResult] = ()
) -> dict[str, Any]:
    """The JSON document of photos' and videos' results, as ``emonet-predict --json``
    prints it.

    Parameters
    ----------
    photos : sequence of PhotoResult
        As :meth:`Recognizer.predict` returns them.
    videos : sequence of VideoResult

    Returns
    -------
    dict
        ``format`` (``"emonet-predictions"``), ``format_version`` (2: faces carry
        ``track_id`` and smoothed values),
        ``emonet_version``, ``labels`` (:data:`emonet.LABELS`, the order of every
        ``probabilities``), and ``results``: each photo's :meth:`PhotoResult.to_dict`,
        then each video's :meth:`VideoResult.to_dict`, in the order given.

    Raises
    ------
    TypeError
        If an item is not a PhotoResult (or a VideoResult among ``videos``).

    Examples
    --------
    >>> import json
    >>> from emonet.recognize import PhotoResult, results_document
    >>> document = results_document([PhotoResult("a.jpg", 640, 480, [])])
    >>> document["format"], document["format_version"], document["results"]
    ('emonet-predictions', 2, [{'source': 'a.jpg', 'width': 640, 'height': 480, 'faces': []}])
    >>> text = json.dumps(document)
    """
    from emonet import __version__

    for name, items, kind in (("photos", photos, PhotoResult), ("videos", videos, VideoResult)):
        for item in items:
            if not isinstance(item, kind):
                hint = (
                    "; Recognizer.predict returns them, one per photo"
                    if kind is PhotoResult
                    else "; build one from Recognizer.predict_video's frames"
                )
                raise TypeError(
                    f"results_document: {name} must hold {kind.__name__} objects, got "
                    f"{type(item).__name__}{hint}"
                )
    return {
        "format": RESULTS_FORMAT,
        "format_version": RESULTS_FORMAT_VERSION,
        "emonet_version": __version__,
        "labels": list(LABELS),
        "results": [item.to_dict() for item in photos] + [item.to_dict() for item in videos],
    }
