"""Recognizer: the expressions of the faces in photos, folders and videos.

The layer above data, features, models and ensemble: :class:`Recognizer` loads a bundled
preset (:func:`list_presets`) or a user's own models and ensemble, finds and aligns the
faces of photos or video frames, and returns each face's box, landmarks and expression
probabilities in one result format (:class:`Face`, :data:`ROW_COLUMNS`).
"""

from emonet.recognize._annotate import LABEL_COLOURS, annotate, plot_timeline, save_image
from emonet.recognize._presets import (
    DEFAULT_PRESET,
    list_presets,
    load_preset_config,
    preset_path,
    save_preset,
)
from emonet.recognize._recognizer import Recognizer, read_photo, video_info
from emonet.recognize._result import ROW_COLUMNS, Face, FrameResult

__all__ = [
    "DEFAULT_PRESET",
    "LABEL_COLOURS",
    "ROW_COLUMNS",
    "Face",
    "FrameResult",
    "Recognizer",
    "annotate",
    "list_presets",
    "load_preset_config",
    "plot_timeline",
    "preset_path",
    "read_photo",
    "save_image",
    "save_preset",
    "video_info",
]
