"""Training on many devices, on any backend: strategies by name, and who writes files.

One name (``--strategy``) maps to each backend's own way of spreading a batch over
devices: ``tf.distribute`` on TensorFlow, :mod:`keras.distribution` (data parallel) on
JAX. PyTorch trains on one device (Keras has no distribution for it).
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import keras

from emonet._choices import STRATEGIES

__all__ = ["STRATEGIES", "DeviceStrategy", "as_strategy", "is_chief", "make_strategy"]

# What keras.distribution.initialize reads for a multi-process JAX run.
_JAX_CLUSTER_VARIABLES = (
    "KERAS_DISTRIBUTION_JOB_ADDRESSES",
    "KERAS_DISTRIBUTION_NUM_PROCESSES",
    "KERAS_DISTRIBUTION_PROCESS_ID",
)


class DeviceStrategy:
    """How a model trains over devices, whatever the backend.

    Wraps a ``tf.distribute.Strategy`` (TensorFlow), a
    :class:`keras.distribution.DataParallel` (JAX) or nothing (one device).

    Parameters
    ----------
    strategy : tf.distribute.Strategy or keras.distribution.DataParallel or None
    name : str, optional
        The name it was made from (:data:`STRATEGIES`), for the run's ``config.json``.

    Examples
    --------
    >>> from emonet.training import make_strategy
    >>> make_strategy("default").num_replicas_in_sync
    1
    """

    def __init__(self, strategy: Any = None, name: str | None = None):
        self.strategy = strategy
        self.name = name
        self.backend = keras.backend.backend()

    @property
    def keras_distribution(self) -> bool:
        """Whether this is a Keras (JAX) distribution, which splits each batch into equal
        parts, one per device."""
        return isinstance(
            self.strategy, (keras.distribution.DataParallel, keras.distribution.ModelParallel)
        )

    @property
    def num_replicas_in_sync(self) -> int:
        """Devices a global batch is split over."""
        if self.strategy is None:
            return 1
        if self.keras_distribution:
            return int(self.strategy.device_mesh.devices.size)
        return int(self.strategy.num_replicas_in_sync)

    @property
    def kind(self) -> str:
        """The strategy's class name (``"DataParallel"``, ``"MirroredStrategy"``...)."""
        return "OneDevice" if self.strategy is None else type(self.strategy).__name__

    def scope(self) -> contextlib.AbstractContextManager:
        """Where the model and its optimizer are built (their variables placed)."""
        if self.strategy is None:
            return contextlib.nullcontext()
        return self.strategy.scope()

    def run_scope(self) -> contextlib.AbstractContextManager:
        """Where ``fit`` runs: a Keras distribution must be current to split the batches;
        a ``tf.distribute`` strategy travels with the model."""
        if self.keras_distribution:
            return self.strategy.scope()
        return contextlib.nullcontext()

    def is_chief(self) -> bool:
        """Whether this process writes the run folder."""
        if self.strategy is None:
            return True
        if self.keras_distribution:
            import jax  # a Keras distribution runs on JAX only

            return jax.process_index() == 0
        return _tf_is_chief(self.strategy)

    def process_shard(self) -> tuple[int, int]:
        """``(index, count)`` of this process among those that feed one global batch:
        each JAX process feeds its own part; ``tf.distribute`` shards the dataset itself."""
        if self.keras_distribution:
            import jax

            return jax.process_index(), jax.process_count()
        return 0, 1

    def __repr__(self) -> str:
        return f"DeviceStrategy({self.kind}, replicas={self.num_replicas_in_sync})"


def make_strategy(name: str = "auto") -> DeviceStrategy:
    """A strategy by name, for the current Keras backend.

    Parameters
    ----------
    name : {"auto", "default", "mirrored", "multiworker"}
        ``"default"``: one device. ``"mirrored"``: every visible device of this machine
        (TensorFlow's ``MirroredStrategy``; JAX's ``keras.distribution.DataParallel``).
        ``"auto"``: ``"mirrored"`` when more than one GPU (JAX: accelerator) is visible,
        else ``"default"``. ``"multiworker"``: several machines; TensorFlow's
        ``MultiWorkerMirroredStrategy`` reads the cluster from ``TF_CONFIG``, JAX's data
        parallelism over every process's devices from ``KERAS_DISTRIBUTION_*``
        (:func:`keras.distribution.initialize`).

    Returns
    -------
    DeviceStrategy

    Raises
    ------
    ValueError
        If the name is unknown, ``"multiworker"`` lacks its cluster variables, or the
        backend (PyTorch) has no distribution for it.

    Examples
    --------
    >>> from emonet.training import make_strategy
    >>> make_strategy("default").num_replicas_in_sync
    1
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return DeviceStrategy(_tf_strategy(name), name)
    if backend == "jax":
        return DeviceStrategy(_jax_distribution(name), name)
    if name in ("default", "auto"):
        return DeviceStrategy(None, name)
    raise ValueError(
        f"strategy {name!r} is not available on the {backend!r} backend, which trains on one "
        "device in emonet; use the 'jax' or 'tensorflow' backend (KERAS_BACKEND) for several"
    )


def as_strategy(strategy: Any) -> DeviceStrategy:
    """A :class:`DeviceStrategy` from a name, ``None`` (``"default"``), a
    ``tf.distribute.Strategy``, a :class:`keras.distribution.DataParallel` or itself."""
    if isinstance(strategy, DeviceStrategy):
        return strategy
    if strategy is None or isinstance(strategy, str):
        return make_strategy(strategy or "default")
    return DeviceStrategy(strategy)


def is_chief(strategy: Any) -> bool:
    """Whether this process writes the run folder: the chief, or worker 0 without one."""
    return as_strategy(strategy).is_chief()


def _tf_strategy(name: str):
    import tensorflow as tf

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


def _jax_distribution(name: str):
    if name == "default":
        return None
    if name == "multiworker":
        missing = [v for v in _JAX_CLUSTER_VARIABLES if not os.environ.get(v)]
        if missing:
            raise ValueError(
                "strategy 'multiworker' on JAX reads the cluster from "
                f"{', '.join(_JAX_CLUSTER_VARIABLES)} (the coordinator's host:port, the "
                f"number of processes, this one's index); not set: {', '.join(missing)}"
            )
        keras.distribution.initialize()
    devices = keras.distribution.list_devices()
    if name == "auto" and (len(devices) < 2 or all(d.lower().startswith("cpu") for d in devices)):
        return None
    return keras.distribution.DataParallel(devices=devices)


def _tf_is_chief(strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief
