"""``explain``: the maps and region attributions of face crops, for one model or an
ensemble's members."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from typing import Any

import numpy as np

from emonet._constants import FACE_SIZE, LABELS, NUM_LANDMARKS
from emonet.explain._choices import METHODS
from emonet.explain._gradients import check_float_model, gradcam_maps
from emonet.explain._members import Members, as_members, baseline_images, check_crops
from emonet.explain._regions import REGIONS, region_masks
from emonet.explain._result import Explanation
from emonet.explain._shapley import coalitions, shapley_values
from emonet.features import FeatureExtractor, extract_landmarks
from emonet.models import FEATURES_INPUT

__all__ = ["explain"]

#: Masked images run through the networks in one go, at most (faces are taken in
#: groups that fill it).
_IMAGES_PER_CALL = 4096


def explain(
    models: Any,
    crops: np.ndarray,
    method: str = "occlusion",
    *,
    target: int | str | Sequence[int] | None = None,
    weights: Sequence[float] | None = None,
    landmarks: np.ndarray | None = None,
    baseline: str = "blur",
    patch: int = 8,
    stride: int = 4,
    batch_size: int = 256,
) -> list[Explanation]:
    """Explain the class a network (or an ensemble) gives each face crop.

    Parameters
    ----------
    models : keras.Model, LiteModel or list of them
        One model (``emonet.models.load_model``, ``load_lite_model``) or an ensemble's
        members; their probabilities are averaged with ``weights``. For ``"occlusion"``
        and ``"regions"`` the ensemble's map is the members' maps so averaged (both are
        linear in the probabilities); for ``"gradcam"``, the members' maps are.
    crops : (N, 48, 48) or (48, 48) uint8 array
        Aligned faces (:func:`emonet.features.align_faces`, or FER2013's own).
    method : {"occlusion", "regions", "gradcam"}, default="occlusion"
        ``"occlusion"``: a ``patch`` x ``patch`` square, every ``stride`` pixels, is
        blurred away and the target's probability drop is spread over its pixels (forward
        passes only: int8 models too; 121 masked faces a face). ``"regions"``: exact
        Shapley values of the 8 :data:`REGIONS` (256 masked faces a face), each region's
        share of the target's probability, the other pixels held as they are.
        ``"gradcam"``: Grad-CAM on the last convolution block (float Keras models only).
    target : int, str or sequence of int, optional
        The class explained: an index or label for all faces, or one per face; default
        the class each face is given.
    weights : sequence of float, optional
        The members' weights; default equal.
    landmarks : (N, 68, 2) array_like, optional
        The faces' points in their crops; default found by dlib on each crop.
    baseline : {"blur", "mean"}, default="blur"
        What masked pixels become: the face blurred (sigma 5 px) or its mean grey.
    patch, stride : int, default=8, 4
        The occlusion square's side and step, in crop pixels.
    batch_size : int, default=256
        Faces per network batch.

    Returns
    -------
    list of Explanation
        One per crop.

    Raises
    ------
    ValueError
        If a setting is not one of those above; for ``"gradcam"``, if a member is an int8
        LiteRT model (naming the methods that run on it).

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.explain import explain
    >>> from emonet.features import face_template
    >>> from emonet.models import build_model
    >>> model = build_model("compact", use_features=False,
    ...                     backbone_options={"widths": [4], "convs_per_block": 1})
    >>> crops = np.random.default_rng(0).integers(0, 256, (2, 48, 48), dtype=np.uint8)
    >>> points = np.stack([face_template().landmarks] * 2)
    >>> (first, second) = explain(model, crops, "regions", landmarks=points)
    >>> first.map.shape, sorted(first.regions) == sorted(first.to_dict()["regions"])
    ((48, 48), True)
    >>> total = first.region_values.sum(axis=0) + first.rest
    >>> bool(np.allclose(total, first.probabilities - first.base, atol=1e-5))
    True
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    crops = check_crops(crops)
    members = as_members(models, weights, batch_size)
    if method == "gradcam":
        for model, weight in zip(members.models, members.weights, strict=True):
            if weight:
                check_float_model(model)
    patch, stride = _positive(patch, "patch"), _positive(stride, "stride")
    if patch > FACE_SIZE:
        raise ValueError(f"patch must be at most {FACE_SIZE} pixels, got {patch}")
    baseline_images(crops[:0], baseline)  # checks its name
    points = _landmarks(crops, landmarks)
    probabilities = members(crops)
    targets = _targets(target, probabilities)
    masks = [region_masks(p) for p in points]

    if method == "occlusion":
        maps, probabilities = _occlusion(members, crops, targets, baseline, patch, stride)
    elif method == "gradcam":
        maps = _gradcam(members, crops, targets)
    else:
        return _regions(members, crops, targets, points, masks, baseline)
    return [
        Explanation(
            method=method,
            target=int(t),
            probability=float(p[t]),
            map=m.astype(np.float32),
            regions=_region_means(m, k),
            landmarks=pts,
            probabilities=p.astype(np.float32),
        )
        for t, p, m, k, pts in zip(targets, probabilities, maps, masks, points, strict=True)
    ]


def _positive(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _landmarks(crops: np.ndarray, landmarks: Any) -> np.ndarray:
    if landmarks is None:
        return extract_landmarks(crops)
    points = np.asarray(landmarks, np.float32)
    if points.ndim == 2:
        points = points[None]
    if points.shape != (len(crops), NUM_LANDMARKS, 2):
        raise ValueError(
            f"landmarks: expected ({len(crops)}, 68, 2), the points of each crop, got "
            f"{points.shape}"
        )
    return points


def _targets(target: Any, probabilities: np.ndarray) -> np.ndarray:
    n = len(probabilities)
    if target is None:
        return probabilities.argmax(axis=1)
    if isinstance(target, str):
        if target not in LABELS:
            raise ValueError(f"target must be one of {', '.join(LABELS)}, got {target!r}")
        return np.full(n, LABELS.index(target))
    array = np.asarray(target)
    if array.ndim == 0:
        array = np.full(n, array)
    if (
        array.shape != (n,)
        or array.dtype.kind not in "iu"
        or (array < 0).any()
        or (array >= len(LABELS)).any()
    ):
        raise ValueError(
            f"target: expected a class index 0-{len(LABELS) - 1} or label, for all faces or "
            f"one per face ({n}), got {np.asarray(target).tolist()!r}"
        )
    return array.astype(np.int64)


def _region_means(heat: np.ndarray, masks: np.ndarray) -> dict[str, float]:
    return {
        name: float(heat[mask].mean()) if mask.any() else 0.0
        for name, mask in zip(REGIONS, masks, strict=True)
    }


def _groups(n_faces: int, per_face: int) -> list[slice]:
    size = max(1, _IMAGES_PER_CALL // per_face)
    return [slice(start, start + size) for start in range(0, n_faces, size)]


def occlusion_squares(patch: int, stride: int, size: int = FACE_SIZE) -> np.ndarray:
    """``(P, size, size)`` bool: the squares occlusion blurs, one at a time; the last
    row and column of squares lie on the crop's edge."""
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] != size - patch:
        starts.append(size - patch)
    squares = np.zeros((len(starts) ** 2, size, size), bool)
    for i, (top, left) in enumerate((t, s) for t in starts for s in starts):
        squares[i, top : top + patch, left : left + patch] = True
    return squares


def _occlusion(
    members: Members,
    crops: np.ndarray,
    targets: np.ndarray,
    baseline: str,
    patch: int,
    stride: int,
) -> tuple[np.ndarray, np.ndarray]:
    squares = occlusion_squares(patch, stride)
    cover = squares.sum(axis=0).astype(np.float64)
    blurred = baseline_images(crops, baseline)
    maps = np.zeros(crops.shape, np.float64)
    probabilities = np.zeros((len(crops), len(LABELS)), np.float64)
    for group in _groups(len(crops), len(squares) + 1):
        faces, base = crops[group], blurred[group]
        # the face itself first, then one blurred square at a time
        masked = np.where(squares[None], base[:, None], faces[:, None])
        batch = np.concatenate([faces[:, None], masked], axis=1)
        out = members(batch.reshape(-1, FACE_SIZE, FACE_SIZE)).reshape(
            len(faces), len(squares) + 1, -1
        )
        chosen = out[np.arange(len(faces)), :, targets[group]]  # (n, P + 1)
        drops = chosen[:, :1] - chosen[:, 1:]
        maps[group] = np.einsum("np,pyx->nyx", drops, squares) / cover
        probabilities[group] = out[:, 0]
    return maps, probabilities


def _gradcam(members: Members, crops: np.ndarray, targets: np.ndarray) -> np.ndarray:
    maps = np.zeros(crops.shape, np.float64)
    for model, weight in zip(members.models, members.weights, strict=True):
        if not weight:
            continue
        features = None
        if FEATURES_INPUT in [tensor.name for tensor in model.inputs]:
            info = getattr(model, "emonet_info", None)
            extractor = info.feature_extractor() if info is not None else FeatureExtractor()
            features = extractor.transform(crops)
        maps += weight * gradcam_maps(model, crops, targets, features)
    return maps


def _regions(
    members: Members,
    crops: np.ndarray,
    targets: np.ndarray,
    points: np.ndarray,
    masks: list[np.ndarray],
    baseline: str,
) -> list[Explanation]:
    present = coalitions(len(REGIONS))  # (256, 8): the regions each coalition keeps
    blurred = baseline_images(crops, baseline)
    out: list[Explanation] = []
    per_face = len(present) + 1
    for group in _groups(len(crops), per_face):
        images = []
        chosen = masks[group]
        for face, base, face_masks in zip(crops[group], blurred[group], chosen, strict=True):
            # a pixel of a region left out of the coalition takes the baseline's value
            hidden = np.tensordot(~present, face_masks, axes=1) > 0  # (256, 48, 48)
            images.append(np.where(hidden, base[None], face[None]))
            images.append(base[None])  # the face blurred whole
        batch = np.concatenate(images)
        values = members(batch).reshape(-1, per_face, len(LABELS))
        for i, v in enumerate(values):
            index = group.start + i
            shares = shapley_values(v[:-1])  # (8, 7)
            whole, none, base = v[-2], v[0], v[-1]
            t = int(targets[index])
            face_masks = masks[index]
            rest_mask = ~face_masks.any(axis=0)
            heat = np.zeros((FACE_SIZE, FACE_SIZE), np.float64)
            for share, mask in zip(shares[:, t], face_masks, strict=True):
                if mask.any():
                    heat[mask] = share / mask.sum()
            if rest_mask.any():
                heat[rest_mask] = (none[t] - base[t]) / rest_mask.sum()
            out.append(
                Explanation(
                    method="regions",
                    target=t,
                    probability=float(whole[t]),
                    map=heat.astype(np.float32),
                    regions={
                        name: float(s) for name, s in zip(REGIONS, shares[:, t], strict=True)
                    },
                    landmarks=points[index],
                    probabilities=whole.astype(np.float32),
                    region_values=shares,
                    rest=none - base,
                    base=base,
                )
            )
    return out
