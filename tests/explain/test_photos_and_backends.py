"""Recognizer.explain on a photo, emonet-predict --explain, Grad-CAM on JAX, and the
features' attribution."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from skimage import data

from emonet import LABELS, Recognizer
from emonet.cli.predict import main
from emonet.explain import (
    REGIONS,
    Explanation,
    FeatureAttribution,
    crop_landmarks,
    explain,
    explain_features,
    overlay_map,
    overlay_photo,
    plot_regions,
)
from emonet.features import LANDMARK_PARTS, template_transform
from emonet.models import ModelConfig, build_model
from tests.models.test_backends import run_under


def test_the_astronaut_explained_on_her_photo(tmp_path):
    recognizer = Recognizer("fast")
    photo = data.astronaut()
    ((face,),) = recognizer.explain(photo, method="regions")
    assert isinstance(face, Explanation) and face.box == (179, 83, 266, 170)
    assert face.label == recognizer.predict(photo)[0].faces[0].label  # the class shown
    assert face.photo_map.shape == photo.shape[:2] and np.isfinite(face.photo_map).all()
    # the map lies on the face: inside the box, nothing far from it
    left, top, right, bottom = face.box
    assert (
        np.abs(face.photo_map[top:bottom, left:right]).sum() > 0.9 * np.abs(face.photo_map).sum()
    )
    # the crop's landmarks are the photo's moved by the alignment
    boxes, _, points, crops = recognizer.detect(photo)
    matrix, _ = template_transform(points[0], boxes[0])
    assert np.allclose(crop_landmarks(points[0], matrix), face.landmarks, atol=1e-3)
    assert np.allclose(face.transform, matrix)
    # the same crop explained as a crop gives the same map (its landmarks found again)
    (again,) = recognizer.explain(crops, method="regions")
    assert np.abs(again.map - face.map).max() < 0.05
    drawn = overlay_photo(photo, [face])
    assert drawn.shape == photo.shape and (drawn != photo).any()
    assert overlay_map(crops[0], again.map).shape == (48, 48, 3)
    assert plot_regions(face, tmp_path / "bars.png").stat().st_size > 1000


def test_predict_explain_writes_pictures_and_region_values(tmp_path, capsys):
    import cv2

    photo = tmp_path / "in" / "astronaut.jpg"
    photo.parent.mkdir()
    cv2.imwrite(str(photo), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    out, table = tmp_path / "explained", tmp_path / "faces.csv"
    status = main(
        [str(photo), "--preset", "fast", "--explain", str(out), "--json", "--csv", str(table)]
        + ["--explain-method", "occlusion", "-q"]
    )
    assert status == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "astronaut.face0.png",
        "astronaut.face0.regions.png",
    ]
    document = json.loads(capsys.readouterr().out)
    record = document["results"][0]["faces"][0]["explanation"]
    assert record["method"] == "occlusion" and set(record["regions"]) == set(REGIONS)
    (row,) = csv.DictReader(table.open())
    assert row["explain_method"] == "occlusion" and row["explain_target"] == record["target"]
    assert float(row["region_mouth"]) == record["regions"]["mouth"]


@pytest.mark.slow
def test_gradcam_under_tensorflow_and_jax_agree(mouth_model, tmp_path):
    from scipy.stats import spearmanr

    path, model, images, points, labels = mouth_model
    images, points, labels = images[:4], points[:4], labels[:4]
    np.save(tmp_path / "faces.npy", images)
    np.save(tmp_path / "points.npy", points)
    here = np.stack(
        [e.map for e in explain(model, images, "gradcam", landmarks=points, target=labels)]
    )
    script = """
        import json, sys
        import numpy as np
        from emonet.explain import explain
        from emonet.models import load_model
        model = load_model(sys.argv[1])
        faces, points = np.load(sys.argv[2]), np.load(sys.argv[3])
        targets = [int(t) for t in sys.argv[4].split(",")]
        maps = [e.map for e in explain(model, faces, "gradcam", landmarks=points, target=targets)]
        np.save(sys.argv[5], np.stack(maps))
        print(json.dumps({"done": True}))
    """
    targets = ",".join(str(t) for t in labels)
    result = run_under(
        "jax",
        script,
        path,
        tmp_path / "faces.npy",
        tmp_path / "points.npy",
        targets,
        tmp_path / "jax.npy",
        tmp_path=tmp_path,
    )
    assert result == {"done": True}
    there = np.load(tmp_path / "jax.npy")
    for a, b in zip(here, there, strict=True):
        assert spearmanr(a.ravel(), b.ravel())[0] >= 0.9


def test_features_attribution_groups_landmark_parts_and_hog_windows(faces_with_points):
    images = faces_with_points[0][:2]
    model = build_model(
        ModelConfig(
            "compact",
            use_features=True,
            backbone_options={"widths": [4], "convs_per_block": 1},
            feature_units=(8,),
            head_units=(8,),
        )
    )
    found = explain_features(model, images)
    assert len(found) == 2 and isinstance(found[0], FeatureAttribution)
    item = found[0]
    assert set(item.landmarks) == set(LANDMARK_PARTS)
    assert len(item.windows) == 7 * 7 and item.map.shape == (48, 48)  # windows with cells
    assert np.isfinite(item.map).all() and item.label in LABELS
    with pytest.raises(ValueError, match="reads no features"):
        explain_features(Recognizer("fast").models_[0], images)
