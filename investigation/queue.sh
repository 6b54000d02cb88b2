#!/bin/sh
# The investigation's queue, one process, one thread; rerun to resume (finished variants skip).
cd "$(dirname "$0")/.." && exec env PYTHONPATH="$PWD" /work/main/.venv/bin/python -m builder.training.investigate run "$@"
