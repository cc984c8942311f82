"""Gradients of a network's output with respect to its last convolution block, on every
Keras backend: one small helper per backend, the rest in ``keras.ops``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from emonet.models import BACKBONE_LAYER, FACE_INPUT, FEATURES_INPUT, LiteModel

# Layers after which a 4-D map is no longer a convolution block's output.
_NOT_CONV = ("Pooling", "Dropout", "Flatten", "Resizing", "InputLayer")


def check_float_model(model: Any) -> None:
    """Refuse what Grad-CAM cannot run on, naming the methods that can."""
    name = getattr(model, "name", type(model).__name__)
    if isinstance(model, LiteModel):
        raise ValueError(
            f"{name}: Grad-CAM needs gradients, and a quantized LiteRT model "
            f"({model.quantization}, .tflite) has none; explain it with method='occlusion' "
            "or method='regions' (forward passes only), or give its float .keras model"
        )
    if not isinstance(model, keras.Model):
        raise ValueError(f"{name}: Grad-CAM needs a float Keras model, got {type(model).__name__}")


def conv_layer(model: keras.Model) -> tuple[keras.Model, keras.layers.Layer]:
    """The backbone of an emonet network and its last layer with a 4-D output that is a
    convolution block's (not a pooling, dropout or flattening of one)."""
    try:
        backbone = model.get_layer(BACKBONE_LAYER)
    except ValueError:
        raise ValueError(
            f"{model.name}: Grad-CAM needs a network with a convolutional backbone (a "
            f"layer named {BACKBONE_LAYER!r}); this one reads the features only: explain it "
            "with emonet.explain.explain_features"
        ) from None
    found = [
        layer
        for layer in backbone.layers
        if len(layer.output.shape) == 4 and not any(k in type(layer).__name__ for k in _NOT_CONV)
    ]
    if not found:
        raise ValueError(f"{model.name}: its backbone has no convolution layer")
    return backbone, found[-1]


def _run(model, backbone, layer, inputs: list, override=None, store: list | None = None):
    """Run ``model``'s graph; at ``layer`` (inside ``backbone``) keep its output in
    ``store``, or put ``override`` in its place."""

    def operation(op):
        if op is layer:
            if override is not None:
                return lambda *args, **kwargs: override

            def keep(*args, **kwargs):
                out = op(*args, **kwargs)
                if store is not None:
                    store.append(out)
                return out

            return keep
        if op is backbone:
            return lambda x, *args, **kwargs: backbone._run_through_graph([x], operation)
        return op

    # Keras' own graph walk (what Functional.call runs), with one layer replaced: a
    # functional model cannot be cut at a nested layer's output by public means
    return model._run_through_graph(inputs, operation)


def _gradient(function: Callable[[Any], Any], x: Any) -> Any:
    """The gradient of a scalar ``function`` at ``x``, by the backend's own autodiff."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = function(x)
        return tape.gradient(y, x)
    if backend == "jax":
        import jax

        # compiled once as a whole: op by op, every layer would be compiled on its own
        return jax.jit(jax.grad(function))(x)
    if backend == "torch":
        import torch

        x = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(function(x), x)
        return grad
    raise ValueError(f"Grad-CAM runs on the tensorflow, jax and torch backends, not {backend}")


def gradcam_maps(
    model: keras.Model,
    images: np.ndarray,
    targets: np.ndarray,
    features: np.ndarray | None = None,
    batch_size: int = 64,
) -> np.ndarray:
    """Grad-CAM maps, ``(N, 48, 48)`` float32 in [0, 1] (each scaled to its maximum):
    the ReLU of the last convolution block's channels weighted by the spatial mean of
    the gradient of the target's log-probability."""
    check_float_model(model)
    backbone, layer = conv_layer(model)
    ops = keras.ops
    names = [tensor.name for tensor in model.inputs]
    size = images.shape[1:3]
    out = np.zeros((len(images), *size), np.float32)
    for start in range(0, len(images), batch_size):
        stop = start + batch_size
        given = {FACE_INPUT: images[start:stop, :, :, None].astype(np.float32)}
        if FEATURES_INPUT in names:
            given[FEATURES_INPUT] = np.asarray(features[start:stop], np.float32)
        inputs = [ops.convert_to_tensor(given[name]) for name in names]
        store: list = []
        _run(model, backbone, layer, inputs, store=store)
        activations = ops.stop_gradient(store[-1])
        pick = ops.convert_to_tensor(
            np.eye(model.output.shape[-1], dtype=np.float32)[targets[start:stop]]
        )

        def score(a, inputs=inputs, pick=pick):
            probabilities = _run(model, backbone, layer, inputs, override=a)
            return ops.sum(ops.log(ops.sum(probabilities * pick, axis=-1) + 1e-12))

        grads = _gradient(score, activations)
        weights = ops.mean(grads, axis=(1, 2), keepdims=True)
        cam = ops.relu(ops.sum(weights * activations, axis=-1, keepdims=True))
        cam = ops.image.resize(cam, size, interpolation="bilinear")[..., 0]
        cam = ops.convert_to_numpy(cam).astype(np.float32)
        top = cam.reshape(len(cam), -1).max(axis=1)
        out[start:stop] = cam / np.where(top > 0, top, 1.0)[:, None, None]
    return out
