#!/usr/bin/env bash
# Trains the demo models under models/demo: synthetic cards in seven of the eight installed handwriting
# fonts (SteveHand is left out, to measure a hand the models never saw), a YOLO word detector and a small
# TrOCR-architecture recogniser trained from scratch with a character tokenizer (a ViT over 4-pixel
# columns of the word, a TrOCR decoder, an auxiliary CTC loss on the columns). The committed models are
# this script's, made with its defaults on a 2-core machine (models/demo/*/README.md): about an hour
# after the training set.
#
#   scripts/train-demo-models.sh [OUT]        (default var/demo-training)
#
# Both train at once, each on half the cores (on a GPU, both on it); then the recogniser goes on alone on
# every core for RECOGNIZER_MORE_MINUTES from where it got to (a second run from its weights, at a third of
# the learning rate).
# Settings by environment: CARDS (1500), WORKERS (all cores), DEVICE (auto), RECOGNIZER_MINUTES (40),
# RECOGNIZER_MORE_MINUTES (14), RECOGNIZER_BATCH (32; a GPU wants 256), DETECTOR_MINUTES (42; DETECTOR_EPOCHS
# instead, if set), FONT_DIR (a folder holding the font files by name; default: the Debian paths),
# KARTOTEKA (the command; default .venv/bin/kartoteka), TRAIN_UNTIL (a `date +%s` time by which both
# trainings end: their budgets become what is left after the training set, less a minute to save and
# validate). A training set already in OUT/data is used as it is.
set -euo pipefail

out=${1:-var/demo-training}
kartoteka=${KARTOTEKA:-.venv/bin/kartoteka}
cards=${CARDS:-1500}
workers=${WORKERS:-$(nproc)}
device=${DEVICE:-auto}
minutes=${RECOGNIZER_MINUTES:-40}
more_minutes=${RECOGNIZER_MORE_MINUTES:-14}
batch=${RECOGNIZER_BATCH:-32}
detector_minutes=${DETECTOR_MINUTES:-42}
threads=$(( $(nproc) / 2 > 0 ? $(nproc) / 2 : 1 ))

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
if [[ ! -f $out/data/detector/data.yaml ]]; then
    $kartoteka dataset synth "$out/data" --cards "$cards" --seed 100000 --workers "$workers" "${fonts[@]}"
    echo "train-demo-models: training set in $((SECONDS - started)) s"
fi
detector_budget=(--minutes "$detector_minutes")
[[ -z ${DETECTOR_EPOCHS:-} ]] || detector_budget=(--epochs "$DETECTOR_EPOCHS")
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
        "${detector_budget[@]}" --imgsz 416 --batch-size 16 --device "$device" --threads "$threads"
}
recognizer() {  # base, minutes, threads, peak learning rate
    # shellcheck disable=SC2086
    $kartoteka train recognizer --data "$out/data" --base "$1" --encoder vit --patch 32x4 --size small \
        --image-size 32x128 --out "$out/recognizer" --steps 100000 --minutes "$2" --batch-size "$batch" \
        --lr "$4" --eval-every 1000 --device "$device" --threads "$3"
}
detector > "$out/detector.log" 2>&1 &
detector_pid=$!
recognizer scratch "$minutes" "$threads" 1e-3 2>&1 | tee "$out/recognizer.log"
wait "$detector_pid" || { tail -30 "$out/detector.log"; exit 1; }
tail -3 "$out/detector.log"
if [[ $more_minutes != 0 ]]; then
    rm -rf "$out/recognizer-first" && mv "$out/recognizer" "$out/recognizer-first"
    recognizer "$out/recognizer-first" "$more_minutes" "$(nproc)" 3e-4 2>&1 | tee -a "$out/recognizer.log"
fi
echo "train-demo-models: done in $((SECONDS - started)) s"
