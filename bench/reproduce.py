"""What feeding a GPU for ``emonet-reproduce`` takes, measured on this machine.

Prints, on real FER2013 faces:

* the input pipeline with full augmentation (face warped, landmarks moved, HOG
  recomputed): faces/s of one worker process, and of 1, 2, ... processes making distinct
  batches at once (how Keras' ``use_multiprocessing`` workers scale);
* the forward multiply-adds of the paper's four networks at their input sizes, counted
  from the layer shapes (convolutions and dense layers), and the training FLOPs of the
  full experiment they imply;
* one small training step with and without ``jit_compile`` and in float32 and bfloat16
  (ResNet-50 at 32 px by default), on the current Keras backend.

    python bench/reproduce.py [--faces 512] [--batch 128] [--workers 1,2] [--flops]
                              [--step-size 32] [--steps 4]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from training import DEFAULT_DATA, real_faces  # noqa: E402

TRAINING_FACES = 28_709
VALIDATION_FACES = 3_589
_BATCHES = None  # the FaceBatches of a worker process


def _init(data, batch: int) -> None:
    global _BATCHES
    from emonet.training import AugmentConfig, FaceBatches

    _BATCHES = FaceBatches(
        data, use_features=True, batch_size=batch, shuffle=True, augment=AugmentConfig(), seed=0
    )


def _make(index: int) -> int:
    arrays = _BATCHES.batch(index % len(_BATCHES), epoch=index // len(_BATCHES))
    return len(arrays["images"])


def pipeline_rate(data, batch: int, workers: int, batches: int) -> float:
    """Faces/s of ``workers`` processes making ``batches`` augmented batches between them."""
    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=_init, initargs=(data, batch)) as pool:
        pool.map(_make, range(workers))  # start-up is not throughput
        start = time.perf_counter()
        faces = sum(pool.map(_make, range(batches), chunksize=1))
        return faces / (time.perf_counter() - start)


def forward_macs(model) -> int:
    """Multiply-adds of one face through the model: convolutions and dense layers."""
    import keras

    total = 0
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            h, w = layer.output.shape[1:3]
            total += h * w * int(np.prod(layer.kernel.shape))
        elif isinstance(layer, keras.layers.Conv2D):
            h, w = layer.output.shape[1:3]
            total += h * w * int(np.prod(layer.kernel.shape))
        elif isinstance(layer, keras.layers.Dense):
            total += int(np.prod(layer.kernel.shape))
    return total


def bench_flops(epochs: int = 30) -> None:
    from emonet.models import PAPER_VARIANTS, build_model, variant_config

    print(
        "\nforward multiply-adds per face (layer shapes), and the full experiment at "
        f"{epochs} epochs:"
    )
    train_flops = 0.0
    for name in PAPER_VARIANTS:
        config = variant_config(name)
        macs = forward_macs(build_model(config))
        # training: forward + backward = 3 forwards; a multiply-add is 2 FLOPs
        per_variant = epochs * (TRAINING_FACES * 6 * macs + VALIDATION_FACES * 2 * macs)
        train_flops += per_variant
        print(
            f"  {name:<30} {config.resolved_input_size:>4} px {macs / 1e9:6.2f} GMAC  "
            f"{per_variant / 1e15:6.1f} PFLOP"
        )
    print(f"  total {train_flops / 1e15:.1f} PFLOP")
    for tflops in (990, 400, 200, 67):
        print(f"    at {tflops:>3} TFLOP/s sustained: {train_flops / tflops / 1e12 / 60:5.1f} min")


def bench_step(size: int, steps: int, batch: int) -> None:
    import keras

    from emonet.models import build_model

    print(f"\none training step, resnet50_features at {size} px, batch {batch}, faces/s "
          f"({keras.backend.backend()}):")  # fmt: skip
    rng = np.random.default_rng(0)
    x = {
        "face": rng.integers(0, 256, (batch * steps, 48, 48, 1)).astype("float32"),
        "features": rng.normal(size=(batch * steps, 2728)).astype("float32"),
    }
    y = np.eye(7, dtype="float32")[rng.integers(0, 7, batch * steps)]
    for precision in ("float32", "bfloat16"):
        for jit in (False, True):
            keras.backend.clear_session()
            keras.mixed_precision.set_global_policy(
                "float32" if precision == "float32" else "mixed_bfloat16"
            )
            model = build_model("resnet50", use_features=True, input_size=size)
            model.compile("sgd", "categorical_crossentropy", jit_compile=jit)
            model.fit(x, y, batch_size=batch, epochs=1, verbose=0)  # trace
            start = time.perf_counter()
            model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
            rate = batch * steps / (time.perf_counter() - start)
            print(f"  {precision:<8} jit_compile={jit!s:<5} {rate:8.1f}")
    keras.mixed_precision.set_global_policy("float32")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--faces", type=int, default=512)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--batches", type=int, default=8, help="batches per measurement")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--flops", action="store_true", help="count the paper networks' FLOPs")
    parser.add_argument("--step-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=0, help="time training steps (0: no)")
    args = parser.parse_args(argv)

    data = real_faces(args.data, args.faces)
    print(f"\ninput pipeline, full augmentation, batch {args.batch}, {os.cpu_count()} CPU cores:")
    for workers in map(int, args.workers.split(",")):
        rate = pipeline_rate(data, args.batch, workers, args.batches * workers)
        print(f"  {workers} worker process(es): {rate:8,.0f} faces/s ({rate / workers:,.0f} each)")
    if args.flops:
        bench_flops()
    if args.steps:
        bench_step(args.step_size, args.steps, 32)
    return 0


if __name__ == "__main__":
    sys.exit(main())
