"""Copy a trained network's weights into the same network or a wider one of it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import keras
import numpy as np

__all__ = ["transfer_weights"]

# weightless layers that act on each channel alone: a channel keeps its place through them
_CHANNELWISE = (
    keras.layers.Activation,
    keras.layers.Dropout,
    keras.layers.ReLU,
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.SpatialDropout2D,
)


def transfer_weights(source: keras.Model, target: keras.Model) -> None:
    """Give ``target`` the weights of ``source``: the same network, or a wider one.

    Where ``target`` has the same shapes, this is ``set_weights``. Where its layers have
    more channels or units (wider convolution blocks, a wider head), every unit of
    ``source`` keeps its weights in ``target``; the new units keep their random
    initial weights on what they read, and whatever reads them gets weights of zero
    from them. So ``target`` starts computing exactly what ``source`` computes (a
    function-preserving widening, as in Net2Net's *Net2WiderNet*, with zeros instead of
    copies), and training then puts the new units to use.

    Parameters
    ----------
    source : keras.Model
        A trained model of :func:`build_model` (e.g. from :func:`load_model`).
    target : keras.Model
        A model of the same layers, by name and kind, each as wide as in ``source`` or
        wider; the inputs and the number of classes the same. Its weights are replaced.

    Raises
    ------
    ValueError
        If a layer of ``target`` is missing from ``source``, of another kind, narrower,
        or of another shape than widening allows; the message names the layer and the
        two shapes.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.models import build_model, predict_crops, transfer_weights
    >>> narrow = build_model("compact", use_features=False,
    ...                      backbone_options={"widths": (8, 16)})
    >>> wide = build_model("compact", use_features=False,
    ...                    backbone_options={"widths": (8, 24)})
    >>> transfer_weights(narrow, wide)
    >>> faces = np.random.default_rng(0).integers(0, 256, (4, 48, 48), dtype=np.uint8)
    >>> np.allclose(predict_crops(narrow, faces), predict_crops(wide, faces), atol=1e-5)
    True
    """
    if _weight_shapes(source) == _weight_shapes(target):
        target.set_weights(source.get_weights())
        return
    # the graph from the config, serialised once: a nested model's is inside it
    config = target.get_config()
    for name, *_ in _endpoints(config["output_layers"]):
        mine, theirs = (tuple(m.get_layer(name).output.shape) for m in (target, source))
        if mine != theirs:
            raise ValueError(
                f"layer {name!r}: the output is {mine}, not {theirs} as in the trained "
                "model; only inner layers can be wider"
            )
    pending: list[tuple[keras.layers.Layer, list[np.ndarray]]] = []
    _transfer(source, target, config, {}, pending)
    # set only once every layer has passed: a refused model keeps its weights
    for layer, weights in pending:
        layer.set_weights(weights)


def _weight_shapes(model: keras.Model) -> list[tuple[int, ...]]:
    return [tuple(w.shape) for w in model.weights]


def _endpoints(spec: Any) -> list[tuple[str, int, int]]:
    """A functional config's ``input_layers`` / ``output_layers`` as a list of triples."""
    if isinstance(spec, dict):
        return [tuple(v) for v in spec.values()]
    if spec and isinstance(spec[0], str):
        return [tuple(spec)]
    return [tuple(v) for v in spec]


def _history(args: Any) -> Iterator[str]:
    """Names of the layers whose outputs a serialised call reads, in order."""
    if isinstance(args, dict):
        config = args.get("config")
        if isinstance(config, dict) and "keras_history" in config:
            yield config["keras_history"][0]
            return
        for value in args.values():
            yield from _history(value)
    elif isinstance(args, list | tuple):
        for value in args:
            yield from _history(value)


def _unchanged(place: np.ndarray, width: int) -> bool:
    """Whether the units are where they were and none were added."""
    return len(place) == width and bool(np.array_equal(place, np.arange(width)))


def _last(layer: keras.layers.Layer, which: str) -> int:
    return int(getattr(layer, which).shape[-1])


def _transfer(
    source: keras.Model,
    target: keras.Model,
    config: dict[str, Any],
    inputs: dict[str, np.ndarray],
    pending: list[tuple[keras.layers.Layer, list[np.ndarray]]],
) -> dict[str, np.ndarray]:
    """Transfer the weights of one functional graph (``target``, whose ``config`` it is),
    layer by layer in graph order.

    ``places[name]`` holds, for each unit of the last axis of that layer's output in
    ``source``, its index in ``target``'s; ``inputs`` gives them for the graph's inputs
    (an inner model's, from the call outside it). The new weights go to ``pending``."""
    places: dict[str, np.ndarray] = {}
    for spec in config["layers"]:
        name = spec["name"]
        mine = target.get_layer(name)
        try:
            theirs = source.get_layer(name)
        except ValueError:
            raise ValueError(
                f"layer {name!r} is not in the trained model; it must have the same layers"
            ) from None
        if type(mine) is not type(theirs):
            raise ValueError(
                f"layer {name!r} is a {type(mine).__name__} here and a "
                f"{type(theirs).__name__} in the trained model"
            )
        read = [places[n] for node in spec["inbound_nodes"][:1] for n in _history(node)]
        if isinstance(mine, keras.layers.InputLayer):
            width = _last(theirs, "output")
            places[name] = inputs.get(name, np.arange(width))
            if name not in inputs and _last(mine, "output") != width:
                raise ValueError(f"input {name!r}: {_last(mine, 'output')} values, not {width}")
        elif isinstance(mine, keras.Model):
            graph = spec["config"]
            names = (n for n, *_ in _endpoints(graph["input_layers"]))
            inner = dict(zip(names, read, strict=True))
            (out, *_), *_ = _endpoints(graph["output_layers"])
            places[name] = _transfer(theirs, mine, graph, inner, pending)[out]
        else:
            places[name] = _layer(mine, theirs, read, pending)
    return places


def _layer(
    mine: keras.layers.Layer,
    theirs: keras.layers.Layer,
    read: list[np.ndarray],
    pending: list[tuple[keras.layers.Layer, list[np.ndarray]]],
) -> np.ndarray:
    """Transfer one layer's weights; the places of its output units."""
    name = mine.name
    if isinstance(mine, keras.layers.Concatenate):
        if mine.axis not in (-1, len(mine.output.shape) - 1):
            raise ValueError(f"layer {name!r}: only concatenation on the last axis can widen")
        offsets = np.cumsum([0] + [int(t.shape[-1]) for t in mine.input])[:-1]
        return np.concatenate([p + o for p, o in zip(read, offsets, strict=True)])
    if isinstance(mine, keras.layers.Flatten):
        (place,) = read
        cells, theirs_cells = mine.input.shape[1:-1], theirs.input.shape[1:-1]
        if tuple(cells) != tuple(theirs_cells):
            raise ValueError(f"layer {name!r}: {tuple(cells)} cells, not {tuple(theirs_cells)}")
        width = _last(mine, "input")
        return (np.arange(int(np.prod(cells)))[:, None] * width + place[None, :]).ravel()
    if isinstance(mine, keras.layers.Dense | keras.layers.Conv2D):
        (place,) = read
        kernel, *rest = theirs.get_weights()
        new_kernel, *new_rest = mine.get_weights()
        if (
            kernel.shape[:-2] != new_kernel.shape[:-2]
            or kernel.shape[-2] != len(place)
            or kernel.shape[-1] > new_kernel.shape[-1]
        ):
            raise ValueError(
                f"layer {name!r}: kernel {new_kernel.shape} cannot hold the trained "
                f"{kernel.shape}; a layer can only gain units"
            )
        units = kernel.shape[-1]
        # what the new input units feed is zero: the old units compute what they did
        new_kernel[..., ~np.isin(np.arange(new_kernel.shape[-2]), place), :] = 0
        new_kernel[..., place, :units] = kernel
        for new, old in zip(new_rest, rest, strict=True):
            new[:units] = old
        pending.append((mine, [new_kernel, *new_rest]))
        return np.arange(units)
    weights = [np.asarray(w) for w in theirs.get_weights()]
    if len(read) != 1:
        raise ValueError(f"layer {name!r} ({type(mine).__name__}) cannot be widened")
    (place,) = read
    if not weights:
        if isinstance(mine, _CHANNELWISE):
            return place
        # any other layer, only where nothing before it was widened
        if _unchanged(place, _last(mine, "input")) and _last(mine, "output") == _last(
            theirs, "output"
        ):
            return np.arange(_last(mine, "output"))
        raise ValueError(f"layer {name!r} ({type(mine).__name__}) cannot be widened")
    # per-channel weights (batch normalisation, normalisation): each moves with its unit
    new_weights = [np.array(w) for w in mine.get_weights()]
    for new, old in zip(new_weights, weights, strict=True):
        if new.ndim == 0 and old.ndim == 0:
            new[...] = old
        elif new.ndim == 1 and old.shape == (len(place),):
            new[place] = old
        elif new.shape == old.shape and _unchanged(place, _last(mine, "input")):
            new[...] = old
        else:
            raise ValueError(
                f"layer {name!r} ({type(mine).__name__}): weights {new.shape} cannot hold "
                f"the trained {old.shape}"
            )
    pending.append((mine, new_weights))
    return place
