"""WeightedEnsemble: learned weights on a designed case, determinism, bad input, JSON."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from emonet import LABELS, NUM_CLASSES
from emonet.cli.fit_ensemble import build_parser
from emonet.ensemble import OBJECTIVES, WeightedEnsemble, compare_weightings
from emonet.ensemble._weighted import _normalise
from tests.ensemble.ensemble_synthetic import make_designed_case

USELESS = 3


@pytest.fixture(scope="module")
def fitted(designed) -> WeightedEnsemble:
    probabilities, y = designed
    return WeightedEnsemble(random_state=0).fit(probabilities, y)


def test_learned_weights_beat_every_single_model_and_equal_weights(designed, fitted) -> None:
    probabilities, y = designed
    table = compare_weightings(probabilities, y, fitted.weights_)
    assert table["learned_weights"] > table["best_single"] + 0.1
    assert table["learned_weights"] > table["equal_weights"] + 0.1
    assert fitted.score(probabilities, y) == pytest.approx(table["learned_weights"])


def test_learned_weights_beat_single_models_and_equal_weights_on_new_faces(fitted) -> None:
    probabilities, y = make_designed_case(700, seed=42)
    table = compare_weightings(probabilities, y, fitted.weights_)
    assert table["learned_weights"] > max(table["best_single"], table["equal_weights"]) + 0.1


def test_useless_model_gets_almost_no_weight(fitted) -> None:
    assert fitted.weights_[USELESS] < 0.05
    assert np.all(fitted.weights_[:USELESS] > 0.15)


def test_weights_are_non_negative_and_sum_to_one(fitted) -> None:
    assert fitted.weights_.shape == (4,)
    assert np.all(fitted.weights_ >= 0)
    assert fitted.weights_.sum() == pytest.approx(1.0)


def test_fitted_attributes(fitted) -> None:
    assert fitted.n_models_ == 4
    assert fitted.n_classes_ == NUM_CLASSES
    assert fitted.classes_.tolist() == list(range(NUM_CLASSES))
    assert fitted.model_names_ == ["model_0", "model_1", "model_2", "model_3"]
    assert fitted.n_iter_ >= 1


def test_same_random_state_gives_the_same_weights(designed, fitted) -> None:
    probabilities, y = designed
    again = WeightedEnsemble(random_state=0).fit(probabilities, y)
    np.testing.assert_array_equal(again.weights_, fitted.weights_)


def test_log_loss_objective(designed) -> None:
    probabilities, y = designed
    ensemble = WeightedEnsemble("log_loss", random_state=0).fit(probabilities, y)
    table = compare_weightings(probabilities, y, ensemble.weights_, metric="log_loss")
    assert table["learned_weights"] < min(table["best_single"], table["equal_weights"])
    assert ensemble.weights_[USELESS] < 0.02


def test_never_worse_than_equal_weights_or_best_single_on_the_fit_data() -> None:
    # two near-duplicates and a weak model: few generations, still at least as good
    rng = np.random.default_rng(3)
    y = rng.integers(0, NUM_CLASSES, size=300)
    base = 0.7 * rng.dirichlet(np.ones(NUM_CLASSES), size=300) + 0.3 * np.eye(NUM_CLASSES)[y]
    noise = rng.dirichlet(np.ones(NUM_CLASSES), size=300)
    probabilities = [base, 0.9 * base + 0.1 * noise, noise]
    ensemble = WeightedEnsemble(maxiter=2, popsize=2, random_state=0).fit(probabilities, y)
    table = compare_weightings(probabilities, y, ensemble.weights_)
    assert table["learned_weights"] >= max(table["best_single"], table["equal_weights"])


def test_single_model_gets_weight_one(designed) -> None:
    probabilities, y = designed
    ensemble = WeightedEnsemble().fit(probabilities[:1], y, model_names=["only"])
    assert ensemble.weights_.tolist() == [1.0]
    assert ensemble.n_iter_ == 0
    np.testing.assert_allclose(ensemble.predict_proba(probabilities[:1]), probabilities[0])


def test_predict_and_predict_proba(designed, fitted) -> None:
    probabilities, _ = designed
    proba = fitted.predict_proba(probabilities)
    assert proba.shape == (700, NUM_CLASSES)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(fitted.predict(probabilities), proba.argmax(axis=1))
    # a stacked (n_models, n_samples, n_classes) array works like the list
    np.testing.assert_allclose(fitted.predict_proba(np.stack(probabilities)), proba)


def test_all_zero_candidate_means_equal_weights() -> None:
    weights = _normalise(np.array([[0.0, 2.0], [0.0, 1.0], [0.0, 1.0]]))
    np.testing.assert_allclose(weights[:, 0], [1 / 3, 1 / 3, 1 / 3])
    np.testing.assert_allclose(weights[:, 1], [0.5, 0.25, 0.25])


def test_sklearn_clone_and_params() -> None:
    ensemble = WeightedEnsemble("log_loss", maxiter=7, random_state=3)
    copy = clone(ensemble)
    assert copy.get_params() == ensemble.get_params()
    assert copy.get_params()["maxiter"] == 7


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score", "to_dict", "save"])
def test_unfitted_ensemble_raises_not_fitted(method: str, designed, tmp_path: Path) -> None:
    probabilities, y = designed
    arguments = {
        "predict": (probabilities,),
        "predict_proba": (probabilities,),
        "score": (probabilities, y),
        "to_dict": (),
        "save": (tmp_path / "e.json",),
    }[method]
    with pytest.raises(NotFittedError):
        getattr(WeightedEnsemble(), method)(*arguments)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"objective": "f1"}, "objective must be one of"),
        ({"maxiter": 0}, "maxiter must be a positive integer"),
        ({"popsize": 2.5}, "popsize must be a positive integer"),
        ({"tol": -1.0}, "tol must be a non-negative number"),
    ],
)
def test_invalid_parameters(params: dict, message: str, designed) -> None:
    probabilities, y = designed
    with pytest.raises(ValueError, match=message):
        WeightedEnsemble(**params).fit(probabilities, y)


def _bad_inputs():
    rng = np.random.default_rng(0)
    good = rng.dirichlet(np.ones(NUM_CLASSES), size=10)
    y = np.arange(10) % NUM_CLASSES
    logits = rng.normal(size=(10, NUM_CLASSES))
    nan = good.copy()
    nan[2, 3] = np.nan
    return [
        ([good, good[:9]], y, "probabilities\\[1\\] has 9 rows but probabilities\\[0\\] has 10"),
        ([good, good[:, :6] / good[:, :6].sum(1, keepdims=True)], y, "has 6 classes but"),
        ([good, nan], y, "probabilities\\[1\\] holds NaN"),
        ([good, logits], y, "negative values; pass softmax probabilities"),
        ([good, good * 2], y, "probabilities\\[1\\] row \\d+ sums to 2; every row must sum to 1"),
        (good, y, "got one array of shape \\(10, 7\\)"),
        ([], y, "got none"),
        ("probabilities.npz", y, "expected a list"),
        ([good, np.ones(10)], y, "has shape \\(10,\\); expected \\(n_samples, n_classes\\)"),
        ([good[:, :1]], y, "has 1 classes; expected at least 2"),
        ([good, good], y[:9], "y has shape \\(9,\\); expected \\(10,\\)"),
        ([good, good], np.where(y == 0, -1, y), "y holds 2 unknown labels \\(-1\\)"),
        ([good, good], y + 1, "y holds 7; expected label indices 0..6"),
        ([good, good], y + 0.5, "y must hold integer label indices"),
    ]


@pytest.mark.parametrize(("probabilities", "y", "message"), _bad_inputs())
def test_inputs_that_disagree_are_a_clear_error(probabilities, y, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WeightedEnsemble(maxiter=2).fit(probabilities, y)


def test_predict_needs_the_models_used_for_fit(designed, fitted) -> None:
    probabilities, y = designed
    with pytest.raises(ValueError, match="got 3 probability arrays but the estimator was fitted"):
        fitted.predict(probabilities[:3])
    with pytest.raises(ValueError, match="y has shape"):
        fitted.score(probabilities, y[:5])


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["a", "b"], "got 2 model_names for 4"),
        (["a", "a", "b", "c"], "must be unique"),
        ("abcd", "got a single string"),
    ],
)
def test_invalid_model_names(names, message: str, designed) -> None:
    probabilities, y = designed
    with pytest.raises(ValueError, match=message):
        WeightedEnsemble(maxiter=2).fit(probabilities, y, model_names=names)


def test_save_and_load_round_trip(designed, fitted, tmp_path: Path) -> None:
    probabilities, _ = designed
    path = fitted.save(tmp_path / "sub" / "ensemble.json", extra={"note": {"x": 1}})
    data = json.loads(path.read_text())
    assert data["format"] == "emonet-ensemble"
    assert data["labels"] == list(LABELS)
    assert data["objective"] == "accuracy"
    assert data["random_state"] == 0
    assert data["note"] == {"x": 1}
    assert [m["name"] for m in data["models"]] == fitted.model_names_
    loaded = WeightedEnsemble.load(path)
    np.testing.assert_allclose(loaded.weights_, fitted.weights_)
    assert loaded.model_names_ == fitted.model_names_
    assert loaded.get_params() == fitted.get_params()
    np.testing.assert_array_equal(loaded.predict(probabilities), fitted.predict(probabilities))
    assert [p.name for p in path.parent.iterdir()] == ["ensemble.json"]


def test_save_refuses_to_replace_own_keys(fitted, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"may not replace the ensemble's own keys \['models'\]"):
        fitted.save(tmp_path / "e.json", extra={"models": []})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "other"}, "not an emonet ensemble"),
        ({"format_version": 99}, "format_version 99 is not supported"),
        ({"labels": list(reversed(LABELS))}, "differ from emonet.LABELS"),
        ({"models": [{"name": "a", "weight": 0.7}]}, "must be non-negative and sum to 1"),
        ({"models": [{"name": "a", "weight": 1.0}, {"name": "a", "weight": 0.0}]}, "uniquely"),
        ({"models": [{"weight": 1.0}]}, r"models\[0\] needs a one-line name"),
        ({"objective": None, "n_classes": "x"}, "n_classes must be an integer"),
    ],
)
def test_load_rejects_bad_files(change: dict, message: str, fitted, tmp_path: Path) -> None:
    path = tmp_path / "e.json"
    path.write_text(json.dumps({**fitted.to_dict(), **change}))
    with pytest.raises(ValueError, match=message) as error:
        WeightedEnsemble.load(path)
    assert str(error.value).startswith(str(path))


def test_load_rejects_missing_and_non_json_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such ensemble file"):
        WeightedEnsemble.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        WeightedEnsemble.load(tmp_path / "bad.json")


def test_load_rejects_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is not a file; expected an ensemble JSON file"):
        WeightedEnsemble.load(tmp_path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format_version": True}, "format_version True is not supported"),
        ({"n_classes": 7.9}, "n_classes must be an integer from 2"),
        ({"n_classes": 1}, "n_classes must be an integer from 2"),
        ({"n_classes": 10**12}, "n_classes must be an integer from 2"),
        ({"labels": 3}, "differ from emonet.LABELS"),
        ({"models": [{"name": 3, "weight": 1.0}]}, r"models\[0\] needs a one-line name"),
        ({"models": [{"name": "a", "weight": "1"}]}, r"models\[0\] needs a numeric weight"),
        ({"models": [{"name": "a", "weight": True}]}, "needs a numeric weight"),
        ({"models": {"name": "a"}}, '"models" must be a non-empty list'),
        ({"random_state": -1}, "random_state must be null or a non-negative integer"),
        ({"params": {"maxiter": 0}}, "maxiter must be a positive integer"),
        ({"params": {"rounds": 3}}, '"params" must be an object with maxiter'),
        ({"objective": "f1"}, "objective must be one of"),
    ],
)
def test_load_checks_every_field(change: dict, message: str, fitted, tmp_path: Path) -> None:
    path = tmp_path / "e.json"
    path.write_text(json.dumps({**fitted.to_dict(), **change}))
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: .*{message}"):
        WeightedEnsemble.load(path)


def test_save_writes_numpy_parameters_as_json(designed, tmp_path: Path) -> None:
    probabilities, y = designed
    ensemble = WeightedEnsemble(maxiter=np.int64(3), random_state=np.int32(1))
    path = ensemble.fit(probabilities, y).save(tmp_path / "e.json")
    assert WeightedEnsemble.load(path).get_params() == {
        "maxiter": 3,
        "objective": "accuracy",
        "popsize": 15,
        "random_state": 1,
        "tol": 0.001,
    }


# -- fuzzing the JSON loader: a fitted ensemble or one ValueError naming the file --

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


def _load_text(text: str | bytes) -> tuple[Path, WeightedEnsemble | ValueError]:
    """Write a file and load it: the ensemble, or the ValueError raised."""
    folder = Path(tempfile.mkdtemp())
    path = folder / "fuzz.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    try:
        return path, WeightedEnsemble.load(path)
    except ValueError as error:  # any other exception fails the test
        return path, error
    finally:
        path.unlink()
        folder.rmdir()


def _assert_names_the_file(path: Path, result: object) -> None:
    assert isinstance(result, ValueError)
    assert str(result).startswith(f"{path}: ")


@given(st.binary(max_size=512) | _JSON.map(json.dumps))
def test_fuzz_any_bytes_or_json_fail_with_one_value_error_naming_the_file(data) -> None:
    _assert_names_the_file(*_load_text(data))


def _small_ensemble() -> WeightedEnsemble:
    y = np.arange(14) % NUM_CLASSES
    one_hot, uniform = np.eye(NUM_CLASSES)[y], np.full((14, NUM_CLASSES), 1 / NUM_CLASSES)
    return WeightedEnsemble(maxiter=3, random_state=0).fit([one_hot, uniform], y)


SMALL = _small_ensemble().to_dict()
_KEYS = sorted(SMALL)


@given(
    key=st.sampled_from([*_KEYS, "models.0", "models.0.name", "models.0.weight"]),
    value=_JSON | st.just("<missing>"),
)
def test_fuzz_one_damaged_field_is_refused_or_harmless(key: str, value) -> None:
    data = json.loads(json.dumps(SMALL))
    *parents, last = key.split(".")
    container = data
    for part in parents:
        container = container[int(part) if part.isdigit() else part]
    index = int(last) if last.isdigit() else last
    if value == "<missing>":
        del container[index]
    else:
        container[index] = value
    path, result = _load_text(json.dumps(data))
    if isinstance(result, ValueError):
        assert str(result).startswith(f"{path}: ")
        return
    # loaded: a consistent, usable ensemble
    weights = result.weights_
    assert weights.shape == (len(result.model_names_),) == (result.n_models_,)
    assert np.all(weights >= 0) and weights.sum() == pytest.approx(1.0)
    assert all(isinstance(name, str) and name for name in result.model_names_)
    assert len(set(result.model_names_)) == result.n_models_
    assert isinstance(result.n_classes_, int) and result.n_classes_ >= 2
    proba = np.full((3, result.n_classes_), 1 / result.n_classes_)
    np.testing.assert_allclose(result.predict_proba([proba] * result.n_models_), proba)
    assert json.loads(json.dumps(result.to_dict(), allow_nan=False))
    if not key.startswith("models"):
        np.testing.assert_array_equal(weights, [m["weight"] for m in SMALL["models"]])


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_every_objective_fits_and_is_a_choice_of_the_command(objective: str, designed) -> None:
    probabilities, y = designed
    ensemble = WeightedEnsemble(objective, maxiter=2, random_state=0).fit(probabilities, y)
    assert ensemble.to_dict()["objective"] == objective
    # the command offers the library's objectives, not a copy of them
    objective_option = next(
        action for action in build_parser()._actions if action.dest == "objective"
    )
    assert tuple(objective_option.choices) == OBJECTIVES
