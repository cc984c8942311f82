"""Pictures of the results, frames and their rows, presets written and read back."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from emonet import LABELS
from emonet.recognize import (
    DEFAULT_PRESET,
    LABEL_COLOURS,
    Face,
    FrameResult,
    annotate,
    load_preset_config,
    plot_timeline,
    save_image,
    save_preset,
    video_info,
)
from tests.recognize.test_recognizer import write_video


def _face(box, label):
    return Face.from_probabilities(box, 1.0, np.zeros((68, 2)), np.eye(7)[LABELS.index(label)])


def test_annotate_draws_box_and_bars_in_the_label_colours():
    photo = np.full((200, 300, 3), 255, np.uint8)
    out = annotate(photo, [_face((40, 60, 120, 140), "happy")])
    assert out.shape == photo.shape and photo.min() == 255  # the input is not drawn on
    colour = np.array(LABEL_COLOURS["happy"])
    assert (np.abs(out[100, 40].astype(int) - colour) <= 1).all()  # the box's left edge
    # the probability panel sits right of the box, darkened, with a full happy bar
    panel = out[62:136, 126:210]
    assert panel.mean() < 120
    assert (np.abs(panel.reshape(-1, 3).astype(int) - colour).sum(axis=1) <= 3).sum() > 50
    assert set(LABEL_COLOURS) == set(LABELS)


def test_annotate_keeps_panels_inside_small_and_gray_photos():
    out = annotate(np.zeros((60, 60), np.uint8), [_face((30, 2, 58, 30), "sad")])
    assert out.shape == (60, 60, 3)


def test_save_image_round_trip_and_bad_suffix(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    path = save_image(image, tmp_path / "a.png")
    np.testing.assert_array_equal(cv2.imread(str(path))[:, :, ::-1], image)
    with pytest.raises(ValueError, match="a.xyz"):
        save_image(image, tmp_path / "a.xyz")


def test_plot_timeline_writes_a_png(tmp_path):
    frames = [
        FrameResult(0, 0.0, [_face((0, 0, 9, 9), "happy")]),
        FrameResult(1, 0.5, []),
        FrameResult(2, 1.0, [_face((0, 0, 9, 9), "sad")]),
    ]
    path = plot_timeline(frames, tmp_path / "t.png", "clip")
    image = cv2.imread(str(path))
    assert image is not None and image.shape[1] > 500
    assert [f.to_dict()["frame"] for f in frames] == [0, 1, 2]
    assert frames[1].to_rows("clip.mp4") == []


def test_video_info(tmp_path):
    frames = [np.zeros((48, 64, 3), np.uint8)] * 5
    info = video_info(write_video(tmp_path / "v.mp4", frames, fps=5.0))
    assert info == {"fps": 5.0, "frames": 5, "width": 64, "height": 48}


def test_save_preset_checks_and_reads_back(tiny_models, tmp_path):
    paths = tiny_models["paths"]
    with pytest.raises(ValueError, match="needs their ensemble.json"):
        save_preset(tmp_path / "p", paths)
    folder = save_preset(tmp_path / "p", paths[:1], description="one", metrics={"a": 1})
    config = load_preset_config(folder)
    assert config["members"] == [paths[0].name] and config["metrics"] == {"a": 1}
    assert config["tta"] == "none"
    # a test-time augmentation is kept by name; the booleans of older presets read as names
    save_preset(folder, paths[:1], tta="multiscale")
    assert json.loads((folder / "preset.json").read_text())["tta"] == "multiscale"
    assert load_preset_config(folder)["tta"] == "multiscale"
    for written, read in ((True, "flip"), (False, "none"), ("ten-crop", None)):
        document = json.loads((folder / "preset.json").read_text())
        (folder / "preset.json").write_text(json.dumps({**document, "tta": written}))
        if read is None:
            with pytest.raises(ValueError, match="preset.json: tta: expected"):
                load_preset_config(folder)
        else:
            assert load_preset_config(folder)["tta"] == read
    (folder / paths[0].name).unlink()
    with pytest.raises(ValueError, match="names missing files"):
        load_preset_config(folder)
    (folder / "preset.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="not an emonet preset"):
        load_preset_config(folder)
    assert DEFAULT_PRESET == "default"
