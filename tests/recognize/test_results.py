"""One result per photo, one vocabulary (issue 25): PhotoResult, folders given to
predict, find_inputs, the versioned JSON document, detection_score and its deprecated
name, the HOG settings' one home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import cv2
import numpy as np
import pytest

from emonet import LABELS
from emonet.models import ModelInfo, feature_settings
from emonet.recognize import (
    PHOTO_EXTENSIONS,
    ROW_COLUMNS,
    VIDEO_EXTENSIONS,
    Face,
    FrameResult,
    PhotoResult,
    Recognizer,
    VideoResult,
    annotate,
    find_inputs,
    results_document,
    video_info,
)
from tests.recognize.test_recognizer import write_video


@pytest.fixture(scope="module")
def recognizer(tiny_models) -> Recognizer:
    """One tiny member (pixels only), no test-time augmentation: quick."""
    return Recognizer(models=tiny_models["paths"][:1], tta="none")


def _write(path, rgb):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory, astronaut, two_faces, no_face):
    """photos/: b.jpg (astronaut), a/two.PNG (two faces), a/c/coffee.jpg, a clip, a note."""
    root = tmp_path_factory.mktemp("results") / "photos"
    _write(root / "b.jpg", astronaut)
    _write(root / "a" / "two.PNG", two_faces)
    _write(root / "a" / "c" / "coffee.jpg", no_face)
    write_video(root / "clip.mp4", [astronaut] * 2)
    (root / "notes.txt").write_text("not a photo")
    return root


# ------------------------------------------------------------- one result per photo


def test_a_photo_result_per_photo_with_its_source_and_size(recognizer, folder, astronaut):
    path = folder / "b.jpg"
    results = recognizer.predict([path, astronaut, str(path)])
    assert all(isinstance(result, PhotoResult) for result in results)
    assert [r.source for r in results] == [str(path), None, str(path)]
    assert [(r.width, r.height) for r in results] == [(512, 512)] * 3
    assert all(r.image is None for r in results)  # not kept unless asked
    result = results[0]
    # a result holds its faces as a list does
    assert len(result) == len(result.faces) == 1
    assert list(result) == result.faces and result[0] is result.faces[0]
    assert result.to_rows() == [result.faces[0].to_row(str(path), face=0)]
    assert results[1].to_rows()[0]["source"] == ""
    document = json.loads(json.dumps(result.to_dict()))
    assert set(document) == {"source", "width", "height", "faces"}
    assert document["source"] == str(path) and document["faces"][0]["box"] == [179, 83, 266, 170]
    assert results[1].to_dict()["source"] is None


def test_older_code_asking_a_face_of_the_result_is_told_where_faces_went(recognizer, astronaut):
    (result,) = recognizer.predict(astronaut)
    with pytest.raises(AttributeError, match=r"one PhotoResult per photo.*result.faces\[0\].box"):
        result.box  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        result.nothing  # noqa: B018


def test_plot_and_save_draw_the_kept_or_re_read_photo(recognizer, folder, astronaut, tmp_path):
    path = folder / "b.jpg"
    (kept,) = recognizer.predict(path, keep_images=True)
    assert kept.image.shape == (512, 512, 3)
    expected = annotate(kept.image, kept.faces)
    np.testing.assert_array_equal(kept.plot(), expected)
    # without the image, a file is read again
    (read_again,) = recognizer.predict(path)
    np.testing.assert_array_equal(read_again.plot(), expected)
    saved = read_again.save(tmp_path / "out" / "b.png")
    np.testing.assert_array_equal(cv2.imread(str(saved))[:, :, ::-1], expected)
    # an array's result needs keep_images=True to be drawn
    (array_result,) = recognizer.predict(astronaut)
    with pytest.raises(ValueError, match=r"keep_images=True"):
        array_result.plot()
    (array_kept,) = recognizer.predict(astronaut, keep_images=True)
    assert array_kept.plot().shape == astronaut.shape
    # a file that changed since is not drawn on
    moved = _write(tmp_path / "moved.jpg", astronaut)
    (stale,) = recognizer.predict(moved)
    _write(moved, astronaut[:256])
    with pytest.raises(ValueError, match=r"moved.jpg: now 512x256 pixels, not the 512x512"):
        stale.plot()


# ------------------------------------------------------------- folders, from Python


def test_a_folder_gives_its_photos_recursively_sorted_videos_left_out(recognizer, folder):
    with pytest.warns(UserWarning, match=r"photos: 1 video file\(s\) left out .*predict_video"):
        results = recognizer.predict(folder)
    names = [os.path.relpath(r.source, folder) for r in results]
    assert names == ["a/c/coffee.jpg", "a/two.PNG", "b.jpg"]
    assert [len(r.faces) for r in results] == [0, 2, 1]
    # the same files, in the same order, as find_inputs (and so emonet-predict) reads
    photos, videos, _ = find_inputs(folder)
    assert [r.source for r in results] == [str(p) for p in photos]
    assert [v.name for v in videos] == ["clip.mp4"]
    # a folder among photos stands where it is given
    mixed = recognizer.predict([folder / "b.jpg", str(folder / "a")])
    assert [os.path.relpath(r.source, folder) for r in mixed] == [
        "b.jpg",
        "a/c/coffee.jpg",
        "a/two.PNG",
    ]


def test_a_folder_without_photos_and_boxes_for_a_folder(recognizer, folder, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.warns(UserWarning, match=r"empty: no photo files in this folder \(suffixes"):
        assert recognizer.predict(tmp_path / "empty") == []
    with pytest.raises(ValueError, match="boxes cannot be given for a folder"):
        recognizer.predict(folder, boxes=[[0, 0, 10, 10]])
    with pytest.raises(ValueError, match="boxes cannot be given for a folder"):
        recognizer.predict([folder / "b.jpg", folder], boxes=[[[179, 83, 266, 170]], []])
    # boxes still go with each photo of a list
    results = recognizer.predict(
        [folder / "b.jpg", folder / "a" / "two.PNG"], boxes=[[[179, 83, 266, 170]], []]
    )
    assert [len(r.faces) for r in results] == [1, 0]
    assert np.isnan(results[0].faces[0].detection_score)


def test_find_inputs_sorts_dedups_and_names_what_it_skips(folder, tmp_path):
    assert ".jpg" in PHOTO_EXTENSIONS and ".mp4" in VIDEO_EXTENSIONS
    assert not set(PHOTO_EXTENSIONS) & set(VIDEO_EXTENSIONS)
    link = tmp_path / "link.jpg"
    link.symlink_to(folder / "b.jpg")
    photos, videos, skipped = find_inputs(
        [folder / "b.jpg", folder, link, folder / "notes.txt", os.fsencode(folder / "clip.mp4")]
    )
    # b.jpg first, where it is first named; once, however often named
    assert [p.relative_to(folder).as_posix() for p in photos] == [
        "b.jpg",
        "a/c/coffee.jpg",
        "a/two.PNG",
    ]
    assert videos == [folder / "clip.mp4"]
    assert skipped == [f"{folder / 'notes.txt'}: not an image or video file (.txt)"]
    (tmp_path / "empty").mkdir()
    assert find_inputs(tmp_path / "empty") == (
        [],
        [],
        [f"{tmp_path / 'empty'}: no image or video files in this folder"],
    )
    with pytest.raises(FileNotFoundError, match="missing.jpg: no such file or folder"):
        find_inputs([folder, tmp_path / "missing.jpg"])


def test_the_light_names_do_not_start_keras():
    code = (
        "import sys\n"
        "from emonet.recognize import find_inputs, results_document, PhotoResult, read_photo\n"
        "light = 'keras' not in sys.modules and 'tensorflow' not in sys.modules\n"
        "import emonet.recognize as r\n"
        "print(light, r.Recognizer.__name__, 'keras' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "Recognizer", "True"]


# ------------------------------------------------------------- the JSON document


def test_results_document_schema(recognizer, folder, astronaut):
    photos = recognizer.predict([folder / "b.jpg", astronaut])
    clip = folder / "clip.mp4"
    info = video_info(clip)
    frames = list(recognizer.predict_video(clip))
    video = VideoResult(str(clip), info["fps"], info["frames"], every=1, frames=frames)
    document = json.loads(json.dumps(results_document(photos, [video])))
    assert set(document) == {"format", "format_version", "emonet_version", "labels", "results"}
    assert document["format"] == "emonet-predictions" and document["format_version"] == 2
    assert document["labels"] == list(LABELS)
    first, second, third = document["results"]  # photos, then videos, in the order given
    assert set(first) == set(second) == {"source", "width", "height", "faces"}
    assert (first["source"], second["source"]) == (str(folder / "b.jpg"), None)
    (face,) = first["faces"]
    assert set(face) == {
        "box",
        "detection_score",
        "score",
        "label",
        "confidence",
        "probabilities",
        "landmarks",
        # format version 2: the track and its smoothed values, null in photos
        "track_id",
        "smoothed_label",
        "smoothed_confidence",
        "smoothed_probabilities",
    }
    assert face["track_id"] is None and face["smoothed_label"] is None
    assert list(face["probabilities"]) == document["labels"]
    video_face = third["frames"][0]["faces"][0]
    assert video_face["track_id"] == 1
    assert list(video_face["smoothed_probabilities"]) == document["labels"]
    assert set(third) == {"source", "video", "frames"}
    assert third["video"] == {"fps": info["fps"], "frames": 2, "every": 1}
    assert [f["frame"] for f in third["frames"]] == [0, 1]
    assert set(third["frames"][0]) == {"frame", "time_s", "faces"}
    assert video.to_rows() == [row for f in frames for row in f.to_rows(str(clip))]
    assert results_document()["results"] == []


def test_results_document_refuses_what_is_no_result(recognizer, astronaut):
    (result,) = recognizer.predict(astronaut)
    with pytest.raises(TypeError, match="photos must hold PhotoResult objects, got list"):
        results_document([result.faces])
    with pytest.raises(TypeError, match="videos must hold VideoResult objects, got FrameResult"):
        results_document([], [FrameResult(0, 0.0, [])])


def test_a_source_that_is_no_utf8_is_written_safely():
    source = os.fsdecode(b"photos/bad\xff.jpg")
    result = PhotoResult(source, 10, 10, [])
    assert result.to_dict()["source"] == "photos/bad\\xff.jpg"
    assert json.dumps(results_document([result])).isascii()


# ------------------------------------------------- detection_score, and its old name


def test_detection_score_and_its_deprecated_names():
    points = np.zeros((68, 2))
    face = Face.from_probabilities((0, 0, 9, 9), 1.5, points, np.eye(7)[3])
    assert face.detection_score == 1.5 and face.confidence == 1.0
    with pytest.warns(DeprecationWarning, match="Face.score is deprecated.*detection_score"):
        assert face.score == 1.5
    with pytest.warns(DeprecationWarning, match=r"from_probabilities\(score=...\) is deprecated"):
        old = Face.from_probabilities((0, 0, 9, 9), score=1.5, landmarks=points,
                                      probabilities=np.eye(7)[3])  # fmt: skip
    assert (old.box, old.detection_score, old.label) == (face.box, 1.5, face.label)
    named = Face.from_probabilities(
        (0, 0, 9, 9), detection_score=1.5, landmarks=points, probabilities=np.eye(7)[3]
    )
    assert named.detection_score == 1.5
    with pytest.raises(TypeError, match="give detection_score only"):
        Face.from_probabilities((0, 0, 9, 9), 1.5, points, np.eye(7)[3], score=1.5)
    with pytest.raises(TypeError, match="missing detection_score"):
        Face.from_probabilities((0, 0, 9, 9), landmarks=points, probabilities=np.eye(7)[3])
    # the constructor too, by keyword; by position nothing changed
    fields = {"landmarks": points, "probabilities": face.probabilities, "label": "happy"}
    with pytest.warns(DeprecationWarning, match=r"Face\(score=...\) is deprecated"):
        built = Face((0, 0, 9, 9), score=1.5, confidence=1.0, **fields)
    assert built.detection_score == 1.5
    assert Face((0, 0, 9, 9), 1.5, points, face.probabilities, "happy", 1.0).label == "happy"
    with pytest.raises(TypeError, match="give detection_score only"):
        Face((0, 0, 9, 9), 1.5, score=1.5, confidence=1.0, **fields)
    # the new name, and the old one for a release, in the dict and the row
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # writing them warns of nothing
        assert face.to_dict()["detection_score"] == face.to_dict()["score"] == 1.5
        row = face.to_row("a.jpg")
    assert row["detection_score"] == row["score"] == 1.5
    assert ROW_COLUMNS.index("detection_score") == ROW_COLUMNS.index("score") - 1


# ------------------------------------------------- the HOG settings' one home


def test_model_info_builds_its_own_feature_extractor(tiny_models, val_faces):
    recognizer = Recognizer(models=tiny_models["paths"], tta="none")
    pixels, fused = (model.emonet_info for model in recognizer.models_)
    extractor = fused.feature_extractor()
    settings = feature_settings(extractor)
    assert settings == fused.feature_settings
    faces = val_faces[0][:4]
    assert extractor.transform(faces).shape == (4, 2728)
    with pytest.raises(ValueError, match="reads no features"):
        pixels.feature_extractor()
    other = ModelInfo(None, True, feature_settings({"block_norm": "L1", "orientations": 9}))
    assert other.feature_extractor().get_params()["orientations"] == 9
