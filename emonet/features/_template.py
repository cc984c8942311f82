"""The FER2013 face template: where the 68 landmarks of a FER2013 face lie in its crop.

FER2013's faces were framed by the dataset's makers, and the networks learned that
framing. A face found in a photo is framed the same way by mapping its 68 landmarks onto
the median landmark positions of the 28,709 Training crops (``face_template.json``,
remade by ``presets/make_face_template.py``), with a robust similarity transform.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from emonet._constants import FACE_SIZE, NUM_LANDMARKS

TEMPLATE_FILE = Path(__file__).with_name("face_template.json")
TEMPLATE_FORMAT = "emonet-face-template"
TEMPLATE_VERSION = 1

#: Head roll (degrees) left as it is: FER2013's faces are not levelled (their roll has a
#: spread of 9.7 degrees), so only the roll beyond this is turned away. On photos of
#: PublicTest faces turned by up to 15 degrees, 5-10 kept 0.6 point more of the crops'
#: accuracy than levelling every face (0) or none (90).
MAX_ROLL: float = 10.0
#: A fit whose landmarks lie further than this (median, in 48-pixel crop units) from the
#: template is not trusted: the face is framed from its detection box instead.
MAX_RESIDUAL: float = 3.0
#: Nor is one whose face size disagrees with the detector's box by more than this factor.
MAX_SCALE_RATIO: float = 1.6
# Points whose distance to the template exceeds this many times the median distance are
# left out of the refit (an open mouth, a misplaced jaw line).
_OUTLIER_FACTOR = 2.5


@dataclass(frozen=True)
class FaceTemplate:
    """Landmark positions of a FER2013-framed face, and where dlib's box lies on it.

    Attributes
    ----------
    landmarks : (68, 2) ndarray of float64
        The median ``(x, y)`` of each landmark over FER2013's Training crops, in pixels
        of a 48x48 crop.
    box_centre : (2,) ndarray of float64
        Median centre of dlib's HOG detector box, in the same crop pixels.
    box_side : float
        Median side of that box, in crop pixels.
    size : int
        Side of the crop the positions are given in (48).
    """

    landmarks: np.ndarray
    box_centre: np.ndarray
    box_side: float
    size: int = FACE_SIZE

    def to_dict(self, **provenance) -> dict:
        """The JSON record of ``face_template.json``; ``provenance`` is stored as is."""
        return {
            "format": TEMPLATE_FORMAT,
            "version": TEMPLATE_VERSION,
            "size": self.size,
            "landmarks": np.round(self.landmarks, 4).tolist(),
            "box_centre": np.round(self.box_centre, 4).tolist(),
            "box_side": round(float(self.box_side), 4),
            **provenance,
        }

    @classmethod
    def from_dict(cls, record: dict, source: str = "template") -> FaceTemplate:
        """Read a record of :meth:`to_dict`, checking its format."""
        if record.get("format") != TEMPLATE_FORMAT or record.get("version") != TEMPLATE_VERSION:
            raise ValueError(
                f"{source}: not an {TEMPLATE_FORMAT} file of version {TEMPLATE_VERSION}"
            )
        landmarks = np.asarray(record["landmarks"], np.float64)
        if landmarks.shape != (NUM_LANDMARKS, 2) or not np.isfinite(landmarks).all():
            raise ValueError(f"{source}: expected 68 finite (x, y) landmarks")
        return cls(
            landmarks=landmarks,
            box_centre=np.asarray(record["box_centre"], np.float64),
            box_side=float(record["box_side"]),
            size=int(record["size"]),
        )


@functools.cache
def face_template() -> FaceTemplate:
    """The bundled FER2013 face template (``emonet/features/face_template.json``).

    Examples
    --------
    >>> from emonet.features import face_template
    >>> template = face_template()
    >>> template.landmarks.shape, template.size
    ((68, 2), 48)
    """
    return FaceTemplate.from_dict(json.loads(TEMPLATE_FILE.read_text()), str(TEMPLATE_FILE))


def make_face_template(landmarks: np.ndarray, boxes: np.ndarray) -> FaceTemplate:
    """A template from the landmarks of FER2013-framed crops and detector boxes on them.

    Parameters
    ----------
    landmarks : (N, 68, 2) array_like
        Landmarks of 48x48 crops, as the features file holds them (dlib's shape
        predictor on the whole crop).
    boxes : (M, 4) array_like
        dlib's detector boxes ``(left, top, right, bottom)`` of crops, in crop pixels.

    Returns
    -------
    FaceTemplate
        The median landmark positions and the median box.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.features import make_face_template
    >>> points = np.random.default_rng(0).uniform(10, 38, (5, 68, 2))
    >>> make_face_template(points, [[8, 8, 40, 40]]).box_side
    32.0
    """
    landmarks = np.asarray(landmarks, np.float64)
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if landmarks.ndim != 3 or landmarks.shape[1:] != (NUM_LANDMARKS, 2) or not len(landmarks):
        raise ValueError(f"landmarks must be (N, 68, 2) with N >= 1, got {landmarks.shape}")
    if not len(boxes):
        raise ValueError("boxes must hold at least one box")
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2.0
    sides = ((boxes[:, 2] - boxes[:, 0]) + (boxes[:, 3] - boxes[:, 1])) / 2.0
    return FaceTemplate(
        landmarks=np.median(landmarks, axis=0),
        box_centre=np.median(centres, axis=0),
        box_side=float(np.median(sides)),
    )


def _similarity(points: np.ndarray, target: np.ndarray) -> tuple[complex, np.ndarray]:
    """Least-squares similarity ``a * (z - mean) + mean'`` in complex form, refitted once
    without the points far off; returns ``a`` and the mask of points kept."""
    z, w = points @ (1, 1j), target @ (1, 1j)
    keep = np.ones(len(z), bool)
    for _ in range(2):
        zc, wc = z - z[keep].mean(), w - w[keep].mean()
        a = complex(
            (np.conj(zc[keep]) * wc[keep]).sum() / max((np.abs(zc[keep]) ** 2).sum(), 1e-12)
        )
        distance = np.abs(a * zc - wc)
        keep = distance <= _OUTLIER_FACTOR * np.median(distance) + 1e-9
    return a, keep


def template_transform(
    landmarks: np.ndarray,
    box: np.ndarray | None = None,
    *,
    size: int = FACE_SIZE,
    max_roll: float = MAX_ROLL,
    template: FaceTemplate | None = None,
) -> tuple[np.ndarray, bool]:
    """The similarity transform that frames a face like FER2013's, from its landmarks.

    The face's scale and roll are those of the least-squares similarity of its landmarks
    onto the template, refitted without the points that lie far off (an open mouth, a
    misplaced jaw); its roll beyond ``max_roll`` degrees is turned away and the rest kept,
    and the centre of its landmarks goes onto the template's. When the landmarks cannot be
    trusted (their median distance to the template after the fit exceeds
    :data:`MAX_RESIDUAL` crop pixels, or the face size they give differs from ``box``'s by
    more than :data:`MAX_SCALE_RATIO`), the face is framed from ``box`` instead, the way
    dlib's box sits on FER2013's faces.

    Parameters
    ----------
    landmarks : (68, 2) array_like
        The face's landmarks in the photo's pixels.
    box : (4,) array_like, optional
        Its detection box ``(left, top, right, bottom)``: the fallback.
    size : int, default=48
        Side of the crop the transform maps onto.
    max_roll : float, default=10.0
        Roll left as it is, in degrees (0 levels the eyes of every face).
    template : FaceTemplate, optional
        Default :func:`face_template`.

    Returns
    -------
    matrix : (2, 3) ndarray of float64
        Maps photo pixels ``(x, y, 1)`` to crop pixels, as :func:`cv2.warpAffine` takes it.
    from_landmarks : bool
        False when the box framing was used.

    Examples
    --------
    >>> from emonet.features import face_template, template_transform
    >>> points = face_template().landmarks * 3 + 100  # a face three times larger
    >>> matrix, from_landmarks = template_transform(points)
    >>> from_landmarks, round(float(matrix[0, 0]), 3)
    (True, 0.333)
    """
    template = face_template() if template is None else template
    factor = size / template.size
    target = template.landmarks * factor
    points = np.asarray(landmarks, np.float64).reshape(NUM_LANDMARKS, 2)
    if np.isfinite(points).all():
        a, keep = _similarity(points, target)
        scale, roll = abs(a), float(np.angle(a))
        # the roll beyond max_roll is turned away; the face keeps the rest, as FER2013's do
        turn = np.sign(roll) * max(0.0, abs(roll) - np.radians(max_roll))
        linear = scale * np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
        mp, mt = points[keep].mean(axis=0), target[keep].mean(axis=0)
        matrix = np.hstack([linear, (mt - linear @ mp)[:, None]])
        # how well the landmarks fit the template once the whole roll is turned away
        fitted = a * (points @ (1, 1j) - mp @ (1, 1j)) + mt @ (1, 1j)
        residual = float(np.median(np.abs(fitted - target @ (1, 1j)))) / factor
        trusted = scale > 0 and residual <= MAX_RESIDUAL
        if trusted and box is not None:
            box_scale = template.box_side * factor / max(_box_side(box), 1.0)
            trusted = 1 / MAX_SCALE_RATIO <= scale / box_scale <= MAX_SCALE_RATIO
        if trusted or box is None:
            return matrix, True
    if box is None:
        raise ValueError("the landmarks are not finite and no box was given to frame the face")
    return box_transform(box, size=size, template=template), False


def _box_side(box) -> float:
    left, top, right, bottom = (float(v) for v in box)
    return ((right - left) + (bottom - top)) / 2.0


def box_transform(
    box: np.ndarray, *, size: int = FACE_SIZE, template: FaceTemplate | None = None
) -> np.ndarray:
    """The transform that frames a face from its dlib detection box alone.

    Scales and shifts the box onto where dlib's box lies on FER2013's faces (the
    template's ``box_centre`` and ``box_side``); no rotation.

    Returns
    -------
    (2, 3) ndarray of float64
        Photo pixels to crop pixels.

    Examples
    --------
    >>> from emonet.features import box_transform
    >>> box_transform([100, 100, 196, 196]).shape
    (2, 3)
    """
    template = face_template() if template is None else template
    factor = size / template.size
    left, top, right, bottom = (float(v) for v in box)
    scale = template.box_side * factor / max(_box_side(box), 1.0)
    centre = np.array([(left + right) / 2.0, (top + bottom) / 2.0])
    shift = template.box_centre * factor - scale * centre
    return np.array([[scale, 0.0, shift[0]], [0.0, scale, shift[1]]])


def warp_face(image: np.ndarray, matrix: np.ndarray, size: int = FACE_SIZE) -> np.ndarray:
    """Resample the face that ``matrix`` frames into a ``size`` x ``size`` crop.

    A face shrunk by more than 2x is first warped at an integer multiple of ``size``
    and then area-averaged down: :func:`cv2.warpAffine` alone samples it without
    low-pass filtering, and aliases.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.features import warp_face
    >>> warp_face(np.zeros((200, 200), np.uint8), np.array([[0.25, 0, 0], [0, 0.25, 0]])).shape
    (48, 48)
    """
    matrix = np.asarray(matrix, np.float64)
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    k = max(1, int(np.floor(1.0 / max(scale, 1e-6))))
    out = cv2.warpAffine(
        image, matrix * k, (size * k, size * k), flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )  # fmt: skip
    return out if k == 1 else cv2.resize(out, (size, size), interpolation=cv2.INTER_AREA)
