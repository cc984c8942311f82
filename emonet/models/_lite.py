"""Integer-quantized networks run by LiteRT: twice the speed on a CPU, a quarter the size.

:func:`quantize_model` converts a trained Keras model to a ``.tflite`` file with
TensorFlow's converter (post-training quantization: weights in int8, and with
``"int8"`` the activations too, their ranges calibrated on faces), and
:class:`LiteModel` runs it with LiteRT (the ``ai-edge-litert`` package) on any Keras
backend. The file is an ordinary LiteRT flatbuffer: emonet's record
(:class:`ModelInfo`) travels in its metadata, under the name ``"emonet"``.

Two steps stay in float, in :meth:`LiteModel.predict_on_batch`, outside the quantized
network: the final softmax (a quantized softmax gives probabilities in steps of 1/256
whose rows do not sum to 1; an ensemble's weights and a tie's break need better), and
the normalisation of the features of a two-branch network (their raw values span
landmark coordinates up to 48 and HOG values below 1: one int8 scale for both would
round the HOG away).

A file is checked when it is read, and every fault is one :class:`ValueError` naming it:
a truncated or corrupted flatbuffer (LiteRT's verifier, and emonet's reading of its
metadata), and a record that does not describe the network, as for a ``.keras`` file
(:func:`load_model`): labels other than :data:`emonet.LABELS` in that order are refused,
not reordered; feature settings must be ones :class:`~emonet.features.FeatureExtractor`
accepts and give as many values as the network's features input takes.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import tempfile
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras
import numpy as np

from emonet._choices import QUANTIZATIONS
from emonet._constants import LITE_SUFFIX
from emonet._io import atomic_write_bytes
from emonet._tensorflow import quiet_stderr
from emonet.models._fusion import FACE_INPUT, FEATURES_INPUT, feature_normalization
from emonet.models._inputs import check_faces, extractor_of, feature_width
from emonet.models._saving import ModelInfo, _check_record, _info_of

__all__ = ["QUANTIZATIONS", "LiteModel", "load_lite_model", "quantize_model"]

#: The metadata entry holding emonet's record in a ``.tflite`` file.
_METADATA_NAME = "emonet"
_OUTPUT_LAYER = "probabilities"
#: A LiteRT flatbuffer's identifier, bytes 4-8 of the file.
_IDENTIFIER = b"TFL3"


class LiteModel:
    """A quantized emonet network, run by LiteRT.

    It stands in for a Keras model wherever emonet runs one for inference:
    :func:`predict_crops`, :func:`predict_proba`, :class:`emonet.Recognizer` and the
    presets, ``emonet-evaluate``. Made by :func:`quantize_model`, read by
    :func:`load_lite_model`.

    Parameters
    ----------
    content : bytes
        A ``.tflite`` flatbuffer written by :func:`quantize_model` (emonet's record in
        its metadata).
    num_threads : int, optional
        Threads LiteRT may use; default the cores this process may run on.
    source : str, default="model"
        Names the model in error messages (a file's path).

    Attributes
    ----------
    emonet_info : ModelInfo
        What the network is and which features it reads, as for :func:`load_model`.
    input_names : tuple of str
        ``("face",)`` or ``("face", "features")``.
    feature_width : int or None
        Width of the features input; ``None`` if the network reads none.
    num_classes : int
    name : str
        The Keras model's name.
    quantization : str
        ``"int8"`` or ``"weights"`` (:data:`QUANTIZATIONS`).

    Examples
    --------
    >>> import numpy as np
    >>> from emonet.models import build_model, predict_crops, quantize_model
    >>> model = build_model("compact", use_features=False,
    ...                     backbone_options={"widths": [4], "convs_per_block": 1})
    >>> faces = np.random.default_rng(0).integers(0, 256, (64, 48, 48), dtype=np.uint8)
    >>> lite = quantize_model(model, faces)
    >>> lite.quantization, lite.input_names
    ('int8', ('face',))
    >>> predict_crops(lite, faces[:3], tta="flip").shape
    (3, 7)
    """

    def __init__(
        self, content: bytes, *, num_threads: int | None = None, source: str = "model"
    ) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.content = bytes(content)
        self.num_threads = num_threads
        if len(self.content) < 8 or self.content[4:8] != _IDENTIFIER:
            raise ValueError(
                f"{source}: not a LiteRT (.tflite) model file; expected one written by "
                "emonet-quantize"
            )
        threads = num_threads if num_threads is not None else _available_cores()
        # LiteRT verifies the whole flatbuffer before emonet reads its metadata
        with _unreadable(source):
            interpreter = Interpreter(model_content=self.content, num_threads=threads)
        record = _read_record(self.content, source)
        with _unreadable(source):
            self._runner = interpreter.get_signature_runner()
            inputs = self._runner.get_input_details()
            outputs = self._runner.get_output_details()
        self.emonet_info = ModelInfo.from_config(record["model"], source=source)
        self.quantization = str(record["quantization"])
        self.name = str(record["name"])
        if self.quantization not in QUANTIZATIONS:
            raise ValueError(
                f"{source}: damaged emonet record in its metadata (quantization "
                f"{self.quantization!r}, not one of {', '.join(QUANTIZATIONS)}); quantize "
                "the .keras model again with emonet-quantize"
            )
        self.input_names = tuple(name for name in (FACE_INPUT, FEATURES_INPUT) if name in inputs)
        if FACE_INPUT not in inputs or len(inputs) != len(self.input_names):
            raise ValueError(
                f"{source}: expected the inputs {FACE_INPUT!r} and optionally "
                f"{FEATURES_INPUT!r}, got {sorted(inputs)}"
            )
        if len(outputs) != 1:
            raise ValueError(f"{source}: expected one output, got {len(outputs)}")
        with _unreadable(source):
            self.feature_width = (
                int(inputs[FEATURES_INPUT]["shape"][-1]) if FEATURES_INPUT in inputs else None
            )
            (output,) = outputs.values()
            self.num_classes = int(output["shape"][-1])
        _check_record(
            self.emonet_info,
            source,
            feature_width=self.feature_width,
            num_classes=self.num_classes,
        )
        self._feature_mean, self._feature_std = _feature_normalization(
            record["feature_normalization"], self.feature_width, source
        )
        with _unreadable(source), quiet_stderr():
            # LiteRT's line on the CPU delegate its first call creates; a corrupted
            # network (its quantization parameters) fails here
            self._runner(**{name: np.zeros(inputs[name]["shape"], np.float32) for name in inputs})
        # one interpreter, its tensors resized per batch: calls must not overlap
        self._lock = threading.Lock()

    def predict_on_batch(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Class probabilities of a batch, as ``keras.Model.predict_on_batch`` gives them.

        Parameters
        ----------
        inputs : dict
            ``{"face": (N, 48, 48, 1) float32}``, and ``"features": (N, F)`` when the
            network reads them.

        Returns
        -------
        (N, num_classes) ndarray of float32
        """
        arrays = {name: np.asarray(inputs[name], dtype=np.float32) for name in self.input_names}
        if self._feature_mean is not None:
            arrays[FEATURES_INPUT] = (
                arrays[FEATURES_INPUT] - self._feature_mean
            ) / self._feature_std
        with self._lock:
            (logits,) = self._runner(**arrays).values()
        logits = logits.astype(np.float64)
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the ``.tflite`` file, atomically.

        Parameters
        ----------
        path : str or path-like
            Ends in ``.tflite``.

        Returns
        -------
        pathlib.Path
        """
        path = Path(path)
        if path.suffix != LITE_SUFFIX:
            raise ValueError(f"{path}: a quantized model file must end in {LITE_SUFFIX}")
        return atomic_write_bytes(path, self.content)

    def __repr__(self) -> str:
        return (
            f"LiteModel(quantization={self.quantization!r}, inputs={self.input_names}, "
            f"{len(self.content) / 1e6:.2f} MB)"
        )


def load_lite_model(path: str | os.PathLike[str], num_threads: int | None = None) -> LiteModel:
    """Read a ``.tflite`` file written by :func:`quantize_model` or ``emonet-quantize``.

    Parameters
    ----------
    path : str or path-like
    num_threads : int, optional
        Threads LiteRT may use; default the cores this process may run on.

    Returns
    -------
    LiteModel

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is not a complete LiteRT flatbuffer (truncated or corrupted) with emonet's
        record, or the record does not describe the network: labels other than
        :data:`emonet.LABELS` in that order (refused, not reordered), or feature settings
        that no extractor computes or that give another number of values than the
        features input takes. One line, naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    if path.suffix != LITE_SUFFIX:
        raise ValueError(f"{path}: expected a {LITE_SUFFIX} file written by emonet-quantize")
    return LiteModel(path.read_bytes(), num_threads=num_threads, source=str(path))


def quantize_model(
    model: keras.Model,
    faces: np.ndarray,
    features: np.ndarray | None = None,
    *,
    quantization: str = "int8",
    max_faces: int = 512,
    random_state: int | None = 0,
    num_threads: int | None = None,
) -> LiteModel:
    """Quantize a trained network for fast inference on a CPU.

    The network is copied in float32 without its softmax, exported, and converted by
    TensorFlow's LiteRT converter. With ``"int8"``, the weights and the activations
    are 8-bit integers, each activation's range measured on ``faces``
    (a few hundred faces like those the network will see: Training faces); with
    ``"weights"``, only the weights are, and the activations stay in float (no
    calibration; slower, and closer to the float network). On FER2013's PublicTest, the
    bundled networks in ``"int8"`` read 98.7-99.5% of the faces as their float
    originals do, their accuracies within 0.4 point; see docs/models.md.

    Needs Keras' TensorFlow backend (the converter reads a TensorFlow graph); the
    model it gives runs on every backend.

    Parameters
    ----------
    model : keras.Model
        A model of :func:`build_model` or :func:`load_model`; its ``emonet_info`` goes
        into the file.
    faces : (N, 48, 48) uint8 array_like
        Calibration faces.
    features : (N, F) float array_like, optional
        Their features, for a network that reads them; computed when ``None``.
    quantization : {"int8", "weights"}, default="int8"
    max_faces : int, default=512
        At most this many of ``faces``, drawn at random, calibrate.
    random_state : int or None, default=0
        Seeds the draw.
    num_threads : int, optional
        Threads of the returned model (:class:`LiteModel`).

    Returns
    -------
    LiteModel
        Its ``content`` is the file :meth:`LiteModel.save` writes.

    Raises
    ------
    ValueError
        For an unknown ``quantization``, faces that are not 48x48 uint8, or features
        that do not match them.
    RuntimeError
        Under another Keras backend than TensorFlow.
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(
            f"quantization: expected one of {', '.join(QUANTIZATIONS)}, got {quantization!r}"
        )
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            "quantize_model needs Keras' TensorFlow backend (KERAS_BACKEND=tensorflow), "
            f"not {keras.backend.backend()!r}; the .tflite file it writes runs on every backend"
        )
    if max_faces < 1:
        raise ValueError(f"max_faces must be at least 1, got {max_faces}")
    import tensorflow as tf

    info = _info_of(model)
    faces = check_faces(faces)
    if len(faces) == 0:
        raise ValueError("faces: calibration needs at least one face")
    rng = np.random.default_rng(random_state)
    chosen = np.sort(rng.choice(len(faces), min(max_faces, len(faces)), replace=False))
    samples = {FACE_INPUT: faces[chosen, :, :, None].astype(np.float32)}
    if info.uses_features:
        if features is None:
            vectors = extractor_of(model).transform(faces[chosen])
        else:
            features = np.asarray(features, dtype=np.float32)
            width = feature_width(model)
            if features.ndim != 2 or features.shape != (len(faces), width):
                raise ValueError(
                    f"features: expected one row of {width} values per face, shape "
                    f"({len(faces)}, {width}), got {features.shape}"
                )
            vectors = features[chosen]
        samples[FEATURES_INPUT] = np.asarray(vectors, dtype=np.float32)

    float_model, normalization = _float32_logits(model)
    if normalization is not None:
        samples[FEATURES_INPUT] = (samples[FEATURES_INPUT] - normalization["mean"]) / (
            normalization["std"]
        )
    with tempfile.TemporaryDirectory(prefix="emonet-quantize-") as folder:
        float_model.export(folder, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(folder)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantization == "int8":

            def calibration_batches():
                for start in range(0, len(chosen), 16):
                    yield {name: value[start : start + 16] for name, value in samples.items()}

            converter.representative_dataset = calibration_batches
        with quiet_stderr(), warnings.catch_warnings():
            # the converter calibrates with tf.lite.Interpreter, which warns of its own
            # deprecation; LiteModel runs LiteRT's
            warnings.simplefilter("ignore", UserWarning)
            content = converter.convert()
    record = {
        "model": info.get_config(),
        "quantization": quantization,
        "name": model.name,
        "feature_normalization": None
        if normalization is None
        else {key: value.tolist() for key, value in normalization.items()},
    }
    return LiteModel(_with_record(content, record), num_threads=num_threads)


def _available_cores() -> int:
    # the cores this process may use (a container's or taskset's share), where the OS says
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _float32_logits(model: keras.Model) -> tuple[keras.Model, dict | None]:
    """The model in float32, its last layer giving logits, its features' normalisation
    taken out (and returned: ``mean`` and ``std``, or ``None``): what the converter reads.
    """

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            if node.get("class_name") == "DTypePolicy":
                return {**node, "config": {**node["config"], "name": "float32"}}
            node = {key: rewrite(value) for key, value in node.items()}
            config = node.get("config")
            if isinstance(config, dict) and config.get("name") == _OUTPUT_LAYER:
                node["config"] = {**config, "activation": "linear"}
            return node
        if isinstance(node, list):
            return [rewrite(value) for value in node]
        return node

    copy = keras.Model.from_config(rewrite(model.get_config()))
    copy.set_weights(model.get_weights())
    layer = feature_normalization(copy)
    if layer is None:
        return copy, None
    mean = np.asarray(layer.adapt_mean, dtype=np.float32).reshape(-1)
    variance = np.asarray(layer.adapt_variance, dtype=np.float32).reshape(-1)
    # Keras' Normalization divides by max(sqrt(variance), epsilon)
    std = np.maximum(np.sqrt(variance), keras.backend.epsilon()).astype(np.float32)
    layer.adapt_mean.assign(np.zeros_like(mean).reshape(layer.adapt_mean.shape))
    layer.adapt_variance.assign(np.ones_like(variance).reshape(layer.adapt_variance.shape))
    layer.finalize_state()
    return copy, {"mean": mean, "std": std}


def _with_record(content: bytes, record: dict) -> bytes:
    """The flatbuffer with ``record`` in its metadata (a new buffer, and its name)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    tree = schema.ModelT.InitFromPackedBuf(bytearray(content), 0)
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(record).encode(), dtype=np.uint8)
    tree.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = _METADATA_NAME
    entry.buffer = len(tree.buffers) - 1
    tree.metadata = [*(tree.metadata or []), entry]
    builder = flatbuffers.Builder(len(content) + 4096)
    builder.Finish(tree.Pack(builder), file_identifier=_IDENTIFIER)
    return bytes(builder.Output())


@contextlib.contextmanager
def _unreadable(source: str) -> Iterator[None]:
    """Whatever LiteRT or the flatbuffer reader raise on a damaged file, as one line."""
    try:
        yield
    except (ValueError, RuntimeError, struct.error, IndexError, TypeError) as error:
        lines = str(error).strip().splitlines()
        detail = lines[0].strip()[:200] if lines else type(error).__name__
        raise ValueError(
            f"{source}: not a complete LiteRT flatbuffer (truncated or corrupted: {detail}); "
            "quantize the .keras model again with emonet-quantize"
        ) from None


def _read_record(content: bytes, source: str) -> dict:
    from ai_edge_litert import schema_py_generated as schema

    try:
        tree = schema.Model.GetRootAs(content, 0)
        for i in range(tree.MetadataLength()):
            entry = tree.Metadata(i)
            if entry.Name() == _METADATA_NAME.encode():
                data = tree.Buffers(entry.Buffer()).DataAsNumpy()
                record = json.loads(np.asarray(data, dtype=np.uint8).tobytes())
                break
        else:
            raise _NoRecord
    except _NoRecord:
        raise ValueError(
            f"{source}: a .tflite file without emonet's record; quantize the .keras "
            "model with emonet-quantize"
        ) from None
    except (
        IndexError,
        TypeError,
        AttributeError,
        ValueError,  # numpy: a buffer shorter than its stated length; JSON
        struct.error,  # the flatbuffer reader: an offset past the end
    ):
        raise ValueError(
            f"{source}: damaged .tflite file or emonet record; quantize the .keras model "
            "again with emonet-quantize"
        ) from None
    if not isinstance(record, dict) or set(record) != {
        "model",
        "quantization",
        "name",
        "feature_normalization",
    }:
        raise ValueError(f"{source}: damaged emonet record in its metadata")
    return record


class _NoRecord(Exception):
    """A flatbuffer without emonet's metadata entry."""


def _feature_normalization(
    normalization: Any, feature_width: int | None, source: str
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The record's ``mean`` and ``std`` of the features, checked against the network."""
    if normalization is None:
        return None, None
    try:
        if feature_width is None:
            raise ValueError("the network reads no features")
        if set(normalization) != {"mean", "std"}:
            raise ValueError(f"expected 'mean' and 'std', got {sorted(map(str, normalization))}")
        mean, std = (np.asarray(normalization[key], np.float32) for key in ("mean", "std"))
        for values in (mean, std):
            if values.shape != (feature_width,) or not np.isfinite(values).all():
                raise ValueError(f"expected {feature_width} finite values")
        if (std <= 0).any():
            raise ValueError("a standard deviation that is not positive")
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{source}: damaged emonet record in its metadata (feature normalisation: "
            f"{error}); quantize the .keras model again with emonet-quantize"
        ) from None
    return mean, std
