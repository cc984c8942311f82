"""Probabilities smoothed over time, by a time constant in seconds, and labels that
change only when the smoothed probabilities say so."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["hysteresis_label", "smooth_probabilities", "smoothing_weight"]


def smoothing_weight(dt: float, time_constant: float | None) -> float:
    """Weight of a new value in an exponential average, after ``dt`` seconds.

    ``1 - exp(-dt / time_constant)``: the average forgets at the same rate per second
    whatever the frame rate, so that the result is the same at 30 frames a second as at
    15 (or with every other frame read).

    Parameters
    ----------
    dt : float
        Seconds since the previous value (NaN, negative or infinite: 1, start afresh).
    time_constant : float or None
        Seconds after which an old value weighs ``1/e``; 0 or ``None``: no smoothing (1).

    Returns
    -------
    float
        In [0, 1].

    Examples
    --------
    >>> from emonet.tracking import smoothing_weight
    >>> round(smoothing_weight(1 / 30, 1.0), 4), round(smoothing_weight(1.0, 1.0), 4)
    (0.0328, 0.6321)
    >>> smoothing_weight(0.04, None)
    1.0
    """
    if not time_constant or time_constant <= 0:
        return 1.0
    if not math.isfinite(dt) or dt < 0:
        return 1.0
    return 1.0 - math.exp(-dt / time_constant)


def smooth_probabilities(
    previous: np.ndarray | None, new: np.ndarray, dt: float, time_constant: float | None
) -> np.ndarray:
    """One step of the exponential average of probability vectors.

    Parameters
    ----------
    previous : (7,) array_like or None
        The smoothed probabilities so far (``None`` for a new track: ``new`` is taken).
    new : (7,) array_like
        This frame's probabilities.
    dt : float
        Seconds since ``previous``.
    time_constant : float or None
        As for :func:`smoothing_weight`.

    Returns
    -------
    (7,) ndarray of float64
        Sums to 1 when both inputs do.

    Examples
    --------
    >>> from emonet.tracking import smooth_probabilities
    >>> smooth_probabilities([1, 0], [0, 1], dt=1.0, time_constant=1.0).round(3)
    array([0.368, 0.632])
    """
    new = np.asarray(new, np.float64)
    if previous is None:
        return new.copy()
    weight = smoothing_weight(dt, time_constant)
    return (1.0 - weight) * np.asarray(previous, np.float64) + weight * new


def hysteresis_label(current: int | None, smoothed: np.ndarray, margin: float) -> int:
    """The label index a track shows: it changes only when another label's smoothed
    probability passes the current one's by ``margin``.

    Parameters
    ----------
    current : int or None
        The label shown so far (``None``: the most probable).
    smoothed : (7,) array_like
        Smoothed probabilities.
    margin : float
        How far the most probable label must lead the current one to replace it.

    Returns
    -------
    int

    Examples
    --------
    >>> from emonet.tracking import hysteresis_label
    >>> hysteresis_label(0, [0.45, 0.55], margin=0.15), hysteresis_label(0, [0.3, 0.7], 0.15)
    (0, 1)
    """
    values = np.asarray(smoothed, np.float64)
    best = int(np.argmax(values))
    if current is None or best == current:
        return best
    return best if values[best] - values[current] > margin else int(current)


class TrackSmoother:
    """Smoothed probabilities and a steady label per track, frame after frame.

    Each track's probabilities are averaged exponentially with a time constant in
    seconds (:func:`smooth_probabilities`, from the seconds between its frames, so
    neither the frame rate nor reading every n-th frame changes the result), and its
    label follows them with hysteresis (:func:`hysteresis_label`).

    Parameters
    ----------
    time_constant : float or None, default=1.0
        Seconds; 0 or ``None`` turns smoothing off: the smoothed values are the raw ones
        and the label their most probable.
    margin : float, default=0.1
        Lead another label's smoothed probability needs over the shown one's to replace it.

    Examples
    --------
    >>> from emonet.tracking import TrackSmoother
    >>> smoother = TrackSmoother(time_constant=1.0)
    >>> smoother.update(1, 0.0, [0, 0, 0, 1, 0, 0, 0])[1]  # happy
    3
    >>> values, label = smoother.update(1, 0.1, [0, 0, 0, 0, 1, 0, 0])  # a sad frame
    >>> label, round(float(values[4]), 3)  # still happy: one frame is no change
    (3, 0.095)
    """

    def __init__(self, time_constant: float | None = 1.0, margin: float = 0.1) -> None:
        if time_constant is not None and not (
            isinstance(time_constant, int | float) and math.isfinite(time_constant)
        ):
            raise ValueError(f"time_constant must be a number of seconds, got {time_constant!r}")
        if time_constant is not None and time_constant < 0:
            raise ValueError(f"time_constant must be 0 or more seconds, got {time_constant}")
        if not 0 <= margin < 1:
            raise ValueError(f"margin must be in [0, 1), got {margin}")
        self.time_constant = time_constant
        self.margin = margin
        self._state: dict[int, tuple[float, np.ndarray, int]] = {}

    @property
    def enabled(self) -> bool:
        """Whether probabilities are smoothed (a positive time constant)."""
        return bool(self.time_constant)

    def update(
        self, track_id: int, time_s: float, probabilities: np.ndarray
    ) -> tuple[np.ndarray, int]:
        """Add a frame's probabilities of a track.

        Returns
        -------
        smoothed : (7,) ndarray of float64
        label : int
            Index of the label the track shows now.
        """
        raw = np.asarray(probabilities, np.float64)
        if not self.enabled:
            return raw.copy(), int(np.argmax(raw))
        previous = self._state.get(track_id)
        if previous is None:
            smoothed, label = raw.copy(), None
        else:
            last_time, values, label = previous
            smoothed = smooth_probabilities(values, raw, time_s - last_time, self.time_constant)
        label = hysteresis_label(label, smoothed, self.margin)
        self._state[track_id] = (time_s, smoothed, label)
        return smoothed, label

    def forget(self, keep) -> None:
        """Drop the state of every track not in ``keep`` (ids of the tracks still kept)."""
        keep = set(keep)
        for track_id in [t for t in self._state if t not in keep]:
            del self._state[track_id]
