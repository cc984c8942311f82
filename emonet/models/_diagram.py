"""A picture of the two-branch network, for the docs and for users' own variants."""

from __future__ import annotations

import os
from pathlib import Path

import keras

from emonet._constants import FACE_SIZE, FEATURE_SIZE, HOG_FEATURES, LANDMARK_FEATURES
from emonet._io import atomic_path
from emonet._plotting import new_figure, save_figure
from emonet.models._backbones import get_backbone
from emonet.models._fusion import ModelConfig

__all__ = ["plot_architecture"]


def plot_architecture(
    model: keras.Model | ModelConfig, path: str | os.PathLike[str], *, use_keras: bool = True
) -> Path:
    """Draw the network: Keras' ``plot_model`` when pydot and Graphviz are installed,
    else a block diagram of the two branches with matplotlib (without pyplot: the
    user's backend and open figures are left alone).

    Parameters
    ----------
    model : keras.Model or ModelConfig
        A model of :func:`build_model`, or its configuration (then the block diagram is
        drawn without building it).
    path : str or path-like
        The PNG to write.
    use_keras : bool, default=True
        Try ``keras.utils.plot_model`` first (needs a model, pydot and Graphviz).

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile
    >>> from emonet.models import plot_architecture, variant_config
    >>> path = tempfile.mkdtemp() + "/arch.png"
    >>> plot_architecture(variant_config("resnet50_features"), path).name
    'arch.png'
    """
    path = Path(path)
    if use_keras and isinstance(model, keras.Model):
        try:
            with atomic_path(path, ".png") as tmp:
                keras.utils.plot_model(
                    model, to_file=str(tmp), show_shapes=True, expand_nested=False
                )
            return path
        except (ImportError, OSError):
            pass  # no pydot or Graphviz: draw the blocks ourselves
    config = model if isinstance(model, ModelConfig) else _config_of(model)
    return _draw_blocks(config, path)


def _config_of(model: keras.Model) -> ModelConfig:
    names = {layer.name for layer in model.layers}
    backbone = model.get_layer("backbone") if "backbone" in names else None
    inner = set() if backbone is None else {layer.name for layer in backbone.layers}
    # the registry's architectures, told apart by a layer only each of them has
    if backbone is None:
        spec_name = None
    elif "conv1_conv" in inner:
        spec_name = "resnet50"
    elif "conv_7b" in inner:
        spec_name = "inception_resnet_v2"
    else:
        spec_name = "compact"
    dense = [layer for layer in model.layers if layer.name.startswith("feature_dense")]
    head = [layer for layer in model.layers if layer.name.startswith("head_dense")]
    dropout = next((layer.rate for layer in model.layers if layer.name == "output_dropout"), 0.0)
    return ModelConfig(
        backbone=spec_name,
        dropout=dropout,
        use_features="feature_normalization" in names,
        input_size=None if backbone is None else backbone.input_shape[1],
        feature_units=tuple(layer.units for layer in dense),
        head_units=tuple(layer.units for layer in head),
        name=model.name,
    )


def _draw_blocks(config: ModelConfig, path: Path) -> Path:
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    size = config.resolved_input_size
    face_steps = [
        (f"face\n{FACE_SIZE}x{FACE_SIZE}x1, uint8 or float", "#dddddd"),
    ]
    if config.backbone is None:
        face_steps.append(("(not read: a model\nof the features alone)", "#eeeeee"))
    else:
        spec = get_backbone(config.backbone)
        if size != FACE_SIZE:
            face_steps.append((f"Resizing to {size}x{size}", "#eeeeee"))
        if spec.channels == 3:
            face_steps.append(("GrayToRGB (3 channels)", "#eeeeee"))
        face_steps.append((f"BackbonePreprocessing\n({spec.preprocessing})", "#eeeeee"))
        face_steps.append((f"backbone: {spec.name}\npooled vector", "#9ecae1"))

    feature_steps = []
    if config.use_features:
        feature_steps = [
            (
                f"features ({FEATURE_SIZE},)\n{LANDMARK_FEATURES} landmark coords + "
                f"{HOG_FEATURES} HOG",
                "#dddddd",
            ),
            ("Normalization\n(adapted on training features)", "#eeeeee"),
        ]
        feature_steps += [(f"Dense {u}, ReLU", "#a1d99b") for u in config.feature_units]

    fuses = config.use_features and config.backbone is not None
    head_steps = [("Concatenate" if fuses else "(no fusion)", "#fdd0a2")]
    head_steps += [
        (f"Dropout {config.dropout:g}, Dense {u}, ReLU", "#fdae6b") for u in config.head_units
    ]
    last = f"Dropout {config.dropout:g}, " if config.dropout else ""
    head_steps.append((f"{last}Dense {config.num_classes}, softmax (float32)", "#e6550d"))

    rows = max(len(face_steps), len(feature_steps))
    figure = new_figure((9, 1.1 * (rows + len(head_steps)) + 0.6), dpi=110)
    axis = figure.add_subplot()
    axis.set_xlim(0, 10)
    total = rows + len(head_steps)
    axis.set_ylim(0.3, total + 0.3)
    axis.axis("off")
    box_w, box_h = 3.6, 0.7

    def box(x, y, text, colour):
        axis.add_patch(
            FancyBboxPatch(
                (x - box_w / 2, y - box_h / 2),
                box_w,
                box_h,
                boxstyle="round,pad=0.05",
                facecolor=colour,
                edgecolor="#444444",
            )
        )
        axis.text(x, y, text, ha="center", va="center", fontsize=8.5)

    def arrow(x0, y0, x1, y1):
        axis.add_patch(
            FancyArrowPatch(
                (x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=12, color="#444444"
            )
        )

    left = 2.6 if config.use_features else 5.0
    right = 7.4
    top = total - 0.2

    def column(x, steps):
        ys = []
        for i, (text, colour) in enumerate(steps):
            # the branch ends line up just above the head
            y = top - (rows - len(steps) + i)
            box(x, y, text, colour)
            if ys:
                arrow(x, ys[-1] - box_h / 2, x, y + box_h / 2)
            ys.append(y)
        return ys[-1]

    end_left = column(left, face_steps)
    ends = [(left, end_left)]
    if feature_steps:
        ends.append((right, column(right, feature_steps)))
    y = top - rows
    for i, (text, colour) in enumerate(head_steps):
        box(5.0, y - i, text, colour)
        if i == 0:
            for x, end in ends:
                arrow(x, end - box_h / 2, 5.0, y + box_h / 2)
        else:
            arrow(5.0, y - i + 1 - box_h / 2, 5.0, y - i + box_h / 2)
    axis.set_title(
        f"{config.model_name}: backbone on the face"
        + (" + dense branch on the features" if config.use_features else ""),
        fontsize=10,
    )
    return save_figure(figure, path)
