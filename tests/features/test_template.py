"""The FER2013 face template: its file, the transform onto it, and faces framed from photos
as FER2013 framed them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from emonet import FACE_SIZE
from emonet.features import (
    FaceTemplate,
    align_faces,
    box_transform,
    detect_faces,
    extract_landmarks,
    face_template,
    make_face_template,
    template_transform,
    warp_face,
)

ROOT = Path(__file__).resolve().parents[2]


def _similar(points: np.ndarray, scale: float, degrees: float, shift) -> np.ndarray:
    theta = np.radians(degrees)
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    return scale * points @ rotation.T + np.asarray(shift, np.float64)


def _roll(matrix: np.ndarray) -> float:
    """Degrees the transform turns a face by."""
    return float(np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0])))


def test_the_shipped_template_is_a_fer2013_face():
    template = face_template()
    points = template.landmarks
    assert points.shape == (68, 2) and template.size == FACE_SIZE
    # eyes above the nose tip above the mouth, the face inside the crop
    assert points[36:48, 1].mean() < points[30, 1] < points[48:68, 1].mean()
    assert points[36:42, 0].mean() < points[42:48, 0].mean()
    assert (points >= 0).all() and (points <= FACE_SIZE).all()
    assert 30 < template.box_side < 60


@pytest.mark.parametrize("degrees", [0.0, 6.0, -6.0])
def test_a_scaled_moved_face_is_mapped_onto_the_template_and_small_rolls_are_kept(degrees):
    template = face_template().landmarks
    photo_points = _similar(template, 3.0, degrees, (250, 120))
    matrix, from_landmarks = template_transform(photo_points)
    assert from_landmarks
    assert np.sqrt(abs(np.linalg.det(matrix[:, :2]))) == pytest.approx(1 / 3, rel=1e-3)
    # a roll within MAX_ROLL (10 degrees) is left as FER2013's faces have theirs
    assert _roll(matrix) == pytest.approx(0.0, abs=1e-6)
    mapped = photo_points @ matrix[:, :2].T + matrix[:, 2]
    centre = template.mean(axis=0)
    assert np.abs(mapped.mean(axis=0) - centre).max() < 1e-6


@pytest.mark.parametrize("degrees", [25.0, -25.0])
def test_a_large_roll_is_turned_down_to_the_limit(degrees):
    photo_points = _similar(face_template().landmarks, 2.0, degrees, (100, 100))
    matrix, _ = template_transform(photo_points)
    assert _roll(matrix) == pytest.approx(-np.sign(degrees) * 15.0, abs=1e-6)
    levelled, _ = template_transform(photo_points, max_roll=0)
    assert _roll(levelled) == pytest.approx(-degrees, abs=1e-6)


def test_unreliable_landmarks_fall_back_to_the_box():
    box = np.array([100, 100, 196, 196])
    scattered = np.random.default_rng(0).uniform(100, 196, (68, 2))
    matrix, from_landmarks = template_transform(scattered, box)
    assert not from_landmarks
    np.testing.assert_allclose(matrix, box_transform(box))
    # landmarks of a face 3x smaller than its box disagree with the box
    small = _similar(face_template().landmarks, 0.7, 0, (120, 120))
    assert not template_transform(small, box)[1]
    assert template_transform(small)[1]  # without a box there is nothing to fall back on
    with pytest.raises(ValueError, match="no box"):
        template_transform(np.full((68, 2), np.nan))


def test_box_framing_puts_the_box_where_dlib_s_box_sits_on_fer2013_faces():
    template = face_template()
    matrix = box_transform([50, 80, 150, 180])
    corners = np.array([[50, 80], [150, 180]], np.float64) @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(corners.mean(axis=0), template.box_centre)
    np.testing.assert_allclose(corners[1, 0] - corners[0, 0], template.box_side)


def test_warp_face_averages_when_shrinking():
    # a fine checkerboard shrunk 8x averages to gray; plain sampling would alias
    board = (np.indices((384, 384)).sum(axis=0) % 2 * 255).astype(np.uint8)
    crop = warp_face(board, np.array([[0.125, 0, 0], [0, 0.125, 0]]))
    assert crop.shape == (FACE_SIZE, FACE_SIZE)
    assert np.abs(crop.astype(int) - 128).max() <= 2


def test_template_record_round_trip_and_checks(tmp_path):
    template = make_face_template(
        np.stack([face_template().landmarks, face_template().landmarks + 2]), [[0, 0, 40, 40]]
    )
    np.testing.assert_allclose(template.landmarks, face_template().landmarks + 1)
    record = json.loads(json.dumps(template.to_dict(source="test")))
    assert record["source"] == "test"
    again = FaceTemplate.from_dict(record)
    np.testing.assert_allclose(again.landmarks, template.landmarks)
    assert again.box_side == 40.0
    with pytest.raises(ValueError, match="not an emonet-face-template"):
        FaceTemplate.from_dict({"format": "x"})
    with pytest.raises(ValueError, match=r"\(N, 68, 2\)"):
        make_face_template(np.zeros((3, 5, 2)), [[0, 0, 1, 1]])


def _paste(face: np.ndarray, scale: int, at: tuple[int, int], size=(640, 480)) -> np.ndarray:
    photo = np.full((size[1], size[0]), 120, np.uint8)
    big = cv2.resize(face, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    photo[at[1] : at[1] + big.shape[0], at[0] : at[0] + big.shape[1]] = big
    return photo


def test_a_pasted_face_comes_out_framed_as_its_crop(val_faces):
    """FER2013 faces pasted at known positions and scales: the photo path frames each as
    the crop path does (the crop's own landmarks onto the template), and a face that
    FER2013 framed as the template does comes out as its original crop, to a pixel or two.
    """
    images, _ = val_faces
    grid = np.stack(np.meshgrid(np.arange(0, 48, 4), np.arange(0, 48, 4)), -1).reshape(-1, 2)
    own = [template_transform(points)[0] for points in extract_landmarks(images)]
    shift = np.array(
        [np.linalg.norm(grid @ m[:, :2].T + m[:, 2] - grid, axis=1).mean() for m in own]
    )
    # FER2013's framing varies (half its faces are more than 2.7 px off the median one):
    # the faces it framed within 1.5 px of the template's are compared with their crop
    typical = np.flatnonzero(shift < 1.5)[:18]
    placements = [(3, (40, 30)), (4, (300, 100)), (2, (500, 300))] * 6
    from_photo, from_original = [], []
    for i, (scale, at) in zip(typical, placements, strict=False):
        photo = _paste(images[i], scale, at)
        boxes = detect_faces(photo, upsample=None)
        if len(boxes) != 1:
            continue
        _, _, (matrix,) = align_faces(photo, boxes, return_transforms=True)
        # where each pixel of the original crop lands in the photo path's crop ...
        via_photo = ((grid + 0.5) * scale - 0.5 + at) @ matrix[:, :2].T + matrix[:, 2]
        # ... and in the crop path's
        via_crop = grid @ own[i][:, :2].T + own[i][:, 2]
        from_photo.append(np.linalg.norm(via_photo - via_crop, axis=1).mean())
        from_original.append(np.linalg.norm(via_photo - grid, axis=1).mean())
    assert len(from_photo) >= 12
    assert np.median(from_photo) < 1.5
    assert np.median(from_original) < 2.0


@pytest.mark.slow
def test_the_template_file_is_what_its_script_makes(fer_root, tmp_path):
    out = tmp_path / "template.json"
    subprocess.run(
        [sys.executable, str(ROOT / "presets" / "make_face_template.py"), str(fer_root), "-o",
         str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    shipped = json.loads((ROOT / "emonet" / "features" / "face_template.json").read_text())
    assert json.loads(out.read_text()) == shipped
