"""Training on many devices: ``tf.distribute`` strategies by name, and who writes files."""

from __future__ import annotations

import os

import tensorflow as tf

from emonet._choices import STRATEGIES

__all__ = ["STRATEGIES", "is_chief", "make_strategy"]


def make_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """A ``tf.distribute`` strategy by name.

    Parameters
    ----------
    name : {"auto", "default", "mirrored", "multiworker"}
        ``"auto"``: ``MirroredStrategy`` when more than one GPU is visible, else the
        default (one device). ``"mirrored"``: ``MirroredStrategy`` over all visible GPUs
        (or the CPU). ``"multiworker"``: ``MultiWorkerMirroredStrategy``, the cluster read
        from the ``TF_CONFIG`` environment variable.

    Returns
    -------
    tf.distribute.Strategy

    Raises
    ------
    ValueError
        If the name is unknown, or ``"multiworker"`` without ``TF_CONFIG``.

    Examples
    --------
    >>> from emonet.models import make_strategy
    >>> make_strategy("default").num_replicas_in_sync
    1
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    if name == "auto":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if not os.environ.get("TF_CONFIG"):
        raise ValueError(
            "strategy 'multiworker' reads the cluster from the TF_CONFIG environment "
            'variable, e.g. {"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}}; it is not set'
        )
    return tf.distribute.MultiWorkerMirroredStrategy()


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run folder: the chief, or worker 0 without one."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief
