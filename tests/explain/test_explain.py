"""emonet.explain on real faces: the bundled int8 presets and a network trained by the
test to read one region."""

from __future__ import annotations

import numpy as np
import pytest

from emonet import Recognizer
from emonet.explain import (
    BASELINES,
    METHODS,
    REGIONS,
    curve_auc,
    deletion_insertion,
    explain,
    region_masks,
    shapley_values,
)
from emonet.features import face_template
from tests.explain.conftest import BRIGHT, DARK, MOUTH

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture(scope="module")
def fast():
    return Recognizer("fast")


def test_region_masks_are_disjoint_and_where_the_parts_are(faces_with_points):
    _, points = faces_with_points
    for pts in points[:8]:
        masks = region_masks(pts)
        assert masks.shape == (len(REGIONS), 48, 48)
        assert masks.sum(axis=0).max() == 1  # a pixel in one region at most
        assert masks.sum(axis=(1, 2)).min() > 0
        mouth = np.argwhere(masks[MOUTH])[:, 0].mean()
        eyes = np.argwhere(masks[REGIONS.index("left_eye")])[:, 0].mean()
        assert mouth > eyes + 8  # rows: the mouth well below the eyes
    with pytest.raises(ValueError, match="68 finite"):
        region_masks(np.zeros((5, 2)))


def test_shapley_values_of_a_known_game():
    # v(S) = sum of the members' weights + 1 when players 0 and 1 are both in: additive
    # parts go to their owners, the interaction is split in two
    weights = np.array([0.1, 0.2, 0.3])
    values = np.array(
        [weights[[b for b in range(3) if s >> b & 1]].sum() + (s & 3 == 3) for s in range(8)]
    )
    assert np.allclose(shapley_values(values), [0.6, 0.7, 0.3])
    with pytest.raises(ValueError, match="2 \\*\\* n"):
        shapley_values(np.zeros(6))


@pytest.mark.parametrize("method", ["occlusion", "regions"])
def test_maps_of_the_int8_preset_have_the_crops_shape(fast, faces_with_points, method):
    images, points = faces_with_points
    found = explain(fast.models_, images[:3], method, weights=fast.weights_, landmarks=points[:3])
    assert len(found) == 3
    for item, row in zip(found, fast.predict_crops(images[:3], tta="none"), strict=True):
        assert item.method == method and item.map.shape == (48, 48)
        assert np.isfinite(item.map).all() and np.abs(item.map).max() > 0
        assert item.target == row.argmax()
        assert item.probability == pytest.approx(row.max(), abs=1e-4)
        assert set(item.to_dict()["regions"]) == set(REGIONS)


def test_shapley_efficiency_on_the_default_ensemble(faces_with_points):
    # the regions' shares plus the rest's add up to the change of every class's
    # probability between the face and the face blurred whole
    recognizer = Recognizer("default")
    images, points = faces_with_points
    found = explain(
        recognizer.models_,
        images[:2],
        "regions",
        weights=recognizer.weights_,
        landmarks=points[:2],
        target="sad",
    )
    for item in found:
        assert item.label == "sad"
        total = item.region_values.sum(axis=0) + item.rest
        assert np.allclose(total, item.probabilities - item.base, atol=1e-5)
        assert sum(item.regions.values()) + item.rest[4] == pytest.approx(
            item.probability - item.base[4], abs=1e-5
        )
        record = item.to_dict()
        assert record["target"] == "sad" and set(record) >= {"rest", "base", "regions"}


def test_an_int8_member_refuses_gradcam_naming_the_other_methods(fast, faces_with_points):
    with pytest.raises(ValueError, match="occlusion.*regions"):
        explain(fast.models_, faces_with_points[0][:1], "gradcam")
    with pytest.raises(ValueError, match="occlusion.*regions"):
        fast.explain(faces_with_points[0][:1], method="gradcam")


def test_bad_arguments_say_what_was_expected(fast, faces_with_points):
    images = faces_with_points[0][:1]
    for kwargs, message in [
        ({"method": "lime"}, "method must be one of"),
        ({"target": "bored"}, "target must be one of"),
        ({"target": [1, 2]}, "one per face"),
        ({"baseline": "zeros"}, "baseline must be one of " + ", ".join(BASELINES)),
        ({"patch": 0}, "patch must be a positive integer"),
        ({"landmarks": np.zeros((2, 68, 2))}, "landmarks: expected"),
    ]:
        with pytest.raises(ValueError, match=message):
            explain(fast.models_, images, **kwargs)
    with pytest.raises(ValueError, match="crops must be"):
        explain(fast.models_, np.zeros((1, 32, 32), np.uint8))
    assert METHODS == ("occlusion", "regions", "gradcam")


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS)
def test_the_region_a_network_reads_comes_first(mouth_model, method):
    # the network was trained to read the mouth only: each method ranks it first, and
    # blurring the region ranked first costs more than blurring the one ranked last
    _, model, images, points, labels = mouth_model
    probabilities = explain(model, images, "occlusion", landmarks=points, target=labels)
    assert np.mean([e.probability > 0.5 for e in probabilities]) >= 0.75  # it learned
    found = explain(model, images, method, landmarks=points, target=labels)
    firsts = [item.ranked_regions()[0] for item in found]
    assert firsts.count("mouth") >= 0.75 * len(found)
    drops_first, drops_last = [], []
    for item, image, pts in zip(found, images, points, strict=True):
        masks = region_masks(pts)
        ranked = item.ranked_regions()
        blurred = [image.copy(), image.copy()]
        for copy, name in zip(blurred, (ranked[0], ranked[-1]), strict=True):
            copy[masks[REGIONS.index(name)]] = int(image.mean())
        after = model.predict_on_batch({"face": np.stack(blurred)[..., None].astype("float32")})
        drops_first.append(item.probability - float(after[0, item.target]))
        drops_last.append(item.probability - float(after[1, item.target]))
    assert np.mean(drops_first) > np.mean(drops_last) + 0.1


@pytest.mark.slow
def test_deletion_beats_a_random_map_on_the_mouth_network(mouth_model):
    _, model, images, points, labels = mouth_model
    found = explain(model, images, "regions", landmarks=points, target=labels)
    maps = np.stack([item.map for item in found])
    random_maps = np.random.default_rng(1).random(maps.shape)
    deletion, insertion = deletion_insertion(model, images, maps, labels, steps=8)
    random_deletion, random_insertion = deletion_insertion(
        model, images, random_maps, labels, steps=8
    )
    assert deletion.shape == (len(images), 9)
    assert curve_auc(deletion).mean() < curve_auc(random_deletion).mean()
    assert curve_auc(insertion).mean() > curve_auc(random_insertion).mean()
    assert {DARK, BRIGHT} == set(labels.tolist())


def test_the_regions_of_the_template_face():
    masks = region_masks(face_template().landmarks)
    assert masks[MOUTH][36:40, 20:28].any()


def test_an_ensembles_map_is_its_members_maps_weighed(faces_with_points):
    recognizer = Recognizer("default")
    (a, b, _), weights = recognizer.models_, np.array([0.7, 0.3, 0.0])
    images, points = faces_with_points[0][:1], faces_with_points[1][:1]
    kwargs = {"landmarks": points, "target": 3}
    (both,) = explain([a, b, _], images, "occlusion", weights=weights, **kwargs)
    (first,) = explain(a, images, "occlusion", **kwargs)
    (second,) = explain(b, images, "occlusion", **kwargs)
    assert np.allclose(both.map, 0.7 * first.map + 0.3 * second.map, atol=1e-5)
