"""dlib's face descriptors (``emonet.features.face_descriptors``), on real faces."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from emonet.features import DESCRIPTOR_SIZE, align_faces, face_descriptors
from tests.tracking.scenes import fer_sprites


def test_one_person_near_two_people_far(fer_root):
    photo = data.astronaut()
    _, points = align_faces(photo, [[179, 83, 266, 170]])
    mirrored = np.ascontiguousarray(photo[:, ::-1])
    _, points_m = align_faces(mirrored, [[512 - 266, 83, 512 - 179, 170]])
    gray = photo.mean(axis=2).astype(np.uint8)  # gray photos are taken too
    (sprite, box), (other, other_box) = fer_sprites(100, 2)
    _, points_o = align_faces(other, [other_box])
    _, points_s = align_faces(sprite, [box])
    vectors = np.concatenate(
        [
            face_descriptors(photo, points),
            face_descriptors(mirrored, points_m[0]),  # one face: (68, 2) taken too
            face_descriptors(gray, points),
            face_descriptors(other, points_o),
            face_descriptors(sprite, points_s),
        ]
    )
    assert vectors.shape == (5, DESCRIPTOR_SIZE) and vectors.dtype == np.float32
    distance = np.linalg.norm(vectors[:, None] - vectors[None], axis=-1)
    assert distance[0, 1] < 0.5 and distance[0, 2] < 0.5  # the astronaut, three ways
    assert distance[0, 3] > 0.6 and distance[3, 4] > 0.5  # other people
    assert face_descriptors(photo, np.empty((0, 68, 2))).shape == (0, DESCRIPTOR_SIZE)
    with pytest.raises(ValueError, match=r"\(K, 68, 2\)"):
        face_descriptors(photo, np.zeros((1, 5, 2)))
