"""emonet-predict on an image, a folder with a broken file and a video: table, JSON, CSV."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from emonet import LABELS
from emonet.cli.predict import main
from emonet.recognize import ROW_COLUMNS, Recognizer, results_document
from tests.recognize.test_recognizer import write_video


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, astronaut, two_faces, no_face):
    folder = tmp_path_factory.mktemp("photos")
    (folder / "sub").mkdir()
    cv2.imwrite(str(folder / "astronaut.jpg"), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(folder / "sub" / "two.png"), cv2.cvtColor(two_faces, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(folder / "sub" / "coffee.jpg"), cv2.cvtColor(no_face, cv2.COLOR_RGB2BGR))
    (folder / "sub" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (folder / "notes.txt").write_text("not an image")
    video = write_video(folder.parent / "clip.mp4", [astronaut] * 4, fps=8.0)
    return folder, video


def _run(capsys, *args):
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def test_folder_with_a_broken_file_table_and_csv(inputs, tiny_models, tmp_path, capsys):
    folder, _ = inputs
    table = tmp_path / "faces.csv"
    status, out, err = _run(
        capsys, folder, "--preset", tiny_models["preset"], "--csv", table, "-q"
    )
    assert status == 0
    assert "broken.jpg" in err and "skipped" in err
    assert "notes.txt" not in out
    assert "astronaut.jpg: face 0 at (179, 83, 266, 170)" in out
    assert "coffee.jpg: no face" in out
    with open(table, newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert tuple(rows[0]) == ROW_COLUMNS
    assert sorted(r["source"].rsplit("/", 1)[-1] for r in rows) == [
        "astronaut.jpg",
        "two.png",
        "two.png",
    ]
    probabilities = np.array([[float(r[name]) for name in LABELS] for r in rows])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-4)
    # the detection score, and under its old name for one release
    assert all(r["detection_score"] == r["score"] and float(r["score"]) > 0 for r in rows)
    # the CSV is not replaced without --overwrite
    status, _, err = _run(capsys, folder, "--preset", tiny_models["preset"], "--csv", table)
    assert status == 2 and "--overwrite" in err


def test_json_of_an_image_and_a_video_with_annotations(inputs, tiny_models, tmp_path, capsys):
    folder, video = inputs
    out_dir = tmp_path / "annotated"
    status, out, err = _run(
        capsys,
        folder / "astronaut.jpg",
        video,
        "--preset",
        tiny_models["preset"],
        "--json",
        "--every",
        "2",
        "--annotate",
        out_dir,
        "-q",
    )
    assert status == 0, err
    document = json.loads(out)
    assert document["format"] == "emonet-predictions" and document["format_version"] == 2
    assert document["labels"] == list(LABELS)
    photo, clip = document["results"]
    assert photo["source"].endswith("astronaut.jpg")
    assert (photo["width"], photo["height"]) == (512, 512)
    assert photo["faces"][0]["box"] == [179, 83, 266, 170]
    assert clip["video"]["fps"] == pytest.approx(8.0)
    assert [f["frame"] for f in clip["frames"]] == [0, 2]
    assert [f["time_s"] for f in clip["frames"]] == [0.0, 0.25]
    assert len(clip["frames"][0]["faces"]) == 1
    written = sorted(p.name for p in out_dir.iterdir())
    assert any(name.endswith("astronaut.png") for name in written)
    assert any(name.endswith("clip.mp4") for name in written)
    assert any(name.endswith("clip.timeline.png") for name in written)
    annotated = cv2.imread(str(next(out_dir.glob("*astronaut.png"))))
    assert annotated.shape == (512, 512, 3)
    capture = cv2.VideoCapture(str(next(out_dir.glob("*clip.mp4"))))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 2


def test_the_json_is_the_document_python_builds(inputs, tiny_models, tmp_path, capsys):
    # one function builds the document, for the command and for Python alike
    folder, _ = inputs
    status, out, err = _run(capsys, folder, "--preset", tiny_models["preset"], "--json", "-q")
    assert status == 0 and "broken.jpg" in err
    recognizer = Recognizer(tiny_models["preset"])
    photos = [folder / "astronaut.jpg", folder / "sub" / "coffee.jpg", folder / "sub" / "two.png"]
    expected = results_document(recognizer.predict(photos))
    assert json.loads(out) == json.loads(json.dumps(expected))
    # and the table's files are the folder's, in the order Python reads them
    status, out, _ = _run(capsys, folder, "--preset", tiny_models["preset"], "-q")
    listed = [line.split(": ")[0] for line in out.splitlines()]
    assert list(dict.fromkeys(listed)) == [str(photo) for photo in photos]


@pytest.mark.parametrize("tta", ["--tta", "--tta-multiscale", "--no-tta"])
def test_own_models_and_ensemble(inputs, tiny_models, capsys, tta):
    folder, _ = inputs
    # the flag before the path: it takes no value, so the path stays a path
    status, out, _ = _run(
        capsys,
        tta,
        folder / "astronaut.jpg",
        "--models",
        *tiny_models["paths"],
        "--ensemble",
        tiny_models["ensemble"],
    )
    assert status == 0 and "face 0" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.jpg"], "missing.jpg: no such file or folder"),
        (["{image}", "--every", "0"], "--every must be at least 1"),
        (["{image}", "--ensemble", "e.json"], "--ensemble needs --models"),
        (["{image}", "--models", "nowhere.keras"], "nowhere.keras: no such model"),
        (["{image}", "--preset", "nope"], "unknown preset 'nope'"),
        (["{image}", "--preset", "fast", "--models", "m.keras"], "--preset and --models both"),
    ],
)
def test_bad_arguments_give_one_line(inputs, capsys, args, message):
    folder, _ = inputs
    args = [a.replace("{image}", str(folder / "astronaut.jpg")) for a in args]
    status, _, err = _run(capsys, *args)
    assert status == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_help_and_bad_path_do_not_import_tensorflow(tmp_path):
    code = (
        "import sys\n"
        "from emonet.cli.predict import main\n"
        f"status = main([{str(tmp_path / 'missing.jpg')!r}])\n"
        "print(status, 'tensorflow' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.split() == ["2", "False"]
    assert result.stderr.count("\n") == 1


@pytest.mark.slow
def test_int8_presets_run_without_tensorflow(inputs, tiny_models):
    """The bundled presets' int8 networks run on LiteRT alone: emonet-predict imports
    Keras on NumPy, not TensorFlow (a start seconds sooner), and gives the same answer;
    a preset of Keras networks keeps TensorFlow."""
    from emonet.recognize import Recognizer, list_presets, lite_only

    assert all(lite_only(name) for name in list_presets())
    assert not lite_only(tiny_models["preset"])
    assert not lite_only(models=["mine.keras", "mine_int8.tflite"])
    photo = inputs[0] / "astronaut.jpg"
    code = (
        "import sys\n"
        "from emonet.cli.predict import main\n"
        "status = main(sys.argv[1:])\n"
        "print(status, 'tensorflow' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    answers = {}
    for preset in ("fast", tiny_models["preset"]):
        command = [sys.executable, "-c", code, str(photo), "--preset", str(preset), "--json"]
        result = subprocess.run(command, capture_output=True, text=True, env=env)
        *document, last = result.stdout.strip().splitlines()
        answers[preset] = last
        if preset == "fast":
            (face,) = json.loads("\n".join(document))["results"][0]["faces"]
            (expected,) = Recognizer("fast").predict(photo)[0].faces
            assert face["probabilities"] == pytest.approx(expected.probabilities, abs=1e-6)
    assert answers == {"fast": "0 False", tiny_models["preset"]: "0 True"}


def test_detection_settings_are_honoured(inputs, tiny_models, capsys):
    folder, _ = inputs
    image = folder / "astronaut.jpg"
    common = [image, "--preset", tiny_models["preset"], "--json", "-q"]
    status, out, _ = _run(capsys, *common)
    assert status == 0 and len(json.loads(out)["results"][0]["faces"]) == 1
    # a threshold above her face's score finds nothing; the CNN detector finds her too
    status, out, _ = _run(capsys, *common, "--min-score", "5")
    assert status == 0 and json.loads(out)["results"][0]["faces"] == []
    status, out, err = _run(capsys, *common, "--min-score", "nan")
    assert status == 2 and "min_score must be a finite number" in err


@pytest.mark.slow
def test_the_cnn_detector_from_the_command_line(inputs, tiny_models, capsys):
    folder, _ = inputs
    status, out, _ = _run(
        capsys, folder / "astronaut.jpg", "--preset", tiny_models["preset"], "--json", "-q",
        "--detector", "cnn", "--upsample", "0",
    )  # fmt: skip
    (face,) = json.loads(out)["results"][0]["faces"]
    left, top, right, bottom = face["box"]
    assert status == 0
    assert abs((left + right) / 2 - 222) < 20 and abs((top + bottom) / 2 - 126) < 20


@pytest.mark.parametrize("outputs", [[], ["--json"], ["--csv", "faces.csv"]])
def test_a_video_keeps_frames_and_rows_only_for_the_outputs_that_need_them(
    inputs, tiny_models, tmp_path, outputs
):
    """Without --json, a video's frames are not kept; without --csv, its rows are not:
    a long video or a camera runs in flat memory. The face count is the same."""
    from emonet.cli._video import Summaries
    from emonet.cli.predict import _video, build_parser

    _, video = inputs
    outputs = [str(tmp_path / o) if o.endswith(".csv") else o for o in outputs]
    args = build_parser().parse_args(
        [str(video), "-q", "--models", *map(str, tiny_models["paths"]), *outputs]
    )
    recognizer = Recognizer(models=tiny_models["paths"])
    result, rows, n_faces = _video(recognizer, video, args, None, Summaries(None))
    assert n_faces == 4  # the astronaut in each of 4 frames
    assert len(result.frames) == (4 if "--json" in outputs else 0)
    assert len(rows) == (4 if any(o.endswith(".csv") for o in outputs) else 0)
