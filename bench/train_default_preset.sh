#!/usr/bin/env bash
# Trains the members of the bundled "default" preset, one after the other (2 CPU cores:
# never two at once). Each run is resumable: rerun this script after an interruption.
#   bash bench/train_default_preset.sh FEATURES.h5 RUNS_DIR [MINUTES_PER_MODEL]
# Then bench/package_preset.py evaluates the runs, fits the ensemble and writes the preset:
#   python bench/package_preset.py FEATURES.h5 RUNS_DIR/compact_s1 \
#       RUNS_DIR/compact_features_s2 RUNS_DIR/compact_s3 --out emonet/pretrained/default
# The shipped preset (2026-11-26): time limits of 40, 48 and 42 minutes, in this order.
set -euo pipefail
features=${1:?features file of emonet-extract-features}
runs=${2:?folder of the run folders}
minutes=${3:-40}
train() {  # name variant seed
    local out="$runs/$1"
    if [[ -f "$out/model.keras" ]]; then echo "$out: done"; return; fi
    local resume=()
    [[ -d "$out/checkpoints" ]] && resume=(--resume)
    emonet-train "$features" --variant "$2" --seed "$3" --out "$out" \
        --time-limit "$minutes" -q "${resume[@]}"
}
train compact_s1 compact 1
train compact_features_s2 compact_features 2
train compact_s3 compact 3
