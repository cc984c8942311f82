import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from emonet import LABELS
from emonet.cli.extract_features import main
from emonet.features import FeatureExtractor, _pipeline, extract_to_file, load_features
from tests.conftest import write_fer2013_csv


def _cli(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "emonet.cli.extract_features", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def _empty_fer2013_layout(folder):
    for split in ("train", "val"):
        for label in LABELS:
            (folder / "fer" / split / label).mkdir(parents=True)
    return folder / "fer"


def _one_error_line(result, *fragments):
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("emonet-extract-features: error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


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
        (lambda d: _write(d / "f.csv", "emotion,pixels,Usage\n"), "no data rows"),
        (lambda d: _write(d / "f.csv", "emotion,pixels,Usage\n\u0663,0,Training\n"), "line 2:"),
        (_empty_fer2013_layout, "no images found in the FER2013 layout"),
    ],
)
def test_unusable_input_exits_non_zero_with_one_clear_line(tmp_path, make_input, message):
    result = _cli(make_input(tmp_path), "-o", tmp_path / "out.h5", "-q")
    assert result.returncode == 2
    _one_error_line(result, message)
    assert not (tmp_path / "out.h5").exists() and not (tmp_path / "out.h5.parts").exists()


@pytest.fixture
def unwritable(tmp_path):
    """A folder this process cannot create files in (a read-only mode; /sys for root)."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        (folder / "probe").touch()
    except PermissionError:
        yield folder
    else:  # root ignores modes; sysfs refuses new entries even to root
        (folder / "probe").unlink()
        try:
            (Path("/sys") / "emonet-probe").mkdir()
        except OSError:
            yield Path("/sys")
        else:
            (Path("/sys") / "emonet-probe").rmdir()
            pytest.skip("no folder here refuses this process's writes")
    folder.chmod(0o755)


@pytest.mark.parametrize("where", ["read-only folder", "below a file"])
def test_unwritable_output_is_one_line(tmp_path, fer_csv, unwritable, where):
    if where == "below a file":
        out = _write(tmp_path / "a-file", "x") / "faces.h5"
    else:
        out = unwritable / "emonet-test" / "faces.h5"
    result = _cli(fer_csv, "-o", out, "-q", "-j", "1")
    assert result.returncode in (1, 2)
    _one_error_line(result, "faces.h5.parts")


def test_existing_output_needs_overwrite(tmp_path, fer_csv):
    out = tmp_path / "faces.h5"
    out.write_bytes(b"old")
    assert main([str(fer_csv), "-o", str(out), "-q"]) == 2
    assert out.read_bytes() == b"old"


_EXTRACT_CHUNK = _pipeline._extract_chunk


def _gated_extract_chunk(index, *args):
    """Chunks from $EMONET_TEST_GATE on never finish: whenever a run using this is
    killed, it has finished exactly that many chunks and is still going."""
    while index >= int(os.environ["EMONET_TEST_GATE"]):
        time.sleep(60)
    return _EXTRACT_CHUNK(index, *args)


# the command, with workers that run _gated_extract_chunk (imported by name)
_GATED_RUN = """
import sys
import emonet.features._pipeline as pipeline
from tests.features.test_extract_features_cli import _gated_extract_chunk

pipeline._extract_chunk = _gated_extract_chunk
from emonet.cli.extract_features import main
sys.exit(main(sys.argv[1:]))
"""
ROOT = Path(__file__).resolve().parents[2]


def _children(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def _running(pid: int) -> bool:
    """Alive, not a zombie: a zombie holds no file and no lock."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_until(condition, what, seconds=300):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what} after {seconds} s"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def kill_input(tmp_path_factory, val_faces):
    """240 real faces in a CSV, and the file an uninterrupted run makes of them."""
    folder = tmp_path_factory.mktemp("kill")
    images, labels = val_faces[0][:240], val_faces[1][:240]
    source = write_fer2013_csv(folder / "faces.csv", images, labels, ["Training"] * 240)
    straight = folder / "straight.h5"
    extract_to_file(source, straight, jobs=1, chunk_size=20, progress=False)
    return source, load_features(straight)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_killed_run_leaves_no_worker_and_resumes_to_the_same_file(tmp_path, kill_input, how):
    source, straight = kill_input
    out = tmp_path / "faces.h5"
    parts = tmp_path / "faces.h5.parts"
    args = [source, "-o", out, "--jobs", "2", "--chunk-size", "20", "-q"]
    errors = tmp_path / "stderr.txt"  # a file, not a pipe: workers left alive would hold a pipe
    with open(errors, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", _GATED_RUN, *map(str, args)],
            stderr=stderr,
            cwd=ROOT,
            env={**os.environ, "EMONET_TEST_GATE": "4"},
            start_new_session=True,
        )
    workers = []
    try:
        _wait_until(lambda: len(list(parts.glob("chunk_*.npz"))) == 4, "4 finished chunks")
        workers = _children(process.pid)
        assert len(workers) >= 2 and process.poll() is None
        process.send_signal(how)  # the command alone: its workers must follow by themselves
        process.wait(timeout=300)
        _wait_until(lambda: not any(_running(w) for w in workers), "the workers to end", 60)
    finally:
        if process.poll() is None or any(_running(w) for w in workers):
            os.killpg(process.pid, signal.SIGKILL)  # only if the test failed: no orphans
    stderr = errors.read_text()
    errors.unlink()
    assert len(list(parts.glob("chunk_*.npz"))) == 4 and not out.exists()
    temporaries = list(tmp_path.glob(".faces.h5.*.tmp"))
    if how == signal.SIGTERM:  # stopped as by Ctrl-C: cleaned up, said so
        assert (
            process.returncode == 130 and stderr.strip() == "emonet-extract-features: interrupted"
        )
        assert temporaries == []
    else:  # nothing could clean up; the next run will
        assert process.returncode == -signal.SIGKILL and len(temporaries) == 1

    _one_error_line(_cli(*args), "--resume", "--overwrite")
    resumed = _cli(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "240 faces" in resumed.stdout and "4 chunk(s) resumed" in resumed.stdout
    loaded = load_features(out)
    np.testing.assert_array_equal(loaded.features, straight.features)
    np.testing.assert_array_equal(loaded.images, straight.images)
    assert loaded.ids.tolist() == straight.ids.tolist() == [str(i) for i in range(240)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["faces.h5"]


def test_resume_of_changed_input_is_one_line(tmp_path, val_files, monkeypatch, capsys):
    root = tmp_path / "faces"
    for path, label in val_files[::20]:
        (root / LABELS[label]).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, root / LABELS[label] / path.name)
    out = tmp_path / "faces.h5"
    args = [str(root), "-o", str(out), "-j", "1", "--chunk-size", "4", "-q"]
    extract_chunk = _pipeline._extract_chunk

    def ctrl_c_at_chunk_2(index, *rest):
        if index == 2:
            raise KeyboardInterrupt
        return extract_chunk(index, *rest)

    monkeypatch.setattr(_pipeline, "_extract_chunk", ctrl_c_at_chunk_2)
    assert main(args) == 130
    assert capsys.readouterr().err.strip() == "emonet-extract-features: interrupted"
    monkeypatch.undo()
    (root / "happy" / "extra.jpg").write_bytes(val_files[0][0].read_bytes())
    _one_error_line(
        _cli(*args, "--resume"),
        "changed since the interrupted run",
        "1 file(s) added (happy/extra.jpg)",
    )
    _one_error_line(_cli(*args, "--resume", "--chunk-size", "5"), "chunk_size 4 -> 5")
    assert main([*args, "--overwrite"]) == 0


def test_skip_unknown_labels_in_a_fer2013_layout(tmp_path, val_files, capsys):
    root = tmp_path / "fer2013"
    for i, (path, label) in enumerate(val_files[::30]):
        (root / "val" / LABELS[label]).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, root / "val" / LABELS[label] / f"PublicTest_{i}.jpg")
    (root / "val" / "contempt").mkdir()
    shutil.copy(val_files[0][0], root / "val" / "contempt" / "PublicTest_99.jpg")
    out = tmp_path / "faces.h5"
    assert main([str(root), "-o", str(out), "-j", "1", "-q"]) == 2
    assert "unknown label folder 'contempt'" in capsys.readouterr().err
    assert main([str(root), "-o", str(out), "-j", "1", "-q", "--skip-unknown-labels"]) == 0
    assert "left out unknown label folders: val/contempt" in capsys.readouterr().out
    assert len(load_features(out)) == len(val_files[::30])


def test_resume_refuses_other_settings(tmp_path, fer_csv):
    out = tmp_path / "faces.h5"
    parts = tmp_path / "faces.h5.parts"
    parts.mkdir()
    (parts / "manifest.json").write_text("{}")
    assert main([str(fer_csv), "-o", str(out), "--resume", "-q"]) == 2
