"""The paper's published figures, and the scales a reproduction runs at."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["PAPER_ACCURACY", "PAPER_WEIGHTS", "SCALES", "Scale"]

#: Table 1 of the EmoNet paper: the ensemble weights learned on the validation split.
PAPER_WEIGHTS: dict[str, float] = {
    "inception_resnet_v2": 0.146737,
    "inception_resnet_v2_features": 0.210536,
    "resnet50": 0.285459,
    "resnet50_features": 0.357268,
}

#: Table 2 of the EmoNet paper: accuracy on the test split (FER2013's PrivateTest).
PAPER_ACCURACY: dict[str, float] = {
    "inception_resnet_v2": 0.6275,
    "inception_resnet_v2_features": 0.6455,
    "resnet50": 0.6892,
    "resnet50_features": 0.7097,
    "learned_weights": 0.7339,
}


@dataclass(frozen=True)
class Scale:
    """How large a reproduction is.

    Parameters
    ----------
    name : str
    epochs : int
        Epochs of each variant, both phases (``--epochs`` overrides).
    batch_size : int
        Batch size on one device; the global batch is this times the devices.
    input_sizes : mapping of str to int
        Input side of each backbone; a backbone not named gets the paper's (139 px for
        Inception-ResNet v2, 197 px for ResNet-50).
    faces_per_label : mapping of str to int, optional
        At most this many faces of each label in each usage (usages not named are left
        out); ``None`` takes every face.
    """

    name: str
    epochs: int
    batch_size: int
    input_sizes: Mapping[str, int] = field(default_factory=dict)
    faces_per_label: Mapping[str, int] | None = None


#: ``"full"``: the paper's experiment. ``"smoke"``: the same chain on a few hundred faces,
#: at the smallest input sizes the backbones take, one epoch: minutes on a 2-core CPU.
SCALES: dict[str, Scale] = {
    "full": Scale("full", epochs=55, batch_size=64),
    "smoke": Scale(
        "smoke",
        epochs=1,
        batch_size=32,
        input_sizes={"inception_resnet_v2": 75, "resnet50": 32},
        faces_per_label={"Training": 32, "PublicTest": 16, "PrivateTest": 16},
    ),
}
