"""The pure parts of tracking: overlap, assignment, the tracker's state machine with
stand-in descriptors, scene cuts, smoothing by seconds, summaries."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from skimage import data

from emonet import LABELS
from emonet.tracking import (
    DEFAULT_CUT_THRESHOLD,
    SUMMARY_COLUMNS,
    FaceTracker,
    Track,
    TrackSmoother,
    TrackSummarizer,
    TrackSummary,
    assign,
    box_iou,
    frame_signature,
    hysteresis_label,
    is_scene_cut,
    save_summaries,
    smooth_probabilities,
    smoothing_weight,
)


def test_box_iou_values_and_shapes():
    iou = box_iou([[0, 0, 10, 10], [0, 0, 0, 0]], [[0, 0, 10, 10], [5, 5, 15, 15], [20, 0, 30, 9]])
    np.testing.assert_allclose(iou, [[1, 25 / 175, 0], [0, 0, 0]])
    assert box_iou(np.empty((0, 4)), [[0, 0, 1, 1]]).shape == (0, 1)


def test_assign_keeps_pairs_under_the_limit_only():
    pairs, rows, columns = assign([[0.2, 0.1], [0.3, 0.9], [np.inf, np.nan]], max_cost=0.5)
    assert pairs.tolist() == [[0, 1], [1, 0]] and rows.tolist() == [2] and columns.tolist() == []
    pairs, rows, columns = assign(np.empty((0, 3)), 1.0)
    assert pairs.shape == (0, 2) and columns.tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="2-D"):
        assign([1.0, 2.0], 1.0)


@given(
    st.floats(0.001, 2.0),
    st.floats(0.05, 5.0),
    st.integers(2, 12),
)
def test_smoothing_does_not_depend_on_the_frame_rate(dt, time_constant, n):
    """n steps of dt/n towards a steady value land where one step of dt does."""
    start, target = np.eye(7)[0], np.eye(7)[3]
    one = smooth_probabilities(start, target, dt, time_constant)
    many = start
    for _ in range(n):
        many = smooth_probabilities(many, target, dt / n, time_constant)
    np.testing.assert_allclose(one, many, atol=1e-9)


def test_smoothing_weight_edges():
    assert smoothing_weight(0.5, 0) == smoothing_weight(0.5, None) == 1.0
    assert smoothing_weight(float("nan"), 1.0) == smoothing_weight(-1.0, 1.0) == 1.0
    assert smoothing_weight(0.0, 1.0) == 0.0
    np.testing.assert_allclose(smooth_probabilities(None, [0.2, 0.8], 1.0, 1.0), [0.2, 0.8])


def test_hysteresis_keeps_the_label_until_another_leads_by_the_margin():
    assert hysteresis_label(None, [0.1, 0.9], 0.2) == 1
    assert hysteresis_label(0, [0.41, 0.59], 0.2) == 0
    assert hysteresis_label(0, [0.39, 0.61], 0.2) == 1


def test_track_smoother_cuts_flicker_and_forgets():
    rng = np.random.default_rng(0)
    smoother, raw_off = TrackSmoother(time_constant=1.0), TrackSmoother(time_constant=0)
    assert smoother.enabled and not raw_off.enabled
    smoothed_labels, raw_labels = [], []
    for frame in range(300):  # 10 s at 30 fps of a face between happy and neutral
        values = np.full(7, 0.02)
        values[3], values[6] = 0.45 + rng.normal(0, 0.1), 0.45
        values = np.clip(values, 0.01, None) / np.clip(values, 0.01, None).sum()
        smoothed_labels.append(smoother.update(1, frame / 30, values)[1])
        raw_labels.append(raw_off.update(1, frame / 30, values)[1])
    changes = [int(np.sum(np.diff(labels) != 0)) for labels in (raw_labels, smoothed_labels)]
    assert changes[0] >= 20 and changes[1] <= changes[0] / 10
    smoother.forget([])
    assert smoother.update(1, 99.0, np.eye(7)[0])[1] == 0  # a fresh start
    with pytest.raises(ValueError, match="time_constant"):
        TrackSmoother(-1.0)
    with pytest.raises(ValueError, match="margin"):
        TrackSmoother(1.0, margin=1.5)


def test_track_smoother_every_other_frame_ends_where_every_frame_does():
    full, half = TrackSmoother(0.5), TrackSmoother(0.5)
    for frame in range(60):
        values = np.eye(7)[3] if frame < 30 else np.eye(7)[4]
        last_full = full.update(1, frame / 30, values)
        if frame % 2 == 0:
            last_half = half.update(1, frame / 30, values)
    np.testing.assert_allclose(last_full[0], half.update(1, 59 / 30, np.eye(7)[4])[0], atol=0.02)
    assert last_full[1] == last_half[1] == 4


# -- the tracker, with stand-in descriptors: one fixed random vector per person


PEOPLE = np.random.default_rng(1).normal(0, 1, (5, 128)) / np.sqrt(128) * 0.6


def _describer(who: list[int], calls: list[int]):
    def describe(indices):
        calls.append(len(indices))
        return PEOPLE[[who[i] for i in indices]]

    return describe


def _box(x, y=100, side=80):
    return [x, y, x + side, y + side]


def test_tracker_keeps_ids_through_a_crossing():
    tracker, calls = FaceTracker(), []
    seen = {0: set(), 1: set()}
    for step in range(21):
        a, b = 20 + step * 15, 320 - step * 15  # they meet at step 10
        boxes, who = [_box(a), _box(b, 110)], [0, 1]
        if 9 <= step <= 11:  # one hides the other: only the front face is found
            boxes, who = [_box(b, 110)], [1]
        ids = tracker.update(step * 0.1, boxes, _describer(who, calls))
        for person, track_id in zip(who, ids, strict=True):
            seen[person].add(int(track_id))
    assert seen == {0: {1}, 1: {2}}
    # described: each new face, the ambiguous frames and the return from behind, no more
    assert sum(calls) <= 10


def test_tracker_gives_the_old_id_back_within_keep_lost_and_a_new_one_after():
    tracker = FaceTracker(keep_lost=3.0)
    calls: list[int] = []
    assert tracker.update(0.0, [_box(10), _box(300)], _describer([0, 1], calls)).tolist() == [1, 2]
    tracker.update(0.1, [_box(10)], _describer([0], calls))
    back = tracker.update(2.1, [_box(10), _box(200)], _describer([0, 1], calls))
    assert back.tolist() == [1, 2]  # person 1 came back elsewhere, 2 s later
    tracker.update(5.0, [_box(10)], _describer([0], calls))
    late = tracker.update(6.0, [_box(10), _box(200)], _describer([0, 1], calls))
    assert late.tolist() == [1, 3] and 2 not in tracker.tracks_
    assert isinstance(tracker.tracks_[1], Track) and tracker.tracks_[1].hits == 5
    assert tracker.descriptors_computed_ == sum(calls)


def test_tracker_after_a_cut_matches_by_descriptor_not_by_place():
    tracker = FaceTracker()
    tracker.update(0.0, [_box(10), _box(300)], _describer([0, 1], []))
    swapped = tracker.update(0.1, [_box(10), _box(300)], _describer([1, 0], []), cut=True)
    assert swapped.tolist() == [2, 1]
    fresh = tracker.update(0.2, [_box(10)], _describer([2], []), cut=True)
    assert fresh.tolist() == [3]


def test_tracker_without_descriptors_and_follow():
    tracker = FaceTracker()
    assert tracker.update(0.0, [_box(10)]).tolist() == [1]
    tracker.follow(0.04, [1], [_box(14)])
    assert tracker.current() == [1] and tracker.tracks_[1].box.tolist() == _box(14)
    assert tracker.tracks_[1].velocity[0] == pytest.approx(100.0)
    np.testing.assert_allclose(tracker.tracks_[1].predicted_box(0.08, 1.0), _box(18))
    assert tracker.update(0.5, [_box(400)]).tolist() == [2]  # far away: no overlap
    with pytest.raises(ValueError, match="keep_lost"):
        FaceTracker(keep_lost=-1)
    with pytest.raises(ValueError, match="min_iou"):
        FaceTracker(min_iou=0)


def test_scene_cut_on_a_new_backdrop_only():
    frame, other = data.astronaut(), data.coffee()[:, :512]
    moved = np.roll(frame, 6, axis=1)  # the camera moved a little
    assert not is_scene_cut(frame_signature(frame), frame_signature(moved))
    assert is_scene_cut(frame_signature(frame), frame_signature(other))
    assert not is_scene_cut(None, frame_signature(frame))
    assert 0 < DEFAULT_CUT_THRESHOLD < 1


def test_summaries_and_their_files(tmp_path):
    summarizer = TrackSummarizer("clip.mp4")
    image = np.zeros((200, 300, 3), np.uint8)
    image[50:150, 50:150] = np.random.default_rng(0).integers(0, 255, (100, 100, 3))
    for frame in range(10):
        label = "happy" if frame < 7 else "sad"
        summarizer.add(
            2, frame * 0.1, label, np.eye(7)[LABELS.index(label)], _box(50, 50, 100), image
        )
    summarizer.add(5, 0.5, "neutral", np.eye(7)[6])  # no image: no thumbnail
    first, second = summarizer.summaries()
    assert isinstance(first, TrackSummary)
    assert (first.track_id, first.frames, first.dominant, first.first_s, first.last_s) == (
        2,
        10,
        "happy",
        0.0,
        pytest.approx(0.9),
    )
    assert first.shares["happy"] == pytest.approx(0.7) and sum(first.shares.values()) == 1
    assert first.thumbnail.shape[:2] == (112, 112) and second.thumbnail is None
    written = save_summaries([first, second], tmp_path / "people.json")
    assert [p.name for p in written] == ["people.json", "people.track2.png"]
    document = json.loads((tmp_path / "people.json").read_text())
    assert document["format"] == "emonet-track-summary"
    assert [t["thumbnail"] for t in document["tracks"]] == ["people.track2.png", None]
    assert document["tracks"][0]["source"] == "clip.mp4"
    save_summaries([first, second], tmp_path / "people.csv")
    with open(tmp_path / "people.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert tuple(rows[0]) == SUMMARY_COLUMNS and rows[1]["dominant"] == "neutral"
    with pytest.raises(ValueError, match="expected a .json or .csv"):
        save_summaries([first], tmp_path / "people.txt")
