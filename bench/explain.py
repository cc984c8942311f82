"""Are emonet's explanations faithful, and what do they cost? (issue 28)

On PublicTest faces (``/work/shared/data/fer2013/val``, every k-th file of each label):

- deletion and insertion curves (``emonet.explain.deletion_insertion``) of each method's
  maps for the default preset (``occlusion``, ``regions``), against a random map and a
  centre-weighted map; areas under the curves (mean, standard deviation over faces, and a
  bootstrap 95% interval of the ratio to the random map's);
- Grad-CAM, which needs a float Keras network (the presets are int8): a small float
  ``compact`` network trained here on Training faces for a few minutes, measured the same
  way;
- the sanity check of Adebayo et al. (2018): maps of the same networks with random
  weights (the architecture rebuilt, untrained) against the trained ones' maps, Spearman
  rank correlation per face;
- speed per face against a plain prediction (the preset with its test-time
  augmentation; the float network alone for Grad-CAM), measured in this run.

Run under the lock: ``flock /tmp/emonet-bench.lock .venv/bin/python bench/explain.py``.
Writes ``/tmp/emonet-explain-bench/results.json`` and the curves' figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emonet import LABELS, Recognizer  # noqa: E402
from emonet.explain import curve_auc, deletion_insertion, explain  # noqa: E402
from emonet.features import extract_landmarks  # noqa: E402
from emonet.models import ModelConfig, build_model  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "fer2013"


def load_faces(split: str, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` faces of a split, spread over the labels in proportion to the split."""
    files = [
        (p, i)
        for i, name in enumerate(LABELS)
        for p in sorted((DATA / split / name).glob("*.jpg"))
    ]
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(files), size=min(n, len(files)), replace=False)
    pick.sort()
    images = np.stack([cv2.imread(str(files[i][0]), cv2.IMREAD_GRAYSCALE) for i in pick])
    return images, np.array([files[i][1] for i in pick])


def centre_map() -> np.ndarray:
    y, x = np.mgrid[0:48, 0:48]
    return np.exp(-((x - 23.5) ** 2 + (y - 23.5) ** 2) / (2 * 12.0**2))


def summarize(name: str, deletion: np.ndarray, insertion: np.ndarray, random_aucs, rng) -> dict:
    d, i = curve_auc(deletion), curve_auc(insertion)
    rd, ri = random_aucs

    def ratio_ci(a, b):
        idx = rng.integers(0, len(a), (1000, len(a)))
        ratios = a[idx].mean(1) / b[idx].mean(1)
        return [float(np.percentile(ratios, 2.5)), float(np.percentile(ratios, 97.5))]

    return {
        "map": name,
        "deletion_auc": float(d.mean()),
        "deletion_std": float(d.std()),
        "insertion_auc": float(i.mean()),
        "insertion_std": float(i.std()),
        "deletion_ratio": float(d.mean() / rd.mean()),
        "deletion_ratio_ci95": ratio_ci(d, rd),
        "insertion_ratio": float(i.mean() / ri.mean()),
        "insertion_ratio_ci95": ratio_ci(i, ri),
        "deletion_curve": deletion.mean(0).round(4).tolist(),
        "insertion_curve": insertion.mean(0).round(4).tolist(),
    }


def faithfulness(models, weights, images, points, targets, methods, steps, rng) -> list[dict]:
    maps = {}
    for method in methods:
        found = explain(models, images, method, weights=weights, landmarks=points, target=targets)
        maps[method] = np.stack([e.map for e in found])
    maps["random"] = rng.random((len(images), 48, 48))
    maps["centre"] = np.broadcast_to(centre_map(), (len(images), 48, 48))
    curves = {
        name: deletion_insertion(models, images, m, targets, weights=weights, steps=steps)
        for name, m in maps.items()
    }
    random_aucs = (curve_auc(curves["random"][0]), curve_auc(curves["random"][1]))
    return [summarize(name, *curves[name], random_aucs, rng) for name in maps]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a.ravel(), b.ravel())[0])


def randomised(model) -> object:
    """The same architecture with fresh random weights."""
    import keras

    keras.utils.set_random_seed(123)
    config = model.emonet_info.model_config
    return build_model(config)


def sanity(models, random_models, weights, images, points, targets, methods) -> dict:
    out = {}
    for method in methods:
        trained = explain(
            models, images, method, weights=weights, landmarks=points, target=targets
        )
        shuffled = explain(
            random_models, images, method, weights=weights, landmarks=points, target=targets
        )
        rhos = np.array([spearman(a.map, b.map) for a, b in zip(trained, shuffled, strict=True)])
        rhos = np.nan_to_num(rhos)
        out[method] = {
            "rank_correlation_mean": float(rhos.mean()),
            "rank_correlation_std": float(rhos.std()),
            # Adebayo's test: the maps must change when the weights do
            "passes": bool(abs(rhos.mean()) < 0.5),
        }
    return out


def per_face_seconds(function, repeat: int = 5) -> float:
    function()  # warm
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def train_float_model(n_train: int, epochs: int, widths, convs: int, seed: int = 0):
    """A small float compact network trained on Training faces (flips doubled)."""
    import keras

    images, labels = load_faces("train", n_train, seed)
    x = np.concatenate([images, images[:, :, ::-1]])[..., None].astype("float32")
    y = np.concatenate([labels, labels])
    keras.utils.set_random_seed(seed)
    model = build_model(
        ModelConfig(
            "compact",
            use_features=False,
            backbone_options={"widths": list(widths), "convs_per_block": convs, "dropout": 0.0},
            head_units=(64,),
            dropout=0.3,
        )
    )
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy")
    start = time.perf_counter()
    model.fit({"face": x}, y, epochs=epochs, batch_size=64, verbose=0, shuffle=True)
    return model, time.perf_counter() - start


#: One colour per map in the figure.
COLOURS = {
    "occlusion": "tab:blue",
    "regions": "tab:orange",
    "gradcam": "tab:purple",
    "random": "tab:green",
    "centre": "tab:red",
}


def plot_curves(results: dict, path: Path) -> None:
    from emonet._plotting import new_figure, save_figure

    parts = [(key, title) for key, title in (("preset", "default preset (int8)"),
             ("float", "small float network")) if key in results]  # fmt: skip
    figure = new_figure((8, 2.9 * len(parts)), dpi=80)
    for row, (key, title) in enumerate(parts):
        for column, kind in enumerate(("deletion", "insertion")):
            axes = figure.add_subplot(len(parts), 2, 2 * row + column + 1)
            for line in results[key]["faithfulness"]:
                curve = line[f"{kind}_curve"]
                style = ":" if line["map"] in ("random", "centre") else "-"
                colour = COLOURS.get(line["map"], "black")
                axes.plot(
                    np.linspace(0, 1, len(curve)), curve, style, color=colour, label=line["map"]
                )
            removed = "removed" if kind == "deletion" else "revealed"
            axes.set_xlabel(f"fraction of pixels {removed}", fontsize=8)
            axes.set_ylabel("target probability", fontsize=8)
            axes.set_title(f"{title}: {kind}", fontsize=9)
            axes.tick_params(labelsize=7)
            if column == 1:
                axes.legend(fontsize=7)
    save_figure(figure, path)


def small_png(path: Path, colours: int = 192) -> None:
    """Rewrite a PNG with a palette of ``colours``: the docs' pictures stay small."""
    from PIL import Image

    image = Image.open(path).convert("RGB")
    image.quantize(colors=colours, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def gallery(folder: Path) -> None:
    """The docs' pictures: the astronaut, and PublicTest faces of each class, one read
    right and one wrong, each with its occlusion and regions maps (default preset)."""
    from skimage import data

    from emonet._plotting import new_figure, save_figure
    from emonet.explain import overlay_map, overlay_photo, plot_regions
    from emonet.recognize import save_image

    folder.mkdir(parents=True, exist_ok=True)
    recognizer = Recognizer("default")
    photo = data.astronaut()
    ((face,),) = recognizer.explain(photo, method="regions")
    left, top, right, bottom = face.box
    pad = 40
    crop = overlay_photo(photo, [face])[
        max(0, top - pad) : bottom + pad, max(0, left - pad) : right + pad
    ]
    save_image(cv2.resize(crop, None, fx=1.5, fy=1.5), folder / "explain_astronaut.png")
    plot_regions(face, folder / "explain_astronaut_regions.png")

    images, labels = load_faces("val", 1200, seed=1)
    probabilities = recognizer.predict_crops(images)
    predicted = probabilities.argmax(1)
    figure = new_figure((8.4, 9.6), dpi=66)
    grid = figure.add_gridspec(len(LABELS), 6)
    for row, name in enumerate(LABELS):
        for half, right_or_wrong in enumerate((True, False)):
            hits = np.flatnonzero((labels == row) & ((predicted == row) == right_or_wrong))
            if not len(hits):
                continue
            i = hits[0]
            shown = [overlay_map(images[i], np.zeros((48, 48)), alpha=0.0)]
            for method in ("occlusion", "regions"):
                (item,) = recognizer.explain(images[i : i + 1], method=method)
                shown.append(overlay_map(images[i], item.map))
            for k, picture in enumerate(shown):
                axes = figure.add_subplot(grid[row, 3 * half + k])
                axes.imshow(picture, interpolation="nearest")
                axes.set_xticks([])
                axes.set_yticks([])
                if k == 0:
                    said = LABELS[predicted[i]]
                    axes.set_title(f"{name}: {said} {probabilities[i].max():.0%}", fontsize=8)
                elif row == 0:
                    axes.set_title(("occlusion", "regions")[k - 1], fontsize=8)
    figure.suptitle("read right (left) and wrong (right): true label: prediction", fontsize=10)
    save_figure(figure, folder / "explain_gallery.png")
    small_png(folder / "explain_gallery.png")
    small_png(folder / "explain_astronaut.png")
    print(f"wrote the gallery into {folder}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gallery", metavar="DIR", help="only draw the docs' pictures into DIR")
    parser.add_argument("--faces", type=int, default=500)
    parser.add_argument("--sanity-faces", type=int, default=100)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--train-faces", type=int, default=8000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--widths", default="16,32,64", help="the float network's blocks")
    parser.add_argument("--convs", type=int, default=2, help="its convolutions per block")
    parser.add_argument(
        "--parts",
        default="preset,float",
        help="preset (occlusion, regions), float (gradcam); a part left out keeps its "
        "figures of an earlier run's results.json",
    )
    parser.add_argument("--out", default="/tmp/emonet-explain-bench")
    args = parser.parse_args(argv)
    if args.gallery:
        gallery(Path(args.gallery))
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    parts = set(args.parts.split(","))
    earlier = out / "results.json"
    results: dict = json.loads(earlier.read_text()) if earlier.exists() else {}
    results.update({"faces": args.faces, "steps": args.steps})

    images, labels = load_faces("val", args.faces)
    start = time.perf_counter()
    points = extract_landmarks(images)
    print(f"{len(images)} PublicTest faces, landmarks in {time.perf_counter() - start:.1f} s")

    recognizer = Recognizer("default")
    if "preset" in parts:
        preset_part(args, results, recognizer, images, labels, points, rng)
    if "float" in parts:
        float_part(args, results, images, labels, points, rng)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    plot_curves(results, out / "explain_curves.png")
    print(f"wrote {out / 'results.json'} and {out / 'explain_curves.png'}")
    return 0


def preset_part(args, results, recognizer, images, labels, points, rng) -> None:
    models, weights = recognizer.models_, recognizer.weights_
    face, face_points = images[:1], points[:1]
    k = args.sanity_faces
    targets = recognizer.predict_crops(images, tta="none").argmax(1)
    print(f"preset default without TTA: accuracy {np.mean(targets == labels):.3f}")
    start = time.perf_counter()
    rows = faithfulness(
        models, weights, images, points, targets, ("occlusion", "regions"), args.steps, rng
    )
    results["preset"] = {"faithfulness": rows, "seconds": time.perf_counter() - start}
    for row in rows:
        print(
            f"  {row['map']:10s} deletion AUC {row['deletion_auc']:.3f} +- "
            f"{row['deletion_std']:.3f}"
            f" ({row['deletion_ratio']:.2f}x random, 95% {row['deletion_ratio_ci95'][0]:.2f}-"
            f"{row['deletion_ratio_ci95'][1]:.2f})  insertion AUC {row['insertion_auc']:.3f} +- "
            f"{row['insertion_std']:.3f} ({row['insertion_ratio']:.2f}x random, 95% "
            f"{row['insertion_ratio_ci95'][0]:.2f}-{row['insertion_ratio_ci95'][1]:.2f})"
        )

    random_models = [randomised(m) for m in models]
    results["preset"]["sanity"] = sanity(
        models,
        random_models,
        weights,
        images[:k],
        points[:k],
        targets[:k],
        ("occlusion", "regions"),
    )
    print(f"  sanity (random weights, {k} faces): {json.dumps(results['preset']['sanity'])}")

    plain = per_face_seconds(lambda: recognizer.predict_crops(face))
    speed = {"plain_prediction_s": plain}
    for method in ("occlusion", "regions"):
        seconds = per_face_seconds(
            lambda method=method: explain(
                models, face, method, weights=weights, landmarks=face_points
            )
        )
        speed[method] = {"seconds": seconds, "ratio_to_plain": seconds / plain}
    results["preset"]["speed"] = speed
    print(
        f"  speed per face (default preset, plain prediction with its TTA {plain * 1e3:.1f} ms): "
        + ", ".join(
            f"{m} {speed[m]['seconds'] * 1e3:.0f} ms ({speed[m]['ratio_to_plain']:.0f}x)"
            for m in ("occlusion", "regions")
        )
    )


def float_part(args, results, images, labels, points, rng) -> None:
    face, face_points = images[:1], points[:1]
    k = args.sanity_faces
    widths = [int(w) for w in args.widths.split(",")]
    model, train_s = train_float_model(args.train_faces, args.epochs, widths, args.convs)
    float_targets = model.predict_on_batch({"face": images[..., None].astype("float32")})
    float_targets = np.asarray(float_targets).argmax(1)
    accuracy = float(np.mean(float_targets == labels))
    print(f"float compact network: trained {train_s:.0f} s, PublicTest accuracy {accuracy:.3f}")
    rows = faithfulness(
        [model], None, images, points, float_targets, ("gradcam", "occlusion"), args.steps, rng
    )
    results["float"] = {
        "accuracy": accuracy,
        "train_seconds": train_s,
        "widths": widths,
        "convs_per_block": args.convs,
        "train_faces": args.train_faces,
        "epochs": args.epochs,
        "faithfulness": rows,
    }
    for row in rows:
        print(
            f"  {row['map']:10s} deletion {row['deletion_ratio']:.2f}x random (95% "
            f"{row['deletion_ratio_ci95'][0]:.2f}-{row['deletion_ratio_ci95'][1]:.2f}), "
            f"insertion {row['insertion_ratio']:.2f}x (95% {row['insertion_ratio_ci95'][0]:.2f}-"
            f"{row['insertion_ratio_ci95'][1]:.2f})"
        )
    results["float"]["sanity"] = sanity(
        [model],
        [randomised_plain(model)],
        None,
        images[:k],
        points[:k],
        float_targets[:k],
        ("gradcam",),
    )
    print(f"  sanity: {json.dumps(results['float']['sanity'])}")
    plain = per_face_seconds(
        lambda: model.predict_on_batch({"face": face[..., None].astype("float32")})
    )
    seconds = per_face_seconds(lambda: explain(model, face, "gradcam", landmarks=face_points))
    results["float"]["speed"] = {
        "plain_prediction_s": plain,
        "gradcam_s": seconds,
        "ratio_to_plain": seconds / plain,
    }
    print(
        f"  gradcam per face {seconds * 1e3:.0f} ms, plain prediction {plain * 1e3:.1f} ms "
        f"({seconds / plain:.0f}x)"
    )


def randomised_plain(model):
    """A float network built here (no emonet record): the same layers, fresh weights."""
    import keras

    keras.utils.set_random_seed(123)
    clone = keras.models.clone_model(model)
    return clone


if __name__ == "__main__":
    sys.exit(main())
