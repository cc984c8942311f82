import numpy as np
import pytest

from emonet.features import LANDMARK_PARTS, extract_landmarks


@pytest.fixture(scope="module")
def landmarks(val_faces):
    return extract_landmarks(val_faces[0])


def test_shape_dtype_and_bounds(val_faces, landmarks):
    assert landmarks.shape == (len(val_faces[0]), 68, 2)
    assert landmarks.dtype == np.float32
    # the predictor may place jaw points a little outside a tight crop, never far
    assert landmarks.min() > -12 and landmarks.max() < 60


def test_landmarks_are_plausible_on_real_faces(landmarks):
    right_eye = landmarks[:, LANDMARK_PARTS["right_eye"]].mean(axis=1)
    left_eye = landmarks[:, LANDMARK_PARTS["left_eye"]].mean(axis=1)
    mouth = landmarks[:, LANDMARK_PARTS["mouth"]].mean(axis=1)
    nose_tip = landmarks[:, 30]
    # image left/right: the subject's right eye appears on the left of the image
    assert np.all(right_eye[:, 0] < left_eye[:, 0])
    assert np.all(np.maximum(right_eye[:, 1], left_eye[:, 1]) < mouth[:, 1])
    assert np.mean(nose_tip[:, 1] < mouth[:, 1]) > 0.98
    interocular = np.linalg.norm(left_eye - right_eye, axis=1)
    assert 8 < np.median(interocular) < 30


def test_whole_crop_landmarks_agree_with_detector_box_landmarks(val_faces, landmarks):
    """Where dlib's detector finds the face (upsampled), landmarks from its box lie close
    to those from the whole-crop rectangle."""
    import cv2

    from emonet.features import detect_faces

    distances = []
    for image, whole in zip(val_faces[0][::3], landmarks[::3], strict=True):
        big = cv2.resize(image, (96, 96), interpolation=cv2.INTER_LINEAR)
        boxes = detect_faces(big, upsample=1)
        if len(boxes) == 0:
            continue
        boxed = extract_landmarks(big, boxes[:1])[0] / 2.0
        interocular = np.linalg.norm(whole[42:48].mean(0) - whole[36:42].mean(0))
        distances.append(np.mean(np.linalg.norm(boxed - whole, axis=1)) / interocular)
    assert len(distances) >= 10
    assert np.median(distances) < 0.15


def test_single_image_and_explicit_boxes(val_faces):
    image = val_faces[0][0]
    whole = extract_landmarks(image)
    assert whole.shape == (1, 68, 2)
    np.testing.assert_array_equal(extract_landmarks(image[None], [(0, 0, 47, 47)]), whole)


def test_bad_input_is_explained():
    with pytest.raises(ValueError, match="uint8"):
        extract_landmarks(np.zeros((1, 48, 48), np.float32))
    with pytest.raises(ValueError, match="2 boxes for 1 images"):
        extract_landmarks(np.zeros((1, 48, 48), np.uint8), [(0, 0, 9, 9), (0, 0, 9, 9)])
