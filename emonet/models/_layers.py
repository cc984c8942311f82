"""Small Keras layers that carry a saved model's own preprocessing.

Every layer here is registered with :func:`keras.saving.register_keras_serializable`
under the package ``emonet``, so a ``.keras`` file that uses them loads with
``safe_mode=True`` once :mod:`emonet.models` is imported: no ``Lambda``, nothing pickled.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["BackbonePreprocessing", "FusedBatchNormalization", "GrayToRGB", "PREPROCESSING_MODES"]

# The per-channel ImageNet statistics of keras.applications' ``preprocess_input``.
_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
_TORCH_RGB_MEAN = (0.485, 0.456, 0.406)
_TORCH_RGB_STD = (0.229, 0.224, 0.225)

#: What :class:`BackbonePreprocessing` does to pixel values in ``[0, 255]``.
PREPROCESSING_MODES: dict[str, str] = {
    "caffe": "RGB to BGR, minus the ImageNet mean per channel (ResNet-50, VGGFace2)",
    "tf": "scaled to [-1, 1] (Inception-ResNet v2)",
    "torch": "scaled to [0, 1], minus the ImageNet mean, over the ImageNet std per channel",
    "unit": "scaled to [0, 1]",
    "standardize": "each image to zero mean and unit variance (evens out lighting)",
}


@keras.saving.register_keras_serializable(package="emonet")
class GrayToRGB(keras.layers.Layer):
    """Repeat a one-channel image into three equal channels.

    ImageNet backbones expect three channels; a grayscale face gives the same value to
    each. Integer input (uint8 faces) is cast to the layer's compute dtype first.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.models import GrayToRGB
    >>> tuple(GrayToRGB()(np.zeros((2, 48, 48, 1), "uint8")).shape)
    (2, 48, 48, 3)
    """

    def call(self, inputs):
        inputs = ops.cast(inputs, self.compute_dtype)
        if inputs.shape[-1] == 3:
            return inputs
        return ops.concatenate([inputs, inputs, inputs], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 3)


@keras.saving.register_keras_serializable(package="emonet")
class BackbonePreprocessing(keras.layers.Layer):
    """A backbone's own input scaling, as a layer of the saved model.

    Equal to ``keras.applications.<family>.preprocess_input`` for the same ``mode``,
    on images with pixel values in ``[0, 255]``.

    Parameters
    ----------
    mode : {"caffe", "tf", "torch", "unit", "standardize"}
        ``"caffe"``: RGB to BGR, then the ImageNet channel means subtracted (ResNet-50 and
        VGGFace2 weights); ``"tf"``: scaled to ``[-1, 1]`` (Inception-ResNet v2);
        ``"torch"``: ``[0, 1]`` then ImageNet mean and std; ``"unit"``: ``[0, 1]``;
        ``"standardize"``: each image to zero mean and unit standard deviation (a standard
        deviation under one grey level is taken as one).
    **kwargs
        Passed to :class:`keras.layers.Layer` (``name``, ``dtype``).

    Raises
    ------
    ValueError
        If ``mode`` is not one of :data:`PREPROCESSING_MODES`.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.models import BackbonePreprocessing
    >>> x = np.full((1, 2, 2, 3), 255.0, "float32")
    >>> float(BackbonePreprocessing("tf")(x)[0, 0, 0, 0])
    1.0
    """

    def __init__(self, mode: str = "unit", **kwargs):
        super().__init__(**kwargs)
        if mode not in PREPROCESSING_MODES:
            raise ValueError(
                f"unknown preprocessing mode {mode!r}; expected one of "
                f"{', '.join(PREPROCESSING_MODES)}"
            )
        self.mode = mode

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "unit":
            return x / 255.0
        if self.mode == "standardize":
            axes = tuple(range(1, len(x.shape)))
            mean = ops.mean(x, axis=axes, keepdims=True)
            std = ops.sqrt(ops.mean(ops.square(x - mean), axis=axes, keepdims=True))
            return (x - mean) / ops.maximum(std, 1.0)
        channels = x.shape[-1]
        if channels != 3:
            raise ValueError(f"mode {self.mode!r} needs 3 channels, got {channels}")
        if self.mode == "caffe":
            x = ops.flip(x, axis=-1)  # RGB -> BGR
            return x - ops.convert_to_tensor(_CAFFE_BGR_MEAN, dtype=self.compute_dtype)
        mean = ops.convert_to_tensor(_TORCH_RGB_MEAN, dtype=self.compute_dtype)
        std = ops.convert_to_tensor(_TORCH_RGB_STD, dtype=self.compute_dtype)
        return (x / 255.0 - mean) / std

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="emonet")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """:class:`keras.layers.BatchNormalization`, through TensorFlow's fused kernel there.

    On a CPU, Keras' generic batch normalisation of a 48x48x32 batch costs about as much
    as the 3x3 convolution before it (moments, then a separate normalisation, in float32
    even under mixed precision); TensorFlow's fused kernel is about four times faster.
    The fused kernel is a fast path taken on the TensorFlow backend only; elsewhere (JAX,
    PyTorch), and for masks, renormalisation, synchronised statistics and inputs that are
    not 4-D channels-last, the layer is the parent's backend-neutral ``keras.ops`` code.
    Weights, configuration, outputs and moving statistics are the parent's on every
    backend (the fused kernel's unbiased batch variance is turned back into the biased
    one Keras uses), so a model saved under one backend predicts the same under another.

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.models import FusedBatchNormalization
    >>> tuple(FusedBatchNormalization()(np.ones((2, 4, 4, 3), "float32")).shape)
    (2, 4, 4, 3)
    """

    def _fusable(self, inputs, mask) -> bool:
        return (
            keras.backend.backend() == "tensorflow"
            and mask is None
            and not self.renorm
            and not getattr(self, "synchronized", False)
            and self.center
            and self.scale
            and len(inputs.shape) == 4
            and self.axis in (-1, 3)
        )

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        return self._fused_call(inputs, training)

    def _fused_call(self, inputs, training):
        import tensorflow as tf  # the TensorFlow backend only (see _fusable)

        x = inputs
        if x.dtype not in (tf.float16, tf.bfloat16, tf.float32):
            x = tf.cast(x, tf.float32)
        gamma = tf.cast(self.gamma, tf.float32)
        beta = tf.cast(self.beta, tf.float32)
        if training and self.trainable:
            y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
                x, gamma, beta, epsilon=self.epsilon, is_training=True
            )
            # the kernel returns the unbiased variance; Keras' moments are biased
            shape = tf.shape(x)
            count = tf.cast(shape[0] * shape[1] * shape[2], tf.float32)
            variance = variance * (count - 1.0) / tf.maximum(count, 1.0)
            momentum = self.momentum
            self.moving_mean.assign(self.moving_mean * momentum + mean * (1.0 - momentum))
            self.moving_variance.assign(
                self.moving_variance * momentum + variance * (1.0 - momentum)
            )
        else:
            y, _, _ = tf.compat.v1.nn.fused_batch_norm(
                x,
                gamma,
                beta,
                mean=tf.cast(self.moving_mean, tf.float32),
                variance=tf.cast(self.moving_variance, tf.float32),
                epsilon=self.epsilon,
                is_training=False,
            )
        return tf.cast(y, self.compute_dtype)
