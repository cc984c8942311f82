import csv
import re
import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from emonet import LABELS, USAGES
from emonet.data import DataError, input_kind, iter_records, load_fer2013, load_image_folder
from tests.conftest import write_fer2013_csv


def test_csv_written_from_real_images_reads_back_identically(fer_csv, val_faces):
    images, labels = val_faces
    data = load_fer2013(fer_csv)
    np.testing.assert_array_equal(data.images, images)
    np.testing.assert_array_equal(data.labels, labels)
    assert data.usage.tolist()[:4] == ["Training", "PublicTest", "PrivateTest", "Training"]
    assert data.ids.tolist()[:3] == ["0", "1", "2"]
    assert data.images.dtype == np.uint8 and data.labels.dtype == np.int64


def test_usage_selection(fer_csv):
    val = load_fer2013(fer_csv, usage="PublicTest")
    assert set(val.usage) == {"PublicTest"} and len(val) > 50
    assert len(load_fer2013(fer_csv).select(["Training", "PrivateTest"])) == (
        len(load_fer2013(fer_csv)) - len(val)
    )
    with pytest.raises(ValueError, match="unknown usage 'Test'"):
        load_fer2013(fer_csv, usage="Test")


@pytest.fixture
def kaggle_folder(tmp_path, val_files):
    """The Kaggle release's layout: test/ mixes PublicTest_ and PrivateTest_ files."""
    root = tmp_path / "fer2013"
    for i, (path, label) in enumerate(val_files[::7]):
        split, prefix = [("train", "Training"), ("test", "PublicTest"), ("test", "PrivateTest")][
            i % 3
        ]
        folder = root / split / LABELS[label]
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, folder / f"{prefix}_{1000 + i}.jpg")
    return root


def test_kaggle_folder_usage_comes_from_the_file_prefix(kaggle_folder):
    assert input_kind(kaggle_folder) == "fer2013-folder"
    data = load_fer2013(kaggle_folder)
    prefixes = [i.rsplit("/", 1)[-1].split("_")[0] for i in data.ids]
    assert data.usage.tolist() == prefixes
    assert {"Training", "PublicTest", "PrivateTest"} == set(prefixes)
    assert data.images.shape[1:] == (48, 48)
    assert len(load_fer2013(kaggle_folder, usage="PrivateTest")) == prefixes.count("PrivateTest")


def test_shared_layout_with_val_folder(fer_root):
    assert input_kind(fer_root) == "fer2013-folder"
    val = load_fer2013(fer_root, usage="PublicTest")
    assert len(val) == 3589
    assert val.ids[0].startswith("val/angry/PublicTest_")
    counts = np.bincount(val.labels, minlength=7)
    assert counts.tolist() == [467, 56, 496, 895, 653, 415, 607]


def test_ids_are_unique_although_the_release_repeats_file_names(fer_root):
    """The Kaggle release holds Training_8475486.jpg in both angry/ and surprise/."""
    kind, records, _ = iter_records(fer_root)
    ids = [r.id for r in records]
    assert len(ids) == 28709 + 3589 == len(set(ids))
    names = [i.rsplit("/", 1)[-1] for i in ids]
    assert len(set(names)) < len(names)
    assert (
        "train/angry/Training_8475486.jpg" in ids and "train/surprise/Training_8475486.jpg" in ids
    )


def test_unknown_label_folder_in_the_fer2013_layout(kaggle_folder, val_files):
    (kaggle_folder / "train" / "contempt").mkdir()
    shutil.copy(val_files[0][0], kaggle_folder / "train" / "contempt" / "Training_1.jpg")
    with pytest.raises(DataError, match="unknown label folder 'contempt'"):
        load_fer2013(kaggle_folder)
    data = load_fer2013(kaggle_folder, skip_unknown_labels=True)
    assert len(data) == len(load_fer2013(kaggle_folder, skip_unknown_labels=True))
    assert not any("contempt" in i for i in data.ids)
    _, _, skipped = iter_records(kaggle_folder, skip_unknown_labels=True)
    assert skipped == ["train/contempt"]


def test_fer2013_layout_without_images_is_an_error(tmp_path):
    for split in ("train", "val"):
        for label in LABELS:
            (tmp_path / split / label).mkdir(parents=True)
    assert input_kind(tmp_path) == "fer2013-folder"
    with pytest.raises(DataError, match="no images found in the FER2013 layout"):
        load_fer2013(tmp_path)
    with pytest.raises(DataError, match="no images found"):
        load_image_folder(tmp_path / "train")


def test_image_folder_is_not_taken_for_fer2013(tmp_path, val_files):
    (tmp_path / "happy").mkdir()
    shutil.copy(val_files[0][0], tmp_path / "happy" / "a.jpg")
    with pytest.raises(DataError, match="load_image_folder"):
        load_fer2013(tmp_path)
    csv_path = write_fer2013_csv(
        tmp_path / "f.csv", np.zeros((1, 48, 48), np.uint8), [0], ["Training"]
    )
    with pytest.raises(DataError, match="load_fer2013"):
        load_image_folder(csv_path)


def _row(label="3", pixels=None, usage="Training"):
    pixels = " ".join(["0"] * 2304) if pixels is None else pixels
    return f"{label},{pixels},{usage}\n"


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        (_row(label="7"), "line 3: emotion must be an integer 0..6, got '7'"),
        (_row(label="x"), "line 3: emotion must be an integer"),
        (_row(pixels=" ".join(["0"] * 2303)), "line 3: expected 2304 pixel values, got 2303"),
        (_row(pixels=" ".join(["0"] * 2303 + ["256"])), "line 3: pixel values must lie in 0..255"),
        (_row(pixels=" ".join(["0"] * 2303 + ["-1"])), "line 3: pixel values must lie in 0..255"),
        (_row(pixels=" ".join(["0"] * 2303 + ["a"])), "line 3: pixels must be space-separated"),
        (_row(usage="Test"), "line 3: Usage must be one of Training, PublicTest, PrivateTest"),
        ("3,0 0\n", "line 3: expected 3 columns, got 2"),
        (_row(label="\u0663"), "line 3: emotion must be an integer 0..6"),  # Arabic-Indic 3
        (_row(label="\u00b2"), "line 3: emotion must be an integer 0..6"),  # superscript 2
        (_row(pixels=" ".join(["0"] * 2303 + ["9" * 30])), "line 3: pixels must be space-sep"),
        (_row(pixels=" ".join(["0"] * 2303 + ["\u0663"])), "line 3: pixels must be space-sep"),
        (_row(pixels=" ".join(["0"] * 2303 + ["1.5"])), "line 3: pixels must be space-sep"),
    ],
)
def test_bad_rows_name_their_line(tmp_path, bad_row, message):
    path = tmp_path / "fer2013.csv"
    path.write_text("emotion,pixels,Usage\n" + _row() + bad_row + _row())
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(".", r"\.")):
        load_fer2013(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file"),
        ("label,pixels,Usage\n", "line 1: missing column\\(s\\) emotion"),
        ("emotion,pixels\n", "missing column\\(s\\) Usage"),
        ("emotion,pixels,Usage\n", "no data rows after the header"),
        ("emotion,pixels,Usage\n\n\n", "no data rows after the header"),
    ],
)
def test_bad_headers_are_explained(tmp_path, content, message):
    path = tmp_path / "fer2013.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        load_fer2013(path)


def test_missing_and_wrong_kind_of_path(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        load_fer2013(tmp_path / "nope.csv")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(DataError, match="expected a fer2013.csv file or a folder"):
        load_fer2013(tmp_path / "notes.txt")


def test_columns_in_another_order_and_extra_columns(tmp_path, val_faces):
    images, labels = val_faces[0][:3], val_faces[1][:3]
    path = tmp_path / "reordered.csv"
    with open(path, "w") as f:
        f.write("Usage,extra,pixels,emotion\n")
        for image, label in zip(images, labels, strict=True):
            f.write(f"PublicTest,x,{' '.join(map(str, image.ravel()))},{label}\n")
    data = load_fer2013(path)
    np.testing.assert_array_equal(data.images, images)
    np.testing.assert_array_equal(data.labels, labels)


def test_a_byte_order_mark_is_not_part_of_the_header(tmp_path, val_faces):
    path = write_fer2013_csv(
        tmp_path / "f.csv", val_faces[0][:2], val_faces[1][:2], ["Training"] * 2
    )
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # as spreadsheet programs save
    np.testing.assert_array_equal(load_fer2013(path).images, val_faces[0][:2])


# --- fuzzing: whatever the bytes, the right faces or one DataError naming file and line

# one line per row: control characters (newlines, NUL) are the raw-bytes test's part
_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=12)
_FIELD_MUTATIONS = st.one_of(
    _TEXT,
    st.sampled_from(["", " ", "7", "-1", "03", "3.0", "\u0663", "\u00b2", "1e3", "9" * 25]),
)


# spellings of valid fields that a reader must accept, per column
_PADDED = [lambda f: f" {f} ", lambda f: f"\t{f}"]
_VALID_SPELLINGS = [
    [*_PADDED, lambda f: "0" + f],
    [*_PADDED, lambda f: "  ".join(f.split(" ")), lambda f: " ".join("+" + v for v in f.split())],
    _PADDED,
]


@st.composite
def _csv_rows(draw, faces: np.ndarray, mutate: bool):
    """Rows of real FER2013 faces, their fields respelled in valid ways or, with
    ``mutate``, some replaced by anything."""
    rows, expected = [], []
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        label = draw(st.integers(min_value=0, max_value=6))
        usage = draw(st.sampled_from(USAGES))
        pixels = faces[draw(st.integers(0, len(faces) - 1))].ravel()
        fields = [str(label), " ".join(map(str, pixels)), usage]
        column = draw(st.sampled_from([None, 0, 1, 2]))
        if column is not None:
            respell = draw(st.sampled_from(_VALID_SPELLINGS[column]))
            fields[column] = respell(fields[column])
        column = draw(st.sampled_from([None, 0, 1, 2])) if mutate else None
        if column == 1:
            fields[1] = draw(
                _FIELD_MUTATIONS
                | st.just(" ".join(map(str, pixels[:-1])))
                | st.just(fields[1] + " 256")
            )
        elif column is not None:
            fields[column] = draw(_FIELD_MUTATIONS)
        rows.append(fields)
        expected.append((label, pixels, usage))
    return rows, expected


def _valid(fields: list[str]) -> bool:
    """The reference reading of one row, written independently of emonet."""
    label, pixels, usage = (f.strip() for f in fields)
    values = pixels.split()
    return (
        re.fullmatch("[0-9]+", label) is not None
        and int(label) <= 6
        and usage in USAGES
        and len(values) == 2304
        and all(re.fullmatch(r"\+?[0-9]+", v) and int(v) <= 255 for v in values)
    )


def _write_csv(folder, rows):
    path = folder / "fer2013.csv"
    with open(path, "w", newline="", encoding="utf-8") as stream:
        csv.writer(stream).writerows([["emotion", "pixels", "Usage"], *rows])
    return path


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(draw=st.data())
def test_valid_csv_in_any_spelling_gives_exactly_its_faces(tmp_path_factory, val_faces, draw):
    rows, expected = draw.draw(_csv_rows(val_faces[0], mutate=False))
    assert all(_valid(fields) for fields in rows)  # the strategy's promise
    data = load_fer2013(_write_csv(tmp_path_factory.mktemp("fuzz"), rows))
    assert data.labels.tolist() == [label for label, _, _ in expected]
    assert data.usage.tolist() == [usage for _, _, usage in expected]
    faces = np.stack([pixels.reshape(48, 48) for _, pixels, _ in expected])
    np.testing.assert_array_equal(data.images, faces)


@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(draw=st.data())
def test_fuzzed_csv_names_its_first_bad_line(tmp_path_factory, val_faces, draw):
    rows, _ = draw.draw(_csv_rows(val_faces[0], mutate=True))
    bad = [i for i, fields in enumerate(rows) if not _valid(fields)]
    assume(bad)
    path = _write_csv(tmp_path_factory.mktemp("fuzz"), rows)
    with pytest.raises(DataError) as error:
        load_fer2013(path)
    message = str(error.value)
    assert message.startswith(f"{path} line {bad[0] + 2}: ") and "\n" not in message


@settings(max_examples=150)
@given(body=st.binary(max_size=300), header=st.sampled_from([b"", b"emotion,pixels,Usage\n"]))
def test_any_bytes_as_a_csv_give_a_dataset_or_one_data_error(tmp_path_factory, body, header):
    path = tmp_path_factory.mktemp("fuzz") / "fer2013.csv"
    path.write_bytes(header + body)
    try:
        data = load_fer2013(path)
    except DataError as error:
        message = str(error)
        assert message.startswith(str(path)) and "\n" not in message
    else:  # 300 bytes cannot hold a 2,304-pixel face
        pytest.fail(f"read {len(data)} faces from {header + body!r}")


def test_records_carry_pixels_or_a_path_and_usages_are_checked(fer_csv, kaggle_folder):
    from emonet.data import Record, check_usages

    _, rows, _ = iter_records(fer_csv)
    first = next(rows)
    assert isinstance(first, Record) and first.path is None and first.pixels.shape == (48, 48)
    assert (first.id, first.usage) == ("0", "Training")
    _, files, _ = iter_records(kaggle_folder)
    image = next(files)
    assert isinstance(image, Record) and image.pixels is None and image.path.endswith(".jpg")
    assert check_usages("PublicTest") == ["PublicTest"]
    assert check_usages(["Training", ""]) == ["Training", ""]
    with pytest.raises(ValueError, match="unknown usage 'Test'"):
        check_usages(["Training", "Test"])
