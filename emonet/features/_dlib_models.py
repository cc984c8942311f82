"""dlib's models, located in the ``face-recognition-models`` package and loaded once
per process.

dlib is imported on first use only, so that ``emonet.features`` (and all that imports it)
works on a machine without dlib, e.g. a GPU machine that trains from a bundle
(:mod:`emonet.reproduce`) and only recomputes the HOG."""

from __future__ import annotations

import functools
import importlib.util
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import dlib

LANDMARK_MODEL_FILE = "shape_predictor_68_face_landmarks.dat"


def landmark_model_path() -> str:
    """Path of dlib's 68-point shape predictor shipped by ``face-recognition-models``.

    The package is located without importing it: its ``__init__`` needs
    ``pkg_resources``, which recent Pythons no longer ship.

    Raises
    ------
    FileNotFoundError
        If the package or the model file is missing.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "dlib's 68-point landmark model comes from the face-recognition-models "
            "package: pip install face-recognition-models"
        )
    path = os.path.join(spec.submodule_search_locations[0], "models", LANDMARK_MODEL_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} is missing; reinstall face-recognition-models")
    return path


@functools.cache
def shape_predictor() -> dlib.shape_predictor:
    """The 68-point shape predictor (about 100 MB), loaded on first use."""
    import dlib

    return dlib.shape_predictor(landmark_model_path())


@functools.cache
def face_detector() -> dlib.fhog_object_detector:
    """dlib's HOG + linear SVM frontal face detector."""
    import dlib

    return dlib.get_frontal_face_detector()


CNN_DETECTOR_FILE = "mmod_human_face_detector.dat"


@functools.cache
def cnn_face_detector() -> dlib.cnn_face_detection_model_v1:
    """dlib's CNN (MMOD) face detector: finds more faces than the HOG one, 100x slower."""
    import dlib

    return dlib.cnn_face_detection_model_v1(
        os.path.join(os.path.dirname(landmark_model_path()), CNN_DETECTOR_FILE)
    )
