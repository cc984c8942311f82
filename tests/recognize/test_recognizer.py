"""Recognizer: photos with zero, one and several faces, crops, batches, members, videos."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

import emonet
from emonet import LABELS
from emonet.features import FeatureExtractor, FeatureSet
from emonet.models import feature_settings
from emonet.recognize import ROW_COLUMNS, Face, Recognizer, read_photo


@pytest.fixture(scope="module")
def recognizer(tiny_models) -> Recognizer:
    return Recognizer(tiny_models["preset"])


def test_preset_folder_loads_members_weights_and_tta(recognizer, tiny_models):
    assert len(recognizer.models_) == 2
    np.testing.assert_allclose(
        recognizer.weights_, tiny_models["weights"] / tiny_models["weights"].sum()
    )
    assert recognizer.tta_ == "flip"  # the preset's True
    assert [m.emonet_info.uses_features for m in recognizer.models_] == [False, True]


def test_one_face(recognizer, astronaut):
    (result,) = recognizer.predict(astronaut)  # one result per photo, for one photo too
    assert (result.source, result.width, result.height) == (None, 512, 512)
    assert result.image is None
    assert len(result.faces) == 1
    face = result.faces[0]
    assert face.box == (179, 83, 266, 170)
    assert face.detection_score > 1
    assert face.landmarks.shape == (68, 2)
    # the landmarks lie on the face, in the photo's coordinates
    left, top, right, bottom = face.box
    inside = (face.landmarks[:, 0] > left - 20) & (face.landmarks[:, 0] < right + 20)
    inside &= (face.landmarks[:, 1] > top - 20) & (face.landmarks[:, 1] < bottom + 30)
    assert inside.all()
    assert list(face.probabilities) == list(LABELS)
    assert sum(face.probabilities.values()) == pytest.approx(1, abs=1e-5)
    assert face.label == max(face.probabilities, key=face.probabilities.get)
    assert face.confidence == face.probabilities[face.label]


def test_several_faces_no_face_and_a_batch(recognizer, astronaut, two_faces, no_face):
    (pair,) = recognizer.predict(two_faces)
    assert len(pair.faces) == 2 and pair.width == 1024
    (empty,) = recognizer.predict(no_face)
    assert empty.faces == [] and (empty.width, empty.height) == no_face.shape[1::-1]
    batch = recognizer.predict([astronaut, no_face, two_faces])
    assert [len(result.faces) for result in batch] == [1, 0, 2]
    # a face's result does not depend on the batch it came in
    alone = recognizer.predict(astronaut)[0].faces[0]
    np.testing.assert_allclose(
        list(batch[0].faces[0].probabilities.values()),
        list(alone.probabilities.values()),
        atol=1e-5,
    )
    # a 4-D array is photos too, and an empty list no photo
    assert [len(r.faces) for r in recognizer.predict(np.stack([astronaut, astronaut]))] == [1, 1]
    assert recognizer.predict([]) == []


def test_small_face_found_by_automatic_upsampling(tiny_models, small_face):
    assert len(Recognizer(tiny_models["preset"]).predict(small_face)[0].faces) == 1
    assert Recognizer(tiny_models["preset"], upsample=0).predict(small_face)[0].faces == []


def test_gray_float_and_path_inputs_agree(recognizer, astronaut, tmp_path):
    gray = cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY)
    path = tmp_path / "astronaut.png"
    cv2.imwrite(str(path), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    from_array = recognizer.predict(astronaut)[0].faces[0]
    for other in (gray, astronaut / 255.0, path, str(path)):
        (result,) = recognizer.predict(other)
        assert result.source == (None if isinstance(other, np.ndarray) else str(path))
        face = result.faces[0]
        assert face.box == from_array.box
        np.testing.assert_allclose(
            list(face.probabilities.values()), list(from_array.probabilities.values()), atol=1e-4
        )


@pytest.mark.parametrize(
    "photo, message",
    [
        (np.zeros((4, 4), np.uint8), "holds no face"),
        (np.zeros((50, 50, 2), np.uint8), "must be"),
        (np.full((50, 50), 2.0), r"\[0, 1\]"),
        (np.full((50, 50), 70000, np.uint32), "16 bits"),
    ],
)
def test_arrays_that_cannot_be_photos_are_refused(photo, message):
    with pytest.raises(ValueError, match=message):
        read_photo(photo)


def test_unreadable_file_is_named(recognizer, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="broken.jpg"):
        recognizer.predict(broken)


def test_predict_crops_weighs_members_as_the_ensemble(recognizer, val_faces):
    images = val_faces[0][:16]
    combined = recognizer.predict_crops(images, tta=False)
    assert combined.shape == (16, 7)
    np.testing.assert_allclose(combined.sum(axis=1), 1, atol=1e-5)
    singles = [
        Recognizer(models=[model], tta=False).predict_crops(images) for model in recognizer.models_
    ]
    expected = sum(w * p for w, p in zip(recognizer.weights_, singles, strict=True))
    np.testing.assert_allclose(combined, expected / expected.sum(1, keepdims=True), atol=1e-5)
    # flip averaging is the mean of the faces and their mirror images
    mirrored = recognizer.predict_crops(images[:, :, ::-1], tta=False)
    with_tta = recognizer.predict_crops(images, tta=True)
    assert not np.allclose(with_tta, combined, atol=1e-4)
    assert with_tta.shape == (16, 7) and mirrored.shape == (16, 7)
    np.testing.assert_allclose(recognizer.predict_crops(images, tta="flip"), with_tta, atol=1e-6)
    # mirror images at three zooms: each member's own multi-scale average, weighed
    multiscale = recognizer.predict_crops(images, tta="multiscale")
    singles = [
        Recognizer(models=[model], tta="multiscale").predict_crops(images)
        for model in recognizer.models_
    ]
    expected = sum(w * p for w, p in zip(recognizer.weights_, singles, strict=True))
    np.testing.assert_allclose(multiscale, expected / expected.sum(1, keepdims=True), atol=1e-5)
    assert not np.allclose(multiscale, with_tta, atol=1e-4)


def test_a_bad_tta_is_refused_before_the_models_load(tiny_models):
    with pytest.raises(ValueError, match="tta: expected True, False or one of"):
        Recognizer(models=["nowhere.keras"], tta="mirror")


def test_features_are_computed_only_for_members_that_read_them(
    tiny_models, val_faces, monkeypatch
):
    calls = []
    real = FeatureExtractor.transform

    def counting(self, images):
        calls.append((len(images), self.get_params()))
        return real(self, images)

    monkeypatch.setattr(FeatureExtractor, "transform", counting)
    images = val_faces[0][:8]
    Recognizer(models=tiny_models["paths"][:1]).predict_crops(images)
    assert calls == []
    recognizer = Recognizer(models=tiny_models["paths"])
    recognizer.predict_crops(images)
    # once, by the extractor the member's record builds (ModelInfo.feature_extractor)
    info = recognizer.models_[1].emonet_info
    assert calls == [(8, info.feature_extractor().get_params())]


def test_a_feature_set_goes_through_with_its_own_features(tiny_models, val_faces):
    recognizer = Recognizer(models=tiny_models["paths"])  # equal weights: both members read
    images, labels = val_faces[0][:12], val_faces[1][:12]

    def feature_set(**hog) -> FeatureSet:
        extractor = FeatureExtractor(**hog)
        features = extractor.transform(images).astype(np.float32)
        n = len(images)
        ids = np.array([f"face{i}" for i in range(n)])
        # as a features file records them
        attrs = {f"hog_{key}": value for key, value in feature_settings(extractor).items()}
        return FeatureSet(images, features, labels, np.full(n, "PublicTest"), ids, attrs)

    np.testing.assert_allclose(
        recognizer.predict_feature_set(feature_set()), recognizer.predict_crops(images), atol=1e-5
    )
    with pytest.raises(ValueError, match="block_norm='L1', but the model was trained on"):
        recognizer.predict_feature_set(feature_set(block_norm="L1"))


def test_empty_crops_and_bad_crops(recognizer):
    assert recognizer.predict_crops(np.empty((0, 48, 48), np.uint8)).shape == (0, 7)
    with pytest.raises(ValueError, match=r"\(N, 48, 48\)"):
        recognizer.predict_crops(np.zeros((2, 64, 64), np.uint8))


def test_own_models_with_and_without_ensemble(tiny_models, val_faces):
    paths = tiny_models["paths"]
    equal = Recognizer(models=paths)
    np.testing.assert_allclose(equal.weights_, [0.5, 0.5])
    weighted = Recognizer(models=paths, ensemble=tiny_models["ensemble"])
    np.testing.assert_allclose(weighted.weights_.sum(), 1)
    with pytest.raises(ValueError, match="weights for 2 models, but 1"):
        Recognizer(models=paths[:1], ensemble=tiny_models["ensemble"])


def test_quantized_members_load_from_tflite_files_and_presets(tiny_models, val_faces, tmp_path):
    from emonet.models import LiteModel, load_model, predict_crops, quantize_model
    from emonet.recognize import save_preset

    images = val_faces[0]
    lite_paths = [
        quantize_model(load_model(path), images).save(tmp_path / f"{path.stem}.tflite")
        for path in tiny_models["paths"]
    ]
    preset = save_preset(
        tmp_path / "lite", lite_paths, tiny_models["ensemble"], tta="flip", description="int8"
    )
    recognizer = Recognizer(preset)
    assert all(isinstance(model, LiteModel) for model in recognizer.models_)
    assert [m.emonet_info.uses_features for m in recognizer.models_] == [False, True]
    # each member as predict_crops reads it (the two-branch one with the crops' features),
    # weighed as the ensemble says
    features = FeatureExtractor().transform(images[:16])
    singles = [
        predict_crops(model, images[:16], features, tta="flip") for model in recognizer.models_
    ]
    expected = sum(w * p for w, p in zip(recognizer.weights_, singles, strict=True))
    np.testing.assert_allclose(
        recognizer.predict_crops(images[:16]), expected / expected.sum(1, keepdims=True), atol=1e-5
    )
    # and close to the float members they were made from
    floats = Recognizer(tiny_models["preset"]).predict_crops(images[:16], tta="flip")
    assert np.abs(recognizer.predict_crops(images[:16]) - floats).max() < 0.05
    # the files themselves, and the objects, as members
    assert isinstance(Recognizer(models=lite_paths[:1]).models_[0], LiteModel)
    assert Recognizer(models=recognizer.models_[:1]).models_[0] is recognizer.models_[0]
    with pytest.raises(ValueError, match=r"x.onnx: a preset member must be a .keras or .tflite"):
        save_preset(tmp_path / "bad", [tmp_path / "x.onnx"])
    with pytest.raises(ValueError, match=r"x.onnx: expected an emonet-train run folder, a .keras"):
        Recognizer(models=[tmp_path / "x.onnx"])


def test_unknown_preset_and_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="unknown preset 'nope'"):
        Recognizer("nope")
    with pytest.raises(ValueError, match="detector"):
        Recognizer(models=[], detector="haar")


def test_a_preset_and_models_together_are_refused(tiny_models):
    # each names the models to load: no silent choice between them
    for preset in ("default", tiny_models["preset"]):
        with pytest.raises(ValueError, match=r"preset=.* and models= both name the models"):
            Recognizer(preset, models=tiny_models["paths"])
        with pytest.raises(ValueError, match="not both"):
            Recognizer(preset=preset, models=tiny_models["paths"][:1])
    own = Recognizer(models=tiny_models["paths"])
    assert own.preset is None and own.preset_ is None


def test_result_schema_dict_and_row(recognizer, astronaut):
    face = recognizer.predict(astronaut)[0].faces[0]
    as_dict = json.loads(json.dumps(face.to_dict()))
    assert set(as_dict) == {
        "box",
        "detection_score",
        "score",  # the detection score's old name, for one release
        "label",
        "confidence",
        "probabilities",
        "landmarks",
        # format version 2: a face's track and smoothed values, null in photos
        "track_id",
        "smoothed_label",
        "smoothed_confidence",
        "smoothed_probabilities",
    }
    assert as_dict["track_id"] is None and as_dict["smoothed_probabilities"] is None
    assert as_dict["detection_score"] == as_dict["score"] == round(face.detection_score, 4)
    assert len(as_dict["landmarks"]) == 68
    row = face.to_row("a.jpg", frame=3, time_s=0.12, face=0)
    assert tuple(row) == ROW_COLUMNS
    assert row["left"] == 179 and row["label"] == face.label
    assert row["detection_score"] == row["score"] == as_dict["detection_score"]
    assert isinstance(
        Face.from_probabilities((0, 0, 1, 1), 0.5, np.zeros((68, 2)), np.eye(7)[0]), Face
    )


def write_video(path, frames, fps=10.0):
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    assert writer.isOpened()
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture(scope="module")
def video(tmp_path_factory, astronaut, no_face):
    """Six frames at 10 fps: astronaut, astronaut, coffee, then three astronauts."""
    coffee = cv2.resize(no_face, (512, 512))
    frames = [astronaut, astronaut, coffee, astronaut, astronaut, astronaut]
    return write_video(tmp_path_factory.mktemp("video") / "clip.mp4", frames)


def test_video_frames_carry_index_time_and_faces(recognizer, video):
    frames = list(recognizer.predict_video(video, batch_frames=4))
    assert [f.index for f in frames] == list(range(6))
    np.testing.assert_allclose([f.time_s for f in frames], np.arange(6) / 10)
    assert [len(f.faces) for f in frames] == [1, 1, 0, 1, 1, 1]
    assert all(f.image is None for f in frames)
    every = list(recognizer.predict_video(video, every=2, keep_images=True))
    assert [f.index for f in every] == [0, 2, 4]
    assert every[0].image.shape == (512, 512, 3)
    rows = frames[0].to_rows("clip.mp4")
    assert rows[0]["frame"] == 0 and rows[0]["time_s"] == 0


def test_video_errors(recognizer, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        list(recognizer.predict_video(tmp_path / "missing.mp4"))
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="bad.mp4"):
        list(recognizer.predict_video(bad))
    with pytest.raises(ValueError, match="every"):
        list(recognizer.predict_video(bad, every=0))


def test_top_level_names_are_lazy():
    assert emonet.Recognizer is Recognizer
    assert "Recognizer" in dir(emonet)
    with pytest.raises(AttributeError):
        emonet.nothing_here  # noqa: B018


def test_boxes_given_by_the_caller_skip_detection(recognizer, astronaut, two_faces, no_face):
    detected = recognizer.predict(astronaut)[0].faces[0]
    given = recognizer.predict(astronaut, boxes=[detected.box])[0].faces[0]
    assert given.box == detected.box and np.isnan(given.detection_score)
    np.testing.assert_allclose(
        list(given.probabilities.values()), list(detected.probabilities.values()), atol=1e-5
    )
    # a face the detector does not find is read where the caller says it is
    assert len(recognizer.predict(no_face, boxes=[[10, 10, 110, 110]])[0].faces) == 1
    batch = recognizer.predict([astronaut, two_faces], boxes=[[detected.box], []])
    assert [len(result.faces) for result in batch] == [1, 0]
    with pytest.raises(ValueError, match="one .K, 4. array per photo: 1 for 2 photos"):
        recognizer.predict([astronaut, two_faces], boxes=[[detected.box]])
    with pytest.raises(ValueError, match="outside the 512x512 photo"):
        recognizer.predict(astronaut, boxes=[[600, 600, 700, 700]])
    with pytest.raises(ValueError, match="right > left"):
        recognizer.predict(astronaut, boxes=[[60, 60, 10, 10]])


def test_a_callable_detector_sees_the_photo_in_rgb(tiny_models, astronaut):
    seen = []

    def centre_box(photo):
        seen.append(photo.copy())
        return [[179, 83, 266, 170]]

    (result,) = Recognizer(tiny_models["preset"], detector=centre_box).predict(astronaut)
    assert [face.box for face in result.faces] == [(179, 83, 266, 170)]
    np.testing.assert_array_equal(seen[0], astronaut)


@pytest.mark.slow
def test_the_cnn_detector_works_through_the_recognizer(tiny_models, astronaut):
    # it used to fail in the constructor, which ran detection on an 8x8 image
    half = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    (result,) = Recognizer(tiny_models["preset"], detector="cnn", upsample=1).predict(half)
    faces = result.faces
    assert len(faces) == 1
    left, top, right, bottom = faces[0].box
    assert abs((left + right) / 2 - 111) < 12 and abs((top + bottom) / 2 - 63) < 12


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"min_score": float("nan")}, "finite"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"batch_size": "8"}, "batch_size"),
        ({"upsample": -1}, "upsample"),
    ],
)
def test_bad_settings_are_refused_before_the_models_load(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Recognizer("no-such-preset", **kwargs)
