"""emonet.models on every Keras 3 backend: JAX (and PyTorch) in subprocesses, since a
process has one backend, chosen by ``KERAS_BACKEND`` before Keras is imported.

Each test skips when its backend is not installed (the ``test`` extra installs JAX's CPU
wheel, so CI runs the JAX tests). Each starts a process: they are marked slow, and
``make test`` runs them all the same. The tests here run under the default
backend (TensorFlow) and drive the others; run the whole model suite under another with
``KERAS_BACKEND=jax pytest tests/models``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from emonet.models import ModelConfig, build_model, load_model, predict_crops, save_model

ROOT = Path(__file__).resolve().parents[2]
TINY_FEATURES = ModelConfig(
    "compact",
    use_features=True,
    backbone_options={"widths": [4, 8], "convs_per_block": 1},
    feature_units=(8,),
    head_units=(8,),
)


# Makes TensorFlow look uninstalled, as on a machine with JAX or PyTorch only: Keras then
# leaves it alone, and any import of it by emonet fails.
HIDE_TENSORFLOW = """
import sys


class _WithoutTensorFlow:
    def __init__(self, finder):
        self.finder = finder

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "tensorflow":
            return None
        return self.finder.find_spec(name, path, target)

    def __getattr__(self, name):
        return getattr(self.finder, name)


sys.meta_path[:] = [_WithoutTensorFlow(finder) for finder in sys.meta_path]
"""


def run_under(
    backend: str,
    script: str,
    *args,
    devices: int = 1,
    hide_tensorflow: bool = True,
    tmp_path: Path,
) -> dict:
    """Run ``script`` with ``KERAS_BACKEND=backend`` (TensorFlow hidden unless asked);
    return the JSON of its last line."""
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend]
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed")
    path = tmp_path / f"script_{backend}.py"
    prelude = HIDE_TENSORFLOW if hide_tensorflow and backend != "tensorflow" else ""
    path.write_text(prelude + textwrap.dedent(script))
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(ROOT)}
    if devices > 1:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    done = subprocess.run(
        [sys.executable, str(path), *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


NO_TENSORFLOW = """
    import json, sys, tempfile
    import numpy as np
    import keras
    from emonet.models import (ModelConfig, build_model, load_model, predict_crops,
                               save_model)
    config = ModelConfig("compact", use_features=False,
                         backbone_options={"widths": [4, 8], "convs_per_block": 1},
                         head_units=(8,))
    model = build_model(config)
    faces = np.random.default_rng(0).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    path = tempfile.mkdtemp() + "/m.keras"
    save_model(model, path, model_config=config)
    probabilities = predict_crops(load_model(path), faces)
    print(json.dumps({"backend": keras.backend.backend(),
                      "imported": "tensorflow" in sys.modules,
                      "sums": probabilities.sum(1).tolist()}))
"""


@pytest.mark.slow
def test_emonet_models_builds_saves_and_predicts_on_jax_without_tensorflow(tmp_path):
    report = run_under("jax", NO_TENSORFLOW, tmp_path=tmp_path)
    assert report["backend"] == "jax" and not report["imported"]
    np.testing.assert_allclose(report["sums"], 1, rtol=1e-5)


@pytest.mark.slow
def test_importing_emonet_does_not_import_tensorflow_on_jax(tmp_path):
    script = """
        import json, sys
        import emonet.models, emonet.training, emonet.recognize, emonet.cli.train
        import emonet.cli.predict
        print(json.dumps({"imported": "tensorflow" in sys.modules}))
    """
    report = run_under("jax", script, hide_tensorflow=False, tmp_path=tmp_path)
    assert report == {"imported": False}


CROSS = """
    import json, sys
    import numpy as np
    import keras
    from emonet.models import load_model, predict_crops, read_model_info, save_model
    source, faces_path, copy = sys.argv[1:4]
    arrays = np.load(faces_path)
    model = load_model(source)  # safe_mode=True
    probabilities = predict_crops(model, arrays["faces"], arrays["features"])
    save_model(model, copy, model_config=read_model_info(source).model_config,
               feature_config=read_model_info(source).feature_settings)
    print(json.dumps({"probabilities": probabilities.tolist(),
                      "saved_by": read_model_info(copy).keras_backend}))
"""


def _trained_looking(model: keras.Model) -> keras.Model:
    # random weights and moving statistics, so that every layer matters; the feature
    # normalisation keeps what it learnt from the features (it caches its statistics)
    rng = np.random.default_rng(0)
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.Normalization) or not layer.weights:
            continue
        layer.set_weights(
            [
                (
                    rng.uniform(0.5, 1.5, v.shape)
                    if v.path.endswith("variance")
                    else rng.normal(0, 0.3, v.shape)
                ).astype(v.dtype)
                for v in layer.weights
            ]
        )
    return model


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_a_model_saved_under_one_backend_predicts_the_same_under_another(
    backend, val_set, tmp_path
):
    assert keras.backend.backend() == "tensorflow", "run under the default backend"
    model = _trained_looking(build_model(TINY_FEATURES, features=val_set.features))
    faces, features = val_set.images[:16], val_set.features[:16]
    np.savez(tmp_path / "faces.npz", faces=faces, features=features)
    saved = save_model(
        model, tmp_path / "tf.keras", model_config=TINY_FEATURES, feature_config=val_set
    )
    expected = predict_crops(model, faces, features)
    assert expected.std(0).max() > 1e-3  # the faces get different answers
    report = run_under(
        backend,
        CROSS,
        saved,
        tmp_path / "faces.npz",
        tmp_path / f"{backend}.keras",
        tmp_path=tmp_path,
    )
    np.testing.assert_allclose(report["probabilities"], expected, rtol=1e-4, atol=1e-6)
    # and back: the file the other backend wrote loads and predicts the same here
    assert report["saved_by"] == backend
    back = load_model(tmp_path / f"{backend}.keras")
    np.testing.assert_allclose(
        predict_crops(back, faces, features), expected, rtol=1e-4, atol=1e-6
    )


TRAIN = """
    import json, sys
    import keras
    from emonet.features import load_features
    from emonet.models import ModelConfig, load_model, predict_proba
    from emonet.training import AugmentConfig, TrainingConfig, train
    features_file, run, strategy = sys.argv[1:4]
    data = load_features(features_file)
    train_set, val_set = data.select("Training"), data.select("PublicTest")
    keep = slice(0, 64)
    train_set = type(train_set)(train_set.images[keep], train_set.features[keep],
                                train_set.labels[keep], train_set.usage[keep],
                                train_set.ids[keep])
    model = ModelConfig("compact", use_features=True,
                        backbone_options={"widths": [4, 8], "convs_per_block": 1},
                        feature_units=(8,), head_units=(8,))
    config = TrainingConfig.cpu(epochs=2, batch_size=32, mixed_precision=None,
                                augment=AugmentConfig(mode="full"))

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    interrupted = False
    try:
        train(train_set, val_set, model, config, out_dir=run, strategy=strategy,
              callbacks=[Interrupt()], verbose=0)
    except KeyboardInterrupt:
        interrupted = True
    result = train(train_set, val_set, model, config, out_dir=run, resume=True,
                   strategy=strategy, verbose=0)
    document = json.load(open(run + "/config.json"))
    probabilities = predict_proba(load_model(run + "/model.keras"), val_set)
    print(json.dumps({"interrupted": interrupted, "epochs": result.history["epoch"],
                      "loss": result.history["loss"], "backend": document["keras_backend"],
                      "strategy": document["strategy"], "replicas": document["replicas"],
                      "pipeline": document["pipeline"], "shape": list(probabilities.shape)}))
"""


@pytest.mark.slow
def test_train_checkpoints_and_resumes_on_jax(features_file, tmp_path):
    report = run_under("jax", TRAIN, features_file, tmp_path / "run", "default", tmp_path=tmp_path)
    assert report["interrupted"] and report["epochs"] == [1, 2]
    assert np.all(np.isfinite(report["loss"]))
    assert report["backend"] == "jax" and report["pipeline"] == "py"
    assert report["strategy"] == "OneDevice" and report["shape"] == [84, 7]


@pytest.mark.slow
def test_data_parallel_on_two_jax_cpu_devices(features_file, tmp_path):
    report = run_under(
        "jax", TRAIN, features_file, tmp_path / "run", "mirrored", devices=2, tmp_path=tmp_path
    )
    assert report["strategy"] == "DataParallel" and report["replicas"] == 2
    assert report["epochs"] == [1, 2] and np.all(np.isfinite(report["loss"]))
    # 84 validation faces in one batch split over 2 devices: every face predicted
    assert report["shape"] == [84, 7]
