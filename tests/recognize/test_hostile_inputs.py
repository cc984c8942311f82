"""Recognizer on hostile input (issue 25): NaN photos, 0-1 float and NaN crops, 16-bit
files, huge images and decompression bombs, folders and bytes as paths, video arguments,
and ensembles whose model names are not the members'."""

from __future__ import annotations

import json
import shutil
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

import emonet
from emonet import _image
from emonet._image import ImageError, read_grayscale
from emonet.ensemble import WeightedEnsemble
from emonet.features import align_faces
from emonet.recognize import Recognizer, read_photo
from tests.recognize.test_recognizer import write_video

ASTRONAUT_BOX = [179, 83, 266, 170]


@pytest.fixture(scope="module")
def recognizer(tiny_models) -> Recognizer:
    """One tiny member (pixels only), no test-time augmentation: quick."""
    return Recognizer(models=tiny_models["paths"][:1], tta="none")


@pytest.fixture(scope="module")
def crops(astronaut) -> np.ndarray:
    """The astronaut's face aligned as FER2013's: (1, 48, 48) uint8."""
    faces, _ = align_faces(astronaut, [ASTRONAUT_BOX])
    return faces


def write_png_header_only(path: Path, width: int, height: int, rows: int = 16) -> Path:
    """A valid 8-bit gray PNG header of ``width`` x ``height`` whose pixel data holds only
    ``rows`` rows: what a decompression bomb shows before it is decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * (rows * (width + 1)), 9)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", pixels)
        + chunk(b"IEND", b"")
    )
    return path


def write_blank_png(path: Path, width: int, height: int) -> Path:
    """A complete 8-bit gray PNG of ``width`` x ``height`` black pixels, written row by
    row (a small file that decodes to ``width * height`` bytes)."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )
    return path


# ---------------------------------------------------------------- 6: NaN photos


@pytest.mark.parametrize("where", ["all", "part"])
def test_nan_photos_are_refused_not_taken_as_faceless(recognizer, astronaut, where):
    photo = np.full((256, 256, 3), np.nan) if where == "all" else astronaut / 255.0
    if where == "part":
        photo[100:120, 100:120] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        recognizer.predict(photo)
    with pytest.raises(ValueError, match="NaN"):
        recognizer.predict([astronaut, photo])
    with pytest.raises(ValueError, match="NaN"):
        read_photo(photo)


# --------------------------------------------------- 7: crops follow the photos' rule


def test_float_crops_in_0_1_read_as_their_uint8_twins(recognizer, crops):
    expected = recognizer.predict_crops(crops)
    np.testing.assert_allclose(recognizer.predict_crops(crops / 255.0), expected, atol=1e-6)
    np.testing.assert_allclose(
        recognizer.predict_crops((crops / 255.0).astype(np.float32)), expected, atol=1e-6
    )
    # and as the photo they were cut from, given as floats in [0, 1], is read
    assert np.array_equal(read_photo(crops[0] / 255.0), crops[0])


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda c: c.astype(np.float64), r"\[0, 1\]"),  # 0-255 floats: ambiguous, refused
        (lambda c: np.where(c > 100, np.nan, c / 255.0), "NaN"),
        (lambda c: np.full(c.shape, np.inf), "NaN or infinite"),
        (lambda c: c.astype(np.int16) - 1, "negative"),
        (lambda c: c > 100, "numbers"),
    ],
)
def test_crops_no_photo_could_hold_are_refused(recognizer, crops, make, message):
    with pytest.raises(ValueError, match=message):
        recognizer.predict_crops(make(crops))


# ------------------------------------------------- 9: one normalisation for 16-bit files


@pytest.mark.parametrize("bits", [12, 16])
def test_16_bit_png_reads_as_its_8_bit_photo(recognizer, astronaut, tmp_path, bits):
    deep = np.rint(astronaut.astype(np.float64) * (2**bits - 1) / 255).astype(np.uint16)
    path = tmp_path / f"astronaut_{bits}bit.png"
    assert cv2.imwrite(str(path), cv2.cvtColor(deep, cv2.COLOR_RGB2BGR))
    photo = read_photo(path)
    assert photo.dtype == np.uint8 and photo.shape == astronaut.shape
    assert np.abs(photo.astype(int) - astronaut).max() <= 1
    # the same values as the features stage reads the file with (BGR order there)
    gray = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
    assert np.abs(gray.astype(int) - read_grayscale(path)).max() <= 1
    # and the same as the array itself, given to predict
    assert np.array_equal(read_photo(deep), photo)
    (result,) = recognizer.predict(path)
    assert any(list(face.box) == ASTRONAUT_BOX for face in result.faces)


def test_gray_and_rgba_files_keep_reading(astronaut, tmp_path):
    gray = cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY)
    cv2.imwrite(str(tmp_path / "gray.png"), gray)
    photo = read_photo(tmp_path / "gray.png")  # gray (H, W) now; RGB of three grays before
    assert np.array_equal(photo if photo.ndim == 2 else photo[:, :, 0], gray)
    rgba = np.dstack([cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR), np.full(gray.shape, 255)])
    cv2.imwrite(str(tmp_path / "rgba.png"), rgba.astype(np.uint8))
    assert np.array_equal(read_photo(tmp_path / "rgba.png"), astronaut)


# ------------------------------------------- huge photos and bombs: refused from the header


def test_huge_photo_is_refused_before_it_is_decoded(tmp_path):
    assert _image.MAX_IMAGE_PIXELS == 100_000_000
    huge = write_blank_png(tmp_path / "huge.png", 12_000, 12_000)
    assert huge.stat().st_size < 1_000_000  # a small file: 144 megapixels once decoded
    with pytest.raises(ValueError, match=r"huge.png: 12000x12000 pixels .*100,000,000"):
        read_photo(huge)
    # the features stage reads files through the same gate
    with pytest.raises(ImageError, match="12000x12000 pixels"):
        read_grayscale(huge)


def test_decompression_bomb_is_refused_naming_its_size(tmp_path):
    bomb = write_png_header_only(tmp_path / "bomb.png", 60_000, 60_000)
    with pytest.raises(ValueError, match=r"bomb.png: 3,600,000,000 pixels"):
        read_photo(bomb)
    with pytest.raises(ImageError, match="3,600,000,000 pixels"):
        read_grayscale(bomb)


def test_photo_within_the_budget_still_reads(tmp_path):
    path = write_blank_png(tmp_path / "wide.png", 4_000, 3_000)
    assert read_photo(path).shape[:2] == (3_000, 4_000)


# ---------------------------------------------------- 10: video arguments checked at once


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"batch_frames": 0}, "batch_frames must be a positive integer, got 0"),
        ({"batch_frames": -1}, "batch_frames must be a positive integer, got -1"),
        ({"batch_frames": 2.5}, "batch_frames must be a positive integer"),
        ({"batch_frames": True}, "batch_frames must be a positive integer"),
        ({"every": 0}, "every must be a positive integer"),
        ({"every": 1.5}, "every must be a positive integer"),
    ],
)
def test_video_arguments_are_checked_when_called(
    recognizer, astronaut, tmp_path, arguments, message
):
    clip = write_video(tmp_path / "clip.mp4", [astronaut] * 2)
    # at the call, not on the first frame: all frames held in memory was the cost
    with pytest.raises(ValueError, match=message):
        recognizer.predict_video(clip, **arguments)


def test_video_batches_of_one_frame(recognizer, astronaut, tmp_path):
    clip = write_video(tmp_path / "clip.mp4", [astronaut] * 3)
    frames = list(recognizer.predict_video(clip, batch_frames=1))
    assert [frame.index for frame in frames] == [0, 1, 2]


# --------------------------------------------------------- 11: folders and bytes as paths


def test_folder_is_named_as_a_folder(recognizer, tmp_path):
    folder = tmp_path / "photos.jpg"
    folder.mkdir()
    # predict reads a folder's photos (none here: said, not silent); a photo's reader
    # and detect name a folder as one
    for given in (folder, str(folder), bytes(folder)):
        with pytest.warns(UserWarning, match="photos.jpg: no photo files in this folder"):
            assert recognizer.predict(given) == []
    with pytest.raises(IsADirectoryError, match="photos.jpg: a folder, not an image file"):
        read_photo(folder)
    with pytest.raises(IsADirectoryError, match="a folder, not an image file"):
        recognizer.detect(str(folder))
    with pytest.raises(IsADirectoryError, match="photos.jpg: a folder, not a video file"):
        recognizer.predict_video(folder)
    with pytest.raises(IsADirectoryError, match="a folder, not a video file"):
        emonet.recognize.video_info(folder)


def test_bytes_path_is_a_path(recognizer, astronaut, tmp_path):
    path = tmp_path / "astro.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    (by_str,) = recognizer.predict(str(path))
    (by_bytes,) = recognizer.predict(bytes(path))
    assert [face.box for face in by_bytes.faces] == [face.box for face in by_str.faces]
    assert by_bytes.source == by_str.source == str(path)  # a path's source is a str
    assert by_str.faces  # the astronaut was found
    results = recognizer.predict([bytes(path), path])
    assert [len(result.faces) for result in results] == [len(by_str.faces)] * 2
    with pytest.raises(FileNotFoundError, match="nothing.jpg: no such image file"):
        recognizer.predict(bytes(tmp_path / "nothing.jpg"))
    with pytest.raises(ValueError, match="a photo .* or a list of them, got int"):
        recognizer.predict(5)


# ------------------------------------------------------- 14: ensembles matched by name


def _ensemble(path: Path, names: list[str]) -> tuple[Path, np.ndarray]:
    """An ensemble fitted on two models' probabilities (the first the better), saved with
    ``names``; returns its path and weights."""
    rng = np.random.default_rng(1)
    y = rng.integers(0, 7, 70)
    good = np.eye(7)[y] * 0.6 + rng.dirichlet(np.ones(7), 70) * 0.4
    noise = rng.dirichlet(np.ones(7), 70)
    ensemble = WeightedEnsemble(random_state=0).fit([good, noise], y, model_names=names)
    assert not np.isclose(ensemble.weights_[0], ensemble.weights_[1])
    return ensemble.save(path), ensemble.weights_


def test_ensemble_of_other_models_is_refused(tiny_models, tmp_path):
    paths = tiny_models["paths"]  # compact.keras, compact_features.keras
    ensemble, _ = _ensemble(tmp_path / "ensemble.json", ["x", "y"])
    with pytest.raises(ValueError, match=r"ensemble.json: the ensemble weighs models x, y"):
        Recognizer(models=paths, ensemble=ensemble)
    # and given as an object
    with pytest.raises(ValueError, match="the members are compact, compact_features"):
        Recognizer(models=paths, ensemble=WeightedEnsemble.load(ensemble))


def test_ensemble_weights_go_to_the_members_they_name(tiny_models, tmp_path):
    pixels, fused = tiny_models["paths"]
    ensemble, weights = _ensemble(tmp_path / "ensemble.json", [fused.stem, pixels.stem])
    recognizer = Recognizer(models=[pixels, fused], ensemble=ensemble)
    np.testing.assert_allclose(recognizer.weights_, weights[::-1] / weights.sum())
    in_order = Recognizer(models=[fused, pixels], ensemble=ensemble)
    np.testing.assert_allclose(in_order.weights_, weights / weights.sum())


def test_ensemble_names_match_run_folders_and_loaded_models(tiny_models, tmp_path):
    pixels, fused = tiny_models["paths"]
    for name, source in (("a", pixels), ("b", fused)):
        (tmp_path / "runs" / name).mkdir(parents=True)
        shutil.copyfile(source, tmp_path / "runs" / name / "model.keras")
    ensemble, weights = _ensemble(tmp_path / "ensemble.json", ["b", "a"])
    runs = [tmp_path / "runs" / "a", tmp_path / "runs" / "b"]
    expected = weights[::-1] / weights.sum()
    np.testing.assert_allclose(Recognizer(models=runs, ensemble=ensemble).weights_, expected)
    files = [run / "model.keras" for run in runs]
    np.testing.assert_allclose(Recognizer(models=files, ensemble=ensemble).weights_, expected)
    # loaded models answer to their own names (emonet-evaluate's default --name)
    loaded = Recognizer(models=[pixels, fused]).models_
    by_model, weights = _ensemble(tmp_path / "by_model.json", ["compact_features", "compact"])
    np.testing.assert_allclose(
        Recognizer(models=loaded, ensemble=by_model).weights_, weights[::-1] / weights.sum()
    )


def test_ensemble_fitted_without_names_is_taken_in_order(tiny_models, tmp_path):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 7, 70)
    probabilities = [np.eye(7)[y] * 0.6 + 0.4 / 7, rng.dirichlet(np.ones(7), 70)]
    ensemble = WeightedEnsemble(random_state=0).fit(probabilities, y)
    assert ensemble.model_names_ == ["model_0", "model_1"]
    recognizer = Recognizer(models=tiny_models["paths"], ensemble=ensemble)
    np.testing.assert_allclose(recognizer.weights_, ensemble.weights_ / ensemble.weights_.sum())


def test_bundled_presets_name_their_members():
    from emonet.recognize import load_preset_config, preset_path

    for name in emonet.list_presets():
        folder = preset_path(name)
        config = load_preset_config(folder)
        if config["ensemble"]:
            saved = json.loads((folder / config["ensemble"]).read_text())
            names = [model["name"] for model in saved["models"]]
            assert names == [Path(member).stem for member in config["members"]]
            weights = np.array([model["weight"] for model in saved["models"]])
            np.testing.assert_allclose(Recognizer(name).weights_, weights / weights.sum())
        else:
            assert len(Recognizer(name).models_) == 1
