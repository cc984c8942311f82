"""Training throughput, measured in one run.

Prints, on real FER2013 faces:

* the input pipeline alone, in faces/s: no augmentation, augmentation of the image and
  landmarks, and full augmentation with the HOG recomputed; one worker (``FaceBatches``
  in this thread: the faces/s of each worker) and the training pipeline (``tf.data`` on
  TensorFlow, the ``FaceBatches`` through Keras' workers elsewhere);
* the training step of each backbone alone, fp32 and bf16 (batches already in memory),
  on the current Keras backend and on each of ``--backends`` (a subprocess each);
* one model end to end, pipeline and step together, with and without augmentation, so
  the cost of augmentation shows where it is paid;
* with ``--presets``: the crops/s of each bundled preset (``Recognizer.predict_crops``,
  with and without flip averaging), what training buys at prediction time;
* with ``--curves RUN ...``: PublicTest accuracy against training minutes of finished
  ``emonet-train`` runs (the recipes of the ablation table, a long run), as a PNG;
* with ``--widths W,W,W,W ...``: ``compact`` at each set of block widths, bf16 as it
  trains and predicts: training faces/s (the recipe's batch of 256) and crops/s, each
  against the standard widths', what a wider student would cost.

    python bench/training.py [--features FILE.h5] [--faces 1024]
                             [--backbones compact,resnet50,inception_resnet_v2]
                             [--paper-size full|small] [--steps 3]
                             [--backends tensorflow,jax,torch]
                             [--presets] [--curves RUN ... --curves-png FILE.png]
                             [--widths 32,64,128,256 48,96,192,384 ...]

Without ``--features`` it extracts the features of ``--faces`` shared FER2013 training
faces first (dlib, about 2 ms a face).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from emonet import FEATURE_SIZE, LABELS
from emonet.features import FeatureExtractor, FeatureSet, load_features

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fer2013"
SMALL_SIZES = {"inception_resnet_v2": 75, "resnet50": 64, "compact": 48}


def real_faces(data: Path, n: int) -> FeatureSet:
    from emonet.data import read_face

    per_label = -(-n // len(LABELS))
    paths, labels = [], []
    for label, name in enumerate(LABELS):
        files = sorted((data / "train" / name).glob("*.jpg"))[:per_label]
        paths += files
        labels += [label] * len(files)
    images = np.stack([read_face(p) for p in paths])
    start = time.perf_counter()
    features = FeatureExtractor().transform(images).astype(np.float32)
    print(f"extracted the features of {len(images)} faces in {time.perf_counter() - start:.1f} s")
    return FeatureSet(
        images,
        features,
        np.array(labels, dtype=np.int64),
        np.full(len(images), "Training"),
        np.array([p.stem for p in paths]),
    )


def _augmented_batches(data: FeatureSet, batch: int, mode: str, drop_remainder: bool = False):
    """Shuffled training batches of faces and features, augmented in ``mode``: the
    training pipeline of the current backend (``make_dataset(pipeline="auto")``)."""
    from emonet.training import AugmentConfig, make_dataset

    return make_dataset(
        data,
        use_features=True,
        batch_size=batch,
        shuffle=True,
        augment=AugmentConfig(mode=mode, translate=0.1),
        seed=0,
        drop_remainder=drop_remainder,
    )


def _rate(batches, batch: int, count: int) -> float:
    """Faces/s of ``count`` batches of an iterable (or of what a callable returns), best
    of two passes."""
    rate = 0.0
    for _ in range(2):  # best of two, as below
        iterator = iter(batches() if callable(batches) else batches)
        next(iterator)  # start-up (threads, tracing) is not throughput
        start = time.perf_counter()
        for _ in range(count):
            next(iterator)
        rate = max(rate, count * batch / (time.perf_counter() - start))
    return rate


def bench_pipeline(data: FeatureSet, batch: int, batches: int) -> None:
    import keras

    from emonet.training import FaceBatches

    pipeline = _augmented_batches(data, batch, "none")
    name = "FaceBatches" if isinstance(pipeline, FaceBatches) else "tf.data"
    print(
        f"\ninput pipeline alone (batch {batch}, {os.cpu_count()} CPU cores), faces/s: one "
        f"worker (FaceBatches in this thread), and the training pipeline ({name}):"
    )
    for mode, note in [
        ("none", "gather + one-hot"),
        ("image", "warp faces, move landmarks"),
        ("full", "warp faces, move landmarks, recompute HOG"),
    ]:
        pipeline = _augmented_batches(data, batch, mode)
        one = pipeline if isinstance(pipeline, FaceBatches) else pipeline.face_batches
        count = min(batches, len(one) - 1)
        single = _rate(one, batch, count)
        if isinstance(pipeline, FaceBatches):
            # through Keras' own adapter and workers, as fit reads it
            from keras.src.trainers.data_adapters import get_data_adapter

            adapter = get_data_adapter(pipeline)

            def epoch(adapter=adapter):
                adapter.on_epoch_end()  # stops the previous pass's workers
                adapter.on_epoch_begin()
                return adapter.get_numpy_iterator()

            adapter.on_epoch_begin()
            served = _rate(epoch, batch, count)
            adapter.on_epoch_end()
        else:
            served = _rate(pipeline, batch, count)
        print(f"  {mode:<6} {single:>9,.0f} {served:>9,.0f}   ({note})")
    keras.backend.clear_session()


class _InMemory:
    """The same batch, ``steps`` times: a training step without an input pipeline."""

    def __new__(cls, batch: int, use_features: bool, rng: np.random.Generator, steps: int):
        import keras

        inputs = {"face": rng.uniform(0, 255, (batch, 48, 48, 1)).astype("float32")}
        if use_features:
            inputs["features"] = rng.normal(size=(batch, FEATURE_SIZE)).astype("float32")
        targets = np.eye(7, dtype="float32")[rng.integers(0, 7, batch)]

        class Batches(keras.utils.PyDataset):
            def __len__(self):
                return steps

            def __getitem__(self, index):
                return inputs, targets

        return Batches()


def _best_seconds(call, *args, repeats: int = 3, **kwargs) -> float:
    """The fastest of ``repeats`` calls, in seconds (the slow ones measure the neighbours)."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        call(*args, **kwargs)
        seconds.append(time.perf_counter() - start)
    return min(seconds)


def _best_rate(model, ds, steps: int, batch: int, repeats: int) -> float:
    # best of a few timings: the CPU is shared, the slow ones measure the neighbours
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(ds, steps_per_epoch=steps, epochs=1, shuffle=False, verbose=0)
        best = max(best, steps * batch / (time.perf_counter() - start))
    return best


def bench_step(
    backbone: str,
    size: int,
    use_features: bool,
    precision: str,
    batch: int,
    steps: int,
    repeats: int = 1,
) -> float:
    import keras

    from emonet.models import build_model

    keras.backend.clear_session()
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if precision == "bf16" else "float32")
    try:
        model = build_model(backbone, use_features=use_features, input_size=size)
        model.compile(
            keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True), "categorical_crossentropy"
        )
        warm = _InMemory(batch, use_features, np.random.default_rng(0), 2)
        model.fit(warm, epochs=1, shuffle=False, verbose=0)  # trace and warm up
        ds = _InMemory(batch, use_features, np.random.default_rng(0), steps)
        return _best_rate(model, ds, steps, batch, repeats)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def bench_end_to_end(data: FeatureSet, batch: int, steps: int) -> None:
    import keras

    from emonet.models import build_model

    print(f"\nend to end: compact_features, bf16, batch {batch}, pipeline + step ({steps} steps):")
    rates = {}
    for mode in ("none", "image", "full"):
        keras.backend.clear_session()
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
        try:
            model = build_model("compact", use_features=True, features=data.features)
            model.compile(
                keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True), "categorical_crossentropy"
            )
            ds = _augmented_batches(data, batch, mode, drop_remainder=True)
            model.fit(ds, steps_per_epoch=2, epochs=1, shuffle=False, verbose=0)
            rates[mode] = _best_rate(model, ds, min(steps, len(data) // batch), batch, repeats=2)
        finally:
            keras.mixed_precision.set_global_policy("float32")
        cost = 1 - rates[mode] / rates["none"]
        print(
            f"  augment={mode:<6} {rates[mode]:>7,.0f} faces/s"
            + (f"   ({cost:+.0%} time per face vs none)" if mode != "none" else "")
        )
    epoch = 28709 / rates["full"]
    print(f"  -> one FER2013 training epoch (28,709 faces) with full augmentation: ~{epoch:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--features", type=Path, help="an emonet features file (.h5)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--faces", type=int, default=1024)
    parser.add_argument("--backbones", default="compact,resnet50,inception_resnet_v2")
    parser.add_argument(
        "--paper-size",
        choices=["full", "small"],
        default="full",
        help="paper backbones at their default input size, or a small one",
    )
    parser.add_argument("--steps", type=int, default=3, help="timed steps of the paper backbones")
    parser.add_argument(
        "--backends",
        default="",
        help="other Keras backends whose training steps to time too (e.g. jax,torch), one "
        "subprocess each; the current one is KERAS_BACKEND's",
    )
    parser.add_argument(
        "--steps-only", action="store_true", help="time the training steps, nothing else"
    )
    parser.add_argument(
        "--presets", action="store_true", help="time the bundled presets only (crops/s)"
    )
    parser.add_argument(
        "--curves", nargs="+", type=Path, help="plot these runs' accuracy against minutes only"
    )
    parser.add_argument("--curves-png", type=Path, default=Path("accuracy_vs_minutes.png"))
    parser.add_argument(
        "--widths",
        nargs="+",
        type=_widths,
        metavar="W,W,W,W",
        help="time compact at these block widths only (training faces/s, crops/s)",
    )
    args = parser.parse_args(argv)
    if args.curves:
        plot_curves(args.curves, args.curves_png)
        return 0
    import keras

    print(f"Keras backend: {keras.backend.backend()}")
    if args.steps_only:
        bench_steps(args)
        return 0
    if args.presets:
        bench_presets(args.data, args.faces)
        return 0
    if args.widths:
        bench_widths(args.widths)
        return 0

    if args.features:
        data = load_features(args.features, usage="Training")
        data = FeatureSet(
            *(
                a[: args.faces]
                for a in (data.images, data.features, data.labels, data.usage, data.ids)
            )
        )
        print(f"{len(data)} Training faces from {args.features}")
    else:
        data = real_faces(args.data, args.faces)

    bench_pipeline(data, batch=128, batches=30)
    bench_steps(args)
    for backend in filter(None, args.backends.split(",")):
        if backend == keras.backend.backend():
            continue
        print(f"\n--- the training steps on the {backend} backend", flush=True)
        forwarded = [a for a in (argv if argv is not None else sys.argv[1:])]
        subprocess.run(
            [sys.executable, __file__, *forwarded, "--steps-only"],
            env={**os.environ, "KERAS_BACKEND": backend},
            check=False,
        )

    bench_end_to_end(data, batch=128, steps=8)
    return 0


def _widths(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(w) for w in text.split(","))
    except ValueError:
        widths = ()
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(
            f"expected block widths as positive integers and commas, e.g. 32,64,128,256; "
            f"got {text!r}"
        )
    return widths


def bench_widths(all_widths: list[tuple[int, ...]], batch: int = 256) -> None:
    """``compact`` at several block widths, bf16: training faces/s and crops/s (best of 2
    and of 3; the standard widths, timed first and last, best of both), each also as a
    ratio to the standard widths' in the same run."""
    import keras

    from emonet.models import build_model, get_backbone, variant_config

    standard = tuple(get_backbone("compact").options["widths"])
    crops = np.random.default_rng(1).uniform(0, 255, (2048, 48, 48, 1)).astype("float32")
    print(f"\ncompact at other widths, bf16 (training: batch {batch}, 6 steps; crops: 2,048):")
    # the standard widths first and last: the first model timed pays the warm-up
    order = [standard, *(w for w in all_widths if w != standard), standard]
    rates: dict[tuple[int, ...], list[float]] = {}
    sizes = {}
    for widths in order:
        keras.backend.clear_session()
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
        try:
            config = variant_config("compact", backbone_options={"widths": list(widths)})
            model = build_model(config)
            model.compile(keras.optimizers.AdamW(1e-3), "categorical_crossentropy")
            model.fit(_InMemory(batch, False, np.random.default_rng(0), 2), verbose=0)
            ds = _InMemory(batch, False, np.random.default_rng(0), 6)
            train = _best_rate(model, ds, 6, batch, repeats=2)
            model.predict(crops[:256], batch_size=256, verbose=0)  # trace
            seconds = _best_seconds(model.predict, crops, batch_size=256, verbose=0)
        finally:
            keras.mixed_precision.set_global_policy("float32")
        best = rates.get(widths, [0.0, 0.0])
        rates[widths] = [max(best[0], train), max(best[1], len(crops) / seconds)]
        sizes[widths] = model.count_params()
    for widths, rate in rates.items():
        ratio = [r / s for r, s in zip(rate, rates[standard], strict=True)]
        print(
            f"  {'/'.join(map(str, widths)):<16} {sizes[widths]:>10,} parameters "
            f"{rate[0]:>6,.0f} faces/s ({ratio[0]:.2f}x) "
            f"{rate[1]:>7,.0f} crops/s ({ratio[1]:.2f}x)",
            flush=True,
        )


def bench_presets(data: Path, n: int) -> None:
    """Crops/s of each bundled preset at each test-time augmentation (best of 3)."""
    from emonet import Recognizer, list_presets
    from emonet.data import read_face
    from emonet.models import TTA_MODES

    files = sorted((data / "val").glob("*/*.jpg"))[:n]
    crops = np.stack([read_face(p) for p in files])
    print(f"\npredict_crops of each preset on {len(crops)} FER2013 faces, crops/s:")
    for name in list_presets():
        recognizer = Recognizer(name)
        recognizer.predict_crops(crops[:64])  # builds the predict functions
        rates = {}
        for tta in TTA_MODES:
            seconds = _best_seconds(recognizer.predict_crops, crops, tta=tta)
            rates[tta] = f"{len(crops) / seconds:,.0f} {tta}"
        print(
            f"  {name:<10} {len(recognizer.models_)} model(s): {', '.join(rates.values())} "
            f"(the preset's default: {recognizer.tta_})",
            flush=True,
        )


def plot_curves(runs: list[Path], path: Path) -> None:
    """PublicTest accuracy after each epoch against the training minutes so far."""
    import csv

    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4.5), layout="constrained")  # no pyplot: no global state
    axes = figure.add_subplot()
    for run in runs:
        with open(run / "history.csv", newline="") as file:
            rows = list(csv.DictReader(file))
        minutes = np.cumsum([float(r["seconds"]) for r in rows]) / 60
        accuracy = np.array([float(r["val_accuracy"]) for r in rows]) * 100
        axes.plot(minutes, accuracy, marker="o", markersize=2, label=run.name)
        print(
            f"{run.name}: {len(rows)} epochs in {minutes[-1]:.1f} min, best PublicTest "
            f"{accuracy.max():.2f}% at {minutes[accuracy.argmax()]:.1f} min"
        )
    axes.set_xlabel("training minutes (2 CPU cores)")
    axes.set_ylabel("PublicTest accuracy (%)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.savefig(path, format="png")
    print(f"wrote {path}")


def bench_steps(args: argparse.Namespace) -> None:
    from emonet.models import get_backbone

    print("\ntraining step alone (batches in memory), faces/s:")
    print(f"  {'backbone':<20} {'input':>5} {'features':>8} {'batch':>5} {'fp32':>7} {'bf16':>7}")
    for name in args.backbones.split(","):
        spec = get_backbone(name)
        compact = name == "compact"
        size = spec.default_input_size if args.paper_size == "full" else SMALL_SIZES[name]
        batch, steps, repeats = (128, 8, 2) if compact else (16, args.steps, 1)
        for use_features in [False, True] if compact else [True]:
            rates = [
                bench_step(name, size, use_features, p, batch, steps, repeats)
                for p in ("fp32", "bf16")
            ]
            print(
                f"  {name:<20} {size:>5} {'yes' if use_features else 'no':>8} {batch:>5} "
                f"{rates[0]:>7,.0f} {rates[1]:>7,.0f}   (bf16 {rates[1] / rates[0]:.2f}x)",
                flush=True,
            )


if __name__ == "__main__":
    sys.exit(main())
