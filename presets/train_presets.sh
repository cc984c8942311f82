#!/usr/bin/env bash
# Trains the CPU members of the bundled presets one after the other (2 CPU cores: never
# two at once), evaluates every candidate (and the GPU runs of presets/gpu_members.py,
# when their run folders are in RUNS_DIR), picks the "default" ensemble's members by
# cross-validated forward selection and packages it, distils a student of it, and
# packages the best single network of the right size, students included, as "fast";
# both presets ship their networks' int8 copies (emonet.models.quantize_model).
# Every step is resumable or skipped when done: rerun after an interruption.
#   bash presets/train_presets.sh FEATURES.h5 RUNS_DIR
# The shipped presets (2026-11-27) came from exactly these commands.
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
# the features alone (bench/features_member.py weighs what they add)
train emonet-train features_s5 10 --variant features --seed 5 --epochs 30 \
    --optimizer adamw --learning-rate 1e-3 --weight-decay 0.05
# distillation: a student of the "default" installed when it runs (student_s6 had the
# second release's; measured, not shipped: docs/models.md)
train emonet-distill student_s6 20 --variant compact --seed 6 --teacher default --epochs 200
# The GPU runs (gpu_*): on a lent GPU machine, `python presets/gpu_members.py` (its
# docstring; docs/models.md, "Twelve minutes of a lent GPU" and "Fourteen minutes of a
# second lent GPU"), run folders copied here.
choose() { "${PYTHON:-python}" "$here/select_members.py" --runs "$runs" "$@"; }
package() { "${PYTHON:-python}" "$here/package_preset.py" "$features" "$@"; }
evaluate() {  # run folder, test-time augmentations... -> PublicTest predictions
    local name run=$1
    name=$(basename "$run")
    shift
    for mode in "$@"; do
        local preds="$runs/preds/${name}_$mode.npz" flag=()
        # flip averaging's files are named _tta, as when it was the only augmentation
        [[ $mode == tta ]] && flag=(--tta)
        [[ $mode == multiscale ]] && flag=(--tta-multiscale)
        [[ -f "$preds" ]] || emonet-evaluate "$run/model.keras" "$features" -o "$preds" \
            --name "$name" "${flag[@]}"
    done
}
mkdir -p "$runs/preds"
networks=()  # every network trained on the labels: the candidates of "default"
for run in "$runs"/*/; do
    name=$(basename "$run")
    [[ -f "$run/model.keras" && $name != features_s5 && $name != *student* ]] || continue
    evaluate "$run" plain tta multiscale
    networks+=("$runs/preds/${name}_multiscale.npz")
done
# "default": forward selection within 32 MB of float32 files (a quarter of that in int8),
# on the predictions with mirror images at three zooms, the preset's test-time
# augmentation
choose "${networks[@]}" --max 4 --max-mb 32 --names-out "$runs/members.txt" \
    | tee "$runs/selection.txt"
members=($(cat "$runs/members.txt"))
# shipped in int8 (emonet-quantize's .tflite files): twice the speed, a quarter the size
package "${members[@]/#/$runs/}" --out emonet/pretrained/default --name default \
    --tta multiscale --quantize int8 --confusion-png docs/img/default_confusion.png \
    --description "ensemble of ${#members[@]} int8 networks chosen by cross-validated forward selection, mirror images at three zooms averaged; PublicTest 5-fold CV accuracy in metrics"
# a student of that "default" (the AdamW recipe of adamw_s7, no label smoothing)
train emonet-distill student_s9 80 --variant compact --seed 9 --teacher default \
    --epochs 400 --optimizer adamw --learning-rate 3e-3 --weight-decay 0.05 \
    --batch-size 256 --erase 0.5 --translate 0.1 --backbone-option dropout=0.1
# consistent teaching: the teacher labels 8 augmented copies of each face, the student
# learns its probabilities on exactly those faces (temperature 1, no labels mixed in)
train emonet-distill student_s10 110 --variant compact --seed 10 --teacher default \
    --teacher-views 8 --temperature 1 --alpha 0 --epochs 60 --optimizer adamw \
    --learning-rate 3e-3 --weight-decay 0.05 --batch-size 256 --erase 0.5 --translate 0.1 \
    --backbone-option dropout=0.1
# sixteen copies (on eight, the student's agreement with its teacher kept rising while
# PublicTest levelled off): 69.57%, below student_s10
train emonet-distill student_s11 105 --variant compact --seed 11 --teacher default \
    --teacher-views 16 --temperature 1 --alpha 0 --epochs 30 --optimizer adamw \
    --learning-rate 3e-3 --weight-decay 0.05 --batch-size 256 --erase 0.5 --translate 0.1 \
    --backbone-option dropout=0.1
# a student that starts from a network trained on the labels (gpu_adamw_s55, 8.5 GPU
# minutes) at a third of the learning rate, on student_s10's copies: the same seed, so
# student_s10's teacher.npz, copied in, spares the teacher's 11 minutes
warm_student() {  # name minutes args...
    local name=$1 minutes=$2
    shift 2
    if [[ -f "$runs/student_s10/teacher.npz" && ! -e "$runs/$name" ]]; then
        mkdir -p "$runs/$name"
        cp "$runs/student_s10/teacher.npz" "$runs/$name/"
    fi
    train emonet-distill "$name" "$minutes" --variant compact --seed 10 \
        --initial-model "$runs/gpu_adamw_s55" --teacher default --teacher-views 8 \
        --temperature 1 --alpha 0 --epochs 60 --optimizer adamw --learning-rate 1e-3 \
        --weight-decay 0.05 --batch-size 256 --erase 0.5 --translate 0.1 \
        --backbone-option dropout=0.1 "$@"
}
if [[ -f "$runs/gpu_adamw_s55/model.keras" ]]; then
    # the standard width: 70.19% (102.2 minutes), "fast" of the sixth release
    warm_student student_warm_s10 105
    # 25% wider in the last block (320 channels): gpu_adamw_s55's weights in place, the
    # new channels starting at zero effect (emonet.models.transfer_weights); 0.89x the
    # training speed, 0.99x the crops/s, 9.0 MB: 70.72% (99.8 minutes), "fast". Its
    # teacher was the seventh release's "default" (flips), in student_s10's teacher.npz;
    # run from nothing, these students learn from the "default" packaged above
    warm_student student_wide_s10 100 --backbone-option 'widths=[32,64,128,320]'
fi
students=()
for run in "$runs"/*student*/; do
    [[ -f "$run/model.keras" ]] || continue
    evaluate "$run" plain tta
    students+=("$runs/preds/$(basename "$run")_tta.npz")
done
# "fast": the best network on PublicTest with flip averaging, students included, of the
# compact width or 25% wider in its last block (at most 9.5 MB in float32), alone, in
# int8: over 2,000 crops/s on 2 cores with its mirror images
best=$(choose "${networks[@]//_multiscale.npz/_tta.npz}" "${students[@]}" --max 1 \
    --max-mb 9.5 --names-only)
package "$runs/$best" --tta flip --quantize int8 --out emonet/pretrained/fast --name fast \
    --description "one int8 compact network (the best on PublicTest), flip averaging; PublicTest accuracy in metrics"
