"""``Recognizer.explain``: the explanations of the faces of photos, or of face crops,
carried back onto the photos."""

from __future__ import annotations

import dataclasses
from typing import Any

import cv2
import numpy as np

from emonet._constants import FACE_SIZE, LABELS
from emonet.explain import Explanation, crop_landmarks, explain
from emonet.features import template_transform
from emonet.recognize._photos import check_crops, read_photo

__all__ = ["explain_inputs"]


def _is_crops(item: Any) -> bool:
    if not isinstance(item, np.ndarray):
        return False
    shape = item.shape[:3] if item.ndim == 4 and item.shape[-1] == 1 else item.shape
    return shape[-2:] == (FACE_SIZE, FACE_SIZE) and len(shape) in (2, 3)


def explain_inputs(
    recognizer: Any, photo_or_crops: Any, method: str, target: Any, **options: Any
) -> list:
    """What :meth:`Recognizer.explain` returns (see there)."""
    if _is_crops(photo_or_crops):
        crops = check_crops(photo_or_crops)
        return _explain_crops(recognizer, crops, method, target, None, **options)
    single = isinstance(photo_or_crops, str | bytes | np.ndarray) or hasattr(
        photo_or_crops, "__fspath__"
    )
    photos = [photo_or_crops] if single else list(photo_or_crops)
    out = []
    for photo in photos:
        image = read_photo(photo)
        boxes, _, landmarks, crops = recognizer.detect(image)
        matrices = np.array(
            [template_transform(p, b)[0] for p, b in zip(landmarks, boxes, strict=True)]
        ).reshape(-1, 2, 3)
        points = crop_landmarks(landmarks, matrices) if len(boxes) else None
        found = _explain_crops(recognizer, crops, method, target, points, **options)
        height, width = image.shape[:2]
        out.append(
            [
                dataclasses.replace(
                    item,
                    photo_map=cv2.warpAffine(
                        item.map,
                        matrix,
                        (width, height),
                        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                        borderMode=cv2.BORDER_CONSTANT,
                        borderValue=0.0,
                    ),
                    box=tuple(int(v) for v in box),
                    transform=matrix,
                )
                for item, matrix, box in zip(found, matrices, boxes, strict=True)
            ]
        )
    return out


def _explain_crops(
    recognizer: Any,
    crops: np.ndarray,
    method: str,
    target: Any,
    landmarks: np.ndarray | None,
    **options: Any,
) -> list[Explanation]:
    if not len(crops):
        return []
    if target is None:
        # the class the recognizer gives each face (with its test-time augmentation)
        target = recognizer.predict_crops(crops).argmax(axis=1)
    elif isinstance(target, str) and target not in LABELS:
        raise ValueError(f"target must be one of {', '.join(LABELS)}, got {target!r}")
    return explain(
        recognizer.models_,
        crops,
        method,
        target=target,
        weights=recognizer.weights_,
        landmarks=landmarks,
        batch_size=recognizer.batch_size,
        **options,
    )
