#!/bin/sh
# After queue 1 (pid $1): the AdamW check, then the sequential variant with as many steps as fit
# before $2 (epoch seconds), measured from a 30-step speed test. Rerun to resume.
cd "$(dirname "$0")/.."
while kill -0 "$1" 2>/dev/null; do sleep 10; done
export PYTHONPATH="$PWD"
PY=/work/main/.venv/bin/python
[ -f investigation/adamw_check.json ] || $PY -m builder.training.investigate adamw
[ -f investigation/batch_check.json ] || $PY -m builder.training.investigate batch
STEPS=$($PY - "$2" <<'PY'
import sys, time, dataclasses, torch
from builder.training import investigate as I, tasks, experiments, trainer
torch.set_num_threads(1)
spec = I.base_spec()
data = tasks.modular_addition(spec["p"], spec["train_fraction"], spec["split_seed"])
cfg = experiments.train_config([{**spec, "seed": s, "steps": 30, "metrics": 2, "checkpoints": 0} for s in I.SEEDS])
model = dataclasses.replace(experiments.model_config(spec), sequential=True)
t = time.perf_counter(); trainer.train(data, model, cfg, progress=False); rate = 30 / (time.perf_counter() - t)
left = float(sys.argv[1]) - time.time()
print(f"sequential: {rate:.2f} steps/s for 16 models", file=sys.stderr)
print(max(2000, min(30000, int(left * rate * 0.9) // 1000 * 1000)))
PY
)
echo "sequential steps: $STEPS"
exec $PY -m builder.training.investigate run "sequential:$STEPS"
