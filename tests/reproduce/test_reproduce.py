"""emonet-reproduce at smoke scale, end to end on real faces: files, tables, resumption."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emonet.cli.reproduce import main
from emonet.models import PAPER_VARIANTS, get_backbone
from emonet.reproduce import PAPER_ACCURACY, PAPER_WEIGHTS, SCALES, Reproduction, Scale, reproduce

# Keras passes copy=False to numpy's __array__ of TF tensors: noise, not ours
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.mark.slow
def test_smoke_reproduction_runs_end_to_end_and_keeps_finished_variants(fer_csv, tmp_path):
    out = tmp_path / "paper"
    # a first call with one variant, as if the reproduction had been stopped after it
    first = reproduce(fer_csv, out, scale="smoke", variants=["resnet50"], log=None)
    assert first.trained == ["resnet50"] and first.kept == []
    kept_model = out / "models" / "resnet50" / "model.keras"
    stamp = kept_model.stat().st_mtime_ns
    assert json.loads((out / "tables.json").read_text())["table1_weights"]["ours"] == {}

    result = reproduce(fer_csv, out, scale="smoke", log=None)
    assert isinstance(result, Reproduction) and result.out == out
    assert result.kept == ["resnet50"]
    assert result.trained == [v for v in PAPER_VARIANTS if v != "resnet50"]
    assert kept_model.stat().st_mtime_ns == stamp  # not trained again

    tables = json.loads((out / "tables.json").read_text())
    assert tables["models"] == list(PAPER_VARIANTS)
    for mode in ("plain", "flip"):
        weights = tables["table1_weights"]["ours"][mode]
        assert list(weights) == list(PAPER_VARIANTS)
        assert sum(weights.values()) == pytest.approx(1.0)
        for split in ("PublicTest", "PrivateTest"):
            row = tables["table2_accuracy"]["ours"][mode][split]
            for name in (*PAPER_VARIANTS, "equal_weights", "learned_weights"):
                assert 0.0 <= row[name] <= 1.0
        assert (
            0.0 <= tables["table2_accuracy"]["ours"][mode]["PublicTest"]["learned_weights_cv"] <= 1
        )
    assert tables["table1_weights"]["paper"] == PAPER_WEIGHTS
    assert tables["table2_accuracy"]["paper"] == PAPER_ACCURACY
    assert tables["settings"]["input_sizes"] == {"inception_resnet_v2": 75, "resnet50": 32}

    markdown = (out / "tables.md").read_text()
    assert "Table 1" in markdown and "Table 2" in markdown and "73.39%" in markdown
    assert "| Ensemble, learned weights, cross-validated on PublicTest |" in markdown

    per_class = json.loads((out / "per_class.json").read_text())
    ensemble = per_class["flip"]["PrivateTest"]["ensemble"]
    assert set(ensemble["classes"]["happy"]) == {"precision", "recall", "f1", "support"}
    assert np.array(ensemble["confusion"]).sum() == sum(
        c["support"] for c in ensemble["classes"].values()
    )

    costs = json.loads((out / "costs.json").read_text())
    stages = [row["stage"] for row in costs["stages"]]
    assert stages[0] == "features" and stages[-1] == "ensemble"
    assert {f"train {v}" for v in PAPER_VARIANTS} <= set(stages)
    assert costs["environment"]["keras_backend"] and costs["environment"]["replicas"] == 1

    for split in ("PublicTest", "PrivateTest"):
        for name in (*PAPER_VARIANTS, "ensemble"):
            assert (out / "figures" / f"confusion_{split}_{name}.png").stat().st_size > 0
        for name in PAPER_VARIANTS:
            assert (out / "predictions" / split / f"{name}_flip.npz").exists()
    for name in ("curves.png",):
        assert (out / "figures" / name).stat().st_size > 0
    assert (out / "ensemble" / "flip_report" / "report.md").exists()
    assert "## Costs" in (out / "report.md").read_text()

    # other settings are refused rather than mixed with the finished runs
    with pytest.raises(ValueError, match="epochs"):
        reproduce(fer_csv, out, scale="smoke", epochs=2, log=None)


def test_reproduce_refuses_bad_input(fer_csv, tmp_path):
    with pytest.raises(ValueError, match="unknown scale"):
        reproduce(fer_csv, tmp_path, scale="huge", log=None)
    with pytest.raises(ValueError, match="variants must be among"):
        reproduce(fer_csv, tmp_path, variants=["compact"], log=None)
    with pytest.raises(FileNotFoundError):
        reproduce(tmp_path / "missing.csv", tmp_path / "out", log=None)


def test_command_packs_and_reports_bad_input_in_one_line(fer_csv, tmp_path, capsys):
    assert main([str(fer_csv), "--pack", "-o", str(tmp_path / "b.npz"), "-q"]) == 0
    assert (tmp_path / "b.npz").stat().st_size > 0
    assert main([str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert main([str(fer_csv), "--out", str(tmp_path / "o"), "--usage", "Training"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and all(e.startswith("emonet-reproduce: error: ") for e in errors)
    assert "--pack" in errors[1]


def test_smoke_scale_uses_the_smallest_inputs_the_paper_backbones_take():
    smoke = SCALES["smoke"]
    assert isinstance(smoke, Scale) and SCALES["full"].input_sizes == {}
    for backbone, size in smoke.input_sizes.items():
        assert size == get_backbone(backbone).min_input_size
