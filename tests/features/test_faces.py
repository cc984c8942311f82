import cv2
import numpy as np
import pytest
from skimage import data

from emonet.features import LANDMARK_PARTS, crop_faces, detect_faces, extract_landmarks


@pytest.fixture(scope="module")
def astronaut():
    return np.ascontiguousarray(data.astronaut()[:, :, ::-1])


def _eye_tilt(face):
    points = extract_landmarks(face)[0]
    right = points[LANDMARK_PARTS["right_eye"]].mean(axis=0)
    left = points[LANDMARK_PARTS["left_eye"]].mean(axis=0)
    return np.degrees(np.arctan2(left[1] - right[1], left[0] - right[0]))


def test_detects_the_astronauts_face(astronaut):
    boxes = detect_faces(astronaut)
    assert boxes.shape == (1, 4)
    left, top, right, bottom = boxes[0]
    assert 150 < left < right < 300 and 50 < top < bottom < 200


def test_crop_is_48x48_gray_with_level_eyes(astronaut):
    faces, boxes = crop_faces(astronaut)
    assert faces.shape == (1, 48, 48) and faces.dtype == np.uint8
    assert abs(_eye_tilt(faces[0])) < 4


def test_a_tilted_face_comes_out_level(astronaut):
    centre = (astronaut.shape[1] / 2, astronaut.shape[0] / 2)
    tilted = cv2.warpAffine(
        astronaut, cv2.getRotationMatrix2D(centre, 12, 1.0), astronaut.shape[1::-1]
    )
    faces, _ = crop_faces(tilted, largest_only=True)
    assert len(faces) == 1
    assert abs(_eye_tilt(faces[0])) < 4


def test_no_face_gives_empty_arrays():
    blank = np.full((120, 120), 128, np.uint8)
    assert detect_faces(blank).shape == (0, 4)
    faces, boxes = crop_faces(blank)
    assert faces.shape == (0, 48, 48) and boxes.shape == (0, 4)
