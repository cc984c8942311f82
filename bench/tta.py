"""Which test-time augmentation pays: shifts or zooms of the face, with its mirror image.

Each model's PublicTest probabilities are averaged over the views of each scheme (every
view with its mirror image, as ``tta="flip"`` reads them), and with several models the
5-fold cross-validated accuracy of their differential-evolution weights is printed too:

    python bench/tta.py runs/fer2013.h5 runs/gpu_wide_s52/model.keras \
        runs/gpu_adamw_s55/model.keras

Schemes: ``flip`` (what ``tta=True`` reads), ``shift4`` (the face and four shifts of 2
pixels), ``shift8`` (and the four diagonal shifts), ``zoom`` (the zooms of
``emonet.models.TTA_SCALES``: ``tta="multiscale"``) and ``all`` (the shifts and the
zooms). PublicTest chooses the scheme here, so the figures of the chosen one are a little
optimistic; the same ranking on every model is the evidence.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from emonet import import_tensorflow

import_tensorflow()  # quietly, before the imports below load it

from emonet.ensemble import WeightedEnsemble, cross_validate_ensemble  # noqa: E402
from emonet.features import load_features, scale_batch, warp_faces  # noqa: E402
from emonet.models import TTA_SCALES, load_model, predict_crops  # noqa: E402

_SHIFTS = [(2, 0), (-2, 0), (0, 2), (0, -2), (2, 2), (-2, -2), (2, -2), (-2, 2)]


def shifted(images: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """The faces moved by ``(dx, dy)`` pixels, their border replicated."""
    matrix = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
    return warp_faces(images, np.repeat(matrix[None], len(images), axis=0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("features", help="features file holding the PublicTest faces")
    parser.add_argument("models", nargs="+", help=".keras files of networks without features")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weight search")
    args = parser.parse_args()

    val = load_features(args.features, usage="PublicTest")
    y = val.labels
    views = {"face": val.images}
    views |= {f"shift{dx},{dy}": shifted(val.images, dx, dy) for dx, dy in _SHIFTS}
    views |= {f"zoom{s}": scale_batch(val.images, None, s)[0] for s in TTA_SCALES if s != 1}
    schemes = {
        "flip": ["face"],
        "shift4": ["face", *[f"shift{dx},{dy}" for dx, dy in _SHIFTS[:4]]],
        "shift8": ["face", *[f"shift{dx},{dy}" for dx, dy in _SHIFTS]],
        "zoom": ["face", *[k for k in views if k.startswith("zoom")]],
        "all": list(views),
    }
    print(f"PublicTest: {len(val):,} faces; each view read with its mirror image")
    print(f"{'model':<24}" + "".join(f"{name:>9}" for name in schemes))
    combined: dict[str, list[np.ndarray]] = {name: [] for name in schemes}
    for path in map(Path, args.models):
        model = load_model(path)
        if model.emonet_info.uses_features:
            print(f"{path}: reads features; this benchmark moves faces only", file=sys.stderr)
            return 2
        start = time.perf_counter()
        answers = {k: predict_crops(model, faces, tta="flip") for k, faces in views.items()}
        row = []
        for name, keys in schemes.items():
            probabilities = np.mean([answers[k] for k in keys], axis=0)
            combined[name].append(probabilities)
            row.append(f"{np.mean(probabilities.argmax(1) == y):9.2%}")
        print(f"{path.stem:<24}" + "".join(row) + f"  ({time.perf_counter() - start:.0f} s)")
    if len(args.models) > 1:
        row = []
        for probabilities in combined.values():
            folds = cross_validate_ensemble(
                WeightedEnsemble(random_state=args.seed), probabilities, y, random_state=args.seed
            )
            row.append(f"{folds.mean():9.2%}")
        print(f"{'ensemble, 5-fold CV':<24}" + "".join(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
