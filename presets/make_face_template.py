"""Remake ``emonet/features/face_template.json``: the FER2013 face template.

The template is where the 68 landmarks of a FER2013 face lie in its 48x48 crop (the
median over the Training crops, each located by dlib's shape predictor on the whole crop,
as ``emonet-extract-features`` does), and where dlib's HOG detector box lies on such a
face (the median over a random sample of Training crops, each enlarged 4x and detected).
The recognizer frames the faces it finds in photos onto it.

    python presets/make_face_template.py ../shared/data/fer2013/train
    python presets/make_face_template.py fer2013.csv            # the same faces from the CSV
    python presets/make_face_template.py ../shared/data/fer2013/train \
        --figure docs/img/face_template.png                      # and its picture

Only FER2013's Training faces are read (a CSV's other usages are left out).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

import emonet.features
from emonet.data import load_fer2013, load_image_folder
from emonet.features import detect_faces, extract_landmarks, make_face_template

TEMPLATE_FILE = Path(emonet.features.__file__).with_name("face_template.json")

# crops enlarged this much (dlib's detector finds no face in most 48x48 crops) ...
ENLARGE = 4
# ... and padded by this many enlarged pixels on each side, so the box can reach past
PAD = 64
# dlib's HOG score a box needs, pinned so that the template does not move with the library's
# default threshold
MIN_SCORE = 0.0


def training_faces(source: Path) -> np.ndarray:
    """The Training faces of ``fer2013.csv`` or of a FER2013 image folder (its train/)."""
    if source.is_file():
        return load_fer2013(source, usage="Training").images
    folder = source / "train" if (source / "train").is_dir() else source
    return load_image_folder(folder).images


def crop_boxes(faces: np.ndarray) -> np.ndarray:
    """dlib's detector box of each crop it finds a face in, in crop pixels."""
    boxes = []
    for face in faces:
        big = cv2.resize(face, None, fx=ENLARGE, fy=ENLARGE, interpolation=cv2.INTER_CUBIC)
        big = cv2.copyMakeBorder(big, PAD, PAD, PAD, PAD, cv2.BORDER_REPLICATE)
        found = detect_faces(big, upsample=0, min_score=MIN_SCORE)
        if len(found):
            boxes.append((found[0] - PAD) / ENLARGE)
    return np.array(boxes, np.float64).reshape(-1, 4)


def _dumps(record: dict) -> str:
    """JSON with one landmark per line, so that a diff of two templates reads well."""
    points = record.pop("landmarks")
    text = json.dumps(record, indent=1)[:-2]
    rows = ",\n".join(f"  {json.dumps(p)}" for p in points)
    return f'{text},\n "landmarks": [\n{rows}\n ]\n}}\n'


def draw(template, mean_face: np.ndarray, path: Path) -> None:
    """The template on FER2013's mean Training face, and on a photo's face mapped onto it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from skimage import data

    from emonet.features import align_faces

    photo = data.astronaut()
    boxes = detect_faces(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY))
    crops, _, transforms = align_faces(photo, boxes[:1], return_transforms=True)
    back = cv2.invertAffineTransform(transforms[0])
    square = np.array([[0, 0], [48, 0], [48, 48], [0, 48], [0, 0]], np.float64) - 0.5
    points = template.landmarks
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.8))
    axes[0].imshow(mean_face, cmap="gray", vmin=0, vmax=255)
    axes[0].set_title("FER2013 mean Training face,\nthe template and dlib's box", fontsize=9)
    left, top = template.box_centre - template.box_side / 2
    axes[0].add_patch(
        plt.Rectangle((left, top), template.box_side, template.box_side, fill=False, ec="orange")
    )
    axes[1].imshow(photo[40:260, 110:340], extent=(110, 340, 260, 40))
    mapped = points @ back[:, :2].T + back[:, 2]
    outline = square @ back[:, :2].T + back[:, 2]
    axes[1].plot(outline[:, 0], outline[:, 1], color="orange")
    axes[1].set_title("a photo: the template mapped back,\nthe 48x48 crop's outline", fontsize=9)
    axes[2].imshow(crops[0], cmap="gray", vmin=0, vmax=255)
    axes[2].set_title("the crop the networks read", fontsize=9)
    for ax, pts in zip(axes, (points, mapped, points), strict=True):
        ax.scatter(pts[:, 0], pts[:, 1], s=6, c="deepskyblue")
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="fer2013.csv or a FER2013 image folder")
    parser.add_argument("-o", "--out", type=Path, default=TEMPLATE_FILE)
    parser.add_argument("--box-sample", type=int, default=2000, help="crops detected")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--figure", type=Path, help="also draw the template into this PNG")
    args = parser.parse_args(argv)
    if not args.source.exists():
        parser.error(f"{args.source}: no such file or folder")
    faces = training_faces(args.source)
    print(f"{len(faces):,} Training faces: landmarks ...", file=sys.stderr)
    landmarks = extract_landmarks(faces)
    sample = np.random.default_rng(args.seed).choice(
        len(faces), min(args.box_sample, len(faces)), replace=False
    )
    boxes = crop_boxes(faces[np.sort(sample)])
    print(f"dlib's box found on {len(boxes)} of {len(sample)} enlarged crops", file=sys.stderr)
    template = make_face_template(landmarks, boxes)
    record = template.to_dict(
        made_by="presets/make_face_template.py",
        source=f"FER2013 Training, {len(faces)} crops ({len(boxes)} with a detector box)",
        statistic="median",
    )
    args.out.write_text(_dumps(record))
    print(f"wrote {args.out}", file=sys.stderr)
    if args.figure:
        draw(template, faces.mean(axis=0), args.figure)
        print(f"wrote {args.figure}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
