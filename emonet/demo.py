"""``python -m emonet.demo``: the feature pipeline on a real photo that needs no download.

Detects the face in scikit-image's bundled astronaut photo, aligns and crops it to
48x48, extracts the 2,728 EmoNet features, prints a summary and writes a PNG with the
landmarks and HOG drawn.
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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from skimage.feature import hog

    from emonet.features import LANDMARK_PARTS

    fig, axes = plt.subplots(1, 3, figsize=(12, 4.4))
    axes[0].imshow(photo[:, :, ::-1])
    left, top, right, bottom = box
    axes[0].add_patch(
        plt.Rectangle((left, top), right - left, bottom - top, fill=False, color="lime", lw=2)
    )
    axes[0].set_title("photo: dlib face box")
    axes[1].imshow(face, cmap="gray", vmin=0, vmax=255)
    for name, part in LANDMARK_PARTS.items():
        axes[1].plot(landmarks[part, 0], landmarks[part, 1], ".-", ms=4, lw=1, label=name)
    for i, origin in enumerate([(0, 0), (0, HOG_STEP)]):
        axes[1].add_patch(
            plt.Rectangle(
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
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Run the demo; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m emonet.demo", description=__doc__)
    parser.add_argument("--out", default="out/demo", help="folder for the PNG (default out/demo)")
    args = parser.parse_args(argv)

    from skimage import data

    from emonet import FEATURE_SIZE, __version__
    from emonet.features import FeatureExtractor, crop_faces

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    photo = np.ascontiguousarray(data.astronaut()[:, :, ::-1])  # OpenCV's BGR order
    start = time.perf_counter()
    faces, boxes = crop_faces(photo)
    if len(faces) == 0:
        print("no face found in the astronaut photo", file=sys.stderr)
        return 1
    features = FeatureExtractor().transform(faces[:1])[0]
    seconds = time.perf_counter() - start
    landmarks = features[:LANDMARK_FEATURES].reshape(-1, 2)
    hog = features[LANDMARK_FEATURES:]
    png = out / "astronaut_features.png"
    draw_features(photo, boxes[0], faces[0], landmarks, png)

    print(
        f"emonet {__version__} demo: scikit-image's astronaut photo {photo.shape[1]}x"
        f"{photo.shape[0]}"
    )
    print(f"  faces found: {len(faces)}; box (left, top, right, bottom) = {boxes[0].tolist()}")
    print(
        f"  face crop: 48x48 grayscale, eyes levelled; features: {features.size} "
        f"(expected {FEATURE_SIZE}) in {seconds:.2f} s including model loading"
    )
    eyes = landmarks[36:42].mean(0), landmarks[42:48].mean(0)
    print(
        f"  landmarks: 68 points; eye centres at ({eyes[0][0]:.1f}, {eyes[0][1]:.1f}) and "
        f"({eyes[1][0]:.1f}, {eyes[1][1]:.1f}); mouth centre y = "
        f"{landmarks[48:68, 1].mean():.1f}"
    )
    print(
        f"  HOG: {hog.size} values, mean {hog.mean():.4f}, max {hog.max():.4f}, "
        f"{np.count_nonzero(hog)} non-zero"
    )
    print(f"  wrote {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
