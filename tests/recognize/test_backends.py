"""The recognizer, emonet-predict and emonet-evaluate on JAX, with TensorFlow hidden.

The tiny models are written here under the default backend (TensorFlow); a subprocess on
JAX, where TensorFlow cannot be imported, runs the recognizer and the two commands on
them, and must find what TensorFlow finds.
"""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from emonet import FEATURE_SIZE
from emonet.features import FeatureExtractor, load_features, save_features
from emonet.models import load_model, predict_proba
from emonet.predictions import load_predictions
from emonet.recognize import Recognizer
from tests.models.test_backends import run_under

SCRIPT = """
    import json, sys
    import keras
    from emonet.cli import evaluate, predict
    from emonet.recognize import Recognizer
    preset, photo, model, features, out = sys.argv[1:6]
    faces = Recognizer(preset).predict(photo)[0].faces
    status_predict = predict.main([photo, "--preset", preset, "--csv", out + "/faces.csv",
                                   "-q"])
    status_evaluate = evaluate.main([model, features, "--usage", "PublicTest",
                                     "-o", out + "/preds.npz"])
    print(json.dumps({"backend": keras.backend.backend(),
                      "tensorflow": "tensorflow" in sys.modules,
                      "statuses": [status_predict, status_evaluate],
                      "boxes": [list(f.box) for f in faces],
                      "probabilities": [list(f.probabilities.values()) for f in faces]}))
"""


@pytest.mark.slow
def test_recognizer_and_commands_on_jax_without_tensorflow(
    tiny_models, astronaut, val_faces, tmp_path
):
    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    images, labels = val_faces[0][:20], val_faces[1][:20]
    part = {
        "images": images,
        "features": FeatureExtractor().transform(images),
        "labels": labels.astype(np.int64),
        "usage": np.full(len(images), "PublicTest"),
        "ids": np.array([f"face{i}" for i in range(len(images))]),
    }
    features = tmp_path / "faces.h5"
    save_features(features, [part], {"source": "tests"}, FEATURE_SIZE)
    fused = tiny_models["paths"][1]

    report = run_under(
        "jax", SCRIPT, tiny_models["preset"], photo, fused, features, tmp_path,
        tmp_path=tmp_path,
    )  # fmt: skip
    assert report["backend"] == "jax" and not report["tensorflow"]
    assert report["statuses"] == [0, 0]

    # what TensorFlow finds, here
    expected = Recognizer(tiny_models["preset"]).predict(photo)[0].faces
    assert report["boxes"] == [list(f.box) for f in expected] and len(expected) == 1
    np.testing.assert_allclose(
        report["probabilities"],
        [list(f.probabilities.values()) for f in expected],
        rtol=1e-4,
        atol=1e-6,
    )
    with open(tmp_path / "faces.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 1 and rows[0]["label"] == expected[0].label
    predictions = load_predictions(tmp_path / "preds.npz")
    np.testing.assert_array_equal(predictions.labels, labels)
    np.testing.assert_allclose(
        predictions.probabilities,
        predict_proba(load_model(fused), load_features(features)),
        rtol=1e-4,
        atol=1e-6,
    )


LITE_SCRIPT = """
    import json, sys
    import numpy as np
    import keras
    from emonet.models import load_model, quantize_model
    from emonet.recognize import Recognizer
    faces = np.load(sys.argv[1])
    probabilities = Recognizer("fast").predict_crops(faces).tolist()
    try:
        quantize_model(load_model(sys.argv[2]), faces)
        refused = ""
    except RuntimeError as error:
        refused = str(error)
    print(json.dumps({"backend": keras.backend.backend(),
                      "tensorflow": "tensorflow" in sys.modules,
                      "probabilities": probabilities, "refused": refused}))
"""


@pytest.mark.slow
def test_quantized_presets_run_on_jax_and_quantizing_asks_for_tensorflow(
    tiny_models, val_faces, tmp_path
):
    faces = val_faces[0][:24]
    np.save(tmp_path / "faces.npy", faces)
    report = run_under(
        "jax", LITE_SCRIPT, tmp_path / "faces.npy", tiny_models["paths"][0], tmp_path=tmp_path
    )
    assert report["backend"] == "jax" and not report["tensorflow"]
    # LiteRT runs the int8 network, whichever Keras backend is loaded: the same numbers
    np.testing.assert_allclose(
        report["probabilities"], Recognizer("fast").predict_crops(faces), atol=1e-6
    )
    assert report["refused"].startswith("quantize_model needs Keras' TensorFlow backend")
