"""emonet-reproduce on hostile ground (issue 25): --overwrite on a folder that holds a
user's work, and a reproduction interrupted before its first epoch ended."""

from __future__ import annotations

import json

import keras
import pytest

import emonet.reproduce
from emonet.cli.reproduce import main
from emonet.data import DataError
from emonet.reproduce import _reproduce, reproduce
from tests.conftest import write_fer2013_csv

# Keras passes copy=False to numpy's __array__ of TF tensors: noise, not ours
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

# what a reproduction wrote (names of its layout), and a user's work beside it
REPRODUCTION_FILES = (
    "models/resnet50/model.keras",
    "models/resnet50/config.json",
    "models/resnet50/checkpoints/state.json",
    "predictions/PublicTest/resnet50_flip.npz",
    "ensemble/plain.json",
    "ensemble/plain_report/report.md",
    "figures/curves.png",
    "figures/confusion_PublicTest_ensemble.png",
    "tables.md",
    "report.md",
)
USER_FILES = (
    "models/my_model/model.keras",
    "models/resnet50/notes.txt",
    "figures/thesis_figure.png",
    "predictions/PublicTest/mine.npz",
    "notes.md",
)


@pytest.fixture
def training_only(tmp_path, val_faces):
    """A fer2013.csv of 70 real Training faces: no PublicTest, so that a reproduction
    stops right after its folder is prepared and its features extracted."""
    images, labels = val_faces[0][::4], val_faces[1][::4]
    return write_fer2013_csv(tmp_path / "train.csv", images, labels, ["Training"] * len(images))


def _write(root, names):
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(f"the content of {name}".encode())


def _files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_overwrite_refuses_a_folder_that_is_not_a_reproductions(tmp_path, training_only, capsys):
    mine = tmp_path / "mine"
    _write(mine, USER_FILES)
    with pytest.raises(ValueError, match="not a reproduction's folder") as error:
        reproduce(training_only, mine, scale="smoke", overwrite=True, log=None)
    assert "models, predictions, figures" in str(error.value)
    assert main([str(training_only), "--out", str(mine), "--scale", "smoke", "--overwrite"]) == 2
    message = capsys.readouterr().err.strip()
    assert message.startswith("emonet-reproduce: error: ") and "\n" not in message
    assert "choose a new or empty output folder" in message
    # without --overwrite too: a user's models/ is not a reproduction's to keep or train into
    with pytest.raises(ValueError, match="not a reproduction's folder"):
        reproduce(training_only, mine, scale="smoke", log=None)
    assert _files(mine) == sorted(USER_FILES)
    for name in USER_FILES:
        assert (mine / name).read_bytes() == f"the content of {name}".encode()


def test_overwrite_removes_only_what_the_reproduction_wrote(tmp_path, training_only):
    mine = tmp_path / "mine"
    # a real reproduction's folder: reproduce.json and features.h5, then it stops
    with pytest.raises(DataError, match="no PublicTest"):
        reproduce(training_only, mine, scale="smoke", log=None)
    _write(mine, REPRODUCTION_FILES + USER_FILES)
    (mine / "figures" / ".curves.png.0123abcd.tmp").write_bytes(b"half")  # a killed write
    with pytest.raises(DataError, match="no PublicTest"):
        reproduce(training_only, mine, scale="smoke", overwrite=True, log=None)
    assert _files(mine) == sorted([*USER_FILES, "features.h5", "reproduce.json"])
    for name in USER_FILES:
        assert (mine / name).read_bytes() == f"the content of {name}".encode()
    assert not (mine / "ensemble").exists()  # emptied stage folders go


def test_clear_reproduction_removes_its_files_and_refuses_other_folders(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "reproduce.json").write_text(json.dumps({"scale": "smoke", "source": "x.csv"}))
    _write(out, REPRODUCTION_FILES + USER_FILES)
    removed = {p.relative_to(out).as_posix() for p in emonet.reproduce.clear_reproduction(out)}
    assert removed == {
        "models/resnet50/model.keras",
        "models/resnet50/config.json",
        "models/resnet50/checkpoints",
        "predictions/PublicTest/resnet50_flip.npz",
        "ensemble/plain.json",
        "ensemble/plain_report",
        "ensemble",
        "figures/curves.png",
        "figures/confusion_PublicTest_ensemble.png",
        "tables.md",
        "report.md",
    }
    assert _files(out) == sorted([*USER_FILES, "reproduce.json"])

    for settings in (None, "not json", json.dumps({"scale": "smoke"}), "[]"):
        other = tmp_path / f"other{len(str(settings))}"
        _write(other, REPRODUCTION_FILES)
        if settings is not None:
            (other / "reproduce.json").write_text(settings)
        with pytest.raises(ValueError, match="is not a reproduction's folder"):
            emonet.reproduce.clear_reproduction(other)
        assert _files(other) == sorted(
            [*REPRODUCTION_FILES, *(["reproduce.json"] if settings is not None else [])]
        )


def test_overwrite_extracts_again_the_features_of_another_source(tmp_path, training_only):
    out = tmp_path / "out"
    other = tmp_path / "other.csv"
    other.write_bytes(training_only.read_bytes())
    with pytest.raises(DataError, match="no PublicTest"):
        reproduce(other, out, scale="smoke", log=None)
    with pytest.raises(ValueError, match="source"):
        reproduce(training_only, out, scale="smoke", log=None)
    # the message said --overwrite: it must then work, not find other.csv's features again
    with pytest.raises(DataError, match=f"{training_only}: no PublicTest"):
        reproduce(training_only, out, scale="smoke", overwrite=True, log=None)


class _StopInFirstEpoch(keras.callbacks.Callback):
    """Ctrl-C during the first batch: the run folder has its config.json, no checkpoint."""

    def on_train_batch_begin(self, batch, logs=None):
        raise KeyboardInterrupt


@pytest.mark.slow
def test_a_reproduction_stopped_in_its_first_epoch_resumes(monkeypatch, fer_csv, tmp_path):
    out = tmp_path / "paper"
    train = _reproduce.train

    def stopped(*args, **kwargs):
        return train(*args, **kwargs, callbacks=[_StopInFirstEpoch()])

    with monkeypatch.context() as patch:
        patch.setattr(_reproduce, "train", stopped)
        with pytest.raises(KeyboardInterrupt):
            reproduce(fer_csv, out, scale="smoke", variants=["resnet50"], log=None)
    run = out / "models" / "resnet50"
    assert (run / "config.json").exists() and not (run / "checkpoints").exists()

    # the same command again continues it
    result = reproduce(fer_csv, out, scale="smoke", variants=["resnet50"], log=None)
    assert result.trained == ["resnet50"] and result.kept == []
    assert (run / "model.keras").exists()
    assert json.loads((run / "config.json").read_text())["results"]["epochs"] == 1
    assert (out / "predictions" / "PrivateTest" / "resnet50_flip.npz").exists()
    assert json.loads((out / "reproduce.json").read_text())["status"] == "done"
