"""The single home of emonet's constants.

Every other module imports label names, sizes and the feature layout from here.
"""

#: FER2013 expression labels, in the order of the ``emotion`` column of ``fer2013.csv``.
LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
NUM_CLASSES: int = len(LABELS)

#: FER2013 ``Usage`` values: Training, PublicTest (validation) and PrivateTest (final test).
USAGES: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest")

#: Side of the square grayscale face every stage works on, in pixels.
FACE_SIZE: int = 48

#: dlib's 68-point facial landmark scheme (iBUG 300-W).
NUM_LANDMARKS: int = 68
LANDMARK_FEATURES: int = 2 * NUM_LANDMARKS  # x0, y0, x1, y1, ...

#: Sliding-window HOG of the EmoNet paper.
HOG_WINDOW: int = 24
HOG_STEP: int = 6
HOG_ORIENTATIONS: int = 8
HOG_PIXELS_PER_CELL: int = 8
HOG_BLOCK_NORM: str = "L2-Hys"
#: The names of the HOG settings (``FeatureExtractor``'s parameters), in the order every
#: record of them uses: features files (``hog_<name>`` attributes), model records, bundles.
HOG_SETTINGS: tuple[str, ...] = ("window", "step", "orientations", "pixels_per_cell", "block_norm")


def hog_cells_per_axis(
    size: int = FACE_SIZE,
    window: int = HOG_WINDOW,
    step: int = HOG_STEP,
    pixels_per_cell: int = HOG_PIXELS_PER_CELL,
) -> int:
    """Number of HOG cells along one axis, summed over all window positions.

    A window that starts at ``p`` covers ``min(window, size - p)`` pixels, and so holds
    that many pixels floor-divided by the cell size; windows narrower than one cell hold none.
    """
    return sum(min(window, size - p) // pixels_per_cell for p in range(0, size, step))


HOG_FEATURES: int = hog_cells_per_axis() ** 2 * HOG_ORIENTATIONS  # 18 * 18 * 8 = 2592
FEATURE_SIZE: int = LANDMARK_FEATURES + HOG_FEATURES  # 136 + 2592 = 2728

#: File name endings of a model: Keras' (float, trainable) and LiteRT's (quantized,
#: ``emonet.models.quantize_model``).
KERAS_SUFFIX: str = ".keras"
LITE_SUFFIX: str = ".tflite"
