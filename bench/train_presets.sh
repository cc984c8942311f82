#!/usr/bin/env bash
# Trains the CPU members of the bundled presets one after the other (2 CPU cores: never
# two at once), evaluates every candidate (and the GPU runs of bench/gpu_members.py,
# when their run folders are in RUNS_DIR), picks the "default" ensemble's members by
# cross-validated forward selection, packages it, and packages the "fast" single network.
# Every step is resumable or skipped when done: rerun after an interruption.
#   bash bench/train_presets.sh FEATURES.h5 RUNS_DIR
# The shipped presets (2026-11-26) came from exactly these commands.
set -euo pipefail
features=${1:?features file of emonet-extract-features}
runs=${2:?folder of the run folders}
here=$(dirname "$0")

train() {  # command name minutes args...
    local command=$1 out="$runs/$2" minutes=$3
    shift 3
    if [[ -f "$out/model.keras" ]]; then echo "$out: done"; return; fi
    local resume=()
    [[ -d "$out/checkpoints" ]] && resume=(--resume)
    "$command" "$features" --out "$out" --time-limit "$minutes" -q "${resume[@]}" "$@"
}

# the members of "default": the cpu recipe, compact and compact_features, seeds 1-4
train emonet-train compact_s1 40 --variant compact --seed 1
train emonet-train compact_features_s2 48 --variant compact_features --seed 2
train emonet-train compact_s3 42 --variant compact --seed 3
train emonet-train long_compact_s4 85 --variant compact --seed 4 --epochs 200
# AdamW at 85 minutes: the recipe of the best GPU run (gpu_adamw_s23)
train emonet-train adamw_s7 85 --variant compact --seed 7 --epochs 400 --optimizer adamw \
    --learning-rate 3e-3 --weight-decay 0.05 --batch-size 256 --erase 0.5 --translate 0.1 \
    --backbone-option dropout=0.1
train emonet-train adamw_s8 85 --variant compact --seed 8 --epochs 400 --optimizer adamw \
    --learning-rate 3e-3 --weight-decay 0.05 --batch-size 256 --erase 0.5 --translate 0.1 \
    --backbone-option dropout=0.1
# the features alone (bench/features_member.py weighs what they add)
train emonet-train features_s5 10 --variant features --seed 5 --epochs 30 \
    --optimizer adamw --learning-rate 1e-3 --weight-decay 0.05
# distillation: a student of the "default" installed when it runs (student_s6 had the
# second release's; measured, not shipped: docs/models.md)
train emonet-distill student_s6 20 --variant compact --seed 6 --teacher default --epochs 200
# The GPU runs (gpu_*): on a lent GPU machine, `python bench/gpu_members.py` (its
# docstring; docs/models.md, "Twelve minutes of a lent GPU"), run folders copied here.
mkdir -p "$runs/preds"
candidates=()
for run in "$runs"/*/; do
    name=$(basename "$run")
    [[ -f "$run/model.keras" && $name != features_s5 ]] || continue
    for mode in plain tta; do
        preds="$runs/preds/${name}_$mode.npz"
        flag=(); [[ $mode == tta ]] && flag=(--tta)
        [[ -f "$preds" ]] || emonet-evaluate "$run/model.keras" "$features" -o "$preds" \
            --name "$name" "${flag[@]}"
    done
    candidates+=("$runs/preds/${name}_tta.npz")
done
choose() { "${PYTHON:-python}" "$here/select_members.py" --runs "$runs" "$@"; }
# "fast": the best network on plain PublicTest of those under 8 MB (the compact width,
# over 2,000 crops/s on 2 cores), alone, without flip averaging
best=$(choose "${candidates[@]//_tta.npz/_plain.npz}" --max 1 --max-mb 8 --names-only)
"${PYTHON:-python}" "$here/package_preset.py" "$features" "$runs/$best" --no-tta \
    --out emonet/pretrained/fast --name fast --description \
    "one compact network (the best on PublicTest), no flip averaging; PublicTest accuracy in metrics"
# "default": forward selection within what the 40 MB of both presets leave
left=$(du -sb emonet/pretrained/fast | awk '{printf "%.2f", 40 - $1 / 1e6}')
choose "${candidates[@]}" --max 4 --max-mb "$left" --names-out "$runs/members.txt" \
    | tee "$runs/selection.txt"
members=($(cat "$runs/members.txt"))
"${PYTHON:-python}" "$here/package_preset.py" "$features" "${members[@]/#/$runs/}" \
    --out emonet/pretrained/default --name default \
    --confusion-png docs/img/default_confusion.png --description \
    "ensemble of ${#members[@]} networks chosen by cross-validated forward selection, flip averaging; PublicTest 5-fold CV accuracy in metrics"
