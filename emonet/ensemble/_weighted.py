"""Weighted average of several models' probabilities, weights learned by differential evolution."""

from __future__ import annotations

import inspect
import json
import numbers
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import differential_evolution
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from emonet import __version__
from emonet._constants import LABELS, NUM_CLASSES
from emonet._io import atomic_write_text
from emonet.ensemble._base import ProbabilityEnsembleMixin
from emonet.ensemble._validation import check_probabilities

__all__ = ["OBJECTIVES", "WeightedEnsemble"]

#: What :class:`WeightedEnsemble` can optimise (and :func:`compare_weightings` measure).
OBJECTIVES: tuple[str, ...] = ("accuracy", "log_loss")

#: ``format`` value of the JSON written by :meth:`WeightedEnsemble.save`.
FILE_FORMAT = "emonet-ensemble"
FILE_FORMAT_VERSION = 1

# Probabilities are clipped here before the log, so one confident miss costs at most -log(_EPS).
_EPS = 1e-15
_MAX_LOG_LOSS = -np.log(_EPS)
# Largest (population members x samples x classes) block scored at once, to bound memory.
_BLOCK = 2**22
# A file may not make load() allocate without bound; no classifier has more classes.
_MAX_CLASSES = 1_000_000
# SciPy >= 1.15 takes `rng`; older versions only `seed` (both accept a Generator).
_RNG_KEYWORD = "rng" if "rng" in inspect.signature(differential_evolution).parameters else "seed"


class WeightedEnsemble(ProbabilityEnsembleMixin, BaseEstimator):
    """Weighted average of several models' class probabilities, as in the EmoNet paper.

    ``fit`` learns one non-negative weight per model, normalised to sum to 1, that maximises
    the accuracy (or minimises the log-loss) of the averaged probabilities on held-out data,
    with :func:`scipy.optimize.differential_evolution`.

    Parameters
    ----------
    objective : {"accuracy", "log_loss"}, default="accuracy"
        What the weights optimise on the data given to ``fit``. Accuracy is a step function
        of the weights, so whole regions of weights tie; among tied weights the one with the
        lower log-loss wins (the log-loss enters scaled below half a sample's worth of
        accuracy, so it never costs a correct prediction). ``"log_loss"`` minimises the mean
        negative log-probability of the true label, and is finished by a gradient step.
    maxiter : int, default=100
        Maximum number of differential-evolution generations.
    popsize : int, default=15
        Population size per model (the population holds ``popsize * n_models`` candidates).
    tol : float, default=0.001
        Relative convergence tolerance of differential evolution.
    random_state : int, numpy.random.Generator or None, default=None
        Seed of the search. A fixed integer gives the same weights on every run.

    Attributes
    ----------
    weights_ : ndarray of shape (n_models,)
        Learned weights, non-negative, summing to 1.
    model_names_ : list of str
        Names of the models, from ``fit(..., model_names=...)`` or ``"model_0"``, ...
    n_models_ : int
        Number of models seen in ``fit``.
    n_classes_ : int
        Number of classes seen in ``fit``.
    classes_ : ndarray of shape (n_classes,)
        The class indices ``0 .. n_classes - 1``.
    n_iter_ : int
        Generations run by differential evolution (0 for a single model).

    See Also
    --------
    StackingEnsemble : Logistic regression on all models' probabilities, for comparison.
    cross_validate_ensemble : Honest estimate of the fitted ensemble's accuracy.

    Notes
    -----
    The search runs over ``[0, 1]^n_models``; a candidate ``x`` stands for the weights
    ``x / sum(x)`` (equal weights if ``x`` is all zero). The first population contains equal
    weights and every single model besides a Latin-hypercube sample, and differential
    evolution never discards its best member, so on the data given to ``fit`` the learned
    weights are never worse than equal weights or the best single model.

    Weights fit and scored on the same data overstate the accuracy; quote the score of
    :func:`cross_validate_ensemble` or of a separate test split.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.ensemble import WeightedEnsemble
    >>> y = np.array([0, 1, 2, 0, 1, 2])
    >>> good = np.eye(3)[y] * 0.8 + 0.2 / 3           # right on every sample
    >>> bad = np.eye(3)[(y + 1) % 3] * 0.9 + 0.1 / 3  # wrong on every sample
    >>> ensemble = WeightedEnsemble(random_state=0).fit([good, bad], y)
    >>> ensemble.score([good, bad], y)
    1.0
    >>> bool(ensemble.weights_[0] > 0.5)
    True
    """

    _fitted_attribute = "weights_"

    def __init__(
        self,
        objective: str = "accuracy",
        *,
        maxiter: int = 100,
        popsize: int = 15,
        tol: float = 0.001,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.objective = objective
        self.maxiter = maxiter
        self.popsize = popsize
        self.tol = tol
        self.random_state = random_state

    def fit(
        self,
        probabilities: Sequence[np.ndarray] | np.ndarray,
        y: np.ndarray | Sequence[int],
        *,
        model_names: Sequence[str] | None = None,
    ) -> WeightedEnsemble:
        """Learn one weight per model from held-out probabilities and true labels.

        Parameters
        ----------
        probabilities : sequence of array-like of shape (n_samples, n_classes)
            One array of class probabilities per model, rows describing the same samples in
            the same order (typically the validation split).
        y : array-like of shape (n_samples,)
            True label indices in ``0 .. n_classes - 1``.
        model_names : sequence of str, optional
            One unique name per model, kept in ``model_names_`` and written by :meth:`save`.

        Returns
        -------
        self : WeightedEnsemble
            The fitted ensemble.

        Raises
        ------
        ValueError
            If a parameter is invalid or the arrays disagree (row counts, class counts),
            hold non-probabilities, or ``y`` does not match them.
        """
        self._check_params()
        stacked, y = check_probabilities(probabilities, y)
        n_models, _, n_classes = stacked.shape
        names = _check_model_names(model_names, n_models)

        if n_models == 1:
            weights, n_iter = np.ones(1), 0
        else:
            objective = _Objective(stacked, y, self.objective)
            rng = np.random.default_rng(self.random_state)
            # each generation is one skinny matrix product: BLAS threads cost more than they
            # save (4x slower on a busy 2-core machine)
            with threadpool_limits(limits=1, user_api="blas"):
                result = differential_evolution(
                    objective,
                    bounds=[(0.0, 1.0)] * n_models,
                    maxiter=self.maxiter,
                    tol=self.tol,
                    init=_initial_population(n_models, self.popsize, rng),
                    # polishing is a gradient step: useless on accuracy's step function
                    polish=self.objective == "log_loss",
                    vectorized=True,
                    updating="deferred",
                    **{_RNG_KEYWORD: rng},
                )
            weights, n_iter = _normalise(np.asarray(result.x, dtype=np.float64)), result.nit

        self.weights_ = weights
        self.model_names_ = names
        self.n_models_ = n_models
        self.n_classes_ = n_classes
        self.classes_ = np.arange(n_classes)
        self.n_iter_ = int(n_iter)
        return self

    def predict_proba(self, probabilities: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """Weighted average of the models' probabilities.

        Parameters
        ----------
        probabilities : sequence of array-like of shape (n_samples, n_classes)
            One array per model, in the order used for ``fit``.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Ensemble probabilities; rows sum to 1.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the ensemble is not fitted.
        ValueError
            If the number of arrays or classes differs from ``fit``, or the arrays disagree.
        """
        check_is_fitted(self, "weights_")
        stacked, _ = check_probabilities(
            probabilities, n_models=self.n_models_, n_classes=self.n_classes_
        )
        return np.tensordot(self.weights_, stacked, axes=1)

    def to_dict(self) -> dict[str, Any]:
        """The fitted ensemble as a JSON-ready dictionary (the keys :meth:`save` writes).

        Returns
        -------
        dict
            ``format``, ``format_version``, ``emonet_version``, ``labels``, ``n_classes``,
            ``objective``, ``random_state``, ``params`` and ``models`` (a list of
            ``{"name", "weight"}`` in model order). See ``docs/ensemble.md``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the ensemble is not fitted.

        Examples
        --------
        >>> import numpy as np
        >>> from emonet.ensemble import WeightedEnsemble
        >>> p = np.full((4, 7), 1 / 7)
        >>> d = WeightedEnsemble(random_state=0).fit([p], [0, 1, 2, 3]).to_dict()
        >>> d["models"]
        [{'name': 'model_0', 'weight': 1.0}]
        """
        check_is_fitted(self, "weights_")
        seed = self.random_state
        return {
            "format": FILE_FORMAT,
            "format_version": FILE_FORMAT_VERSION,
            "emonet_version": __version__,
            "labels": list(LABELS) if self.n_classes_ == NUM_CLASSES else None,
            "n_classes": self.n_classes_,
            "objective": self.objective,
            # a Generator cannot be written down; null means "not reproducible from here"
            "random_state": int(seed) if isinstance(seed, numbers.Integral) else None,
            # plain Python numbers: NumPy scalars given to the constructor are no JSON
            "params": {
                "maxiter": int(self.maxiter),
                "popsize": int(self.popsize),
                "tol": float(self.tol),
            },
            "models": [
                {"name": name, "weight": float(weight)}
                for name, weight in zip(self.model_names_, self.weights_, strict=True)
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "ensemble") -> WeightedEnsemble:
        """Rebuild a fitted ensemble from the dictionary of :meth:`to_dict`.

        Keys other than those :meth:`to_dict` writes are ignored.

        Parameters
        ----------
        data : dict
            As returned by :meth:`to_dict` or read from the JSON of :meth:`save`.
        source : str, default="ensemble"
            Name of the data's origin, used in error messages (e.g. the file path).

        Returns
        -------
        WeightedEnsemble
            A fitted ensemble.

        Raises
        ------
        ValueError
            If ``data`` is not an emonet ensemble description or is inconsistent.
        """
        if not isinstance(data, dict) or data.get("format") != FILE_FORMAT:
            raise ValueError(f'{source}: not an emonet ensemble (no "format": "{FILE_FORMAT}")')
        version = data.get("format_version")
        if type(version) is not int or version != FILE_FORMAT_VERSION:  # True is no version
            raise ValueError(
                f"{source}: ensemble format_version {_short(version)} is not supported "
                f"(expected {FILE_FORMAT_VERSION}); refit with emonet-fit-ensemble"
            )
        names, weights = _check_models(data.get("models"), source)
        n_classes = data.get("n_classes")
        if type(n_classes) is not int or not 2 <= n_classes <= _MAX_CLASSES:
            raise ValueError(
                f"{source}: n_classes must be an integer from 2 to {_MAX_CLASSES:,}, got "
                f"{_short(n_classes)}"
            )
        labels = data.get("labels")
        if labels is not None and (labels != list(LABELS) or n_classes != NUM_CLASSES):
            raise ValueError(
                f"{source}: labels {_short(labels)} with n_classes {n_classes} differ from "
                f"emonet.LABELS {list(LABELS)}; the ensemble was fitted with another label set"
            )
        seed = data.get("random_state")
        if seed is not None and (type(seed) is not int or seed < 0):
            raise ValueError(
                f"{source}: random_state must be null or a non-negative integer, got "
                f"{_short(seed)}"
            )
        params = data.get("params", {})
        unknown = set(params) - {"maxiter", "popsize", "tol"} if isinstance(params, dict) else ()
        if not isinstance(params, dict) or unknown:
            raise ValueError(
                f'{source}: "params" must be an object with maxiter, popsize and tol, got '
                f"{_short(params)}"
            )
        ensemble = cls(objective=data.get("objective"), random_state=seed, **params)
        try:
            ensemble._check_params()
        except ValueError as exc:
            raise ValueError(f"{source}: {exc}") from exc
        ensemble.weights_ = weights
        ensemble.model_names_ = names
        ensemble.n_models_ = len(names)
        ensemble.n_classes_ = n_classes
        ensemble.classes_ = np.arange(n_classes)
        ensemble.n_iter_ = 0
        return ensemble

    def save(self, path: str | os.PathLike[str], *, extra: dict[str, Any] | None = None) -> Path:
        """Write the fitted ensemble to a JSON file, atomically.

        Parameters
        ----------
        path : str or path-like
            Destination file (missing parent folders are created).
        extra : dict, optional
            More JSON-serialisable top-level keys to store (e.g. ``"validation"`` figures);
            they may not replace the keys of :meth:`to_dict`.

        Returns
        -------
        pathlib.Path
            The path written.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the ensemble is not fitted.
        ValueError
            If ``extra`` reuses a key of :meth:`to_dict` or holds NaN or infinity.

        Examples
        --------
        >>> import numpy as np, tempfile, pathlib
        >>> from emonet.ensemble import WeightedEnsemble
        >>> p, q = np.full((4, 7), 1 / 7), np.eye(7)[[0, 1, 2, 3]]
        >>> ensemble = WeightedEnsemble(random_state=0).fit([p, q], [0, 1, 2, 3])
        >>> path = ensemble.save(pathlib.Path(tempfile.mkdtemp()) / "ensemble.json")
        >>> WeightedEnsemble.load(path).predict([p, q]).tolist()
        [0, 1, 2, 3]
        """
        data = self.to_dict()
        clash = sorted(set(extra or {}) & set(data))
        if clash:
            raise ValueError(f"extra may not replace the ensemble's own keys {clash}")
        data.update(extra or {})
        return atomic_write_text(path, json.dumps(data, indent=2, allow_nan=False) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> WeightedEnsemble:
        """Read a fitted ensemble from the JSON written by :meth:`save` or the CLI.

        Parameters
        ----------
        path : str or path-like
            An ``ensemble.json``.

        Returns
        -------
        WeightedEnsemble
            The fitted ensemble, with ``weights_`` and ``model_names_``.

        Raises
        ------
        FileNotFoundError
            If ``path`` does not exist.
        ValueError
            If the file is not valid JSON or not an emonet ensemble.
        """
        path = Path(path)
        if path.exists() and not path.is_file():
            raise ValueError(f"{path}: is not a file; expected an ensemble JSON file")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: no such ensemble file") from None
        # ValueError covers bad JSON, bytes that are not UTF-8, and integers too long to
        # parse; RecursionError arrays nested thousands deep
        except (ValueError, RecursionError) as exc:
            reason = " ".join(f"{exc}".split()) or type(exc).__name__
            raise ValueError(f"{path}: not valid JSON ({reason})") from exc
        return cls.from_dict(data, source=str(path))

    def _check_params(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        for name in ("maxiter", "popsize"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        tol = self.tol
        if not isinstance(tol, numbers.Real) or isinstance(tol, bool) or not 0 <= tol < np.inf:
            raise ValueError(f"tol must be a non-negative number, got {self.tol!r}")


class _Objective:
    """Value to minimise for a block of candidate weight vectors (columns of ``x``)."""

    def __init__(self, stacked: np.ndarray, y: np.ndarray, objective: str) -> None:
        n_models, n_samples, n_classes = stacked.shape
        self.flat = stacked.reshape(n_models, n_samples * n_classes)
        self.true_class = stacked[:, np.arange(n_samples), y]
        self.y = y
        self.shape = (n_samples, n_classes)
        self.objective = objective

    def __call__(self, x: np.ndarray) -> np.ndarray | float:
        single = x.ndim == 1
        weights = _normalise(x.reshape(x.shape[0], -1))
        # log-loss of the true class: the objective, or the tie-break between equal accuracies
        loss = -np.log(np.clip(weights.T @ self.true_class, _EPS, 1.0)).mean(axis=1)
        if self.objective == "accuracy":
            n_samples, n_classes = self.shape
            errors = np.empty(weights.shape[1])
            step = max(1, _BLOCK // (n_samples * n_classes))
            for start in range(0, weights.shape[1], step):
                block = weights[:, start : start + step]
                mixed = (block.T @ self.flat).reshape(block.shape[1], n_samples, n_classes)
                errors[start : start + step] = np.mean(mixed.argmax(axis=2) != self.y, axis=1)
            # below half a sample's accuracy step: decides ties, never a prediction
            loss = errors + loss / (2.0 * n_samples * _MAX_LOG_LOSS)
        return float(loss[0]) if single else loss


def _normalise(x: np.ndarray) -> np.ndarray:
    """Scale weight vectors (along axis 0) to sum to 1; an all-zero vector becomes equal."""
    total = x.sum(axis=0, keepdims=True)
    equal = np.full_like(x, 1.0 / x.shape[0])
    return np.where(total > 0, x / np.where(total > 0, total, 1.0), equal)


def _initial_population(n_models: int, popsize: int, rng: np.random.Generator) -> np.ndarray:
    """Latin-hypercube sample of ``[0, 1]^n_models`` led by equal weights and each model alone."""
    size = max(5, popsize * n_models, n_models + 1)
    strata = np.stack([rng.permutation(size) for _ in range(n_models)], axis=1)
    population = (strata + rng.random((size, n_models))) / size
    population[0] = 1.0
    population[1 : n_models + 1] = np.eye(n_models)
    return population


def _check_models(models: Any, source: str) -> tuple[list[str], np.ndarray]:
    """Names and weights of the ``"models"`` list of an ensemble description."""
    if not isinstance(models, list) or not models:
        raise ValueError(
            f'{source}: "models" must be a non-empty list of {{"name": ..., "weight": ...}}, '
            f"got {_short(models)}"
        )
    names, weights = [], []
    for index, model in enumerate(models):
        name = model.get("name") if isinstance(model, dict) else None
        weight = model.get("weight") if isinstance(model, dict) else None
        if not isinstance(name, str) or not name.strip() or "\n" in name:
            raise ValueError(
                f"{source}: models[{index}] needs a one-line name, got {_short(model)}"
            )
        if not isinstance(weight, int | float) or isinstance(weight, bool):
            raise ValueError(
                f"{source}: models[{index}] needs a numeric weight, got {_short(model)}"
            )
        names.append(name)
        weights.append(float(weight))
    if len(set(names)) != len(names):
        raise ValueError(f"{source}: expected uniquely named models, got {names}")
    array = np.array(weights)
    if not np.all(np.isfinite(array)) or array.min() < 0 or abs(array.sum() - 1) > 1e-6:
        raise ValueError(f"{source}: model weights {weights} must be non-negative and sum to 1")
    return names, array


def _short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages about a file's contents."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_model_names(model_names: Sequence[str] | None, n_models: int) -> list[str]:
    if model_names is None:
        return [f"model_{index}" for index in range(n_models)]
    if isinstance(model_names, str):
        raise ValueError("model_names must be a sequence of strings, got a single string")
    names = [str(name) for name in model_names]
    if len(names) != n_models:
        raise ValueError(f"got {len(names)} model_names for {n_models} probability arrays")
    if len(set(names)) != len(names):
        raise ValueError(f"model_names must be unique, got {names}")
    return names
