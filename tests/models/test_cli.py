"""emonet-train, emonet-evaluate and emonet-quantize on a small real features file."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emonet import _choices
from emonet.cli import evaluate as evaluate_cli
from emonet.cli import quantize as quantize_cli
from emonet.cli import train as train_cli
from emonet.predictions import load_predictions

ROOT = Path(__file__).resolve().parents[2]
# what TensorFlow writes on start-up: absl's warning, oneDNN, CUDA probing, C++ log lines
TENSORFLOW_NOISE = ("absl", "oneDNN", "cuda", "cuInit", "I0000", "W0000", "E0000", "tensorflow/")


def _run(*argv: str) -> subprocess.CompletedProcess:
    # as a user runs it: without a log level of TensorFlow's set by someone else
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run(
        [sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def _python(code: str) -> subprocess.CompletedProcess:
    return _run("-c", code)


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
    assert document["keras_backend"] == "tensorflow" and document["pipeline"] == "tf"
    assert document["tensorflow_version"] and document["strategy"] in (
        "_DefaultDistributionStrategy",
        "MirroredStrategy",
    )
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
            "--pipeline",
            "py",
            "--workers",
            "2",
            *TINY_ARGS[2:],
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert (
        "training compact (cpu recipe, tensorflow backend) on 336 Training faces, validating "
        "on 84 PublicTest" in out
    )
    assert json.loads((tmp_path / "run" / "config.json").read_text())["pipeline"] == "py"
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
    from emonet.features import mirror_batch
    from emonet.models import load_model, predict_proba

    output = tmp_path / "tta.npz"
    argv = [str(trained / "model.keras"), str(features_file), "-o", str(output), "--tta"]
    assert evaluate_cli.main(argv) == 0
    assert "with flip test-time augmentation" in capsys.readouterr().out
    val = feature_set.select("PublicTest")
    model = load_model(trained / "model.keras")
    images, features = mirror_batch(val.images, val.features)
    mirrored = predict_proba(model, dataclasses.replace(val, images=images, features=features))
    expected = (predict_proba(model, val) + mirrored) / 2
    np.testing.assert_allclose(load_predictions(output).probabilities, expected, atol=1e-5)
    assert not np.allclose(mirrored, predict_proba(model, val), atol=1e-3)
    # mirror images at three zooms
    argv = [*argv[:3], str(tmp_path / "multiscale.npz"), "--tta-multiscale"]
    assert evaluate_cli.main(argv) == 0
    assert "with multiscale test-time augmentation" in capsys.readouterr().out
    np.testing.assert_allclose(
        load_predictions(tmp_path / "multiscale.npz").probabilities,
        predict_proba(model, val, tta="multiscale"),
        atol=1e-5,
    )


def test_train_cli_goes_on_from_a_trained_run(trained, features_file, tmp_path, capsys):
    out = tmp_path / "more"
    argv = [str(features_file), "--out", str(out), "--initial-model", str(trained), *TINY_ARGS]
    assert train_cli.main([*argv, "--variant", "compact_features"]) == 0
    document = json.loads((out / "config.json").read_text())
    assert document["initial_model"] == str(trained / "model.keras")
    capsys.readouterr()
    # the same widths without the feature branch is another network: one line that says so
    assert train_cli.main([*argv, "--variant", "compact", "--overwrite"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"emonet-train: error: {trained / 'model.keras'}: another network")
    assert "backbone options it was trained with" in err and len(err.splitlines()) == 1


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
            ["{features}", "--variant", "compact", "--out", "{tmp}/r", "--initial-model", "{tmp}"],
            "no such .keras file or run folder with a model.keras",
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


def test_train_cli_recipe_overrides_reach_the_training_config(tmp_path):
    args = train_cli.build_parser().parse_args(
        ["f.h5", "--variant", "compact", "--out", str(tmp_path), "--optimizer", "adamw"]
        + ["--recipe", "cpu", "--learning-rate", "3e-3"]
        + ["--batch-size", "256", "--erase", "0.5", "--translate", "0.1"]
    )
    overrides = train_cli._overrides(args)
    assert overrides["optimizer"] == "adamw" and overrides["learning_rate"] == 3e-3
    assert overrides["batch_size"] == 256
    augment = overrides["augment"]
    assert (augment.erase, augment.translate) == (0.5, 0.1)
    # what is not given keeps the recipe's value
    assert augment.shear == 0.0 and augment.rotation == 10.0


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


def test_help_is_quick_and_quiet():
    for module in ("emonet.cli.train", "emonet.cli.evaluate", "emonet.cli.quantize"):
        done = _run("-m", module, "--help")
        assert done.returncode == 0 and done.stdout.startswith("usage: emonet-")
        assert done.stderr == ""


@pytest.mark.parametrize(
    ("command", "argv", "message"),
    [
        ("train", ["missing.h5", "--variant", "compact", "--out", "r"], "no such features file"),
        ("train", ["{features}", "--variant", "vgg", "--out", "r"], "invalid choice: 'vgg'"),
        (
            "train",
            ["{features}", "--variant", "compact", "--out", "r", "--weights", "none/w.weights.h5"],
            "no such weights file",
        ),
        ("evaluate", ["missing.keras", "{features}", "-o", "p.npz"], "no such model file"),
        ("evaluate", ["{features}", "{features}", "-o", "p.npz"], "expected a .keras model"),
        ("quantize", ["missing.keras", "{features}"], "no such model file"),
        ("quantize", ["{model}", "{features}", "-o", "m.lite"], "ending in .tflite, got m.lite"),
        (
            "quantize",
            ["{model}", "{features}", "-o", "m.tflite", "--calibration-faces", "0"],
            "--calibration-faces must be >= 1, got 0",
        ),
        ("quantize", ["{model}", "missing.h5"], "missing.h5: no such features file"),
    ],
)
def test_bad_arguments_are_refused_before_tensorflow_is_imported(
    command, argv, message, features_file, tmp_path
):
    model = tmp_path / "m.keras"
    model.write_bytes(b"checked for existence only")
    argv = [a.format(features=features_file, model=model) for a in argv]
    done = _python(
        "import sys\n"
        f"from emonet.cli.{command} import main\n"
        "try:\n"
        f"    code = main({argv!r})\n"
        "except SystemExit as exit:\n"
        "    code = exit.code\n"
        "print(code, 'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    assert done.stdout.split() == ["2", "False", "False"], done.stderr
    assert done.stderr.startswith(f"emonet-{command}: error: ") and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_evaluate_keeps_tensorflows_start_up_log_out(trained, features_file, tmp_path):
    output = tmp_path / "p.npz"
    argv = [str(trained / "model.keras"), str(features_file), "-o", str(output)]
    done = _run("-m", "emonet.cli.evaluate", *argv)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {output}")
    noise = [line for line in done.stderr.splitlines() if any(m in line for m in TENSORFLOW_NOISE)]
    assert noise == []


def test_choices_come_from_the_library():
    from emonet.models import VARIANTS
    from emonet.training import AUGMENT_MODES, PIPELINES, RECIPES, STRATEGIES
    from emonet.training._recipes import PRECISIONS

    assert tuple(VARIANTS) == _choices.VARIANT_NAMES
    assert tuple(RECIPES) == _choices.RECIPE_NAMES
    assert AUGMENT_MODES is _choices.AUGMENT_MODES and STRATEGIES is _choices.STRATEGIES
    assert PIPELINES is _choices.PIPELINES
    assert set(train_cli._PRECISIONS.values()) == set(PRECISIONS)
    choices = {
        action.dest: tuple(action.choices)
        for action in train_cli.build_parser()._actions
        if action.choices
    }
    assert choices["variant"] == _choices.VARIANT_NAMES
    assert choices["recipe"] == _choices.RECIPE_NAMES
    assert choices["augment"] == AUGMENT_MODES
    assert choices["strategy"] == STRATEGIES
    assert choices["pipeline"] == PIPELINES
    assert choices["optimizer"] == _choices.OPTIMIZERS
    assert choices["lr_schedule"] == _choices.LR_SCHEDULES
    assert choices["monitor"] == _choices.MONITORS
    from emonet.models import QUANTIZATIONS

    assert QUANTIZATIONS is _choices.QUANTIZATIONS
    quantize_choices = {
        action.dest: tuple(action.choices)
        for action in quantize_cli.build_parser()._actions
        if action.choices
    }
    assert quantize_choices["quantization"] == QUANTIZATIONS


def test_the_choices_module_is_light():
    done = _python(
        "import sys, emonet._choices, emonet.cli.train, emonet.cli.evaluate\n"
        "import emonet.cli.quantize\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    assert done.stdout.split() == ["False", "False"], done.stderr


def test_start_up_output_is_dropped_or_shown_when_the_import_fails(capfd):
    from emonet._tensorflow import quiet_stderr

    with quiet_stderr():
        os.write(2, b"noise\n")
    with pytest.raises(RuntimeError), quiet_stderr():
        os.write(2, b"why it failed\n")
        raise RuntimeError
    assert capfd.readouterr().err == "why it failed\n"


def test_quantize_cli_writes_the_int8_copy_and_scores_both(
    trained, feature_set, features_file, tmp_path, capsys
):
    from emonet.models import load_lite_model, load_model, predict_proba

    # a run folder: its model.keras, the copy beside it
    assert quantize_cli.main([str(trained), str(features_file), "--calibration-faces", "64"]) == 0
    out = capsys.readouterr().out
    written = trained / "model.tflite"
    assert out.startswith(f"wrote {written}: int8, ")
    assert "calibrated on 64 Training faces" in out
    lite = load_lite_model(written)
    assert lite.quantization == "int8" and lite.emonet_info.uses_features
    val = feature_set.select("PublicTest")
    for network, name in (
        (load_model(trained / "model.keras"), "model.keras"),
        (lite, "model.tflite"),
    ):
        accuracy = np.mean(predict_proba(network, val).argmax(1) == val.labels)
        assert f"PublicTest accuracy: {accuracy:.2%} {name}" in out
    assert "the same label for" in out and "of the 84 faces" in out
    # emonet-evaluate reads it as it reads a .keras file
    output = tmp_path / "lite.npz"
    assert evaluate_cli.main([str(written), str(features_file), "-o", str(output), "--tta"]) == 0
    predictions = load_predictions(output)
    assert predictions.model_name == "compact_features"
    np.testing.assert_allclose(
        predictions.probabilities, predict_proba(lite, val, tta="flip"), atol=1e-6
    )
    # finished work is not overwritten unless asked
    assert quantize_cli.main([str(trained), str(features_file)]) == 2
    assert "model.tflite exists; pass --overwrite" in capsys.readouterr().err
    weights = tmp_path / "w.tflite"
    argv = [str(trained / "model.keras"), str(features_file), "-o", str(weights)]
    assert quantize_cli.main([*argv, "--quantization", "weights"]) == 0
    assert load_lite_model(weights).quantization == "weights"


def test_quantize_keeps_the_converter_s_log_out(trained, features_file, tmp_path):
    output = tmp_path / "q.tflite"
    done = _run("-m", "emonet.cli.quantize", str(trained), str(features_file), "-o", str(output))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {output}")
    assert done.stderr == ""
