"""Hostile inputs of the feature stage (issue 25): images that have no HOG, CSV files
that fail half way, outputs that are inputs. Real faces, real files, real dlib."""

import os
import re
import shutil

import numpy as np
import pytest

from emonet import LABELS
from emonet.cli.extract_features import main
from emonet.data import DataError
from emonet.features import (
    FeatureExtractor,
    _pipeline,
    extract_to_file,
    load_features,
    sliding_hog,
)
from tests.conftest import write_fer2013_csv


def _extract(source, out, **kwargs):
    return extract_to_file(source, out, jobs=1, progress=False, **kwargs)


def _parts(out):
    return out.with_name(out.name + ".parts")


# --------------------------------------------------------------------------- sliding_hog


def test_a_colour_image_is_refused_not_read_as_a_batch_of_slivers(val_faces):
    colour = np.dstack([val_faces[0][0]] * 3)  # (48, 48, 3): 48 "images" of 48 x 3
    with pytest.raises(ValueError, match=r"colour image .*convert it to grayscale"):
        sliding_hog(colour)
    with pytest.raises(ValueError, match="smaller than one 8x8 HOG cell"):
        sliding_hog(colour[..., :2])


@pytest.mark.parametrize("shape", [(0, 0), (0, 48), (3, 0, 48), (2, 7, 48), (0, 5, 5)])
def test_images_smaller_than_a_cell_are_refused(shape):
    with pytest.raises(ValueError, match=r"smaller than one 8x8 HOG cell.*at least 8x8"):
        sliding_hog(np.zeros(shape, np.uint8))


def test_an_empty_batch_of_faces_still_has_empty_features():
    assert sliding_hog(np.empty((0, 48, 48), np.uint8)).shape == (0, 2592)
    assert sliding_hog(np.empty((0, 48, 48))).shape == (0, 2592)
    assert FeatureExtractor().transform([]).shape == (0, 2728)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_infinite_pixels_are_refused_naming_the_image(val_faces, bad):
    faces = val_faces[0][:3].astype(np.float64)
    faces[2, 20, 30] = bad
    with pytest.raises(ValueError, match="image 2 holds NaN or infinite values"):
        sliding_hog(faces)
    with pytest.raises(ValueError, match="the image holds NaN"):
        sliding_hog(faces[2].astype(np.float32))
    # the other faces are fine, and equal to their uint8 HOG
    np.testing.assert_array_equal(sliding_hog(faces[:2]), sliding_hog(val_faces[0][:2]))


def test_a_window_narrower_than_a_cell_is_refused(val_faces):
    with pytest.raises(ValueError, match=r"window \(4 px\) is smaller than pixels_per_cell"):
        sliding_hog(val_faces[0][0], window=4)
    with pytest.raises(ValueError, match="window"):
        FeatureExtractor(window=4).fit()  # it would give 136 landmark values and no HOG


# --------------------------------------------------------------------------- a CSV that fails


def _csv_bad_at_line_5(tmp_path, val_faces):
    """A fer2013.csv of 12 real faces whose 4th row (line 5) has emotion 9; and the fix."""
    images, labels = val_faces[0][::20][:12], val_faces[1][::20][:12]
    source = write_fer2013_csv(tmp_path / "f.csv", images, labels, ["Training"] * 12)
    good = source.read_text()
    lines = good.splitlines(keepends=True)
    lines[4] = "9," + lines[4].split(",", 1)[1]
    source.write_text("".join(lines))
    return source, good


@pytest.mark.parametrize("chunk_size", [1024, 2], ids=["no-chunk-written", "one-chunk-written"])
def test_a_csv_failing_at_line_5_leaves_nothing_and_runs_plainly_once_fixed(
    tmp_path, val_faces, chunk_size
):
    source, good = _csv_bad_at_line_5(tmp_path, val_faces)
    out = tmp_path / "out.h5"
    with pytest.raises(DataError, match="line 5: emotion must be an integer"):
        _extract(source, out, chunk_size=chunk_size)
    # no resume could continue it (the input must change), so nothing is kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.csv"]
    source.write_text(good)
    report = _extract(source, out, chunk_size=chunk_size)  # no --resume, no --overwrite
    assert report.n_faces == 12 and load_features(out).ids.tolist() == [str(i) for i in range(12)]
    assert not _parts(out).exists()


def test_the_command_on_a_bad_then_fixed_csv(tmp_path, val_faces, capsys):
    source, good = _csv_bad_at_line_5(tmp_path, val_faces)
    out = tmp_path / "out.h5"
    assert main([str(source), "-o", str(out), "-q", "-j", "1"]) == 2
    assert "line 5" in capsys.readouterr().err
    source.write_text(good)
    assert main([str(source), "-o", str(out), "-q", "-j", "1"]) == 0
    assert len(load_features(out)) == 12


def test_a_run_stopped_before_its_first_chunk_leaves_nothing(monkeypatch, tmp_path, val_faces):
    images, labels = val_faces[0][:6], val_faces[1][:6]
    source = write_fer2013_csv(tmp_path / "f.csv", images, labels, ["Training"] * 6)

    def stop(*args):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(_pipeline, "_extract_chunk", stop)
        with pytest.raises(KeyboardInterrupt):
            _extract(source, tmp_path / "out.h5", chunk_size=4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.csv"]


def test_a_part_folder_without_chunks_does_not_block_a_plain_run(tmp_path, val_faces):
    # what a run killed (SIGKILL: no clean-up) before its first chunk leaves
    images, labels = val_faces[0][:6], val_faces[1][:6]
    source = write_fer2013_csv(tmp_path / "f.csv", images, labels, ["Training"] * 6)
    parts = _parts(tmp_path / "out.h5")
    parts.mkdir()
    (parts / "manifest.json").write_text('{"input": "elsewhere.csv", "chunk_size": 3}')
    (parts / "input.json").write_text('{"size": 1, "sha256": "0"}')
    (parts / ".chunk_000000.npz.0123abcd.tmp").write_bytes(b"half")
    assert _extract(source, tmp_path / "out.h5").n_faces == 6
    assert not parts.exists()


def test_a_part_folder_with_chunks_is_still_kept_for_resume(monkeypatch, tmp_path, val_faces):
    images, labels = val_faces[0][:6], val_faces[1][:6]
    source = write_fer2013_csv(tmp_path / "f.csv", images, labels, ["Training"] * 6)
    extract_chunk = _pipeline._extract_chunk

    def stop_at_second(index, *args):
        if index == 1:
            raise KeyboardInterrupt
        return extract_chunk(index, *args)

    with monkeypatch.context() as patch:
        patch.setattr(_pipeline, "_extract_chunk", stop_at_second)
        with pytest.raises(KeyboardInterrupt):
            _extract(source, tmp_path / "out.h5", chunk_size=3)
    with pytest.raises(FileExistsError, match="--resume"):
        _extract(source, tmp_path / "out.h5", chunk_size=3)
    assert _extract(source, tmp_path / "out.h5", chunk_size=3, resume=True).resumed_chunks == 1


# --------------------------------------------------------------------------- output = input


def test_the_csv_itself_as_output_is_refused_and_kept(tmp_path, fer_csv):
    source = tmp_path / "self.csv"
    shutil.copy(fer_csv, source)
    before = source.read_bytes()
    with pytest.raises(ValueError, match="is the input file"):
        _extract(source, source, overwrite=True)
    # through links: a link to the input as output, the input through a linked folder
    (tmp_path / "link.h5").symlink_to(source)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "back").symlink_to(tmp_path, target_is_directory=True)
    for input_path, output in [
        (source, tmp_path / "link.h5"),
        (tmp_path / "sub" / "back" / "self.csv", source),
        (source, tmp_path / "sub" / "back" / "self.csv"),
    ]:
        with pytest.raises(ValueError, match="is the input file"):
            _extract(input_path, output, overwrite=True)
    assert source.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.h5", "self.csv", "sub"]


def test_the_command_refuses_the_csv_as_its_output_in_one_line(tmp_path, fer_csv, capsys):
    source = tmp_path / "self.csv"
    shutil.copy(fer_csv, source)
    before = source.read_bytes()
    assert main([str(source), "-o", str(source), "--overwrite", "-q"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("emonet-extract-features: error: output ") and "\n" not in error
    assert "choose another output file" in error
    assert source.read_bytes() == before


@pytest.fixture
def folder(tmp_path, val_files):
    """A <label>/<image> folder of 14 real faces."""
    root = tmp_path / "faces"
    for path, label in val_files[::20]:
        (root / LABELS[label]).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, root / LABELS[label] / path.name)
    return root


def test_an_output_inside_an_input_folder_is_refused(tmp_path, folder):
    image = sorted((folder / "happy").iterdir())[0]
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    (tmp_path / "linked").symlink_to(folder, target_is_directory=True)
    for output in [
        image,  # an image of the input
        folder / "features.h5",  # OUTPUT.parts/ would read as a label folder next time
        folder / "happy" / "features.h5",
        tmp_path / "linked" / "features.h5",  # the same folder through a link
        folder,  # the folder itself
    ]:
        with pytest.raises(ValueError, match=re.escape(f"input folder {folder}")):
            _extract(folder, output, overwrite=True)
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
    # beside the folder is fine
    assert _extract(folder, tmp_path / "features.h5").n_faces == len(before)


def test_an_input_inside_the_output_or_its_parts_is_refused(tmp_path, fer_csv):
    # --overwrite removes OUTPUT.parts/ and replaces OUTPUT: never with the input inside
    inside = tmp_path / "out.h5.parts" / "f.csv"
    inside.parent.mkdir()
    shutil.copy(fer_csv, inside)
    with pytest.raises(ValueError, match=r"input .*f\.csv lies inside .*out\.h5\.parts"):
        _extract(inside, tmp_path / "out.h5", overwrite=True)
    assert inside.read_bytes() == fer_csv.read_bytes()
    with pytest.raises(ValueError, match="lies inside"):
        _extract(inside, inside.parent, overwrite=True)
    assert inside.exists() and os.listdir(inside.parent) == ["f.csv"]
