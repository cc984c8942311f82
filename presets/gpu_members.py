"""Train ensemble members and distilled students on one GPU, from an emonet bundle.

For a lent GPU machine that has JAX but neither TensorFlow nor dlib: the faces come from
a bundle of ``emonet.reproduce.pack_bundle`` (Training and PublicTest, about 52 MB), the
networks train on the JAX backend with the same :func:`emonet.training.train` as on the
CPU, and the ``.keras`` files they write load on any backend. It runs in two phases
within a deadline:

1. The members of :data:`MEMBERS` (``compact`` networks, each its own recipe and seed)
   train side by side, one process each, on the one GPU, for ``--minutes``; with
   ``--old-teacher`` (an ``emonet-distill`` ``teacher.npz``) a student of that teacher
   trains beside them.
2. The members' equal-weight mean, flip-averaged, teaches a second student for what is
   left of ``--deadline``.

Every model is copied to ``--out`` (``NAME.keras``) as it finishes; logs, histories and
configurations go into ``--out``/``runs.tar.gz``. Evaluate, weigh and package them on the
machine that ships them (``emonet-evaluate``, ``emonet-fit-ensemble``,
``presets/package_preset.py``).

Usage (the bundle from ``pack_bundle("fer2013", "gpu/bundle.npz", features="fer2013.h5",
usage=["Training", "PublicTest"])``; Keras 3 and its dependencies missing there, namex
and optree, travel as wheels)::

    python presets/gpu_members.py gpu/bundle.npz --out "$OUT" --minutes 4.5 \\
        --old-teacher gpu/teacher.npz --deadline 500

Without ``--members`` phase 1 trains the four recipes of the first run (``FIRST_RUN``);
``--members NAME ...`` names others of :data:`MEMBERS` (the wider and deeper networks of
the second run), ``--adamw-seeds 41 42 ...`` members of the AdamW recipe (the best of the
first run), one per seed. The second run (8.5 minutes, 541 s)::

    python presets/gpu_members.py gpu/bundle.npz --out "$OUT" --minutes 8.5 --deadline 572 \
        --members gpu_wide_s51 gpu_wide_s52 gpu_deep_s53 gpu_adamw_s54 gpu_adamw_s55

Small-scale check on a CPU (JAX backend)::

    KERAS_BACKEND=jax python presets/gpu_members.py gpu/bundle.npz --out /tmp/gpu_check \\
        --minutes 0.5 --deadline 200 --faces 600
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

# name -> (ModelConfig overrides of the compact variant, TrainingConfig.cpu overrides);
# long runs overfit (the 85-minute CPU run ended at 92.8% training accuracy), so every
# member has block dropout and random erasing, and they differ in what else they use.
MEMBERS: dict[str, tuple[dict, dict]] = {
    "gpu_sgd_s21": (
        {"backbone_options": {"dropout": 0.1}},
        {"seed": 21, "augment": {"shear": 0.0, "translate": 0.1, "erase": 0.5}},
    ),
    "gpu_sgd_s22": (
        {"backbone_options": {"dropout": [0.0, 0.1, 0.2, 0.3]}},
        {"seed": 22, "augment": {"shear": 0.0, "translate": 0.1, "erase": 0.25}},
    ),
    "gpu_adamw_s23": (
        {"backbone_options": {"dropout": 0.1}},
        {
            "seed": 23,
            "optimizer": "adamw",
            "learning_rate": 3e-3,
            "weight_decay": 0.05,
            "augment": {"shear": 0.0, "translate": 0.1, "erase": 0.5},
        },
    ),
    "gpu_mixup_s24": (
        {"backbone_options": {"dropout": 0.1}},
        {"seed": 24, "mixup": 0.2, "augment": {"shear": 0.0, "translate": 0.1, "erase": 0.25}},
    ),
}
# the AdamW recipe (the best of the first run) on wider and deeper compact networks: the
# GPU waits on the host's augmentation, so 2.25x the arithmetic costs little time there
_ADAMW = MEMBERS["gpu_adamw_s23"]


def _adamw(seed: int, backbone_options: dict | None = None) -> tuple[dict, dict]:
    """The AdamW member with another seed, and another network if given."""
    model = _ADAMW[0] if backbone_options is None else {"backbone_options": backbone_options}
    return model, _ADAMW[1] | {"seed": seed}


WIDE = {"widths": [48, 96, 192, 384], "dropout": 0.1}
DEEP = {"widths": [40, 80, 160, 320], "convs_per_block": 3, "dropout": 0.1}
MEMBERS |= {
    "gpu_wide_s51": _adamw(51, WIDE),
    "gpu_wide_s52": _adamw(52, WIDE | {"dropout": 0.2}),
    "gpu_deep_s53": _adamw(53, DEEP),
    "gpu_adamw_s54": _adamw(54),
    "gpu_adamw_s55": _adamw(55),
}
# what runs without --members (the first GPU run)
FIRST_RUN = ("gpu_sgd_s21", "gpu_sgd_s22", "gpu_adamw_s23", "gpu_mixup_s24")
# the students: the fast preset's network (compact, ~3,500 crops/s on 2 cores)
STUDENT: tuple[dict, dict] = (
    {"backbone_options": {"dropout": 0.1}},
    {
        "seed": 31,
        "label_smoothing": 0.0,
        "augment": {"shear": 0.0, "translate": 0.1, "erase": 0.5},
    },
)
MAX_EPOCHS = 400  # the cosine schedule ends with the time limit long before this
# batch 256 halves the steps, whose fixed cost dominates such small networks on a GPU;
# the learning rates scale with it (the CPU recipe's 0.05 at batch 128)
BATCH = {"batch_size": 256, "learning_rate": 0.1}
RUNS = Path("/tmp/emonet_gpu_runs")


def _configs(spec: tuple[dict, dict], minutes: float):
    from emonet.models import variant_config
    from emonet.training import AugmentConfig, TrainingConfig

    model_overrides, training_overrides = spec
    training = dict(BATCH, epochs=MAX_EPOCHS, time_limit=minutes) | training_overrides
    training["augment"] = AugmentConfig(**training.get("augment", {}))
    return variant_config("compact", **model_overrides), TrainingConfig.cpu(**training)


def _load(bundle: str, faces: int | None):
    from emonet.reproduce import load_bundle

    per_label = None if faces is None else faces // 7
    data = load_bundle(bundle, faces_per_label=per_label)
    return data.select("Training"), data.select("PublicTest")


def _summary(result, name: str) -> dict:
    return {
        "name": name,
        "epochs": result.epochs,
        "minutes": round(result.seconds / 60, 2),
        "best_epoch": result.best_epoch,
        "best_val_accuracy": round(float(result.best_value), 4),
        "stop_reason": result.stop_reason,
    }


def _teacher_of(path: Path, train_set):
    """An ``emonet-distill`` teacher file's probabilities, in ``train_set``'s order."""
    from emonet.training import TeacherProbabilities

    try:
        return TeacherProbabilities.load(path).select(train_set.ids)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def _student(train_set, val_set, teacher, minutes: float, name: str):
    """Distil ``teacher`` into a :data:`STUDENT` network in the run folder ``name``."""
    from emonet.training import distill

    model_config, config = _configs(STUDENT, minutes)
    return distill(
        train_set,
        teacher,
        val_set,
        model_config,
        config,
        out_dir=RUNS / name,
        overwrite=True,
        verbose=2,
    )


def run_member(args: argparse.Namespace) -> None:
    """One training process: a member, or the student of ``--old-teacher``."""
    from emonet.training import train

    train_set, val_set = _load(args.bundle, args.faces)
    name = args.member
    out = RUNS / name
    if name == "gpu_student_old":
        teacher = _teacher_of(Path(args.old_teacher), train_set)
        result = _student(train_set, val_set, teacher, args.minutes, name)
    else:
        model_config, config = _configs(MEMBERS[name], args.minutes)
        result = train(
            train_set, val_set, model_config, config, out_dir=out, overwrite=True, verbose=2
        )
    (out / "summary.json").write_text(json.dumps(_summary(result, name), indent=1))


def _copy_back(out: Path, name: str) -> bool:
    model = RUNS / name / "model.keras"
    if model.exists() and not (out / f"{name}.keras").exists():
        (out / f"{name}.keras").write_bytes(model.read_bytes())
        return True
    return False


def _pack_logs(out: Path) -> None:
    with tarfile.open(out / "runs.tar.gz.part", "w:gz") as tar:
        for path in sorted(RUNS.rglob("*")):
            if path.is_file() and "checkpoints" not in path.parts and path.suffix != ".keras":
                tar.add(path, arcname=str(path.relative_to(RUNS)))
    os.replace(out / "runs.tar.gz.part", out / "runs.tar.gz")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--minutes", type=float, default=4.5, help="training time of phase 1")
    parser.add_argument("--deadline", type=float, default=520, help="seconds for everything")
    parser.add_argument("--old-teacher", help="teacher.npz of an earlier emonet-distill run")
    parser.add_argument("--faces", type=int, help="use this many faces (a quick check)")
    parser.add_argument(
        "--adamw-seeds",
        type=int,
        nargs="+",
        help="train only members of the AdamW recipe, with these seeds",
    )
    parser.add_argument(
        "--members",
        nargs="+",
        choices=sorted(MEMBERS),
        help=f"the members to train (default: {' '.join(FIRST_RUN)})",
    )
    parser.add_argument("--member", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    chosen = {name: MEMBERS[name] for name in args.members or FIRST_RUN}
    if args.adamw_seeds:
        chosen = {f"gpu_adamw_s{seed}": _adamw(seed) for seed in args.adamw_seeds}
    MEMBERS.clear()
    MEMBERS.update(chosen)
    if args.member:
        run_member(args)
        return 0

    start = time.monotonic()
    args.out.mkdir(parents=True, exist_ok=True)
    RUNS.mkdir(parents=True, exist_ok=True)
    names = list(MEMBERS) + (["gpu_student_old"] if args.old_teacher else [])
    env = dict(
        os.environ,
        KERAS_BACKEND=os.environ.get("KERAS_BACKEND", "jax"),
        XLA_PYTHON_CLIENT_PREALLOCATE="false",
        PYTHONUNBUFFERED="1",
    )
    common = [args.bundle, "--out", str(args.out), "--minutes", str(args.minutes)]
    common += ["--old-teacher", args.old_teacher] if args.old_teacher else []
    common += ["--faces", str(args.faces)] if args.faces else []
    common += ["--adamw-seeds", *map(str, args.adamw_seeds)] if args.adamw_seeds else []
    common += ["--members", *args.members] if args.members else []
    procs = {}
    for name in names:
        log = open(RUNS / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
        procs[name] = (
            subprocess.Popen(
                [sys.executable, __file__, *common, "--member", name],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            ),
            log,
        )
    print(f"phase 1: {len(procs)} processes for {args.minutes} min", flush=True)
    while any(p.poll() is None for p, _ in procs.values()):
        time.sleep(5)
        for name in names:
            if _copy_back(args.out, name):
                print(f"  {name} done at {time.monotonic() - start:.0f} s", flush=True)
        if time.monotonic() - start > args.deadline:
            print("deadline passed in phase 1; stopping the members", flush=True)
            for p, _ in procs.values():
                p.kill()
    for name, (p, log) in procs.items():
        log.close()
        _copy_back(args.out, name)
        summary = RUNS / name / "summary.json"
        print(
            f"  {name}: rc {p.returncode}",
            summary.read_text().replace("\n", "") if summary.exists() else "",
            flush=True,
        )
    _pack_logs(args.out)

    members = [n for n in MEMBERS if (RUNS / n / "model.keras").exists()]
    left = args.deadline - (time.monotonic() - start)
    minutes = (left - 75) / 60  # loading, the teacher's predictions, saving
    if len(members) < 2 or minutes < 0.5:
        print(f"phase 2 skipped: {len(members)} members, {left:.0f} s left", flush=True)
        return 0
    os.environ.update(env)
    import numpy as np

    from emonet.models import load_model, predict_proba
    from emonet.training import TeacherProbabilities

    train_set, val_set = _load(args.bundle, args.faces)
    teacher = np.mean(
        [
            predict_proba(load_model(RUNS / n / "model.keras"), train_set, 1024, tta=True)
            for n in members
        ],
        axis=0,
    )
    # the format of emonet-distill's teacher.npz, the teacher named by its members
    TeacherProbabilities(teacher, train_set.ids, ",".join(members)).save(RUNS / "teacher_gpu.npz")
    accuracy = float((teacher.argmax(1) == train_set.labels).mean())
    print(
        f"phase 2: teacher of {len(members)} members, {accuracy:.2%} right on Training; "
        f"student for {minutes:.2f} min",
        flush=True,
    )
    result = _student(train_set, val_set, teacher, minutes, "gpu_student")
    summary = _summary(result, "gpu_student") | {"teacher_train_accuracy": accuracy}
    (RUNS / "gpu_student" / "summary.json").write_text(json.dumps(summary, indent=1))
    print("  gpu_student:", json.dumps(summary), flush=True)
    _copy_back(args.out, "gpu_student")
    _pack_logs(args.out)
    print(f"all done in {time.monotonic() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
