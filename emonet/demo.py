"""``python -m emonet.demo``: the recognizer on a real photo that needs no download.

Finds the face in scikit-image's bundled astronaut photo, tells its expression with the
bundled ``default`` ensemble, and writes two PNGs: the photo annotated with the face's
box, label and probabilities, and the face's 2,728 features (landmarks and HOG).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from emonet._constants import HOG_PIXELS_PER_CELL, HOG_STEP, HOG_WINDOW, LANDMARK_FEATURES


def draw_features(photo, box, face, landmarks, path) -> None:
    """Save a three-panel figure: the photo with its face box, the 48x48 face with its
    landmarks and first HOG windows, and the HOG cells of the face."""
    from matplotlib.patches import Rectangle
    from skimage.feature import hog

    from emonet._plotting import new_figure, save_figure
    from emonet.features import LANDMARK_PARTS

    figure = new_figure((12, 4.4), dpi=110)
    axes = figure.subplots(1, 3)
    axes[0].imshow(photo)
    left, top, right, bottom = box
    axes[0].add_patch(
        Rectangle((left, top), right - left, bottom - top, fill=False, color="lime", lw=2)
    )
    axes[0].set_title("photo: dlib face box")
    axes[1].imshow(face, cmap="gray", vmin=0, vmax=255)
    for name, part in LANDMARK_PARTS.items():
        axes[1].plot(landmarks[part, 0], landmarks[part, 1], ".-", ms=4, lw=1, label=name)
    for i, origin in enumerate([(0, 0), (0, HOG_STEP)]):
        axes[1].add_patch(
            Rectangle(
                (origin[1] - 0.5, origin[0] - 0.5),
                HOG_WINDOW,
                HOG_WINDOW,
                fill=False,
                color=("yellow", "orange")[i],
                lw=1.5,
                ls="--",
            )
        )
    axes[1].set_title("48x48 face: 68 landmarks, two 24 px HOG windows")
    axes[1].legend(fontsize=6, loc="lower left", framealpha=0.6)
    _, hog_image = hog(
        face,
        orientations=8,
        pixels_per_cell=(HOG_PIXELS_PER_CELL,) * 2,
        cells_per_block=(1, 1),
        visualize=True,
    )
    axes[2].imshow(hog_image, cmap="magma")
    axes[2].set_title("HOG: 8 unsigned orientations, 8x8 cells")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    save_figure(figure, path)


def main(argv: list[str] | None = None) -> int:
    """Run the demo; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m emonet.demo", description=__doc__)
    parser.add_argument("--out", default="out/demo", help="folder for the PNGs (default out/demo)")
    parser.add_argument("--preset", default="default", help="bundled preset (default: default)")
    args = parser.parse_args(argv)

    from emonet._tensorflow import import_tensorflow

    import_tensorflow()  # quietly: its start-up log is no part of the demo

    from skimage import data

    from emonet import LABELS, __version__
    from emonet.features import FeatureExtractor
    from emonet.recognize import Recognizer

    out = Path(args.out)
    photo = data.astronaut()  # RGB, 512x512
    start = time.perf_counter()
    recognizer = Recognizer(args.preset)
    loaded = time.perf_counter() - start
    recognizer.predict(photo)  # the first call builds the networks' functions
    start = time.perf_counter()
    # one PhotoResult per photo; the photo kept in it, to be drawn on
    (result,) = recognizer.predict(photo, keep_images=True)
    seconds = time.perf_counter() - start
    faces = result.faces
    if not faces:
        print("no face found in the astronaut photo", file=sys.stderr)
        return 1
    members = len(recognizer.models_)
    print(
        f"emonet {__version__} demo: scikit-image's astronaut photo {result.width}x"
        f"{result.height}, preset {args.preset!r} ({members} models"
        f"{'' if recognizer.tta_ == 'none' else f', {recognizer.tta_} averaging'}; "
        f"loaded in {loaded:.1f} s)"
    )
    for i, face in enumerate(faces):
        print(
            f"  face {i}: box (left, top, right, bottom) = {list(face.box)}, detection score "
            f"{face.detection_score:.2f}"
        )
        print(f"  expression: {face.label} ({face.confidence:.1%})")
        ranked = sorted(LABELS, key=lambda name: -face.probabilities[name])
        print("  " + ", ".join(f"{name} {face.probabilities[name]:.1%}" for name in ranked))
    print(f"  one photo end to end: {1000 * seconds:.0f} ms (detection, alignment, networks)")
    annotated = result.save(out / "astronaut_expression.png")

    # the features the fused members read, drawn
    boxes, _, _, crops = recognizer.detect(photo)
    features = FeatureExtractor().transform(crops[:1])[0]
    landmarks = features[:LANDMARK_FEATURES].reshape(-1, 2)
    drawn = out / "astronaut_features.png"
    draw_features(photo, boxes[0], crops[0], landmarks, drawn)
    hog = features[LANDMARK_FEATURES:]
    print(
        f"  features: {features.size} = 136 landmark coordinates + {hog.size} HOG values "
        f"({np.count_nonzero(hog)} non-zero)"
    )
    print(f"  wrote {annotated} and {drawn}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
