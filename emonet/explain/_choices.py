"""The names the explanations' options take: here, without Keras, so that the commands
check their arguments before TensorFlow starts."""

#: The methods of :func:`emonet.explain.explain`.
METHODS: tuple[str, ...] = ("occlusion", "regions", "gradcam")
#: The baselines a masked pixel takes: the face blurred (its light kept, its shapes
#: gone), or the crop's mean grey.
BASELINES: tuple[str, ...] = ("blur", "mean")
