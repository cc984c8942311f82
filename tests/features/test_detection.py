"""Face detection with scores and a threshold, the CNN detector, alignment in the photo."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from emonet import FACE_SIZE
from emonet.features import (
    DETECTORS,
    Detector,
    align_faces,
    check_detection,
    crop_faces,
    detect_faces,
)


@pytest.fixture(scope="module")
def astronaut():
    return data.astronaut()


def test_scores_and_the_threshold_keep_only_the_face(astronaut):
    # dlib's weak candidates on the suit's mission patch score -0.015 at 1x, -0.008 at 2x;
    # the default threshold (0.2) keeps them out with a margin
    bgr = cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR)
    for upsample, box in ((0, [179, 83, 266, 170]), (1, [175, 76, 265, 166])):
        boxes, scores = detect_faces(bgr, upsample=upsample, return_scores=True)
        assert boxes.tolist() == [box] and scores[0] > 1
    weak, weak_scores = detect_faces(bgr, upsample=1, min_score=-0.5, return_scores=True)
    assert len(weak) >= 3 and (np.sort(weak_scores)[:-1] < 0).all()
    # an RGB photo read as BGR (the wrong order) scores the patch 0.17 at 2x, under 0.2
    wrong = detect_faces(astronaut, upsample=1, min_score=0.1, return_scores=True)[1]
    assert len(wrong) == 2 and 0.1 < np.sort(wrong)[0] < 0.2
    assert len(detect_faces(astronaut, upsample=1)) == 1
    # nor do its JPEG copies and mirror image bring the patch over the default threshold
    for quality in (60, 75, 90, 95):
        _, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
        copy = cv2.imdecode(data, cv2.IMREAD_COLOR)
        for photo in (copy, np.ascontiguousarray(copy[:, ::-1])):
            assert [len(detect_faces(photo, upsample=u)) for u in (0, 1)] == [1, 1]


def test_automatic_upsampling_only_when_nothing_is_found(astronaut):
    astronaut = np.ascontiguousarray(astronaut[:, :, ::-1])  # OpenCV's BGR order
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


def test_cnn_detector_takes_photos_smaller_than_its_field_of_view():
    # dlib's CNN fails on an 8x8 image (and may corrupt its heap): such photos are padded
    for side in (8, 40):
        assert detect_faces(np.zeros((side, side), np.uint8), detector="cnn").shape == (0, 4)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"detector": "haar"}, "detector"),
        ({"upsample": -1}, "upsample"),
        ({"upsample": 1.5}, "upsample"),
        ({"upsample": True}, "upsample"),
        ({"min_score": float("nan")}, "finite"),
        ({"min_score": "0.5"}, "number"),
    ],
)
def test_bad_detection_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        detect_faces(np.zeros((32, 32), np.uint8), **kwargs)
    with pytest.raises(ValueError, match=message):
        check_detection(**{"detector": "hog", "upsample": 1, **kwargs})


def test_upsampling_past_the_pixel_budget_is_refused_before_detection():
    photo = np.zeros((512, 512), np.uint8)
    with pytest.raises(ValueError, match=r"upsample=5 makes this 512x512 photo 16384x16384"):
        detect_faces(photo, upsample=5)
    assert detect_faces(photo, upsample=2).shape == (0, 4)  # 2048x2048 is within


def test_a_callable_detector_and_its_scores(astronaut):
    seen = []

    def find(photo):
        seen.append(photo.shape)
        return [[10, 10, 60, 60], [100, 100, 300, 300]], [0.2, 0.9]

    mine: Detector = find  # any function of the photo is a detector

    boxes, scores = detect_faces(astronaut, detector=mine, return_scores=True)
    assert seen == [astronaut.shape]  # the photo as given, in colour
    assert boxes.tolist() == [[100, 100, 300, 300], [10, 10, 60, 60]]  # largest first
    np.testing.assert_allclose(scores, [0.9, 0.2])
    assert detect_faces(astronaut, detector=mine, min_score=0.5).tolist() == [[100, 100, 300, 300]]
    # boxes without scores are all kept; an empty answer is no face
    only_boxes = detect_faces(astronaut, detector=lambda p: np.array([[1, 2, 30, 40.4]]))
    assert only_boxes.tolist() == [[1, 2, 30, 40]]
    assert detect_faces(astronaut, detector=lambda p: []).shape == (0, 4)
    with pytest.raises(ValueError, match=r"detector <lambda> must return finite boxes"):
        detect_faces(astronaut, detector=lambda p: [[1, 2, 3]])
    with pytest.raises(ValueError, match="2 boxes but 1 scores"):
        detect_faces(astronaut, detector=lambda p: ([[1, 2, 3, 4], [5, 6, 7, 8]], [0.1]))


def test_align_faces_gives_crops_and_landmarks_in_the_photo(astronaut):
    astronaut = np.ascontiguousarray(astronaut[:, :, ::-1])  # OpenCV's BGR order
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
