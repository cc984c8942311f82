"""The rules of a training run as pure functions: numbers in, numbers out, no clock."""

from __future__ import annotations

import pytest

from emonet.training._schedule import (
    Plateau,
    cosine_learning_rate,
    cosine_progress,
    epochs_that_fit,
    is_improvement,
    warmup_learning_rate,
)


def test_warmup_rises_linearly_from_a_tenth_to_the_peak():
    assert warmup_learning_rate(0.05, 0.0, 1.0) == pytest.approx(0.005)
    assert warmup_learning_rate(0.05, 0.5, 1.0) == pytest.approx(0.0275)
    assert warmup_learning_rate(0.05, 1.0, 1.0) == pytest.approx(0.05)


def test_cosine_runs_from_the_peak_to_the_minimum():
    rates = [cosine_learning_rate(0.05, 1e-5, p / 10) for p in range(11)]
    assert rates[0] == pytest.approx(0.05) and rates[-1] == pytest.approx(1e-5)
    assert rates[5] == pytest.approx((0.05 + 1e-5) / 2)
    assert all(b < a for a, b in zip(rates, rates[1:], strict=False))
    # a minimum above the peak: the rate stays at the peak
    assert cosine_learning_rate(1e-6, 1e-5, 0.7) == pytest.approx(1e-6)


def test_progress_counts_epochs_after_the_warmup():
    assert cosine_progress(0.5, 11.0, warmup=1.0) == 0.0  # still warming up
    assert cosine_progress(1.0, 11.0, warmup=1.0) == 0.0
    assert cosine_progress(6.0, 11.0, warmup=1.0) == pytest.approx(0.5)
    assert cosine_progress(11.0, 11.0, warmup=1.0) == 1.0
    assert cosine_progress(15.0, 11.0, warmup=1.0) == 1.0  # clipped


def test_progress_follows_the_time_when_it_runs_out_first():
    # 2 epochs of 60 done, but 40% of the time limit used: the decay is at 40%
    assert cosine_progress(2.0, 60.0, time_used=0.4) == pytest.approx(0.4)
    # and by epochs when those are ahead
    assert cosine_progress(30.0, 60.0, time_used=0.1) == pytest.approx(0.5)


def test_progress_never_goes_back_up_the_curve():
    # a new estimate of the run's length is longer: the rate holds instead of rising
    assert cosine_progress(3.0, 20.0, previous=0.5) == 0.5


def test_epochs_that_fit_time_the_later_epochs():
    # the first epoch of a session also builds the graph: left out when there are others
    assert epochs_that_fit(100.0, [90.0, 20.0, 30.0]) == 4
    assert epochs_that_fit(100.0, [90.0]) == 1
    assert epochs_that_fit(19.0, [10.0, 20.0]) == 0
    assert epochs_that_fit(-3.0, [10.0]) == 0


def test_a_time_limited_cosine_ends_with_the_last_epoch_that_fits():
    """The whole rule, as the callback applies it: 10-second epochs, a 60-second limit."""
    limit, epoch_seconds, steps, peak, low = 60.0, 10.0, 4, 0.05, 1e-5
    horizon, progress, elapsed, durations, rates = None, 0.0, 0.0, [], []
    for epoch in range(50):
        for batch in range(steps):
            done = epoch + batch / steps
            length = 50 if horizon is None else horizon
            used = elapsed / limit if horizon is None else None
            progress = cosine_progress(done, length, time_used=used, previous=progress)
            rates.append(cosine_learning_rate(peak, low, progress))
            elapsed += epoch_seconds / steps
        durations.append(epoch_seconds)
        fit = epochs_that_fit(limit - elapsed, durations)
        horizon = min(50, epoch + 1 + fit)
        if fit == 0:
            break
    assert epoch + 1 == 6  # six 10-second epochs fit in 60 s
    assert rates[-1] < 0.05 * peak  # the decay has (almost) ended
    assert all(b <= a for a, b in zip(rates, rates[1:], strict=False))


@pytest.mark.parametrize(
    ("value", "best", "higher", "expected"),
    [
        (1.0, None, False, True),
        (0.9, 1.0, False, True),
        (1.0, 1.0, False, False),
        (0.6, 0.5, True, True),
        (0.5, 0.5, True, False),
    ],
)
def test_improvement_is_strict(value, best, higher, expected):
    assert is_improvement(value, best, higher) is expected


def test_plateau_reduces_after_patience_epochs_without_a_lower_loss():
    plateau = Plateau(patience=2, factor=0.5, minimum=0.01)
    rate, rates = 0.1, []
    for loss in (2.0, 1.5, 1.6, 1.5, 1.4, 1.4, 1.4, 1.4, 1.4, 1.4, 1.4, 1.4):
        rate = plateau.step(loss, rate)
        rates.append(rate)
    assert rates[:5] == [0.1, 0.1, 0.1, 0.05, 0.05]  # two epochs without a lower loss
    assert rates[6] == 0.025 and rates[8] == 0.0125
    assert rates[10] == 0.01 and rates[-1] == 0.01  # never below the minimum
    assert plateau.get_state() == {"best": 1.4, "wait": 1}


def test_plateau_resumes_from_its_saved_counters():
    saved = Plateau(patience=3, factor=0.1, minimum=0.0)
    for loss in (1.0, 1.1, 1.2):
        saved.step(loss, 1.0)
    resumed = Plateau(patience=3, factor=0.1, minimum=0.0, **saved.get_state())
    assert resumed.step(1.3, 1.0) == pytest.approx(0.1)


def test_plateau_never_raises_a_rate_below_its_minimum():
    plateau = Plateau(patience=1, factor=0.5, minimum=1e-3, best=1.0)
    assert plateau.step(2.0, 1e-4) == 1e-4
