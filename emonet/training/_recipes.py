"""How to train: :class:`TrainingConfig` and its named recipes (:data:`RECIPES`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from emonet._choices import LR_SCHEDULES, MONITORS, OPTIMIZERS, PRECISIONS
from emonet._config import config_from_dict
from emonet.training._augment import AugmentConfig

__all__ = ["RECIPES", "TrainingConfig"]


@dataclass
class TrainingConfig:
    """How to train: the schedule, the optimisers, augmentation, precision, limits.

    The defaults are the paper's recipe (:meth:`paper`); :meth:`cpu` is the recipe of the
    ``compact`` backbone on a small CPU. Every field can be changed.

    Parameters
    ----------
    epochs : int
        Total epochs, both phases together (paper: 5 frozen + 50).
    batch_size : int
        Global batch size (split over the devices of a distribution strategy).
    freeze_epochs : int
        Epochs of phase 1, with the backbone frozen; only used when the backbone starts
        from pretrained weights.
    freeze_optimizer, freeze_learning_rate
        Optimiser of phase 1 (paper: Adam, 1e-3).
    optimizer : {"sgd", "adam", "adamw"}
        Optimiser of phase 2 (paper: SGD).
    learning_rate : float
        Initial (peak, with warm-up) learning rate of phase 2.
    momentum, nesterov
        SGD momentum (paper: 0.9, Nesterov).
    weight_decay : float
        Decoupled weight decay (SGD, AdamW); 0 for none.
    lr_schedule : {"plateau", "cosine", "constant"}
        ``"plateau"``: multiply by ``plateau_factor`` when ``val_loss`` has not improved for
        ``plateau_patience`` epochs (Keras' ``ReduceLROnPlateau``). ``"cosine"``: cosine
        decay to ``min_learning_rate`` over phase 2, measured in epochs or, with a time
        limit, in time, whichever runs out first.
    plateau_factor, plateau_patience, min_learning_rate
        Settings of the schedules.
    warmup_epochs : float
        Linear warm-up of the phase 2 learning rate from a tenth of its value.
    early_stopping_patience : int or None
        Stop when ``monitor`` has not improved for this many epochs of phase 2; ``None``
        never stops early.
    monitor : {"val_loss", "val_accuracy", "loss", "accuracy"}
        Quantity that picks the best weights (restored at the end) and stops early.
    label_smoothing : float
        Label smoothing of the cross-entropy.
    mixup : float
        Beta parameter of mixup (faces, features and targets of a batch blended in
        pairs, :func:`~emonet.training.mixup_batch`); 0 for none, 0.2 is usual.
    ema_momentum : float or None
        Keep an exponential moving average of the weights with this momentum (e.g.
        0.999; Keras optimizers' ``use_ema``); validation, the best weights and the saved
        model use the average. ``None`` for none.
    class_weight : {None, "balanced"}
        ``"balanced"`` weights each face by the inverse frequency of its class.
    augment : AugmentConfig
        Random geometric augmentation of the training faces (and their features).
    mixed_precision : {None, "bfloat16", "float16"}
        Compute dtype of ``mixed_*`` precision; weights stay float32.
    jit_compile : bool or "auto"
        XLA compilation; ``"auto"`` lets Keras decide (off on a CPU, where it is slower).
    time_limit : float or None
        Minutes of training, after which the run stops cleanly (at the end of an epoch when
        the next would not finish in time) and keeps its best weights.
    seed : int
        Seed of initialisation, shuffling and augmentation.
    validation_batch_size : int
        Batch size of validation and prediction.

    Examples
    --------
    >>> from emonet.training import TrainingConfig
    >>> config = TrainingConfig.cpu()
    >>> config.mixed_precision, config.lr_schedule
    ('bfloat16', 'cosine')
    >>> TrainingConfig.from_config(config.get_config()) == config
    True
    """

    epochs: int = 55
    batch_size: int = 64
    freeze_epochs: int = 5
    freeze_optimizer: str = "adam"
    freeze_learning_rate: float = 1e-3
    optimizer: str = "sgd"
    learning_rate: float = 1e-3
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 0.0
    lr_schedule: str = "plateau"
    plateau_factor: float = 0.5
    plateau_patience: int = 3
    min_learning_rate: float = 1e-6
    warmup_epochs: float = 0.0
    early_stopping_patience: int | None = 8
    monitor: str = "val_loss"
    label_smoothing: float = 0.0
    mixup: float = 0.0
    ema_momentum: float | None = None
    class_weight: str | None = None
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    mixed_precision: str | None = None
    jit_compile: bool | str = "auto"
    time_limit: float | None = None
    seed: int = 0
    validation_batch_size: int = 256

    def __post_init__(self) -> None:
        if isinstance(self.augment, dict):
            self.augment = AugmentConfig.from_config(self.augment)
        checks = [
            (self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (self.freeze_epochs >= 0, f"freeze_epochs must be >= 0, got {self.freeze_epochs}"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}"),
            (self.freeze_optimizer in OPTIMIZERS, f"freeze_optimizer must be one of {OPTIMIZERS}"),
            (self.lr_schedule in LR_SCHEDULES, f"lr_schedule must be one of {LR_SCHEDULES}"),
            (self.monitor in MONITORS, f"monitor must be one of {MONITORS}"),
            (self.mixed_precision in PRECISIONS, f"mixed_precision must be one of {PRECISIONS}"),
            (self.class_weight in (None, "balanced"), "class_weight must be None or 'balanced'"),
            (self.learning_rate > 0, "learning_rate must be > 0"),
            (0 <= self.label_smoothing < 1, "label_smoothing must lie in [0, 1)"),
            (self.mixup >= 0, "mixup must be >= 0 (0 for none)"),
            (
                self.ema_momentum is None or 0 < self.ema_momentum < 1,
                "ema_momentum must lie in (0, 1), or be None for no average",
            ),
            (0 < self.plateau_factor < 1, "plateau_factor must lie in (0, 1)"),
            (self.time_limit is None or self.time_limit > 0, "time_limit must be > 0 minutes"),
            (
                self.jit_compile in (True, False, "auto"),
                "jit_compile must be True, False or 'auto'",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @classmethod
    def paper(cls, **overrides: Any) -> TrainingConfig:
        """The EmoNet paper's recipe: 5 frozen epochs with Adam, then 50 with SGD.

        Batch 64; phase 2 with SGD (Nesterov momentum 0.9, lr 1e-3), the learning rate
        halved after 3 epochs without a better validation loss, early stopping after 8,
        keeping the best weights. Augmentation: rotation up to 10 degrees, shear, zoom
        and horizontal flips, with the features moved and recomputed.
        """
        return cls(**overrides)

    @classmethod
    def cpu(cls, **overrides: Any) -> TrainingConfig:
        """The recipe of the ``compact`` backbone on a 2-core CPU, about 30-60 minutes.

        The network trains from scratch (no phase 1), so phase 2 is tuned for it: SGD
        with Nesterov momentum at lr 0.05 and weight decay 5e-4, batch 128, one warm-up
        epoch then a cosine decay that ends when either ``epochs`` or the ``time_limit``
        runs out; label smoothing 0.1; bfloat16 mixed precision; the paper's augmentation
        without shear, plus shifts of up to 5%; the best weights by validation accuracy.
        """
        settings: dict[str, Any] = {
            "epochs": 60,
            "batch_size": 128,
            "optimizer": "sgd",
            "learning_rate": 0.05,
            "weight_decay": 5e-4,
            "lr_schedule": "cosine",
            "min_learning_rate": 1e-5,
            "warmup_epochs": 1.0,
            "early_stopping_patience": None,
            "monitor": "val_accuracy",
            "label_smoothing": 0.1,
            "augment": AugmentConfig(shear=0.0, translate=0.05),
            "mixed_precision": "bfloat16",
        }
        settings.update(overrides)
        return cls(**settings)

    def get_config(self) -> dict[str, Any]:
        """The configuration as a JSON-compatible dict."""
        config = asdict(self)
        config["augment"] = self.augment.get_config()
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TrainingConfig:
        """Rebuild from :meth:`get_config`'s dict.

        Raises
        ------
        ValueError
            If a key is not a field.
        """
        return config_from_dict(cls, config, "training configuration")


#: Named recipes, for ``emonet-train --recipe`` (names as ``emonet._choices.RECIPE_NAMES``).
RECIPES: dict[str, Callable[..., TrainingConfig]] = {
    "paper": TrainingConfig.paper,
    "cpu": TrainingConfig.cpu,
}
