"""Pick an ensemble's members by greedy forward selection, and estimate it honestly.

Forward selection (:func:`emonet.ensemble.forward_select`) adds, one at a time, the
candidate whose addition gives the best 5-fold cross-validated accuracy of the
differential-evolution weights, up to ``--max`` members, while that accuracy rises by at
least ``--min-gain``. Choosing the members on the same folds that score them flatters the
winner, so the whole procedure (selection, then weights) is also cross-validated: nested,
each outer fold chooses and weighs on the other four and is scored once.

    python presets/select_members.py runs/preds/*_tta.npz --max 4

With ``--max 1`` it names the single best model. ``--max-mb MB`` with ``--runs DIR``
keeps the members' files within a size: a candidate ``NAME`` weighs what
``DIR/NAME/model.keras`` does, and only those that still fit are tried. ``--names-only``
prints the names alone, one per line, and ``--names-out FILE`` writes them there beside
the report, for scripts.

Each file is an ``emonet-evaluate`` prediction file of PublicTest (the same faces).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

from emonet.ensemble import WeightedEnsemble, align_predictions, forward_select


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("predictions", nargs="+", help="PublicTest prediction files")
    parser.add_argument("--max", type=int, default=4, help="members at most")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--min-gain",
        type=float,
        default=0.001,
        help="smallest rise of the cross-validated accuracy that admits a member "
        "(default 0.001: 0.1 point, about 4 faces of PublicTest)",
    )
    parser.add_argument(
        "--max-mb", type=float, default=np.inf, help="the members' files together at most"
    )
    parser.add_argument(
        "--runs", type=Path, help="folder of the run folders NAME/model.keras (--max-mb)"
    )
    parser.add_argument("--no-nested", dest="nested", action="store_false")
    parser.add_argument(
        "--names-only", action="store_true", help="print the chosen members' names alone"
    )
    parser.add_argument(
        "--names-out", type=Path, help="also write the chosen names there, one per line"
    )
    args = parser.parse_args()

    try:
        aligned = align_predictions(args.predictions)
    except (ValueError, FileNotFoundError) as error:
        raise SystemExit(f"select_members: {error}") from None
    y = aligned.labels
    probabilities = dict(zip(aligned.model_names, aligned.probabilities, strict=True))
    sizes = None
    if np.isfinite(args.max_mb):
        if args.runs is None:
            raise SystemExit("select_members: --max-mb needs --runs, the run folders' folder")
        models = {name: args.runs / name / "model.keras" for name in probabilities}
        missing = [str(path) for path in models.values() if not path.is_file()]
        if missing:
            raise SystemExit(f"select_members: --max-mb: no model file {', '.join(missing)}")
        sizes = {name: path.stat().st_size / 1e6 for name, path in models.items()}
    size_limit = dict(sizes=sizes, budget=args.max_mb)
    chosen = forward_select(probabilities, y, args.max, args.seed, args.min_gain, **size_limit)
    names = "\n".join(name for name, _ in chosen) + "\n"
    if args.names_out:
        args.names_out.write_text(names)
    if args.names_only:
        print(names, end="")
        return 0
    for i, (name, score) in enumerate(chosen, start=1):
        size = f", {sum(sizes[n] for n, _ in chosen[:i]):.1f} MB" if sizes else ""
        print(f"{i}. + {name:24s} 5-fold CV {score:.2%}{size}")
    if not args.nested:
        return 0
    outer = StratifiedKFold(5, shuffle=True, random_state=args.seed + 1)
    scores = []
    for k, (fit_rows, test_rows) in enumerate(outer.split(y, y), start=1):
        inner = {n: p[fit_rows] for n, p in probabilities.items()}
        names = [
            n
            for n, _ in forward_select(
                inner, y[fit_rows], args.max, args.seed, args.min_gain, **size_limit
            )
        ]
        ensemble = WeightedEnsemble(random_state=args.seed)
        ensemble.fit([inner[n] for n in names], y[fit_rows])
        score = ensemble.score([probabilities[n][test_rows] for n in names], y[test_rows])
        scores.append(score)
        print(f"outer fold {k}: chose {', '.join(names)}; {score:.2%} on the held-out fifth")
    print(
        f"nested estimate (selection and weights cross-validated): "
        f"{np.mean(scores):.2%} +- {np.std(scores):.2%}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
