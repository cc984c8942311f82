"""emonet-train and emonet-evaluate on a small real features file."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from emonet.cli import evaluate as evaluate_cli
from emonet.cli import train as train_cli
from emonet.predictions import load_predictions

TINY_ARGS = [
    "--epochs",
    "2",
    "--batch-size",
    "32",
    "--augment",
    "image",
    "--backbone-option",
    "widths=[8,16]",
    "--backbone-option",
    "convs_per_block=1",
    "--mixed-precision",
    "fp32",
    "-q",
]


@pytest.fixture(scope="module")
def trained(features_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "compact_features"
    code = train_cli.main(
        [str(features_file), "--variant", "compact_features", "--out", str(out), *TINY_ARGS]
    )
    assert code == 0
    return out


def test_train_cli_writes_the_run_and_reports(trained, capsys):
    document = json.loads((trained / "config.json").read_text())
    assert document["model"]["backbone_options"]["widths"] == [8, 16]
    assert document["training"]["epochs"] == 2
    assert document["training"]["augment"]["mode"] == "image"
    assert document["training"]["mixed_precision"] is None
    assert document["train_data"]["faces"] == 336 and document["validation_data"]["faces"] == 84
    assert (trained / "history.png").stat().st_size > 0
    assert load_predictions(trained / "val_predictions.npz").probabilities.shape == (84, 7)


def test_train_cli_prints_epochs_and_accuracy(features_file, tmp_path, capsys):
    code = train_cli.main(
        [
            str(features_file),
            "--variant",
            "compact",
            "--out",
            str(tmp_path / "run"),
            "--epochs",
            "1",
            *TINY_ARGS[2:],
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert (
        "training compact (cpu recipe) on 336 Training faces, validating on 84 PublicTest" in out
    )
    assert "trained compact: 1 epochs in" in out and "PublicTest accuracy:" in out


def test_evaluate_cli_writes_predictions_report_and_matrix(
    trained, features_file, tmp_path, capsys
):
    output = tmp_path / "preds.npz"
    code = evaluate_cli.main(
        [
            str(trained / "model.keras"),
            str(features_file),
            "--usage",
            "PublicTest",
            "-o",
            str(output),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    predictions = load_predictions(output)
    assert predictions.model_name == "compact_features"
    accuracy = np.mean(predictions.probabilities.argmax(1) == predictions.labels)
    assert f"accuracy: {accuracy:.2%} (84 labelled faces)" in out
    for word in ("precision", "recall", "f1-score", "disgust", "neutral"):
        assert word in out
    assert output.with_suffix(".png").stat().st_size > 0
    # the validation predictions written by training are the same
    np.testing.assert_allclose(
        predictions.probabilities,
        load_predictions(trained / "val_predictions.npz").probabilities,
        atol=1e-5,
    )
    assert (
        evaluate_cli.main([str(trained / "model.keras"), str(features_file), "-o", str(output)])
        == 2
    )
    assert "exists; pass --overwrite" in capsys.readouterr().err


def test_evaluate_cli_tta_averages_the_face_and_its_mirror(
    trained, feature_set, features_file, tmp_path, capsys
):
    from emonet.models import load_model, mirror_batch, predict

    output = tmp_path / "tta.npz"
    argv = [str(trained / "model.keras"), str(features_file), "-o", str(output), "--tta"]
    assert evaluate_cli.main(argv) == 0
    assert "with mirror test-time augmentation" in capsys.readouterr().out
    val = feature_set.select("PublicTest")
    model = load_model(trained / "model.keras")
    images, features = mirror_batch(val.images, val.features)
    mirrored = predict(model, dataclasses.replace(val, images=images, features=features))
    expected = (predict(model, val) + mirrored) / 2
    np.testing.assert_allclose(load_predictions(output).probabilities, expected, atol=1e-5)
    assert not np.allclose(mirrored, predict(model, val), atol=1e-3)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["missing.h5", "--variant", "compact", "--out", "{tmp}/r"], "no such features file"),
        (
            ["{features}", "--variant", "compact", "--out", "{tmp}/r", "--resume"],
            "no checkpoint to resume",
        ),
        (
            ["{features}", "--variant", "compact", "--out", "{tmp}/r", "--backbone-option", "x"],
            "expects KEY=VALUE",
        ),
        (
            [
                "{features}",
                "--variant",
                "resnet50",
                "--out",
                "{tmp}/r",
                "--weights",
                "{tmp}/none.weights.h5",
                "--input-size",
                "32",
            ],
            "no such weights file",
        ),
    ],
)
def test_train_cli_user_errors_are_one_line(argv, message, features_file, tmp_path, capsys):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "stray.txt").write_text("x")
    argv = [a.format(tmp=tmp_path, features=features_file) for a in argv]
    assert train_cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("emonet-train: error:") and message in err
    assert len(err.splitlines()) == 1


def test_evaluate_cli_missing_model(features_file, tmp_path, capsys):
    assert (
        evaluate_cli.main(
            [str(tmp_path / "m.keras"), str(features_file), "-o", str(tmp_path / "p.npz")]
        )
        == 2
    )
    assert "no such model file" in capsys.readouterr().err


def test_unknown_variant_is_refused_by_argparse(features_file, capsys):
    with pytest.raises(SystemExit) as exit_:
        train_cli.main([str(features_file), "--variant", "vgg", "--out", "x"])
    assert exit_.value.code == 2
    assert "invalid choice: 'vgg'" in capsys.readouterr().err
