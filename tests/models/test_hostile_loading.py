"""Hostile model files (issue 25): each is refused when it loads, in one line naming it.

Real tiny networks, saved by :func:`save_model` and quantized by :func:`quantize_model`,
then edited, truncated or corrupted as a hostile or broken copy would be: labels in
another order, feature settings no extractor computes or that cannot match the network's
features input, a ``.tflite`` cut short or with a damaged header.
"""

from __future__ import annotations

import json
import re
import time
import zipfile

import cv2
import numpy as np
import pytest

from emonet import FEATURE_SIZE, LABELS
from emonet.features import FeatureExtractor
from emonet.models import (
    build_model,
    load_lite_model,
    load_model,
    quantize_model,
    read_model_info,
    save_model,
)
from tests.conftest import tiny_config

CONFIG = tiny_config("compact_features")


@pytest.fixture(scope="module")
def fused_model():
    """An untrained two-branch network: a face and the 2,728 features."""
    import keras

    keras.utils.set_random_seed(5)
    return build_model(CONFIG)


@pytest.fixture(scope="module")
def lite_content(fused_model) -> bytes:
    """The int8 ``.tflite`` bytes of ``fused_model``, calibrated on 16 random faces."""
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (16, 48, 48), dtype=np.uint8)
    features = rng.normal(size=(16, FEATURE_SIZE)).astype(np.float32)
    return quantize_model(fused_model, faces, features, max_faces=16).content


def _keras_file(model, path, **record_changes):
    """``model`` saved by save_model, its emonet.json then rewritten with the changes."""
    save_model(model, path, model_config=CONFIG)
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    record = json.loads(entries["emonet.json"])
    for key, value in record_changes.items():
        if key in record["feature_settings"]:
            record["feature_settings"][key] = value
        else:
            record[key] = value
    entries["emonet.json"] = json.dumps(record).encode()
    path.unlink()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def _lite_file(content: bytes, path, old: bytes = b"", new: bytes = b""):
    """The .tflite bytes written to ``path``, ``old`` replaced by ``new`` of the same
    length in emonet's record: the edit a hand or a hostile tool makes to the file."""
    if old:
        assert len(old) == len(new) and content.count(old) == 1, old
        content = content.replace(old, new)
    path.write_bytes(content)
    return path


# ------------------------------------------------------------------ defect 15: label order

SWAPPED = ["disgust", "angry", *LABELS[2:]]


def test_a_keras_record_with_labels_in_another_order_is_refused(fused_model, tmp_path):
    path = _keras_file(fused_model, tmp_path / "swapped.keras", labels=SWAPPED)
    with pytest.raises(ValueError) as caught:
        load_model(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: its outputs are labelled")
    assert str(SWAPPED) in message and str(list(LABELS)) in message  # both orders
    assert "\n" not in message
    # another label set (a dataset of 8 expressions) is refused the same way
    path = _keras_file(fused_model, tmp_path / "eight.keras", labels=[*LABELS, "contempt"])
    with pytest.raises(ValueError, match=r"eight.keras: its outputs are labelled .*contempt"):
        load_model(path)


def test_a_tflite_record_with_labels_in_another_order_is_refused(lite_content, tmp_path):
    path = _lite_file(
        lite_content, tmp_path / "swapped.tflite", b'"angry", "disgust"', b'"disgust", "angry"'
    )
    with pytest.raises(ValueError) as caught:
        load_lite_model(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: its outputs are labelled")
    assert str(SWAPPED) in message and str(list(LABELS)) in message


# ------------------------------------------------- defect 16: the record checked on load


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"step": 0}, "step must be a positive integer, got 0"),
        ({"step": 1.5}, "step must be a positive integer, got 1.5"),
        ({"block_norm": "L3"}, "block_norm must be one of"),
        ({"orientations": "8"}, "orientations must be a positive integer, got '8'"),
        ({"landmark_model": "other.dat"}, "landmark model 'other.dat'"),
    ],
    ids=["step-0", "step-1.5", "block-norm", "string", "landmark-model"],
)
def test_keras_feature_settings_no_extractor_computes_are_refused_on_load(
    fused_model, tmp_path, change, message
):
    path = _keras_file(fused_model, tmp_path / "bad.keras", **change)
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: .*{message}") as caught:
        load_model(path)
    assert "\n" not in str(caught.value)
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: "):
        read_model_info(path)


def test_keras_settings_that_cannot_match_the_features_input_are_refused_at_once(
    fused_model, tmp_path
):
    # step 1: 78,544 values per face, made by seconds of HOG per face before the first
    # prediction failed on the width, naming no file; now refused as the file loads
    path = _keras_file(fused_model, tmp_path / "wide.keras", step=1)
    start = time.perf_counter()
    with pytest.raises(ValueError) as caught:
        load_model(path)
    assert time.perf_counter() - start < 10
    message = str(caught.value)
    assert message.startswith(f"{path}: its feature settings (window=24, step=1,")
    assert f"give {FeatureExtractor(step=1).n_features_out} values per face" in message
    assert f"features input takes {FEATURE_SIZE}" in message
    # 1-pixel cells in whole-face windows: 11 million values, counted without the
    # extractor's cell layout (minutes to build)
    path = _keras_file(fused_model, tmp_path / "huge.keras", window=48, step=1, pixels_per_cell=1)
    start = time.perf_counter()
    with pytest.raises(ValueError, match=f"give {136 + 1176**2 * 8} values per face"):
        load_model(path)
    assert time.perf_counter() - start < 10
    path = _keras_file(fused_model, tmp_path / "nine.keras", orientations=9)
    with pytest.raises(ValueError, match=f"nine.keras: .*give {136 + 324 * 9} values"):
        load_model(path)


def test_save_model_refuses_settings_that_cannot_match_the_features_input(fused_model, tmp_path):
    with pytest.raises(ValueError, match=f"give {136 + 324 * 9} values per face"):
        save_model(
            fused_model, tmp_path / "m.keras", feature_config=FeatureExtractor(orientations=9)
        )
    assert not (tmp_path / "m.keras").exists()
    # settings of the same width are the model's to record
    path = save_model(fused_model, tmp_path / "m.keras", feature_config={"block_norm": "L1"})
    assert load_model(path).emonet_info.feature_settings["block_norm"] == "L1"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (b'"step": 6', b'"step": 0', "step must be a positive integer, got 0"),
        (b'"orientations": 8', b'"orientations": 9', f"give {136 + 324 * 9} values per face"),
    ],
    ids=["step-0", "orientations-9"],
)
def test_tflite_feature_settings_are_checked_on_load(lite_content, tmp_path, old, new, message):
    path = _lite_file(lite_content, tmp_path / "bad.tflite", old, new)
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: .*{message}") as caught:
        load_lite_model(path)
    assert "\n" not in str(caught.value)


def test_the_unedited_files_load(fused_model, lite_content, tmp_path):
    # the edits above, not the helpers, make the files hostile
    assert load_model(_keras_file(fused_model, tmp_path / "m.keras")).emonet_info.labels == LABELS
    lite = load_lite_model(_lite_file(lite_content, tmp_path / "m.tflite"))
    assert lite.feature_width == FEATURE_SIZE and lite.num_classes == len(LABELS)


# ------------------------------------------------- defect 17: unreadable .tflite files


def _damaged(content: bytes, how: str) -> bytes:
    if how == "half":
        return content[: len(content) // 2]
    if how == "last-bytes":
        return content[:-10]
    if how == "header-only":
        return content[:8]
    if how == "root-offset":  # the first four bytes: where the model's table starts
        return b"\xff\xff\xff\x7f" + content[4:]
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["half", "last-bytes", "header-only", "root-offset"])
def test_a_truncated_or_corrupted_tflite_gives_one_line_naming_it(lite_content, tmp_path, how):
    path = tmp_path / f"{how}.tflite"
    path.write_bytes(_damaged(lite_content, how))
    with pytest.raises(ValueError) as caught:
        load_lite_model(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: not a complete LiteRT flatbuffer (truncated or corrupted")
    assert message.endswith("quantize the .keras model again with emonet-quantize")
    assert "\n" not in message


def test_the_commands_report_a_damaged_tflite_in_one_line(lite_content, tmp_path, capsys):
    from emonet.cli.evaluate import main as evaluate
    from emonet.cli.predict import main as predict

    model = tmp_path / "cut.tflite"
    model.write_bytes(_damaged(lite_content, "half"))
    features = tmp_path / "faces.h5"
    features.write_bytes(b"")  # never read: the model fails first
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), np.zeros((64, 64, 3), np.uint8))
    expected = f"error: {model}: not a complete LiteRT flatbuffer"
    for command, argv in [
        (evaluate, [model, features, "-o", tmp_path / "p.npz"]),
        (predict, [photo, "--models", model, "--quiet"]),
    ]:
        assert command([str(a) for a in argv]) == 2
        err = capsys.readouterr().err
        assert expected in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1, err


def test_the_commands_report_a_keras_file_with_other_labels_in_one_line(
    fused_model, tmp_path, capsys
):
    from emonet.cli.evaluate import main as evaluate
    from emonet.cli.quantize import main as quantize

    model = _keras_file(fused_model, tmp_path / "swapped.keras", labels=SWAPPED)
    features = tmp_path / "faces.h5"
    features.write_bytes(b"")
    for command, argv in [
        (evaluate, [model, features, "-o", tmp_path / "p.npz"]),
        (quantize, [model, features]),
    ]:
        assert command([str(a) for a in argv]) == 2
        err = capsys.readouterr().err
        assert f"error: {model}: its outputs are labelled" in err
        assert len(err.strip().splitlines()) == 1, err


def test_a_tflite_record_with_a_damaged_feature_normalisation_is_refused(lite_content, tmp_path):
    # the features' mean and std run in float beside the network: a wrong key would fail
    # at the first prediction, naming no file
    path = _lite_file(lite_content, tmp_path / "norm.tflite", b'"std": [', b'"sdt": [')
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: damaged emonet record"):
        load_lite_model(path)
