"""Face detection with scores and a threshold, the CNN detector, alignment in the photo."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from emonet import FACE_SIZE
from emonet.features import DETECTORS, align_faces, crop_faces, detect_faces


@pytest.fixture(scope="module")
def astronaut():
    return data.astronaut()


@pytest.mark.parametrize("colour", ["rgb", "bgr"])
def test_scores_and_the_threshold_keep_only_the_face(astronaut, colour):
    # the photo in either channel order: dlib's weak candidates on the suit score up to
    # 0.17 when RGB is read as BGR, below 0 otherwise
    photo = astronaut if colour == "rgb" else cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR)
    boxes, scores = detect_faces(photo, upsample=1, return_scores=True)
    assert boxes.tolist() == [[175, 76, 265, 166]] and scores[0] > 1
    weak, weak_scores = detect_faces(photo, upsample=1, min_score=-0.5, return_scores=True)
    assert len(weak) >= 3 and (np.sort(weak_scores)[:-1] < 0.2).all()


def test_automatic_upsampling_only_when_nothing_is_found(astronaut):
    small = cv2.resize(astronaut, (236, 236), interpolation=cv2.INTER_AREA)
    assert len(detect_faces(small, upsample=0)) == 0
    (box,) = detect_faces(small, upsample=None)
    assert 35 <= box[2] - box[0] <= 50  # a face of about 40 px
    # at its own size the astronaut is found without a second pass at double size
    np.testing.assert_array_equal(
        detect_faces(astronaut, upsample=None), detect_faces(astronaut, upsample=0)
    )


def test_cnn_detector_finds_the_face(astronaut):
    assert DETECTORS == ("hog", "cnn")
    half = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    boxes, scores = detect_faces(half, upsample=1, detector="cnn", return_scores=True)
    assert len(boxes) == 1 and scores[0] > 0.3
    centre = (boxes[0, :2] + boxes[0, 2:]) / 2 * 2  # in the full photo
    assert np.abs(centre - [222, 126]).max() < 20


@pytest.mark.parametrize(
    "kwargs, message",
    [({"detector": "haar"}, "detector"), ({"upsample": -1}, "upsample"), ({"upsample": 1.5}, "")],
)
def test_bad_detection_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        detect_faces(np.zeros((32, 32), np.uint8), **kwargs)


def test_align_faces_gives_crops_and_landmarks_in_the_photo(astronaut):
    boxes = detect_faces(astronaut, upsample=0)
    faces, landmarks = align_faces(astronaut, boxes)
    assert faces.shape == (1, FACE_SIZE, FACE_SIZE) and faces.dtype == np.uint8
    assert landmarks.shape == (1, 68, 2)
    left, top, right, bottom = boxes[0]
    eyes = landmarks[0, 36:48]
    assert (eyes[:, 0] > left).all() and (eyes[:, 0] < right).all()
    assert (eyes[:, 1] > top).all() and (eyes[:, 1] < bottom).all()
    # crop_faces is detection then alignment
    crops, crop_boxes = crop_faces(astronaut, upsample=0)
    np.testing.assert_array_equal(crops, faces)
    np.testing.assert_array_equal(crop_boxes, boxes)
    empty, no_points = align_faces(astronaut, np.empty((0, 4)))
    assert empty.shape == (0, FACE_SIZE, FACE_SIZE) and no_points.shape == (0, 68, 2)
