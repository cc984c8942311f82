#!/usr/bin/env bash
# Trains the members of the bundled presets one after the other (2 CPU cores: never two
# at once), packages the "default" ensemble, distils it into a student, and packages the
# "fast" single network. Every step is resumable or skipped when done: rerun after an
# interruption.
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
# the features alone (bench/features_member.py weighs what they add)
train emonet-train features_s5 10 --variant features --seed 5 --epochs 30 \
    --optimizer adamw --learning-rate 1e-3 --weight-decay 0.05
# "default": the members the ensemble weights kept (compact_s1 and features_s5 got
# 0.035 and 0.018-0.030 among more, and were left out)
"${PYTHON:-python}" "$here/package_preset.py" "$features" "$runs/long_compact_s4" \
    "$runs/compact_s3" "$runs/compact_features_s2" --out emonet/pretrained/default \
    --name default --confusion-png docs/img/default_confusion.png --description \
    "ensemble of 3 CPU-trained networks (2 compact, 1 compact_features), flip averaging; PublicTest 5-fold CV accuracy in metrics"
# "fast": the best member alone, without flip averaging. The student that emonet-distill
# trained in 20 minutes on the default ensemble's probabilities scored 63.42%, below this
# member's 67.87% (docs/models.md), so it was measured and not shipped.
train emonet-distill student_s6 20 --variant compact --seed 6 --teacher default --epochs 200
"${PYTHON:-python}" "$here/package_preset.py" "$features" "$runs/long_compact_s4" --no-tta \
    --out emonet/pretrained/fast --name fast --description \
    "one compact network (the best member of default), no flip averaging; PublicTest accuracy in metrics"
