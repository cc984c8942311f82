"""emonet-predict on hostile input (issue 25): annotated copies that would replace the
photos or each other, output paths that cannot be written, file names that are no UTF-8,
huge images, interrupted and concurrent runs."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from emonet.cli import predict as predict_cli
from emonet.cli.predict import main
from emonet.recognize import Recognizer
from tests.recognize.test_hostile_inputs import write_blank_png, write_png_header_only
from tests.recognize.test_recognizer import write_video


def _save(path: Path, rgb) -> Path:
    # encoded here and written by Python: OpenCV's own writer crashes on a name that is
    # no UTF-8
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(path.suffix, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    path.write_bytes(data.tobytes())
    return path


def _run(capsys, *args):
    status = main([os.fsdecode(a) if isinstance(a, bytes) else str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def model(tiny_models) -> list[str]:
    """One tiny member, no test-time augmentation: the quickest real recognizer."""
    return ["--models", str(tiny_models["paths"][0]), "--no-tta", "-q"]


# ------------------------------------------------ 2: an input is never written onto


def test_annotating_into_the_photos_folder_keeps_the_photo(
    model, astronaut, tmp_path, monkeypatch, capsys
):
    photo = _save(tmp_path / "me.png", astronaut)
    before = photo.read_bytes()
    monkeypatch.chdir(tmp_path)
    status, _, err = _run(capsys, "me.png", "--annotate", ".", *model)
    assert status == 0, err
    assert photo.read_bytes() == before
    annotated = cv2.imread(str(tmp_path / "me.png.png"))
    assert annotated is not None and annotated.shape == astronaut.shape
    assert sorted(p.name for p in tmp_path.iterdir()) == ["me.png", "me.png.png"]


def test_annotated_copy_never_replaces_another_input(tmp_path):
    # a.jpg's plain name, a.png, is an input: both keep their suffix
    files = [tmp_path / "a.jpg", tmp_path / "a.png"]
    for file in files:
        file.write_bytes(b"")
    plan = predict_cli.annotation_paths(files, tmp_path)
    assert [out.name for outs in plan.values() for out in outs] == ["a.jpg.png", "a.png.png"]
    # and where even that name is an input, the run is refused before the work
    (tmp_path / "a.jpg.png").write_bytes(b"")
    with pytest.raises(ValueError, match=r"would replace the input .*a.jpg.png"):
        predict_cli.annotation_paths([*files, tmp_path / "a.jpg.png"], tmp_path)


# -------------------------------------------- 3: unique names; no replacing without --overwrite


def test_annotated_names_are_unique(model, astronaut, two_faces, tmp_path, capsys):
    photos = tmp_path / "photos"
    for name, image in [
        ("p.jpg", astronaut),
        ("p.png", two_faces),
        ("a/x/y/z.jpg", astronaut),
        ("b/x/y/z.jpg", two_faces),
    ]:
        _save(photos / name, image)
    out_dir = tmp_path / "out"
    status, _, err = _run(capsys, photos, "--annotate", out_dir, *model)
    assert status == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "a__x__y__z.png",
        "b__x__y__z.png",
        "p.jpg.png",
        "p.png.png",
    ]
    # each copy is its own photo's
    assert cv2.imread(str(out_dir / "p.png.png")).shape == two_faces.shape
    assert cv2.imread(str(out_dir / "a__x__y__z.png")).shape == astronaut.shape


def test_existing_annotations_need_overwrite_checked_before_the_work(
    model, astronaut, tmp_path, capsys
):
    photo = _save(tmp_path / "in" / "astronaut.jpg", astronaut)
    out_dir = tmp_path / "out"
    status, out, _ = _run(capsys, photo, "--annotate", out_dir, *model)
    assert status == 0 and "face 0" in out
    copy = out_dir / "astronaut.png"
    copy.write_bytes(b"someone's file")
    status, out, err = _run(capsys, photo, "--annotate", out_dir, *model)
    assert status == 2
    assert f"{copy} exists; pass --overwrite to replace it" in err
    assert len(err.strip().splitlines()) == 1
    assert out == ""  # refused before any photo was read
    assert copy.read_bytes() == b"someone's file"
    status, _, err = _run(capsys, photo, "--annotate", out_dir, "--overwrite", *model)
    assert status == 0, err
    assert cv2.imread(str(copy)).shape == astronaut.shape
    # a folder where the copy goes is refused even with --overwrite
    copy.unlink()
    copy.mkdir()
    status, out, err = _run(capsys, photo, "--annotate", out_dir, "--overwrite", *model)
    assert status == 2 and "no regular file" in err and out == ""


# ----------------------------------------------- 4: every output path checked before the work


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_csv_that_is_a_folder_is_refused_before_the_work(
    model, astronaut, tmp_path, capsys, overwrite
):
    photo = _save(tmp_path / "astronaut.jpg", astronaut)
    folder = tmp_path / "somedir"
    folder.mkdir()
    status, out, err = _run(capsys, photo, "--csv", folder, *overwrite, *model)
    assert status == 2
    assert f"--csv {folder}: a folder, not a file; name a file" in err
    assert "pass --overwrite" not in err
    assert out == ""


def test_csv_under_a_file_is_refused_before_the_work(model, astronaut, tmp_path, capsys):
    photo = _save(tmp_path / "photo.jpg", astronaut)
    status, out, err = _run(capsys, photo, "--csv", photo / "faces.csv", *model)
    assert status == 2
    assert f"{photo} is a file, not a folder" in err
    assert out == ""
    status, out, err = _run(capsys, photo, "--annotate", photo / "out", *model)
    assert status == 2 and f"{photo} is a file, not a folder" in err and out == ""


def test_csv_onto_an_input_is_refused(model, astronaut, tmp_path, capsys):
    photo = _save(tmp_path / "photo.jpg", astronaut)
    before = photo.read_bytes()
    status, out, err = _run(capsys, photo, "--csv", photo, "--overwrite", *model)
    assert status == 2 and "is one of the inputs" in err and out == ""
    assert photo.read_bytes() == before


# ------------------------------------------------------- 5: file names that are no UTF-8


def test_file_name_that_is_no_utf8_is_written_safely(model, astronaut, tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    raw = os.fsencode(folder) + b"/bad\xff.jpg"
    try:
        _save(Path(os.fsdecode(raw)), astronaut)
    except (OSError, UnicodeError):  # pragma: no cover - a file system of UTF-8 names only
        pytest.skip("this file system takes UTF-8 names only")
    table = tmp_path / "faces.csv"
    status, out, err = _run(
        capsys, folder, "--csv", table, "--json", "--annotate", tmp_path / "a", *model
    )
    assert status == 0, err
    (document,) = json.loads(out)["results"]
    assert document["source"].endswith("bad\\xff.jpg")
    with open(table, newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert rows and all(row["source"].endswith("bad\\xff.jpg") for row in rows)
    # the table too, and the annotated copy keeps the file's own bytes
    status, out, err = _run(capsys, folder, *model)
    assert status == 0 and "bad\\xff.jpg: face 0" in out
    assert os.listdir(os.fsencode(tmp_path / "a")) == [b"bad\xff.png"]


# ---------------------------------------------------------- huge images and bombs, named


def test_huge_photo_and_bomb_are_skipped_by_name(model, astronaut, tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    _save(folder / "astronaut.jpg", astronaut)
    write_blank_png(folder / "huge.png", 12_000, 12_000)
    write_png_header_only(folder / "bomb.png", 60_000, 60_000)
    status, out, err = _run(capsys, folder, *model)
    assert status == 0, err
    assert "astronaut.jpg: face 0" in out
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert any("bomb.png: 3,600,000,000 pixels" in line for line in warnings)
    assert any("huge.png: 12000x12000 pixels" in line for line in warnings)
    assert "2 skipped" in err


# ------------------------------------- an interrupted run leaves no half-written video


def test_interrupted_video_leaves_no_partial_annotation(
    model, astronaut, tmp_path, capsys, monkeypatch
):
    clip = write_video(tmp_path / "clip.mp4", [astronaut] * 6, fps=6.0)
    real = Recognizer.predict_video

    def stopped(self, *args, **kwargs):  # Ctrl-C after two frames
        for index, frame in enumerate(real(self, *args, **kwargs)):
            if index == 2:
                raise KeyboardInterrupt
            yield frame

    monkeypatch.setattr(Recognizer, "predict_video", stopped)
    out_dir = tmp_path / "out"
    status, _, err = _run(capsys, clip, "--annotate", out_dir, *model)
    assert status == 130, err
    assert list(out_dir.iterdir()) == []  # neither clip.mp4 nor its temporary file
    monkeypatch.setattr(Recognizer, "predict_video", real)
    status, _, err = _run(capsys, clip, "--annotate", out_dir, *model)
    assert status == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == ["clip.mp4", "clip.timeline.png"]
    capture = cv2.VideoCapture(str(out_dir / "clip.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 6


# ---------------------------------------------- two runs writing one CSV at once


@pytest.mark.slow
def test_two_runs_writing_one_csv_at_once(tiny_models, astronaut, two_faces, tmp_path):
    one = _save(tmp_path / "one.jpg", astronaut)
    two = _save(tmp_path / "two.png", two_faces)
    table = tmp_path / "out" / "faces.csv"
    common = ["--models", str(tiny_models["paths"][0]), "--no-tta", "-q", "--overwrite"]
    command = [sys.executable, "-m", "emonet.cli.predict"]
    runs = [
        subprocess.Popen(
            [*command, str(photo), "--csv", str(table), *common],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for photo in (one, two)
    ]
    results = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err for _, err in results]
    # the file is one run's whole CSV, never a mix or a part
    with open(table, newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert {row["source"] for row in rows} in ({str(one)}, {str(two)})
    assert len(rows) >= 1 and table.read_text().endswith("\n")
    assert len({row["face"] for row in rows}) == len(rows)
    assert [p.name for p in table.parent.iterdir()] == ["faces.csv"]  # no temporary left
    assert io.StringIO(table.read_text()).readline().startswith("source,")


@pytest.mark.slow
def test_video_named_in_no_utf8_is_skipped_not_a_crash(tiny_models, astronaut, tmp_path):
    # OpenCV crashes (SIGSEGV) on a path holding the surrogates of such a name: a
    # separate process, so that a crash fails this test alone
    folder = tmp_path / "clips"
    folder.mkdir()
    good = write_video(folder / "good.mp4", [astronaut] * 2)
    Path(os.fsdecode(os.fsencode(folder) + b"/bad\xff.mp4")).write_bytes(good.read_bytes())
    command = [sys.executable, "-m", "emonet.cli.predict", str(folder), "--json"]
    common = ["--models", str(tiny_models["paths"][0]), "--no-tta", "-q"]
    result = subprocess.run([*command, *common], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "bad\\xff.mp4: OpenCV cannot open a file whose name is not UTF-8" in result.stderr
    (document,) = json.loads(result.stdout)["results"]
    assert document["source"].endswith("good.mp4") and len(document["frames"]) == 2
