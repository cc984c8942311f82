"""The EmoNet paper's experiment in one call: features, four networks, the ensemble, tables.

::

    OUT/
      reproduce.json          the settings (a rerun must match them) and the last status
      features.h5             extracted here (a CSV or image folder input), else absent
      models/VARIANT/         one training run each (emonet.training.train's run folder)
      predictions/SPLIT/      VARIANT.npz and VARIANT_flip.npz (mirror-averaged)
      ensemble/MODE.json      weights learned on PublicTest; MODE is plain or flip
      ensemble/MODE_report/   the ensemble on PrivateTest (emonet-fit-ensemble's report)
      tables.json, tables.md  Table 1 and Table 2, the paper's figures beside ours
      per_class.json, .md     precision, recall and F1 of each model and the ensemble
      costs.json, costs.md    seconds and faces/s of each stage, backend, devices
      figures/                confusion matrices, training curves
      report.md               all of it on one page

Every stage keeps what an earlier, interrupted call finished: the features, each
finished variant (its ``model.keras``), each prediction file; an interrupted variant
continues from its last epoch (``train(..., resume=True)``), or starts again if it was
stopped before its first epoch ended. The ensemble and the tables, cheap, are made again
each time.

A folder is a reproduction's when it holds ``reproduce.json``; one that holds none of a
reproduction's names is new. Any other folder is refused, so that a reproduction neither
takes a user's ``models/`` as its own nor, with ``overwrite``, removes it. ``overwrite``
removes only the names a reproduction writes (:func:`clear_reproduction`), leaving
anything else in the folder as it was.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from emonet._io import atomic_write_text
from emonet.data import DataError, decode_record, iter_records
from emonet.ensemble import (
    StackingEnsemble,
    TemperatureScaler,
    WeightedEnsemble,
    save_report,
    summarize_validation,
)
from emonet.features import FeatureExtractor, FeatureSet, extract_to_file, load_features
from emonet.features import save_features as write_features
from emonet.models import PAPER_VARIANTS, load_model, predict_proba, variant_config
from emonet.predictions import load_predictions, save_predictions
from emonet.reproduce._bundle import load_bundle, stratified_rows
from emonet.reproduce._paper import SCALES, Scale
from emonet.reproduce._report import write_tables
from emonet.training import TrainingConfig, make_strategy, train

__all__ = ["Reproduction", "clear_reproduction", "reproduce"]

SETTINGS_FILE = "reproduce.json"
FEATURES_FILE = "features.h5"
SPLITS = ("PublicTest", "PrivateTest")
MODES = {"plain": False, "flip": True}  # prediction mode -> mirror averaging
# the names a reproduction writes into OUT: its stage folders and files
_STAGE_FOLDERS = ("models", "predictions", "ensemble", "figures")
_STAGE_FILES = (
    "tables.json",
    "tables.md",
    "per_class.json",
    "per_class.md",
    "costs.json",
    "costs.md",
    "report.md",
)
# what emonet.training.train writes into a run folder (docs/models.md)
_RUN_FILES = ("model.keras", "config.json", "history.csv", "history.png", "val_predictions.npz")
_RUN_STATE = Path("checkpoints") / "state.json"
# what a rerun into the same folder must keep (the variants may differ: a subset, then more)
_COMPARED = (
    "source",
    "scale",
    "epochs",
    "batch_size",
    "weights",
    "precision",
    "seed",
    "input_sizes",
)


@dataclass
class Reproduction:
    """What :func:`reproduce` did and found.

    Attributes
    ----------
    out : pathlib.Path
        The output folder.
    tables : dict
        ``tables.json``: Table 1 (``weights``) and Table 2 (``accuracy``), per mode and
        split, with the paper's figures.
    costs : list of dict
        ``costs.json``'s stages: ``stage``, ``seconds``, ``faces``, ``faces_per_s``.
    trained : list of str
        Variants trained (or continued) by this call.
    kept : list of str
        Variants an earlier call had finished, kept as they were.
    """

    out: Path
    tables: dict[str, Any] = field(default_factory=dict)
    costs: list[dict[str, Any]] = field(default_factory=list)
    trained: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


class _Costs:
    """Seconds and faces of each stage, as they are measured."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, stage: str, seconds: float, faces: int | None = None, note: str = "") -> None:
        rate = None if not faces or seconds <= 0 else round(faces / seconds, 1)
        self.rows.append(
            {
                "stage": stage,
                "seconds": round(float(seconds), 2),
                "faces": faces,
                "faces_per_s": rate,
                "note": note,
            }
        )


def _resolve_precision(precision: str | None) -> str | None:
    if precision != "auto":
        return precision
    kinds = {str(d).split(":")[0].lower() for d in _devices()}
    return "bfloat16" if kinds & {"gpu", "cuda", "tpu"} else None


def _devices() -> list[str]:
    try:
        return [str(d) for d in keras.distribution.list_devices()]
    except (NotImplementedError, RuntimeError, AttributeError, ValueError):
        return ["cpu:0"]


def _backbone_weights(weights: str | os.PathLike[str] | None, backbone: str):
    """``None``, ``"imagenet"``, or the ``BACKBONE.weights.h5`` file of a folder."""
    if weights is None or str(weights) == "imagenet":
        return weights
    folder = Path(weights)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"--weights {folder}: expected 'imagenet' or a folder of BACKBONE.weights.h5 files"
        )
    path = folder / f"{backbone}.weights.h5"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no weights for the {backbone} backbone in {folder}")
    return path


# --------------------------------------------------------------------------- the data


def _subset(data: FeatureSet, rows: np.ndarray) -> FeatureSet:
    return FeatureSet(
        data.images[rows],
        data.features[rows],
        data.labels[rows],
        data.usage[rows],
        data.ids[rows],
        dict(data.attrs),
        list(data.skipped),
    )


def _extract_subset(source: Path, output: Path, scale: Scale, seed: int) -> None:
    """Extract the features of the few faces a small scale uses, into ``output``."""
    kind, records, _ = iter_records(source, skip_unknown_labels=True)
    records = list(records)
    rows = stratified_rows(
        np.array([r.label for r in records]),
        np.array([r.usage for r in records]),
        scale.faces_per_label,
        seed,
    )
    chosen = [records[i] for i in rows]
    images = np.stack([decode_record(r) for r in chosen])
    extractor = FeatureExtractor()
    part = {
        "images": images,
        "features": extractor.transform(images),
        "labels": np.array([r.label for r in chosen], dtype=np.int64),
        "usage": np.array([r.usage for r in chosen]),
        "ids": np.array([r.id for r in chosen]),
    }
    attrs = {
        "source": str(source),
        "source_kind": kind,
        "scale": scale.name,
        **{f"hog_{k}": v for k, v in extractor.get_params().items()},
    }
    write_features(output, [part], attrs, part["features"].shape[1])


def _load_data(
    source: Path, out: Path, scale: Scale, seed: int, jobs: int | None, progress: bool
) -> tuple[FeatureSet, str]:
    """The feature set of the source, and how it was obtained."""
    suffix = source.suffix.lower()
    if suffix == ".npz":
        data = load_bundle(source, faces_per_label=scale.faces_per_label, seed=seed)
        return data, "bundle read, HOG recomputed"
    if suffix == ".h5":
        data = load_features(source)
        rows = stratified_rows(data.labels, data.usage, scale.faces_per_label, seed)
        return (data if scale.faces_per_label is None else _subset(data, rows)), "features read"
    cached = out / FEATURES_FILE
    how = "features reused"
    if not cached.exists():
        if scale.faces_per_label is not None:
            _extract_subset(source, cached, scale, seed)
        else:
            extract_to_file(source, cached, jobs=jobs, resume=True, progress=progress)
        how = "features extracted"
    data = load_features(cached)
    made_from = str(data.attrs.get("source", ""))
    if made_from and Path(made_from).resolve() != source.resolve():
        raise ValueError(
            f"{cached} was extracted from {made_from}, not {source}; choose another output "
            "folder or pass overwrite=True (--overwrite)"
        )
    return data, how


def _check_splits(data: FeatureSet, source: Path) -> None:
    present = set(data.usage.tolist())
    missing = [u for u in ("Training", "PublicTest") if u not in present]
    if missing:
        raise DataError(
            f"{source}: no {' and no '.join(missing)} faces; a reproduction trains on "
            "FER2013's Training split and fits the ensemble on its PublicTest split"
        )


# --------------------------------------------------------------------------- settings


def _check_settings(out: Path, settings: dict[str, Any], overwrite: bool) -> None:
    """Refuse a folder that is not a reproduction's, or one of other settings unless
    ``overwrite``, which removes what the reproduction wrote (:func:`clear_reproduction`).
    """
    path = out / SETTINGS_FILE
    if not (path.exists() or path.is_symlink()):
        found = [n for n in (FEATURES_FILE, *_STAGE_FOLDERS, *_STAGE_FILES) if _exists(out / n)]
        if found:
            raise ValueError(
                f"{out} holds {', '.join(found)} but no {SETTINGS_FILE}: it is not a "
                "reproduction's folder, and a reproduction would take these for its own, "
                "write over them or, with --overwrite, remove them; choose a new or empty "
                "output folder"
            )
        return
    saved = _read_settings(path)
    if overwrite:
        clear_reproduction(out)
        if Path(str(saved["source"])).resolve() != Path(settings["source"]).resolve():
            # extracted from the other source: they would be found and refused
            for name in (FEATURES_FILE, FEATURES_FILE + ".parts"):
                if (out / name).is_dir() and not (out / name).is_symlink():
                    shutil.rmtree(out / name)
                else:
                    (out / name).unlink(missing_ok=True)
        return
    differ = [k for k in _COMPARED if saved.get(k) != settings.get(k)]
    if differ:
        what = ", ".join(f"{k} {saved.get(k)!r} (now {settings.get(k)!r})" for k in differ)
        raise ValueError(
            f"{out} holds a reproduction made with {what}; use the same settings to "
            "continue it, another output folder, or overwrite=True (--overwrite)"
        )


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _read_settings(path: Path) -> dict[str, Any]:
    """The settings of the reproduction whose ``reproduce.json`` is ``path``.

    Raises
    ------
    ValueError
        If the file is not a reproduction's settings.
    """
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        saved, reason = None, str(error)
    else:
        reason = "not the settings of a reproduction"
    if not isinstance(saved, dict) or not {"scale", "source"} <= saved.keys():
        raise ValueError(
            f"{path}: {reason}; {path.parent} is not a reproduction's folder (or its "
            "settings are damaged): choose a new or empty output folder"
        )
    return saved


def _written(out: Path) -> list[Path]:
    """The files and folders of ``out`` that a reproduction writes, found there now.

    The reproduction's manifest, by name: the stage files, each paper variant's run folder
    files, prediction files, ensembles and reports, confusion matrices and curves, and
    the temporaries their atomic writes may have left. The extracted features are not
    listed (costly, and checked against the source when used again).
    """
    names = [out / n for n in _STAGE_FILES]
    for variant in PAPER_VARIANTS:
        run = out / "models" / variant
        names += [run / n for n in _RUN_FILES] + [run / _RUN_STATE.parent]
        names += [_prediction_path(out, s, variant, m) for s in SPLITS for m in MODES]
    for mode in MODES:
        names += [out / "ensemble" / f"{mode}.json", out / "ensemble" / f"{mode}_report"]
    figures = out / "figures"
    names.append(figures / "curves.png")
    names += [
        figures / f"confusion_{split}_{name}.png"
        for split in SPLITS
        for name in (*PAPER_VARIANTS, "ensemble")
    ]
    # emonet._io's temporaries: ".NAME.<8 hex>.<suffix>" beside NAME
    temporaries = [
        t for n in names if n.parent.is_dir() for t in n.parent.glob(f".{glob.escape(n.name)}.*")
    ]
    return [n for n in names if _exists(n)] + temporaries


def clear_reproduction(out: str | os.PathLike[str]) -> list[Path]:
    """Remove what a reproduction wrote into ``out``, and nothing else.

    The files and folders a reproduction writes (its stage files, the paper variants' run
    folder files, predictions, ensembles, reports and figures) are removed; a stage
    folder (``models/``, ``figures/``...) is removed only if nothing else is left in it.
    ``reproduce.json`` and the extracted features are kept. ``reproduce(...,
    overwrite=True)`` calls this on a reproduction's folder.

    Parameters
    ----------
    out : str or path-like
        A reproduction's output folder (one that holds ``reproduce.json``).

    Returns
    -------
    list of pathlib.Path
        What was removed.

    Raises
    ------
    ValueError
        If ``out`` holds no ``reproduce.json`` of a reproduction: its files are not a
        reproduction's to remove.

    Examples
    --------
    >>> from emonet.reproduce import clear_reproduction
    >>> removed = clear_reproduction("runs/smoke")  # doctest: +SKIP
    """
    out = Path(out)
    _read_settings(out / SETTINGS_FILE)
    removed = []
    for path in _written(out):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    # the stage folders, deepest first, where nothing of the user's is left
    folders = [out / "models" / v for v in PAPER_VARIANTS]
    folders += [out / "predictions" / s for s in SPLITS]
    folders += [out / n for n in _STAGE_FOLDERS]
    for folder in folders:
        if folder.is_dir() and not folder.is_symlink() and not any(folder.iterdir()):
            folder.rmdir()
            removed.append(folder)
    return removed


# --------------------------------------------------------------------------- reproduce


def reproduce(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    scale: str = "full",
    weights: str | os.PathLike[str] | None = None,
    epochs: int | None = None,
    variants: Sequence[str] = PAPER_VARIANTS,
    precision: str | None = "auto",
    strategy: str = "auto",
    workers: int | None = None,
    use_multiprocessing: bool = False,
    jobs: int | None = None,
    cv_folds: int = 5,
    seed: int = 0,
    overwrite: bool = False,
    verbose: int = 0,
    log: Callable[[str], None] | None = print,
) -> Reproduction:
    """Reproduce the EmoNet paper: train its four networks, learn the ensemble, report.

    Parameters
    ----------
    source : str or path-like
        FER2013: ``fer2013.csv``, an image-folder release, an emonet features file
        (``.h5``) or a bundle of :func:`pack_bundle` (``.npz``). It must have Training
        and PublicTest faces; PrivateTest, when present, is the test split.
    out : str or path-like
        Output folder (see the module's docstring); a second call continues the first.
    scale : {"full", "smoke"}, default="full"
        :data:`SCALES`: the paper's experiment, or the chain on a few hundred faces at
        small input sizes.
    weights : None, "imagenet" or folder, optional
        Initial backbone weights: from scratch (default), Keras' ImageNet weights, or a
        folder of ``inception_resnet_v2.weights.h5`` / ``resnet50.weights.h5`` (e.g.
        VGGFace2 weights for ResNet-50, as the paper). Pretrained weights add the frozen
        first phase.
    epochs : int, optional
        Epochs of each variant; default the scale's (the paper's 55 at full scale).
    variants : sequence of str, default=PAPER_VARIANTS
        Which networks to train; a later call may add the others.
    precision : {"auto", None, "bfloat16", "float16"}, default="auto"
        Mixed precision; ``"auto"`` is bfloat16 on a GPU or TPU, float32 on a CPU.
    strategy : str, default="auto"
        Devices (:func:`emonet.training.make_strategy`); the global batch is the scale's
        batch times the devices, and the learning rates grow with it (linear scaling).
    workers, use_multiprocessing
        The input pipeline's workers (:func:`emonet.training.train`).
    jobs : int, optional
        Feature-extraction processes (default every core).
    cv_folds : int, default=5
        Folds of the cross-validated ensemble accuracy on PublicTest.
    seed : int, default=0
    overwrite : bool, default=False
        Start again: remove what the reproduction wrote into ``out``
        (:func:`clear_reproduction`; anything else there is left as it was). The
        extracted features are kept, unless the reproduction had another source.
    verbose : int, default=0
        Keras' progress output while training.
    log : callable or None, default=print
        Where to say what each stage does; ``None`` for silence.

    Returns
    -------
    Reproduction

    Raises
    ------
    ValueError
        If a setting is invalid, ``out`` holds a reproduction made with other settings,
        or ``out`` is not a reproduction's folder (no ``reproduce.json``, and files a
        reproduction writes: ``models/``, ``figures/``...).
    DataError
        If the source is unreadable or lacks the Training or PublicTest split.

    Examples
    --------
    >>> from emonet.reproduce import reproduce
    >>> result = reproduce("fer2013.csv", "runs/smoke", scale="smoke")  # doctest: +SKIP
    >>> print((result.out / "tables.md").read_text())  # doctest: +SKIP
    """
    say = log or (lambda message: None)
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    unknown = [v for v in variants if v not in PAPER_VARIANTS]
    if unknown or not variants:
        raise ValueError(
            f"variants must be among {', '.join(PAPER_VARIANTS)}; "
            f"got {', '.join(unknown) or 'none'}"
        )
    if epochs is not None and epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    the_scale = SCALES[scale]
    source, out = Path(source), Path(out)
    if not source.exists():
        raise FileNotFoundError(f"{source}: no such file or folder")
    devices = make_strategy(strategy)
    replicas = devices.num_replicas_in_sync
    settings = {
        "scale": scale,
        "epochs": epochs or the_scale.epochs,
        "batch_size": the_scale.batch_size * replicas,
        "weights": None if weights is None else str(weights),
        "precision": _resolve_precision(precision),
        "seed": seed,
        "input_sizes": dict(the_scale.input_sizes),
        "source": str(source),
    }
    out.mkdir(parents=True, exist_ok=True)
    _check_settings(out, settings, overwrite)
    atomic_write_text(out / SETTINGS_FILE, json.dumps({**settings, "status": "running"}, indent=2))
    costs = _Costs()
    result = Reproduction(out)

    # 1. the features
    start = time.perf_counter()
    data, how = _load_data(source, out, the_scale, seed, jobs, progress=log is not None)
    _check_splits(data, source)
    costs.add("features", time.perf_counter() - start, len(data), how)
    say(f"features: {len(data)} faces ({how}) in {time.perf_counter() - start:.1f} s")
    train_set, splits = data.select("Training"), {}
    for split in SPLITS:
        if split in set(data.usage.tolist()):
            splits[split] = data.select(split)

    # 2. the networks, and their predictions
    config = TrainingConfig.paper(
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        learning_rate=1e-3 * replicas,
        freeze_learning_rate=1e-3 * replicas,
        mixed_precision=settings["precision"],
        seed=seed,
    )
    for name in variants:
        model = _train_variant(
            name, out, train_set, splits["PublicTest"], config, the_scale, weights, devices,
            workers, use_multiprocessing, verbose, costs, result, say,
        )  # fmt: skip
        _predict_variant(name, model, out, splits, config.validation_batch_size, costs, say)
        del model
        keras.backend.clear_session()  # one network in memory at a time

    # 3. the ensemble and the tables (every variant finished so far, this call's or not)
    start = time.perf_counter()
    finished = [v for v in PAPER_VARIANTS if (out / "models" / v / "model.keras").exists()]
    predictions = _read_predictions(out, finished, splits)
    ensembles = (
        _fit_ensembles(out, finished, predictions, cv_folds, seed) if len(finished) > 1 else {}
    )
    costs.add("ensemble", time.perf_counter() - start, None, f"{len(finished)} models")
    result.costs = costs.rows
    result.tables = write_tables(
        out,
        finished,
        predictions,
        ensembles,
        costs.rows,
        environment={
            "keras_backend": keras.backend.backend(),
            "keras_version": keras.__version__,
            "devices": _devices(),
            "replicas": replicas,
            "strategy": devices.kind,
            "precision": settings["precision"] or "float32",
            "jit_compile": config.jit_compile,
            "cpu_count": os.cpu_count(),
        },
        settings=settings,
    )
    atomic_write_text(out / SETTINGS_FILE, json.dumps({**settings, "status": "done"}, indent=2))
    say(f"wrote {out / 'report.md'}")
    return result


def _train_variant(
    name, out, train_set, validation, config, scale, weights, devices, workers,
    use_multiprocessing, verbose, costs, result, say,
):  # fmt: skip
    run = out / "models" / name
    model_config = variant_config(name)
    size = scale.input_sizes.get(model_config.backbone)
    if size is not None:
        model_config = variant_config(name, input_size=size)
    start = time.perf_counter()
    if (run / "model.keras").exists():
        model = None  # loaded only if a prediction is missing
        result.kept.append(name)
        say(f"{name}: finished earlier, kept")
    else:
        # the predictions of an earlier model of this name are stale
        for split in SPLITS:
            for mode in MODES:
                _prediction_path(out, split, name, mode).unlink(missing_ok=True)
        # a run stopped before its first epoch ended left its config.json and no
        # checkpoint: nothing to resume (train(resume=True) refuses such a folder), so it
        # starts again
        fresh = not (run / _RUN_STATE).exists()
        say(f"{name}: training ({model_config.resolved_input_size} px, {config.epochs} epochs)")
        model = train(
            train_set,
            validation,
            model_config,
            config,
            weights=_backbone_weights(weights, model_config.backbone),
            out_dir=run,
            resume=not fresh,
            overwrite=fresh,
            strategy=devices,
            workers=workers,
            use_multiprocessing=use_multiprocessing,
            verbose=verbose,
        ).model
        result.trained.append(name)
    results = json.loads((run / "config.json").read_text(encoding="utf-8")).get("results") or {}
    seconds = float(results.get("seconds", time.perf_counter() - start))
    epochs = int(results.get("epochs", 0))
    costs.add(
        f"train {name}",
        seconds,
        epochs * len(train_set),
        f"{epochs} epochs at {model_config.resolved_input_size} px"
        + ("" if model is not None else ", finished earlier"),
    )
    return model


def _prediction_path(out: Path, split: str, name: str, mode: str) -> Path:
    return out / "predictions" / split / (name + ("_flip" if MODES[mode] else "") + ".npz")


def _predict_variant(name, model, out, splits, batch_size, costs, say) -> None:
    missing = [
        (split, mode)
        for split in splits
        for mode in MODES
        if not _prediction_path(out, split, name, mode).exists()
    ]
    if not missing:
        return
    start, faces = time.perf_counter(), 0
    if model is None:
        model = load_model(out / "models" / name / "model.keras")
    for split, mode in missing:
        data = splits[split]
        probabilities = predict_proba(model, data, batch_size=batch_size, tta=MODES[mode])
        save_predictions(
            _prediction_path(out, split, name, mode),
            probabilities,
            data.labels,
            data.ids,
            model_name=name,
        )
        faces += len(data) * (2 if MODES[mode] else 1)
    seconds = time.perf_counter() - start
    costs.add(f"predict {name}", seconds, faces, "images through the network (flips count)")
    say(f"{name}: predicted {', '.join(splits)} in {seconds:.1f} s")


def _read_predictions(out: Path, names: list[str], splits: dict) -> dict:
    """``{mode: {split: (probabilities per model, labels, ids)}}``."""
    found: dict[str, dict[str, tuple]] = {}
    for mode in MODES:
        found[mode] = {}
        for split in splits:
            files = [load_predictions(_prediction_path(out, split, n, mode)) for n in names]
            if not files:
                continue
            found[mode][split] = ([f.probabilities for f in files], files[0].labels, files[0].ids)
    return found


def _fit_ensembles(out: Path, names, predictions, cv_folds: int, seed: int) -> dict:
    """Weights learned on PublicTest, each mode; the report on PrivateTest when present."""
    fitted = {}
    for mode, by_split in predictions.items():
        probabilities, labels, _ = by_split["PublicTest"]
        ensemble = WeightedEnsemble(random_state=seed).fit(
            probabilities, labels, model_names=names
        )
        folds = min(cv_folds, int(np.bincount(labels).max()))
        summary = summarize_validation(
            ensemble, probabilities, labels, n_splits=folds, random_state=seed
        )
        ensemble.save(out / "ensemble" / f"{mode}.json", extra={"validation": summary})
        if "PrivateTest" in by_split:
            test, test_labels, test_ids = by_split["PrivateTest"]
            save_report(
                out / "ensemble" / f"{mode}_report",
                ensemble,
                test,
                test_labels,
                ids=test_ids,
                stacking=StackingEnsemble().fit(probabilities, labels),
                calibrator=TemperatureScaler().fit(ensemble.predict_proba(probabilities), labels),
                validation=summary,
            )
        fitted[mode] = (ensemble, summary)
    return fitted
