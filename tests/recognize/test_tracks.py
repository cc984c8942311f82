"""Tracks, smoothing and per-person outputs of real videos: real faces (the astronaut,
FER2013 crops) moved through clips written by the test with OpenCV, real dlib, the
bundled "fast" preset."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from emonet import LABELS, Recognizer
from emonet.cli.predict import main
from emonet.recognize import ROW_COLUMNS, results_document
from emonet.tracking import TrackSummarizer, box_iou
from tests.tracking.scenes import Person, astronaut_sprite, background, clips, render, write_video

FPS = 8.0
SIZE = (480, 360)


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer("fast")


@pytest.fixture(scope="module")
def scenes(fer_root, tmp_path_factory) -> dict:
    """name -> (video path, ground truth per frame) of the crossing and leave/return
    clips, at 8 frames a second."""
    folder = tmp_path_factory.mktemp("clips")
    found = {}
    for name, clip in clips(size=SIZE, face=90).items():
        if name not in ("crossing", "leave_return"):
            continue
        frames = list(clip.frames(FPS))
        path = write_video(folder / f"{name}.avi", (frame for _, frame, _ in frames), FPS)
        found[name] = (path, [truth for _, _, truth in frames])
    return found


def _ids_per_person(results, truths) -> dict[int, list[int]]:
    """The track id given to each ground-truth person, frame by frame (-1: not found)."""
    found: dict[int, list[int]] = {}
    for result, truth in zip(results, truths, strict=True):
        boxes = [face.box for face in result.faces]
        iou = box_iou([box for _, box in truth], boxes) if boxes else None
        for row, (person, _) in enumerate(truth):
            hit = -1
            if iou is not None and iou[row].max() >= 0.5:
                hit = result.faces[int(iou[row].argmax())].track_id
            found.setdefault(person, []).append(hit)
    return found


@pytest.mark.slow
@pytest.mark.parametrize("name", ["crossing", "leave_return"])
def test_each_person_keeps_one_id(recognizer, scenes, name):
    path, truths = scenes[name]
    results = list(recognizer.predict_video(path))
    assert len(results) == len(truths)
    ids = _ids_per_person(results, truths)
    for person, seen in ids.items():
        kept = [i for i in seen if i >= 0]
        assert len(kept) >= 0.8 * len(seen), f"person {person} found in too few frames"
        assert len(set(kept)) == 1, f"person {person} got ids {sorted(set(kept))}"
    assert len({seen[0] for seen in ids.values()}) == len(ids)  # one id per person
    face = results[0].faces[0]
    assert face.smoothed_label in LABELS and sum(face.smoothed_probabilities.values()) == (
        pytest.approx(1, abs=1e-5)
    )


@pytest.mark.slow
def test_detection_every_third_frame_follows_faces_in_between(recognizer, scenes):
    path, truths = scenes["crossing"]
    every_frame = list(recognizer.predict_video(path))
    strided = list(recognizer.predict_video(path, detect_every=3))
    ids = _ids_per_person(strided, truths)
    for seen in ids.values():
        kept = [i for i in seen if i >= 0]
        assert len(set(kept)) == 1 and len(kept) >= 0.8 * len(seen)
    followed = [f for r in strided for f in r.faces if math.isnan(f.detection_score)]
    assert len(followed) >= len(strided) // 2  # most frames had no detection
    # every frame still gets each face it had with detection on every frame
    assert sum(len(r.faces) for r in strided) >= 0.9 * sum(len(r.faces) for r in every_frame)


def _steady_frames(n: int, fps: float):
    """The astronaut, jittered a little frame by frame (one steady expression)."""
    sprite, box = astronaut_sprite(100)
    rng = np.random.default_rng(0)
    backdrop = background(320, 240)
    for index in range(n):
        dx, dy = rng.normal(0, 2, 2)
        person = Person(1, sprite, box, lambda t, dx=dx, dy=dy: (160 + dx, 120 + dy))
        frame, _ = render([person], index / fps, (320, 240), backdrop)
        noise = rng.normal(0, 6, frame.shape)
        yield np.clip(frame + noise, 0, 255).astype(np.uint8)


def test_smoothing_does_not_depend_on_every(recognizer, tmp_path):
    path = write_video(tmp_path / "steady.avi", _steady_frames(24, 12.0), 12.0)
    summaries = []
    for every in (1, 2):
        summarizer = TrackSummarizer()
        results = list(recognizer.predict_video(path, every, smoothing=0.5))
        assert [r.index for r in results] == list(range(0, 24, every))
        for result in results:
            for face in result.faces:
                summarizer.add(
                    face.track_id,
                    result.time_s,
                    face.smoothed_label,
                    list(face.smoothed_probabilities.values()),
                )
        (summary,) = summarizer.summaries()
        summaries.append((summary, results[-1].faces[0].smoothed_probabilities))
    (one, last_one), (two, last_two) = summaries
    assert one.dominant == two.dominant
    assert one.last_s == pytest.approx(23 / 12) and two.last_s == pytest.approx(22 / 12)
    for name in LABELS:
        assert one.mean_probabilities[name] == pytest.approx(
            two.mean_probabilities[name], abs=0.05
        )
        assert last_one[name] == pytest.approx(last_two[name], abs=0.05)


def test_tracking_off_and_bad_settings(recognizer, scenes):
    path, _ = scenes["leave_return"]
    first = next(iter(recognizer.predict_video(path, track=False)))
    assert first.faces and all(f.track_id is None for f in first.faces)
    assert first.faces[0].to_row()["track_id"] == ""
    with pytest.raises(ValueError, match="needs tracking"):
        recognizer.predict_video(path, track=False, detect_every=2)
    with pytest.raises(ValueError, match="detect_every"):
        recognizer.predict_video(path, detect_every=0)
    with pytest.raises(ValueError, match="smoothing"):
        recognizer.predict_video(path, smoothing=-1.0)


@pytest.mark.slow
def test_cli_writes_tracks_smoothed_columns_and_a_summary(scenes, tmp_path, capsys):
    path, _ = scenes["leave_return"]
    table, people, out = tmp_path / "rows.csv", tmp_path / "people.json", tmp_path / "out"
    status = main(
        [str(path), "--preset", "fast", "--every", "2", "--detect-every", "2", "--json",
         "--csv", str(table), "--summary", str(people), "--annotate", str(out), "-q"]
    )  # fmt: skip
    assert status == 0
    document = json.loads(capsys.readouterr().out)
    assert document["format_version"] == 2 and document["labels"] == list(LABELS)
    faces = [face for frame in document["results"][0]["frames"] for face in frame["faces"]]
    assert {face["track_id"] for face in faces} == {1, 2}
    assert all(set(face["smoothed_probabilities"]) == set(LABELS) for face in faces)
    with open(table, newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert tuple(rows[0]) == ROW_COLUMNS and len(rows) == len(faces)
    assert {row["track_id"] for row in rows} == {"1", "2"}
    summary = json.loads(people.read_text())
    assert [t["track_id"] for t in summary["tracks"]] == [1, 2]
    for track in summary["tracks"]:
        assert (tmp_path / track["thumbnail"]).is_file()
        assert sum(track["shares"].values()) == pytest.approx(1, abs=1e-5)
    # person 2 leaves for 2 s: seen first and last around it
    assert summary["tracks"][1]["first_s"] == 0 and summary["tracks"][1]["last_s"] > 5
    assert (out / "leave_return.timeline.png").is_file() and (out / "leave_return.mp4").is_file()


def test_results_document_is_version_two():
    assert results_document()["format_version"] == 2
    # the columns of version 1 first, as they were; then the track and smoothed values
    start = ROW_COLUMNS.index("track_id")
    assert ROW_COLUMNS[start - 7 : start] == LABELS
    assert ROW_COLUMNS[start : start + 3] == ("track_id", "smoothed_label", "smoothed_confidence")
    assert ROW_COLUMNS[start + 3 : start + 10] == tuple(f"smoothed_{name}" for name in LABELS)


def test_annotate_draws_the_track_and_its_smoothed_label():
    from emonet.recognize import LABEL_COLOURS, Face, annotate

    raw_happy = np.eye(7)[LABELS.index("happy")]
    smoothed_sad = np.eye(7)[LABELS.index("sad")]
    tracked = Face.from_probabilities(
        (40, 40, 140, 140), 1.0, np.zeros((68, 2)), raw_happy, track_id=3, smoothed=smoothed_sad
    )
    assert (tracked.label, tracked.smoothed_label, tracked.track_id) == ("happy", "sad", 3)
    plain = Face.from_probabilities((40, 40, 140, 140), 1.0, np.zeros((68, 2)), raw_happy)
    canvas = np.zeros((240, 320, 3), np.uint8)
    # the box takes the smoothed label's colour; the raw one stays for untracked faces
    assert tuple(annotate(canvas, [tracked])[140, 90]) == LABEL_COLOURS["sad"]
    assert tuple(annotate(canvas, [plain])[140, 90]) == LABEL_COLOURS["happy"]
    with pytest.raises(ValueError, match="smoothed_label"):
        Face.from_probabilities(
            (0, 0, 1, 1), 1.0, np.zeros((68, 2)), raw_happy, smoothed=raw_happy, smoothed_label="x"
        )
