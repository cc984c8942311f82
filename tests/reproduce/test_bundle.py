"""The compact bundle: what it packs, and features recomputed from it equal the extracted."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emonet import LABELS
from emonet.features import extract_to_file, load_features
from emonet.reproduce import BundleReport, load_bundle, pack_bundle, stratified_rows

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory, fer_root) -> Path:
    """A FER2013 image-folder release of 4 Training and 2 PublicTest JPEGs per label."""
    root = tmp_path_factory.mktemp("fer") / "fer2013"
    for split, count in (("train", 4), ("val", 2)):
        for name in LABELS:
            (root / split / name).mkdir(parents=True)
            for path in sorted((fer_root / split / name).glob("*.jpg"))[:count]:
                shutil.copy(path, root / split / name / path.name)
    return root


@pytest.fixture(scope="module")
def extracted(image_folder, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("h5") / "features.h5"
    extract_to_file(image_folder, path, jobs=1, progress=False)
    return path


def test_bundle_of_an_image_folder_keeps_the_jpeg_bytes_and_recomputes_equal_features(
    image_folder, extracted, tmp_path
):
    report = pack_bundle(image_folder, tmp_path / "b.npz", features=extracted)
    expected = load_features(extracted)
    assert isinstance(report, BundleReport)
    assert (report.faces, report.jpeg_faces, report.png_faces) == (len(expected), 42, 0)
    assert report.usage_counts == {"Training": 28, "PublicTest": 14}
    jpeg_bytes = sum(p.stat().st_size for p in image_folder.rglob("*.jpg"))
    assert report.bytes < jpeg_bytes + 42 * 68 * 2 * 2 + 4096  # bytes, landmarks, header

    data = load_bundle(report.path)
    np.testing.assert_array_equal(data.images, expected.images)
    np.testing.assert_array_equal(data.hog, expected.hog)  # exact: the same pixels
    np.testing.assert_allclose(data.landmarks, expected.landmarks, atol=1 / 16)
    np.testing.assert_array_equal(data.labels, expected.labels)
    np.testing.assert_array_equal(data.usage, expected.usage)
    np.testing.assert_array_equal(data.ids, expected.ids)
    assert data.features.shape == (42, 2728) and data.features.dtype == np.float32


def test_bundle_of_a_csv_is_png_and_extracts_first(fer_csv, tmp_path):
    report = pack_bundle(fer_csv, tmp_path / "b.npz", usage=["Training", "PublicTest"])
    assert report.png_faces == report.faces and report.jpeg_faces == 0
    assert set(report.usage_counts) == {"Training", "PublicTest"}
    data = load_bundle(report.path, usage="PublicTest")
    assert set(data.usage) == {"PublicTest"} and len(data) == report.usage_counts["PublicTest"]
    with pytest.raises(FileExistsError, match="overwrite"):
        pack_bundle(fer_csv, report.path)


def test_load_bundle_picks_faces_per_label(image_folder, extracted, tmp_path):
    path = pack_bundle(image_folder, tmp_path / "b.npz", features=extracted).path
    data = load_bundle(path, faces_per_label={"Training": 2}, seed=1)
    assert set(data.usage) == {"Training"}
    assert np.bincount(data.labels, minlength=7).tolist() == [2] * 7
    full = load_bundle(path)
    rows = np.flatnonzero(np.isin(full.ids, data.ids))
    np.testing.assert_array_equal(full.features[rows], data.features)


def test_load_bundle_refuses_other_files(tmp_path):
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="not an emonet bundle"):
        load_bundle(tmp_path / "other.npz")
    with pytest.raises(FileNotFoundError):
        load_bundle(tmp_path / "missing.npz")


def test_stratified_rows_caps_each_label_of_each_usage():
    labels = np.array([0, 0, 0, 1, 1, 0, 1])
    usage = np.array(["Training"] * 5 + ["PublicTest"] * 2)
    rows = stratified_rows(labels, usage, {"Training": 1, "PublicTest": 5}, seed=0)
    assert sorted(zip(usage[rows], labels[rows], strict=True)) == sorted(
        [("Training", 0), ("Training", 1), ("PublicTest", 0), ("PublicTest", 1)]
    )
    assert stratified_rows(labels, usage, None).tolist() == list(range(7))


# Makes dlib and TensorFlow look uninstalled, as on a GPU machine with JAX only.
HIDE = """
import sys
class _Hide:
    def __init__(self, finder):
        self.finder = finder
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "dlib"):
            return None
        return self.finder.find_spec(name, path, target)
    def __getattr__(self, name):
        return getattr(self.finder, name)
sys.meta_path[:] = [_Hide(f) for f in sys.meta_path]
"""


@pytest.mark.skipif(
    __import__("importlib").util.find_spec("jax") is None, reason="jax is not installed"
)
def test_bundle_trains_on_jax_without_dlib_or_tensorflow(image_folder, extracted, tmp_path):
    path = pack_bundle(image_folder, tmp_path / "b.npz", features=extracted).path
    script = tmp_path / "script.py"
    script.write_text(
        HIDE
        + "import json, sys, numpy as np\n"
        + "from emonet.reproduce import load_bundle\n"
        + "from emonet.models import variant_config\n"
        + "from emonet.training import TrainingConfig, train\n"
        + f"data = load_bundle({str(path)!r})\n"
        + "config = variant_config('compact_features', backbone_options={'widths': [4, 8]},"
        + " feature_units=(8,), head_units=(8,))\n"
        + "result = train(data.select('Training'), data.select('PublicTest'), config,"
        + " TrainingConfig.cpu(epochs=1, batch_size=14, mixed_precision=None), verbose=0)\n"
        + "np.save(sys.argv[1], data.features)\n"
        + "print(json.dumps({'modules': sorted(m for m in ('dlib', 'tensorflow')"
        + " if m in sys.modules), 'epochs': result.epochs}))\n"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "f.npy")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"modules": [], "epochs": 1}
    expected = load_features(extracted).features
    np.testing.assert_allclose(np.load(tmp_path / "f.npy"), expected, atol=1 / 16)
