"""emonet.distributed on a real local Ray: the rows of one process, nothing lost.

One Ray session (2 CPUs) and one folder of real inputs for the module (``conftest``);
the bundled "fast" preset everywhere.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from emonet import LABELS
from emonet.cli import predict as predict_cli
from emonet.distributed import RAY_MISSING, SKIPPED_COLUMNS, RunSummary, predict, read_output
from emonet.recognize import ROW_COLUMNS
from tests.distributed.conftest import BAD_FILES

pytestmark = pytest.mark.slow

#: What must match the single process: where each face is, and its expression.
SAME = ("left", "top", "right", "bottom", "label")


def _key(row: dict) -> tuple:
    frame = row["frame"]
    return row["source"], None if frame in ("", None) else int(frame), int(row["face"])


def _assert_same_rows(rows: list[dict], reference: list[dict]) -> None:
    keys = [_key(row) for row in rows]
    assert len(set(keys)) == len(keys), "a face written twice"
    expected = {_key(row): row for row in reference}
    assert set(keys) == set(expected), "faces missing or extra"
    # in the inputs' order: photos as found, each video's frames in time order
    assert keys == [_key(row) for row in reference]
    for row in rows:
        want = expected[_key(row)]
        assert [row[name] for name in SAME] == [want[name] for name in SAME], _key(row)
        np.testing.assert_allclose(
            [row[name] for name in LABELS], [want[name] for name in LABELS], atol=1e-5
        )
        assert row["confidence"] == pytest.approx(want["confidence"], abs=1e-5)


def _parts(output: Path) -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in output.glob("part-*.parquet")}


def _actor_pids() -> list[int]:
    """The processes of the actors of emonet.distributed (Ray names them)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"MapWorker(MapBatches(FacePredictor" in command:
                found.append(int(entry.name))
    return found


def _kill_a_worker_once_a_task_is_written(output: Path, killed: list[int]) -> None:
    written = len(list((output / "_manifest").glob("*.json")))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not killed:
        pids = _actor_pids()
        if pids and len(list((output / "_manifest").glob("*.json"))) > written:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])
        time.sleep(0.05)


@pytest.fixture(scope="module")
def runs(ray_session, inputs, tmp_path_factory) -> dict:
    """A run stopped by KeyboardInterrupt (as Ctrl-C) after 4 tasks; then the same run
    again with ``emonet-predict --ray``, one of whose workers is killed (SIGKILL) once it
    has written a task."""
    output = tmp_path_factory.mktemp("out") / "faces.parquet"

    def stop_after_four(done: int, total: int) -> None:
        if done == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        predict(
            [inputs], output, preset="fast", num_actors=2, segment_s=1.0, progress=stop_after_four
        )
    kept = _parts(output)
    killed: list[int] = []
    killer = threading.Thread(
        target=_kill_a_worker_once_a_task_is_written, args=(output, killed), daemon=True
    )
    killer.start()
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        status = predict_cli.main(
            [
                "-q",
                "--preset",
                "fast",
                "--segment-s",
                "1",
                str(inputs),
                "--ray",
                "--out",
                str(output),
            ]
        )
    killer.join()
    return {
        "output": output,
        "kept": kept,
        "status": status,
        "stderr": stderr.getvalue(),
        "killed": killed,
    }


def test_rows_equal_one_process_and_bad_files_are_named(runs, reference):
    assert runs["status"] == 0, runs["stderr"]
    faces, skipped = read_output(runs["output"])
    assert faces.column_names == list(ROW_COLUMNS)
    rows = faces.to_pylist()
    assert len(rows) > 250  # most photos and the videos' frames hold a face
    _assert_same_rows(rows, reference)
    assert skipped.column_names == list(SKIPPED_COLUMNS)
    assert sorted(Path(source).name for source in skipped["source"].to_pylist()) == sorted(
        BAD_FILES
    )
    assert all(reason for reason in skipped["reason"].to_pylist())
    # the videos were cut into 1 s segments and stitched back in time order
    for clip in ("clip0.mp4", "clip1.avi"):
        frames = [row["frame"] for row in rows if row["source"].endswith(clip)]
        assert frames == sorted(frames) and len({frame // 10 for frame in frames}) > 1


def test_a_killed_worker_loses_and_repeats_nothing(runs, reference):
    # the rows are those of one process, none twice (test above); a worker did die
    assert runs["killed"], "no worker was running to kill"
    assert runs["killed"][0] not in _actor_pids()
    faces, _ = read_output(runs["output"])
    keys = [_key(row) for row in faces.to_pylist()]
    assert len(keys) == len(set(keys)) == len(reference)


def test_a_rerun_does_only_what_the_interrupted_run_left(runs):
    n_inputs = 2 + 2 + 500  # videos, bad files, photos
    found = re.search(rf"{n_inputs} files \((\d+) done before\)", runs["stderr"])
    assert found, runs["stderr"]
    assert 0 < int(found.group(1)) < n_inputs
    # the interrupted run's parts were kept as they were, not written again
    after = _parts(runs["output"])
    assert runs["kept"] and all(after[name] == t for name, t in runs["kept"].items())


def test_a_run_into_a_finished_folder_reads_nothing_again(runs, inputs):
    before = _parts(runs["output"])
    summary = predict(inputs, runs["output"], preset="fast", segment_s=1.0)
    assert isinstance(summary, RunSummary)
    assert (summary.inputs, summary.done_before, summary.processed, summary.faces) == (
        504,
        504,
        0,
        0,
    )
    assert _parts(runs["output"]) == before
    # other settings would mix two kinds of rows in one folder: refused, naming them
    with pytest.raises(ValueError, match=r"segment_s was 1.0, now 60.0.*overwrite"):
        predict(inputs, runs["output"], preset="fast", segment_s=60)


def test_ray_arguments_are_checked_in_one_line(inputs, capsys):
    status = predict_cli.main(["--ray", str(inputs)])
    assert status == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "emonet-predict: error: --ray needs --out FOLDER: the Parquet folder of the results"
    ]
    status = predict_cli.main(["--ray", "--out", "x.parquet", "--csv", "y.csv", str(inputs)])
    assert status == 2
    assert "--csv does not go with --ray" in capsys.readouterr().err


BLOCK_RAY = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "ray" or name.startswith("ray."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
"""


def test_without_ray_one_line_names_the_extra(tmp_path, inputs):
    (tmp_path / "sitecustomize.py").write_text(BLOCK_RAY)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.getcwd()])}
    # emonet-predict --ray's own part (emonet.cli._ray), without the Keras the whole
    # command imports: the subprocess stays quick
    code = (
        "import argparse, sys\n"
        "from emonet.distributed import predict\n"
        "try:\n    predict(sys.argv[1], sys.argv[2])\n"
        "except ImportError as error:\n    print(error)\n"
        "from emonet.cli._common import CommandParser, run\n"
        "from emonet.cli._ray import add_ray_options, run_ray\n"
        "parser = CommandParser(prog='emonet-predict')\n"
        "parser.add_argument('paths', nargs='*')\n"
        "add_ray_options(parser)\n"
        "sys.exit(run(run_ray, parser, ['--ray', '--out', sys.argv[2], sys.argv[1]]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(inputs / "clip0.mp4"), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 2, result.stderr
    assert RAY_MISSING in result.stdout
    assert result.stderr.strip().splitlines() == [f"emonet-predict: error: {RAY_MISSING}"]
    assert "emonet[ray]" in RAY_MISSING
    assert not (tmp_path / "out").exists()


def test_a_dataset_of_photo_bytes_gives_the_same_rows(ray_session, inputs, reference, tmp_path):
    # as from object storage: ray.data.read_binary_files(s3://...), decoded on the workers
    files = sorted((inputs / "photos" / "big").glob("*.png"))[:8] + [
        inputs / "photos" / "notes.jpg"
    ]
    dataset = ray_session.data.read_binary_files([str(path) for path in files], include_paths=True)
    summary = predict(dataset, tmp_path / "faces.parquet", preset="fast", num_actors=1)
    assert (summary.inputs, summary.processed, summary.done_before) == (9, 9, 0)
    faces, skipped = read_output(summary.output)
    rows = sorted(faces.to_pylist(), key=_key)
    names = {str(path) for path in files}
    _assert_same_rows(rows, sorted((r for r in reference if r["source"] in names), key=_key))
    assert [Path(source).name for source in skipped["source"].to_pylist()] == ["notes.jpg"]


def test_a_whole_video_task_keeps_its_tracks(inputs, reference):
    # segment_s=0: one task per video, through Recognizer.predict_video, tracks included
    # (the worker's class, run here without Ray)
    from emonet.distributed._worker import predictor_class

    worker = predictor_class({"preset": "fast"}, every=1)()
    path = inputs / "clip1.avi"
    stat = path.stat()
    item = {"path": str(path), "source": str(path), "size": stat.st_size, "mtime_ns": 0}
    result = worker.run_video(item, 0, None)
    expected = [row for row in reference if row["source"] == str(path)]
    _assert_same_rows(result["rows"], expected)
    assert [row["track_id"] for row in result["rows"]] == [row["track_id"] for row in expected]
    assert any(row["track_id"] not in ("", None) for row in expected)


def test_actors_of_int8_networks_need_no_tensorflow():
    """The bundled presets' networks are int8 LiteRT files: an actor imports Keras on
    NumPy, seconds sooner than TensorFlow (the rows are those of one process: the tests
    above run so); emonet.import_tensorflow's tests: a KERAS_BACKEND set still wins."""
    code = (
        "import sys\n"
        "from emonet.distributed._worker import predictor_class\n"
        "predictor_class({'preset': 'fast'}, 1, lite_only=True)()\n"
        "import keras\n"
        "print(keras.backend.backend(), 'tensorflow' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.split() == ["numpy", "False"]
