"""Tracking: who each face of a video is, and its expression smoothed over time.

The pure parts of video analysis, between the ensemble and the recognizer: box overlap
and the Hungarian assignment (:func:`box_iou`, :func:`assign`), the tracker's state
machine (:class:`FaceTracker`: overlap first, dlib's face descriptors when overlap
cannot tell or a person comes back), scene cuts (:func:`is_scene_cut`), smoothing by a
time constant in seconds with a steady label (:class:`TrackSmoother`), and per-person
summaries (:class:`TrackSummarizer`, :func:`save_summaries`). No frame is read here:
:meth:`emonet.Recognizer.predict_video` and :meth:`emonet.Recognizer.stream` drive them.
"""

from emonet.tracking._association import assign, box_iou
from emonet.tracking._cuts import DEFAULT_CUT_THRESHOLD, frame_signature, is_scene_cut
from emonet.tracking._smoothing import (
    TrackSmoother,
    hysteresis_label,
    smooth_probabilities,
    smoothing_weight,
)
from emonet.tracking._summary import (
    SUMMARY_COLUMNS,
    TrackSummarizer,
    TrackSummary,
    save_summaries,
)
from emonet.tracking._tracker import FaceTracker, Track

__all__ = [
    "DEFAULT_CUT_THRESHOLD",
    "SUMMARY_COLUMNS",
    "FaceTracker",
    "Track",
    "TrackSmoother",
    "TrackSummarizer",
    "TrackSummary",
    "assign",
    "box_iou",
    "frame_signature",
    "hysteresis_label",
    "is_scene_cut",
    "save_summaries",
    "smooth_probabilities",
    "smoothing_weight",
]
