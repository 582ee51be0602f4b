#!/usr/bin/env bash
# scripts/train-demo-models.sh on a GPU machine that has PyTorch but not this project's environment and no
# network (a lent accelerator): what it lacks travels with the checkout.
#
#   scripts/train-demo-models-gpu.sh prepare     # here: wheels for Python 3.12 into .whl, font subsets into .devfonts
#   scripts/train-demo-models-gpu.sh run OUT     # there, in the checkout, with .whl and .devfonts beside it
#
# The fonts are subset to the characters the cards use (they render the same pixels, 0.3 MB instead of 77 MB).
# polars (54 MB) is replaced by a stub: ultralytics reads its results.csv with it inside a try, nothing more.
# BUDGET_S (530) is the seconds from the start by which training ends (TRAIN_UNTIL of train-demo-models.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

case ${1:-} in
prepare)
    rm -rf .whl .devfonts && mkdir -p .whl .devfonts
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
        transformers==4.57.6 tokenizers==0.22.2 huggingface-hub==0.36.2 ultralytics==8.4.190 ultralytics-thop==2.2.3 \
        pydantic==2.14.3 pydantic-core==2.50.4 pydantic-settings==2.16.3 annotated-types==0.8.0 \
        typing-inspection==0.4.5 python-dotenv==1.2.4
    text="абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ0123456789.,;:-–—«»()!? lI"
    for name in KleeOne-Regular KleeOne-SemiBold setofont kiloji kiloji_b kiloji_p kiloji_d SteveHand; do
        font=$(find /usr/share/fonts/truetype -name "$name.ttf" -print -quit)
        .venv/bin/pyftsubset "$font" --drop-tables+=gasp --text="$text" --unicodes="U+0300-036F,U+203F" \
            --output-file=".devfonts/$name.ttf"
    done
    du -sh .whl .devfonts
    ;;
run)
    out=${2:?an output directory}
    export PYTHONUNBUFFERED=1
    t0=$(date +%s)
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    mkdir -p /tmp/site/polars
    echo 'def read_csv(*a, **k): raise RuntimeError("polars is not installed here")' >/tmp/site/polars/__init__.py
    export PYTHONPATH=/tmp/site:$PWD/src
    python3 -c "import torch, transformers, ultralytics; print(torch.__version__, transformers.__version__,
ultralytics.__version__, torch.cuda.is_available())"
    export WORKERS=${WORKERS:-$(( $(nproc) - 1 ))} FONT_DIR=.devfonts KARTOTEKA="python3 -m kartoteka.entrypoint"
    export CARDS=${CARDS:-1600} RECOGNIZER_MORE_MINUTES=0 RECOGNIZER_BATCH=${RECOGNIZER_BATCH:-256}
    export TRAIN_UNTIL=$((t0 + ${BUDGET_S:-530}))
    timeout $(( ${BUDGET_S:-530} + 25 )) scripts/train-demo-models.sh "$out"
    ;;
*)
    echo "usage: $0 prepare | run OUT" >&2
    exit 2
    ;;
esac
