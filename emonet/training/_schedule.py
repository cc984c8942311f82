"""The rules of a training run, as pure functions: no Keras, no clock, no files.

The learning rate of phase 2 warms up linearly from a tenth of its peak, then stays
constant, follows the plateau rule, or decays along a cosine. With a time limit the cosine
ends with the last epoch that fits in it (:func:`epochs_that_fit`), or, before a first
epoch has been timed, with the time itself. The callback of :mod:`emonet.training._train`
feeds these functions its counters and the clock; the tests feed them numbers.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "Plateau",
    "cosine_learning_rate",
    "cosine_progress",
    "epochs_that_fit",
    "is_improvement",
    "warmup_learning_rate",
]

#: The warm-up starts from this fraction of the peak learning rate.
WARMUP_START = 0.1


def warmup_learning_rate(peak: float, done: float, warmup: float) -> float:
    """The learning rate ``done`` epochs into a linear warm-up of ``warmup`` epochs.

    Examples
    --------
    >>> from emonet.training._schedule import warmup_learning_rate
    >>> warmup_learning_rate(1.0, 0.0, 2.0), warmup_learning_rate(1.0, 1.0, 2.0)
    (0.1, 0.55)
    """
    return peak * (WARMUP_START + (1.0 - WARMUP_START) * done / warmup)


def cosine_progress(
    done: float,
    length: float,
    warmup: float = 0.0,
    *,
    time_used: float | None = None,
    previous: float = 0.0,
) -> float:
    """How far along the cosine decay a run is, from 0 to 1.

    Parameters
    ----------
    done : float
        Epochs of the phase done (batches as fractions of an epoch).
    length : float
        Epochs the phase is expected to last: all of them, or, under a time limit, those
        that fit in it.
    warmup : float, default=0
        Warm-up epochs at the start of the phase; the decay starts after them.
    time_used : float, optional
        Fraction of the time limit used, when the limit has no epoch-based estimate yet:
        the decay then runs at least as fast as the time.
    previous : float, default=0
        Progress reached before: the decay never goes back up the curve when a new
        estimate of ``length`` is longer.

    Examples
    --------
    >>> from emonet.training._schedule import cosine_progress
    >>> cosine_progress(6.0, 11.0, warmup=1.0)
    0.5
    >>> cosine_progress(1.5, 11.0, warmup=1.0, time_used=0.25)
    0.25
    >>> cosine_progress(2.0, 20.0, previous=0.5)
    0.5
    """
    progress = (done - warmup) / max(length - warmup, 1e-9)
    if time_used is not None:
        progress = max(progress, time_used)
    return min(max(progress, previous, 0.0), 1.0)


def cosine_learning_rate(peak: float, minimum: float, progress: float) -> float:
    """The learning rate at ``progress`` (0 to 1) of a cosine decay from ``peak``.

    Ends at ``minimum``, or at ``peak`` if that is lower.

    Examples
    --------
    >>> from emonet.training._schedule import cosine_learning_rate
    >>> [round(cosine_learning_rate(1.0, 0.0, p), 3) for p in (0.0, 0.5, 1.0)]
    [1.0, 0.5, 0.0]
    """
    low = min(minimum, peak)
    return low + 0.5 * (peak - low) * (1.0 + math.cos(math.pi * progress))


def epochs_that_fit(remaining: float, durations: Sequence[float]) -> int:
    """Whole epochs that fit in ``remaining`` seconds, at the typical epoch duration.

    The typical duration is the median of ``durations`` (seconds of the epochs of this
    session), leaving out the first when there are others: it also builds the graph.

    Examples
    --------
    >>> from emonet.training._schedule import epochs_that_fit
    >>> epochs_that_fit(100.0, [60.0, 30.0, 31.0])
    3
    >>> epochs_that_fit(-5.0, [10.0])
    0
    """
    typical = statistics.median(durations[1:] or durations)
    return int(max(remaining, 0.0) // max(typical, 1e-9))


def is_improvement(value: float, best: float | None, higher_is_better: bool) -> bool:
    """Whether ``value`` beats ``best`` (``None``: nothing to beat yet).

    Examples
    --------
    >>> from emonet.training._schedule import is_improvement
    >>> is_improvement(0.5, None, True), is_improvement(0.5, 0.6, True)
    (True, False)
    """
    if best is None:
        return True
    return value > best if higher_is_better else value < best


@dataclass
class Plateau:
    """Multiply the learning rate by ``factor`` when the loss stops falling.

    Keras' ``ReduceLROnPlateau`` rule, with counters that are saved with the run and
    restored when it resumes: after ``patience`` epochs without a lower loss the rate is
    reduced (not below ``minimum``) and the count starts again.

    Examples
    --------
    >>> from emonet.training._schedule import Plateau
    >>> plateau = Plateau(patience=2, factor=0.5, minimum=0.1)
    >>> [plateau.step(loss, 1.0) for loss in (3.0, 2.0, 2.5, 2.0)]
    [1.0, 1.0, 1.0, 0.5]
    """

    patience: int
    factor: float
    minimum: float
    best: float | None = None
    wait: int = 0

    def step(self, loss: float, learning_rate: float) -> float:
        """Count this epoch's ``loss``; return the learning rate of the next epoch."""
        if self.best is None or loss < self.best:
            self.best, self.wait = loss, 0
            return learning_rate
        self.wait += 1
        if self.wait < self.patience:
            return learning_rate
        self.wait = 0
        # never up: a rate already below the minimum stays where it is
        return min(learning_rate, max(learning_rate * self.factor, self.minimum))

    def get_state(self) -> dict[str, float | int | None]:
        """The counters, as the run's ``state.json`` keeps them."""
        return {"best": self.best, "wait": self.wait}
