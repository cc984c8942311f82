"""Recognizer: the expressions of the faces in photos, folders and videos.

The layer above data, features, models and ensemble: :class:`Recognizer` loads a bundled
preset (:func:`list_presets`) or a user's own models and ensemble, finds and aligns the
faces of photos or video frames, and returns one :class:`PhotoResult` per photo (its
faces: :class:`Face`, with box, landmarks and expression probabilities) and one
:class:`FrameResult` per video frame (its faces tracked: ``track_id`` and smoothed
values; live sources through :meth:`Recognizer.stream`, a :class:`FrameStream`), in one
result format (:meth:`Face.to_dict`,
:data:`ROW_COLUMNS`, :func:`results_document`). :func:`find_inputs` tells which files of
a folder are photos and which are videos.

:class:`Recognizer` and :func:`video_info` come with Keras and dlib: they are imported on
first use, so that the result types, :func:`find_inputs`, :func:`read_photo` and the
presets answer at once (``emonet-predict`` checks its arguments with them before
TensorFlow starts).
"""

from emonet.recognize._annotate import LABEL_COLOURS, annotate, plot_timeline, save_image
from emonet.recognize._inputs import PHOTO_EXTENSIONS, VIDEO_EXTENSIONS, find_inputs
from emonet.recognize._photo_result import PhotoResult, results_document
from emonet.recognize._photos import read_photo
from emonet.recognize._presets import (
    DEFAULT_PRESET,
    list_presets,
    lite_only,
    load_preset_config,
    preset_path,
    save_preset,
)
from emonet.recognize._result import ROW_COLUMNS, Face, FrameResult, VideoResult

# name -> module, imported on first use
_LAZY = {
    "Recognizer": "emonet.recognize._recognizer",
    "video_info": "emonet.recognize._recognizer",
    "CameraError": "emonet.recognize._stream",
    "FrameStream": "emonet.recognize._stream",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # found directly from now on
        return value
    raise AttributeError(f"module 'emonet.recognize' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "DEFAULT_PRESET",
    "LABEL_COLOURS",
    "CameraError",
    "PHOTO_EXTENSIONS",
    "ROW_COLUMNS",
    "VIDEO_EXTENSIONS",
    "Face",
    "FrameResult",
    "FrameStream",
    "PhotoResult",
    "Recognizer",
    "VideoResult",
    "annotate",
    "find_inputs",
    "list_presets",
    "lite_only",
    "load_preset_config",
    "plot_timeline",
    "preset_path",
    "read_photo",
    "results_document",
    "save_image",
    "save_preset",
    "video_info",
]
