"""Exact Shapley values of a few players from the value of every coalition."""

from __future__ import annotations

from math import factorial

import numpy as np

__all__ = ["shapley_values"]

#: Most players :func:`shapley_values` takes: 2 ** 12 coalitions.
MAX_PLAYERS = 12


def coalitions(n_players: int) -> np.ndarray:
    """``(2 ** n, n)`` bool: row ``s`` holds player ``i`` when bit ``i`` of ``s`` is set."""
    index = np.arange(2**n_players)
    return (index[:, None] >> np.arange(n_players)) & 1 == 1


def shapley_values(values: np.ndarray) -> np.ndarray:
    """Exact Shapley values from the value of every coalition of ``n`` players.

    Player ``i`` gets the average, over the orders in which the players could join, of
    what its joining adds: ``sum over S without i of |S|! (n-|S|-1)! / n! * (v(S + i) -
    v(S))``. They add up to ``v(all) - v(none)`` (efficiency).

    Parameters
    ----------
    values : (2 ** n, ...) array_like
        ``values[s]``: the value of the coalition whose members are the set bits of ``s``
        (bit ``i`` for player ``i``); trailing axes (e.g. one per class) are kept.

    Returns
    -------
    (n, ...) ndarray of float64

    Raises
    ------
    ValueError
        If the length of ``values`` is not a power of 2 up to ``2 ** 12``.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.explain import shapley_values
    >>> # v(S) = 1 when both players are in S: they share the credit
    >>> shapley_values(np.array([0.0, 0.0, 0.0, 1.0])).tolist()
    [0.5, 0.5]
    """
    values = np.asarray(values, np.float64)
    n_players = int(np.log2(max(len(values), 1)))
    if len(values) != 2**n_players or not 1 <= n_players <= MAX_PLAYERS:
        raise ValueError(
            f"values: expected one value per coalition, 2 ** n rows for 1 <= n <= "
            f"{MAX_PLAYERS} players, got {len(values)} rows"
        )
    members = coalitions(n_players)
    sizes = members.sum(axis=1)
    weight = np.array(
        [
            factorial(s) * factorial(n_players - s - 1) / factorial(n_players)
            for s in range(n_players)
        ]
    )
    out = np.zeros((n_players, *values.shape[1:]), np.float64)
    index = np.arange(len(values))
    for player in range(n_players):
        without = index[~members[:, player]]
        gain = values[without | (1 << player)] - values[without]
        w = weight[sizes[without]].reshape(-1, *([1] * (values.ndim - 1)))
        out[player] = (w * gain).sum(axis=0)
    return out
