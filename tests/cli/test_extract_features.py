import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from emonet.cli.extract_features import main
from emonet.features import FeatureExtractor, load_features
from tests.conftest import write_fer2013_csv


def _cli(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "emonet.cli.extract_features", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_csv_to_features_file_with_two_workers(tmp_path, fer_csv, val_faces, capsys):
    out = tmp_path / "faces.h5"
    assert main([str(fer_csv), "-o", str(out), "--jobs", "2", "--chunk-size", "64", "-q"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}: {len(val_faces[0])} faces" in printed and "0 skipped" in printed
    loaded = load_features(out)
    images, labels = val_faces
    np.testing.assert_array_equal(loaded.images, images)
    np.testing.assert_array_equal(loaded.labels, labels)
    np.testing.assert_array_equal(loaded.features, FeatureExtractor().transform(images))
    assert loaded.ids.tolist() == [str(i) for i in range(len(images))]
    assert loaded.attrs["hog_window"] == 24 and loaded.attrs["hog_block_norm"] == "L2-Hys"
    assert loaded.attrs["emonet_version"] and loaded.attrs["source_kind"] == "csv"
    assert not (tmp_path / "faces.h5.parts").exists()


def test_folder_with_bad_images_skips_counts_and_records_them(tmp_path, val_files, capsys):
    root = tmp_path / "faces"
    for path, label in val_files[::20]:
        (root / str(label)).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / str(label) / path.name), cv2.imread(str(path)))
    (root / "3" / "corrupt.jpg").write_bytes(b"\xff\xd8 broken")
    (root / "4" / "empty.png").write_bytes(b"")
    out = tmp_path / "faces.h5"
    assert main([str(root), "-o", str(out), "--jobs", "1", "-q"]) == 0
    printed = capsys.readouterr().out
    assert "2 skipped" in printed and "corrupt.jpg: not a decodable image" in printed
    loaded = load_features(out)
    assert len(loaded) == len(val_files[::20])
    assert sorted(os.path.basename(s[0]) for s in loaded.skipped) == ["corrupt.jpg", "empty.png"]


@pytest.mark.parametrize(
    ("make_input", "message"),
    [
        (lambda d: d / "missing.csv", "no such file or folder"),
        (lambda d: _write(d / "f.csv", "a,b\n1,2\n"), "line 1: missing column(s) emotion"),
        (
            lambda d: _write(d / "f.csv", "emotion,pixels,Usage\n3,1 2 3,Training\n"),
            "line 2: expected 2304 pixel values, got 3",
        ),
        (lambda d: _write(d / "f.txt", "hello"), "expected a fer2013.csv file or a folder"),
    ],
)
def test_unusable_input_exits_non_zero_with_one_clear_line(tmp_path, make_input, message):
    result = _cli(make_input(tmp_path), "-o", tmp_path / "out.h5", "-q")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("emonet-extract-features: error:") and message in lines[0]
    assert not (tmp_path / "out.h5").exists()


def _write(path, text):
    path.write_text(text)
    return path


def test_existing_output_needs_overwrite(tmp_path, fer_csv):
    out = tmp_path / "faces.h5"
    out.write_bytes(b"old")
    assert main([str(fer_csv), "-o", str(out), "-q"]) == 2
    assert out.read_bytes() == b"old"


def test_killed_run_resumes_to_the_same_file(tmp_path, val_faces):
    images, labels = val_faces
    # 840 real faces in chunks of 20: long enough to be killed part-way
    reps = 3
    csv_path = write_fer2013_csv(
        tmp_path / "big.csv",
        np.tile(images, (reps, 1, 1)),
        np.tile(labels, reps),
        ["Training"] * (reps * len(images)),
    )
    args = [csv_path, "--jobs", "2", "--chunk-size", "20", "-q"]
    killed = tmp_path / "killed.h5"
    parts = tmp_path / "killed.h5.parts"
    process = subprocess.Popen(
        [sys.executable, "-m", "emonet.cli.extract_features", *map(str, args), "-o", str(killed)],
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while len(list(parts.glob("chunk_*.npz"))) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)  # the workers die with it
    process.wait()
    done = len(list(parts.glob("chunk_*.npz")))
    assert 4 <= done < reps * len(images) // 20 and not killed.exists()

    again = _cli(*args, "-o", killed)
    assert again.returncode == 2 and "--resume" in again.stderr
    resumed = _cli(*args, "-o", killed, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed" in resumed.stdout

    straight = tmp_path / "straight.h5"
    assert _cli(*args, "-o", straight).returncode == 0
    a, b = load_features(killed), load_features(straight)
    assert len(a) == len(b) == reps * len(images)
    np.testing.assert_array_equal(a.features, b.features)
    np.testing.assert_array_equal(a.images, b.images)
    assert a.ids.tolist() == b.ids.tolist() == [str(i) for i in range(len(b))]


def test_resume_refuses_other_settings(tmp_path, fer_csv):
    out = tmp_path / "faces.h5"
    parts = tmp_path / "faces.h5.parts"
    parts.mkdir()
    (parts / "manifest.json").write_text("{}")
    assert main([str(fer_csv), "-o", str(out), "--resume", "-q"]) == 2
