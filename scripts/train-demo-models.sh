#!/usr/bin/env bash
# Trains the demo models committed under models/demo: synthetic cards in seven of the eight installed
# handwriting fonts (SteveHand is left out, to measure a hand the models never saw), a YOLO word
# detector and a small TrOCR-architecture recogniser trained from scratch with a character tokenizer.
#
#   scripts/train-demo-models.sh [OUT]        (default var/demo-training)
#
# Settings by environment: CARDS (1600), WORKERS (all cores), DEVICE (auto), RECOGNIZER_MINUTES (5),
# DETECTOR_EPOCHS (40), FONT_DIR (a folder holding the font files by name; default: the Debian paths),
# KARTOTEKA (the command; default .venv/bin/kartoteka), TRAIN_UNTIL (a `date +%s` time by which both
# trainings end: their budgets become what is left after the training set, less a minute to save and
# validate; the detector then trains by the clock rather than for DETECTOR_EPOCHS). On a GPU both
# models train at once.
set -euo pipefail

out=${1:-var/demo-training}
kartoteka=${KARTOTEKA:-.venv/bin/kartoteka}
cards=${CARDS:-1600}
workers=${WORKERS:-$(nproc)}
device=${DEVICE:-auto}
minutes=${RECOGNIZER_MINUTES:-5}
epochs=${DETECTOR_EPOCHS:-40}

fonts=()
for name in KleeOne-Regular KleeOne-SemiBold setofont kiloji kiloji_b kiloji_p kiloji_d; do
    if [[ -n ${FONT_DIR:-} && -f $FONT_DIR/$name.ttf ]]; then
        fonts+=(--font "$FONT_DIR/$name.ttf")
    else
        found=$(find /usr/share/fonts/truetype -name "$name.ttf" -print -quit)
        [[ -n $found ]] || { echo "train-demo-models: font $name not found (make setup-test installs it)" >&2; exit 2; }
        fonts+=(--font "$found")
    fi
done

mkdir -p "$out"
started=$SECONDS
# shellcheck disable=SC2086 # $kartoteka may be a command with arguments (python -m ...)
$kartoteka dataset synth "$out/data" --cards "$cards" --seed 100000 --workers "$workers" "${fonts[@]}"
echo "train-demo-models: training set in $((SECONDS - started)) s"
detector_budget=(--epochs "$epochs")
if [[ -n ${TRAIN_UNTIL:-} ]]; then
    left=$(( (TRAIN_UNTIL - $(date +%s) - 60) ))
    (( left > 60 )) || { echo "train-demo-models: no time left to train (TRAIN_UNTIL)" >&2; exit 2; }
    minutes=$(python3 -c "print(round($left / 60, 2))")
    detector_budget=(--minutes "$minutes")
    echo "train-demo-models: $minutes min left for training"
fi

detector() {
    # shellcheck disable=SC2086
    $kartoteka train detector --data "$out/data" --base yolo11n.yaml --out "$out/detector" \
        "${detector_budget[@]}" --imgsz 640 --batch-size 32 --device "$device"
}
recognizer() {
    # shellcheck disable=SC2086
    $kartoteka train recognizer --data "$out/data" --base scratch --size small --image-size 48x256 \
        --out "$out/recognizer" --steps 100000 --minutes "$minutes" --batch-size 128 --lr 1e-3 \
        --eval-every 1000 --precision bf16 --device "$device"
}
if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    detector > "$out/detector.log" 2>&1 &
    recognizer 2>&1 | tee "$out/recognizer.log"
    wait $! || { tail -30 "$out/detector.log"; exit 1; }
    tail -5 "$out/detector.log"
else
    detector 2>&1 | tee "$out/detector.log"
    recognizer 2>&1 | tee "$out/recognizer.log"
fi
echo "train-demo-models: done in $((SECONDS - started)) s"
