"""Do the 2,728 landmark and HOG values earn a place as an ensemble member of their own?

A linear model (multinomial logistic regression on standardised values) learns the
Training faces' features in seconds; its PublicTest probabilities join those of the
network members, and differential evolution learns the weights. The evidence is the
weight the features member receives and the cross-validated ensemble with and without it:

    python bench/features_member.py runs/fer2013.h5 runs/gpu_wide_s52/model.keras \
        runs/gpu_adamw_s55/model.keras

Variants of the features: as extracted (landmarks in crop pixels, then HOG), landmarks
normalised for position and scale (centred on their mean, divided by the eye distance),
and HOG alone. PublicTest picks nothing here but the ensemble weights (cross-validated).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from emonet import LANDMARK_FEATURES, import_tensorflow
from emonet.features import LANDMARK_PARTS

import_tensorflow()  # quietly, before the imports below load it

from emonet.ensemble import WeightedEnsemble, cross_validate_ensemble  # noqa: E402
from emonet.features import load_features  # noqa: E402
from emonet.models import load_model, predict_proba  # noqa: E402

_RIGHT_EYE = list(LANDMARK_PARTS["right_eye"])
_LEFT_EYE = list(LANDMARK_PARTS["left_eye"])


def normalised_landmarks(features: np.ndarray) -> np.ndarray:
    """Landmarks centred on their mean and divided by the distance between the eyes."""
    points = features[:, :LANDMARK_FEATURES].reshape(len(features), -1, 2).astype(np.float64)
    centred = points - points.mean(axis=1, keepdims=True)
    eyes = points[:, _LEFT_EYE].mean(axis=1) - points[:, _RIGHT_EYE].mean(axis=1)
    scale = np.maximum(np.linalg.norm(eyes, axis=1), 1e-3)
    return (centred / scale[:, None, None]).reshape(len(points), -1)


VARIANTS = {
    "landmarks + HOG": lambda f: f,
    "normalised landmarks + HOG": lambda f: np.hstack(
        [normalised_landmarks(f), f[:, LANDMARK_FEATURES:]]
    ),
    "HOG only": lambda f: f[:, LANDMARK_FEATURES:],
    "normalised landmarks only": normalised_landmarks,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("features", help="features file with Training and PublicTest faces")
    parser.add_argument("members", nargs="+", help="network members: .keras files")
    parser.add_argument("--C", type=float, default=0.01, help="inverse L2 strength")
    parser.add_argument("--no-tta", dest="tta", action="store_false")
    parser.add_argument("--out", default="runs/features_member", help="folder for the figures")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    data = load_features(args.features, usage=["Training", "PublicTest"])
    train, val = data.select("Training"), data.select("PublicTest")
    y = val.labels
    networks = []
    for path in args.members:
        proba = predict_proba(load_model(path), val, tta=args.tta)
        networks.append(proba)
        print(f"network {Path(path).stem}: {np.mean(proba.argmax(1) == y):.2%}")
    names = [Path(p).stem for p in args.members]

    def ensemble_figures(probabilities: list[np.ndarray], labels: list[str]) -> dict:
        ensemble = WeightedEnsemble(random_state=args.seed).fit(
            probabilities, y, model_names=labels
        )
        folds = cross_validate_ensemble(
            WeightedEnsemble(random_state=args.seed), probabilities, y, random_state=args.seed
        )
        return {
            "weights": dict(zip(labels, ensemble.weights_.round(3).tolist(), strict=True)),
            "in_sample": float(ensemble.score(probabilities, y)),
            "cross_validated": float(folds.mean()),
            "cross_validated_std": float(folds.std()),
        }

    results = {"networks only": ensemble_figures(networks, names), "members": {}}
    base = results["networks only"]
    print(f"networks only: CV {base['cross_validated']:.2%} +- {base['cross_validated_std']:.2%}")
    for variant, transform in VARIANTS.items():
        start = time.perf_counter()
        values = transform(train.features)
        scaler = StandardScaler().fit(values)
        model = LogisticRegression(C=args.C, max_iter=500)
        model.fit(scaler.transform(values), train.labels)
        seconds = time.perf_counter() - start
        proba = model.predict_proba(scaler.transform(transform(val.features)))
        accuracy = float(np.mean(proba.argmax(1) == y))
        figures = ensemble_figures([*networks, proba], [*names, "features"])
        results["members"][variant] = {"accuracy": accuracy, "fit_seconds": seconds, **figures}
        print(
            f"{variant}: alone {accuracy:.2%} (fit in {seconds:.0f} s); weight "
            f"{figures['weights']['features']:.3f}; ensemble CV {figures['cross_validated']:.2%}"
            f" +- {figures['cross_validated_std']:.2%} (in-sample {figures['in_sample']:.2%})"
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "features_member.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out / 'features_member.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
