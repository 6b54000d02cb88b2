"""Issue 19: why do our sister runs of [mod-top] generalize less often than the reference's?

Controlled experiments: each variant trains seeds 1-16 of the sister sweep (seeds-mod-top: the
same split, split_seed 0, the same settings) as one batch through builder.training.trainer, with
one change against the control (the project's algorithm as frozen). Run from the repository root:

    python -m builder.training.investigate run VARIANT[:STEPS] ...     # resumable
    python -m builder.training.investigate report                      # investigation/REPORT table
    python -m builder.training.investigate adamw                       # ours vs torch.optim.AdamW

Results go to investigation/<variant>.json; the trainer's state to investigation/state/ (a killed
run resumes from it). A probe logs, at a few steps during the plateau after memorization, how
Adam's epsilon compares with sqrt(v_hat) and how many gradient values are subnormal.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from builder.paths import ROOT
from builder.training import config, experiments, models, sweep, tasks, trainer

OUT = ROOT / "investigation"
SEEDS = tuple(range(1, 17))
TINY = torch.finfo(torch.float32).tiny  # smallest normal float32, 1.18e-38
THRESHOLD = 1e-3  # "generalized": test loss below this (as the article counts)
PROBE_STEPS = (100, 500, 1000, 2000, 3000, 5000, 7500, 10000, 15000, 20000, 25000, 30000,
               40000, 50000)

# name -> changes against the control. steps: the budget (metrics every 100 steps).
VARIANTS = {
    "control": {},
    "eps1e-12": {"eps": 1e-12},       # (a) epsilon far below sqrt(v_hat)
    "no-flush": {"flush_denormal": False},  # (b) subnormals kept, as on the reference's GPU
    "sequential": {"sequential": True},    # (c) the reference's order of products
}
DEFAULTS = {"steps": 30000, "eps": 1e-8, "flush_denormal": True, "sequential": False}


def settings(name: str, steps: int | None = None) -> dict:
    out = {**DEFAULTS, **VARIANTS[name]}
    if steps is not None:
        out["steps"] = steps
    return out


def base_spec() -> dict:
    """The sister sweep's run settings (every run of seeds-mod-top but its seed)."""
    plan = sweep.plan(config.get("seeds-mod-top", ROOT).resolve())
    return plan.runs[0]


def probe_stats(step, params, moments, cfg, model, train_set, flush: bool) -> dict:
    """Per model (lists of M numbers): sqrt(v_hat) against eps, zeros and subnormals."""
    beta1, beta2 = cfg.betas
    bias2 = 1 - beta2 ** step
    out = {}
    with torch.no_grad():
        flat_sv = []
        for name, (m, v) in moments.items():
            sv = (v / bias2).sqrt().flatten(1)
            flat_sv.append(sv)
            out[f"{name}_sqrt_vhat_median"] = sv.median(dim=1).values.tolist()
            out[f"{name}_share_sqrt_vhat_below_eps"] = (sv < cfg.eps).float().mean(1).tolist()
        sv = torch.cat(flat_sv, dim=1)
        out["sqrt_vhat_over_eps_median"] = (sv.median(dim=1).values / cfg.eps).tolist()
        out["share_sqrt_vhat_below_eps"] = (sv < cfg.eps).float().mean(1).tolist()
        out["share_sqrt_vhat_below_10eps"] = (sv < 10 * cfg.eps).float().mean(1).tolist()
        # how much of the eps-free step size a coordinate gets: sqrt(v_hat) / (sqrt(v_hat) + eps)
        out["step_kept_median"] = (sv / (sv + cfg.eps)).median(dim=1).values.tolist()
        m_all = torch.cat([m.flatten(1) for m, _ in moments.values()], dim=1)
        v_all = torch.cat([v.flatten(1) for _, v in moments.values()], dim=1)
        out["share_m_zero"] = (m_all == 0).float().mean(1).tolist()
        out["share_m_subnormal"] = ((m_all != 0) & (m_all.abs() < TINY)).float().mean(1).tolist()
        out["share_v_zero"] = (v_all == 0).float().mean(1).tolist()
        out["share_v_subnormal"] = ((v_all != 0) & (v_all < TINY)).float().mean(1).tolist()

    # The gradient at the current parameters computed both ways: denormals flushed and kept.
    names = list(params)
    grads = {}
    for mode in (True, False):
        torch.set_flush_denormal(mode)
        g = torch.autograd.grad(trainer.objective(params, model, cfg, *train_set),
                                [params[k] for k in names])
        grads[mode] = torch.cat([x.flatten(1) for x in g], dim=1)
    with torch.no_grad():
        # d loss / d logits = (softmax - onehot) / (N p), kept-denormal arithmetic
        logits = model.forward(params, train_set[0])
        n, p = logits.shape[1], logits.shape[2]
        d_logits = torch.softmax(logits, dim=-1)
        d_logits.scatter_add_(-1, train_set[1].expand(logits.shape[0], -1).unsqueeze(-1),
                              -torch.ones(logits.shape[0], n, 1))
        d_logits = (d_logits / (n * p)).flatten(1)
        # counted with denormals kept: under flushing (DAZ) a subnormal compares equal to 0
        # (runs before this fix logged 0 subnormals wherever flush_denormal was on)
        kept, flushed = grads[False], grads[True]
        out["share_dlogits_subnormal"] = ((d_logits != 0) & (d_logits.abs() < TINY)).float().mean(1).tolist()
        out["share_dlogits_zero"] = (d_logits == 0).float().mean(1).tolist()
        out["share_grad_subnormal"] = ((kept != 0) & (kept.abs() < TINY)).float().mean(1).tolist()
        out["share_grad_zero_flushed"] = (flushed == 0).float().mean(1).tolist()
        out["share_grad_zero_kept"] = (kept == 0).float().mean(1).tolist()
        out["grad_abs_median"] = kept.abs().median(dim=1).values.tolist()
        out["grad_flush_rel_diff"] = ((kept - flushed).norm(dim=1) / kept.norm(dim=1)).tolist()
    torch.set_flush_denormal(flush)
    out.update(precision_stats(params, model, cfg, train_set))
    return out


def precision_stats(params, model, cfg, train_set) -> dict:
    """Per model: how far the float32 gradient is from the float64 gradient at the same (float32)
    parameters, and on how many training examples float32 rounds the correct class's probability
    to exactly 1, so that its logit gets no gradient (softmax collapse)."""
    names = list(params)

    def grad(dtype):
        ps = {k: params[k].detach().to(dtype).requires_grad_(True) for k in names}
        one_a, one_b = train_set[0]
        inputs = (one_a.to(dtype), one_b.to(dtype))
        g = torch.autograd.grad(trainer.objective(ps, model, cfg, inputs, train_set[1]),
                                [ps[k] for k in names])
        return torch.cat([x.flatten(1).double() for x in g], dim=1), ps, inputs

    g32, ps32, in32 = grad(torch.float32)
    g64, ps64, in64 = grad(torch.float64)
    with torch.no_grad():
        y = train_set[1].expand(g32.shape[0], -1).unsqueeze(-1)
        p32 = torch.log_softmax(model.forward(ps32, in32), -1).gather(-1, y).exp().squeeze(-1)
        lp64 = torch.log_softmax(model.forward(ps64, in64), -1).gather(-1, y).squeeze(-1)
        return {
            "grad32_vs_64_rel_err": ((g32 - g64).norm(dim=1) / g64.norm(dim=1)).tolist(),
            "grad32_vs_64_cosine": ((g32 * g64).sum(1) / (g32.norm(dim=1) * g64.norm(dim=1))).tolist(),
            "share_examples_p_correct_is_1_in_float32": (p32 == 1).double().mean(1).tolist(),
            "median_example_loss_float64": (-lp64).median(dim=1).values.tolist(),
        }


class Log:
    """The probe's records and the CPU seconds spent, in investigation/state/<name>.log.json;
    kept across resumes (a step logged twice keeps its last record)."""

    def __init__(self, path: Path, key: str):
        self.path = path
        old = json.loads(path.read_text()) if path.exists() else {}
        if old.get("key") != key:
            old = {}
        self.key = key
        self.probes = old.get("probes", {})
        self.cpu_before = old.get("cpu_s", 0.0)
        self.start = time.process_time()

    def cpu_s(self) -> float:
        return self.cpu_before + time.process_time() - self.start

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"key": self.key, "cpu_s": self.cpu_s(), "probes": self.probes}))
        tmp.replace(self.path)


@trainer.one_thread()
def run_variant(name: str, steps: int | None = None, seeds=SEEDS) -> dict:
    s = settings(name, steps)
    spec = base_spec()
    specs = [{**spec, "seed": seed, "steps": s["steps"], "eps": s["eps"],
              "metrics": s["steps"] // 100 + 1, "checkpoints": s["steps"] // 2000 + 1}
             for seed in seeds]
    data = tasks.modular_addition(spec["p"], spec["train_fraction"], spec["split_seed"])
    model = dataclasses.replace(experiments.model_config(spec), sequential=s["sequential"])
    cfg = experiments.train_config(specs)
    key = hashlib.sha256(json.dumps({"settings": s, "seeds": list(seeds), "spec": spec,
                                     "v": 1}, sort_keys=True).encode()).hexdigest()
    log = Log(OUT / "state" / f"{name}.log.json", key)
    train_set = (model.encode(data.train_x), data.train_y)
    probe_steps = {t for t in PROBE_STEPS if t <= s["steps"]}

    def probe(step, params, grads, moments):
        if step in probe_steps:
            log.probes[str(step)] = probe_stats(step, params, moments, cfg, model, train_set,
                                                s["flush_denormal"])
        if step in probe_steps or step % 500 == 0:
            log.save()

    wall = time.perf_counter()
    out = trainer.train(data, model, cfg, state_path=OUT / "state" / f"{name}.pt", state_key=key,
                        save_every_s=60.0, desc=name, flush_denormal=s["flush_denormal"],
                        probe=probe, progress=sys.stderr.isatty())
    log.save()
    result = {
        "variant": name, "settings": s, "seeds": list(seeds), "cpu_s": round(log.cpu_s(), 1),
        "wall_s_last_session": round(time.perf_counter() - wall, 1),
        "torch": torch.__version__,
        "metric_step": out["metric_step"].tolist(),
        **{k: out[k].tolist() for k in ("train_loss", "test_loss", "train_acc", "test_acc",
                                        "l2_norm")},
        "probes": log.probes,
        # the collapsed input matrix at each checkpoint, for comparing runs (float16 as frozen)
        "checkpoint_step": out["checkpoint_step"].tolist(),
    }
    OUT.mkdir(exist_ok=True)
    np.savez_compressed(OUT / "state" / f"{name}-weights.npz", w_in=out["w_in"].astype(np.float16),
                        w_out=out["w_out"].astype(np.float16),
                        checkpoint_step=out["checkpoint_step"])
    (OUT / f"{name}.json").write_text(json.dumps(result))
    torch.save({k[len("final_"):]: torch.from_numpy(v) for k, v in out.items()
                if k.startswith("final_")}, OUT / "state" / f"{name}-final.pt")
    (OUT / "state" / f"{name}.pt").unlink(missing_ok=True)
    return result


# ---- summaries -------------------------------------------------------------------------------

def summarize(steps, test_loss, budget: int) -> dict:
    """Counts and medians from per-seed test-loss curves (seeds x logged steps)."""
    steps = np.asarray(steps)
    test_loss = np.asarray(test_loss, dtype=np.float64)
    below = test_loss < THRESHOLD
    first = [int(steps[np.argmax(row)]) if row.any() else None for row in below]
    out = {"n": len(first), "first_generalized": first}
    for k in (10000, 20000, 30000, 40000, 50000):
        if k <= budget:
            out[f"by_{k // 1000}k"] = sum(f is not None and f <= k for f in first)
    done = [f for f in first if f is not None]
    out["first_median"] = float(np.median(done)) if done else None
    out["first_range"] = [min(done), max(done)] if done else None
    for k in (2000, 10000, 20000, 30000):
        if k <= budget:
            i = int(np.argmin(np.abs(steps - k)))
            out[f"median_test_loss_{k // 1000}k"] = float(np.median(test_loss[:, i]))
    out["final_below"] = int((test_loss[:, -1] < THRESHOLD).sum())
    return out


def frozen_control(seeds=SEEDS) -> dict:
    """The frozen sister runs (seeds-mod-top) of the same seeds: their 101-point curves."""
    rows, steps = {}, None
    for f in sorted((ROOT / "content/_freeze/seeds-mod-top/shards").glob("*.npz")):
        z = np.load(f)
        steps = z["curve_step"]
        for i, run in enumerate(z["run"]):
            rows[int(run) + 1] = z["test_curve"][i]  # run index i is seed i + 1
    picked = [s for s in seeds if s in rows]
    return {"metric_step": steps, "test_loss": np.stack([rows[s] for s in picked]),
            "seeds": picked}


REFERENCE = {"n": 450, "share_by": {"20k": 0.27, "30k": 0.58, "40k": 0.82}, "by_50k": 445,
             "median_test_loss": {"2k": 1.40, "10k": 0.81, "20k": 0.25}}  # from issue 19
OURS_64 = {"share_by": {"20k": 0.11, "30k": 0.28, "40k": 0.38}, "by_50k": 32,
           "median_test_loss": {"2k": 1.63, "10k": 1.22, "20k": 0.94}}  # from issue 19


def probe_row(probes: dict, step: int) -> dict | None:
    """Medians over the seeds of one probe step's per-seed numbers."""
    rec = probes.get(str(step))
    return None if rec is None else {k: float(np.median(v)) for k, v in rec.items()}


def fmt(x, digits=2):
    if x is None:
        return "-"
    return f"{x:.{digits}f}" if abs(x) >= 0.01 else f"{x:.1e}"


def report() -> str:
    """The results table (markdown) of every finished variant, the frozen runs and the reference."""
    rows = []
    header = ("| variant | seeds | steps | generalized by 10k / 20k / 30k | first step < 1e-3: "
              "median (range) | test-loss median 2k / 10k / 20k | sqrt(v_hat)/eps median, "
              "share < eps (2k; 10k; 20k) | subnormal share: d logits, grad (max over probes) "
              "| grad rel. change if flushed (max) | CPU s |")
    rows.append(header)
    rows.append("|" + "---|" * (header.count("|") - 1))
    summary = {}
    for name in VARIANTS:
        f = OUT / f"{name}.json"
        if not f.exists():
            continue
        r = json.loads(f.read_text())
        budget = r["settings"]["steps"]
        sm = summarize(r["metric_step"], r["test_loss"], budget)
        summary[name] = {**sm, "cpu_s": r["cpu_s"], "steps": budget}
        by = " / ".join(str(sm.get(f"by_{k}k", "-")) for k in (10, 20, 30))
        first = "-" if sm["first_median"] is None else \
            f"{sm['first_median']:.0f} ({sm['first_range'][0]}-{sm['first_range'][1]})"
        med = " / ".join(fmt(sm.get(f"median_test_loss_{k}k")) for k in (2, 10, 20))
        eps_cells = []
        for t in (2000, 10000, 20000):
            pr = probe_row(r["probes"], t)
            eps_cells.append("-" if pr is None else
                             f"{pr['sqrt_vhat_over_eps_median']:.2f}, {pr['share_sqrt_vhat_below_eps']:.2f}")
        if r["settings"]["flush_denormal"]:  # counted under DAZ by the probe: not measured
            subnormal = "flushed (see subnormals.json)"
        else:
            subnormal = ", ".join(fmt(max(max(v[k]) for v in r["probes"].values())) for k in
                                  ("share_dlogits_subnormal", "share_grad_subnormal"))
        flush_diff = max(max(v["grad_flush_rel_diff"]) for v in r["probes"].values())
        rows.append(f"| {name} | {len(r['seeds'])} | {budget:,} | {by} | {first} | {med} | "
                    f"{'; '.join(eps_cells)} | {subnormal} | {fmt(flush_diff)} | "
                    f"{r['cpu_s']:.0f} |")
    frozen = frozen_control()
    fs = summarize(frozen["metric_step"], frozen["test_loss"], 50000)
    summary["frozen seeds 1-16"] = fs
    rows.append(f"| frozen sister runs, seeds 1-16 (500-step grid) | {fs['n']} | 50,000 | "
                f"{fs['by_10k']} / {fs['by_20k']} / {fs['by_30k']} (by 40k {fs['by_40k']}, 50k "
                f"{fs['by_50k']}) | {fs['first_median']:.0f} ({fs['first_range'][0]}-"
                f"{fs['first_range'][1]}) | " + " / ".join(
                    fmt(fs[f'median_test_loss_{k}k']) for k in (2, 10, 20)) + " | | | | |")
    for last in (64, 128):  # the first 64 sister runs, then all of them
        every = frozen_control(range(1, last + 1))
        if len(every["seeds"]) < last:
            continue
        fa = summarize(every["metric_step"], every["test_loss"], 50000)
        summary[f"frozen seeds 1-{last}"] = fa
        rows.append(f"| frozen sister runs, seeds 1-{last} | {last} | 50,000 | {fa['by_10k']} / {fa['by_20k']}"
                    f" / {fa['by_30k']} (by 40k {fa['by_40k']}, 50k {fa['by_50k']}) | "
                    f"{fa['first_median']:.0f} ({fa['first_range'][0]}-{fa['first_range'][1]}) | "
                    + " / ".join(fmt(fa[f'median_test_loss_{k}k']) for k in (2, 10, 20)) + " | | | | |")
    partial = OUT / "sequential.partial.json"
    if partial.exists() and not (OUT / "sequential.json").exists():  # the reference order, unfinished
        r = json.loads(partial.read_text())
        sm = summarize(r["metric_step"], r["test_loss"], r["reached_step"])
        summary["sequential (partial)"] = sm
        rows.append(f"| sequential, unfinished (reached step {r['reached_step']:,}) | {sm['n']} | "
                    f"{r['reached_step']:,} | - | - | {fmt(sm['median_test_loss_2k'])} / - / - | | | | "
                    f"{r['cpu_s']:.0f} |")
    ref = REFERENCE
    rows.append(f"| reference sweep (issue 19) | {ref['n']} | 50,000 | - / "
                + " / ".join(f"{ref['share_by'][k]:.0%}" for k in ("20k", "30k"))
                + f" (by 40k {ref['share_by']['40k']:.0%}, 50k {ref['by_50k']}) | - | "
                + " / ".join(f"{ref['median_test_loss'][k]:.2f}" for k in ("2k", "10k", "20k")) + " | | | | |")
    (OUT / "summary.json").write_text(json.dumps(summary, indent=1))
    return "\n".join(rows)


# ---- (d, e): our trainer against torch.optim.AdamW ---------------------------------------------

def torch_adamw(model, params, data, cfg, steps: int, dtype=torch.float32, record=()) -> dict:
    """Plain torch.optim.AdamW on one model's parameters (models axis of 1), full batch."""
    params = {k: p.detach().clone().to(dtype).requires_grad_(True) for k, p in params.items()}
    opt = torch.optim.AdamW(list(params.values()), lr=cfg.lr[0], betas=cfg.betas, eps=cfg.eps,
                            weight_decay=cfg.weight_decay[0], foreach=False)
    one_a, one_b = model.encode(data.train_x)
    inputs = (one_a.to(dtype), one_b.to(dtype))
    seen = {}
    for step in range(1, steps + 1):
        logits = model.forward(params, inputs)
        model.loss(logits, data.train_y).sum().backward()
        opt.step()
        opt.zero_grad()
        if step in record:
            seen[step] = {k: p.detach().clone() for k, p in params.items()}
    seen[steps] = {k: p.detach().clone() for k, p in params.items()}
    return seen


def rel_diff(a: dict, b: dict) -> float:
    """Largest |a - b| over all parameters, relative to the largest |a|."""
    return max(float((a[k].double() - b[k].double()).abs().max() / a[k].double().abs().max())
               for k in a)


@trainer.keeps_denormal_mode
@trainer.one_thread()
def adamw_check(seed: int = 1, steps: int = 300) -> dict:
    """Our batched trainer and adamw_ against torch.optim.AdamW, step for step, on one model."""
    spec = {**base_spec(), "seed": seed, "steps": steps, "metrics": 2, "checkpoints": 0}
    data = tasks.modular_addition(spec["p"], spec["train_fraction"], spec["split_seed"])
    model = experiments.model_config(spec)
    cfg = experiments.train_config([spec])
    init = models.init_params(model, [seed])
    out = {"seed": seed, "steps": steps, "n_train": int(len(data.train_y)),
           "n_test": int(len(data.test_y)),
           "init_std": {k: float(p.std()) for k, p in init.items()},
           "init_std_expected": {"embed": math.sqrt(2 / spec["p"]),
                                 "w_in": models.TRUNCATED_STD / math.sqrt(spec["embed"]),
                                 "w_out": models.TRUNCATED_STD / math.sqrt(spec["hidden"])},
           "init_l2_norm": float(models.weight_norms(init)[1][0])}
    # the loss: ours against torch's cross-entropy / p at the initial weights
    with torch.no_grad():
        logits = model.forward(init, model.encode(data.train_x))
        ours_loss = float(model.loss(logits, data.train_y)[0])
        torch_loss = float(torch.nn.functional.cross_entropy(logits[0], data.train_y)) / spec["p"]
    out["initial_loss"] = {"ours": ours_loss, "torch_ce_over_p": torch_loss,
                           "ln_p_over_p": math.log(spec["p"]) / spec["p"]}
    trained = trainer.train(data, model, cfg, progress=False)
    ours = {k[len("final_"):]: torch.from_numpy(v) for k, v in trained.items()
            if k.startswith("final_")}
    torch.set_flush_denormal(True)
    same_order = torch_adamw(model, init, data, cfg, steps)[steps]
    out["ours_vs_torch_adamw_same_forward"] = rel_diff(same_order, ours)
    out["ours_vs_torch_adamw_bit_identical"] = all(torch.equal(same_order[k], ours[k]) for k in ours)
    record = (1, 10, 100, 300, 1000)
    seq_model = dataclasses.replace(model, sequential=True)
    seq = torch_adamw(seq_model, init, data, cfg, 1000, record=record)
    collapsed_long = torch_adamw(model, init, data, cfg, 1000, record=record)
    f64 = torch_adamw(seq_model, init, data, cfg, 1000, dtype=torch.float64, record=record)
    out["sequential_vs_collapsed_by_step"] = {t: rel_diff(collapsed_long[t], seq[t]) for t in record}
    out["float64_sequential_vs_float32_collapsed_by_step"] = {
        t: rel_diff(f64[t], collapsed_long[t]) for t in record}
    out["float64_sequential_vs_float32_sequential_by_step"] = {
        t: rel_diff(f64[t], seq[t]) for t in record}
    return out


@trainer.one_thread()
def adamw_by_step(seed: int = 1, record=(1, 10, 100, 200, 300)) -> dict:
    """Our trainer against torch.optim.AdamW (same forward and loss) after each of `record` steps:
    where they part, and how fast the parting grows."""
    spec = {**base_spec(), "seed": seed, "metrics": 2, "checkpoints": 0}
    data = tasks.modular_addition(spec["p"], spec["train_fraction"], spec["split_seed"])
    model = experiments.model_config(spec)
    init = models.init_params(model, [seed])
    cfg = experiments.train_config([{**spec, "steps": max(record)}])
    theirs = torch_adamw(model, init, data, cfg, max(record), record=record)
    out = {}
    for t in record:
        trained = trainer.train(data, model, experiments.train_config([{**spec, "steps": t}]),
                                progress=False)
        ours = {k[len("final_"):]: torch.from_numpy(v) for k, v in trained.items()
                if k.startswith("final_")}
        out[t] = {"rel_diff": rel_diff(theirs[t], ours),
                  "bit_identical": all(torch.equal(theirs[t][k], ours[k]) for k in ours)}
    return out


@trainer.keeps_denormal_mode
def subnormal_check(files: list[str]) -> dict:
    """Per trainer state: the share of d loss / d logits entries that are subnormal with
    denormals kept, and exactly 0 with denormals kept and with them flushed (all seeds)."""
    spec = base_spec()
    data = tasks.modular_addition(spec["p"], spec["train_fraction"], spec["split_seed"])
    model = experiments.model_config(spec)
    x = model.encode(data.train_x)
    out = {}
    for f in files:
        state = torch.load(f, weights_only=False)
        row = {}
        for flush in (False, True):
            torch.set_flush_denormal(flush)
            with torch.no_grad():
                d = torch.softmax(model.forward(state["params"], x), -1) / (x[0].shape[0] * spec["p"])
                label = "flushed" if flush else "kept"
                if not flush:
                    row["share_subnormal_kept"] = float(((d != 0) & (d.abs() < TINY)).float().mean())
                row[f"share_zero_{label}"] = float((d == 0).float().mean())
        torch.set_flush_denormal(True)
        out[f"{Path(f).stem} step {state['step']}"] = row
        print(Path(f).stem, state["step"], row, flush=True)
    return out


def partial(name: str, steps: int) -> dict:
    """A running (or killed) variant's curves so far, from its trainer state, against the control
    at the same logged steps: investigation/<name>.partial.json."""
    state = torch.load(OUT / "state" / f"{name}.pt", weights_only=False)
    test = np.array(state["metrics"]["test_loss"], dtype=np.float64).T  # (seeds, logged)
    logged = np.unique(np.round(np.linspace(0, steps, steps // 100 + 1)).astype(np.int64))
    logged = logged[:test.shape[1]]
    control = json.loads((OUT / "control.json").read_text())
    c_steps = list(control["metric_step"])
    c_test = np.array(control["test_loss"])[:, [c_steps.index(t) for t in logged]]
    out = {"variant": name, "budget": steps, "reached_step": int(state["step"]),
           "metric_step": logged.tolist(), "test_loss": test.tolist(),
           "cpu_s": json.loads((OUT / "state" / f"{name}.log.json").read_text())["cpu_s"],
           "by_step": {}}
    for t in (1000, 2000, 3000, 5000, 7500, 9000):
        if t <= logged[-1]:
            i = int(np.searchsorted(logged, t))
            out["by_step"][t] = {
                "median_test_loss": float(np.median(test[:, i])),
                "control_median_test_loss": float(np.median(c_test[:, i])),
                "per_seed_rel_diff_to_control_median": float(np.median(
                    np.abs(test[:, i] - c_test[:, i]) / c_test[:, i])),
                "seeds_below_control": int((test[:, i] < c_test[:, i]).sum()),
                "generalized": int((test[:, i] < THRESHOLD).sum())}
    (OUT / f"{name}.partial.json").write_text(json.dumps(out))
    return out


@trainer.one_thread()
def batch_check(steps: int = 2000) -> dict:
    """Is the control the frozen algorithm? Seeds 1-8 as one batch (as the frozen shard all-0
    trained them) and seeds 1-16 as one batch without the probe, each against the collapsed input
    matrix the frozen shard / the control run kept at `steps` (float16)."""
    spec = base_spec()
    data = tasks.modular_addition(spec["p"], spec["train_fraction"], spec["split_seed"])
    model = experiments.model_config(spec)
    frozen = np.load(ROOT / "content/_freeze/seeds-mod-top/shards/all-0.npz")
    k = list(frozen["checkpoint_step"]).index(steps)
    control = np.load(OUT / "state" / "control-weights.npz")
    c = list(control["checkpoint_step"]).index(steps)
    out = {}
    for label, seeds, want in (("batch of 8 vs frozen shard all-0", SEEDS[:8], frozen["w_in"][:, k]),
                               ("batch of 16 without probe vs control", SEEDS, control["w_in"][:, c])):
        cfg = experiments.train_config([{**spec, "seed": s, "steps": steps, "metrics": 2,
                                         "checkpoints": 2} for s in seeds])
        got = trainer.train(data, model, cfg, progress=False)["w_in"][:, -1].astype(np.float16)
        diff = [float(np.linalg.norm(g.astype(np.float64) - w.astype(np.float64))
                      / np.linalg.norm(w.astype(np.float64))) for g, w in zip(got, want)]
        out[label] = {"seeds": list(seeds), "step": steps, "identical": bool((got == want).all()),
                      "rel_diff": diff}
        print(label, out[label], flush=True)
    return out


@trainer.one_thread()  # every command trains or replays training: on one thread (see trainer)
def main(argv: list[str]) -> None:
    if not argv:
        print(__doc__)
        return
    if argv[0] == "run":
        for arg in argv[1:]:
            name, _, steps = arg.partition(":")
            steps = int(steps) if steps else None
            if (OUT / f"{name}.json").exists():
                print(f"{name}: done ({OUT / f'{name}.json'})")
                continue
            r = run_variant(name, steps)
            print(name, json.dumps(summarize(r["metric_step"], r["test_loss"],
                                             r["settings"]["steps"])), f"cpu {r['cpu_s']} s",
                  flush=True)
    elif argv[0] == "precision":  # trainer states (copies of investigation/state/*.pt)
        spec = base_spec()
        data = tasks.modular_addition(spec["p"], spec["train_fraction"], spec["split_seed"])
        model = experiments.model_config(spec)
        cfg = experiments.train_config([{**spec, "seed": s} for s in SEEDS])
        train_set = (model.encode(data.train_x), data.train_y)
        torch.set_flush_denormal(True)
        rows = {}
        for f in argv[1:]:
            state = torch.load(f, weights_only=False)
            stats = precision_stats(state["params"], model, cfg, train_set)
            rows[f"{Path(f).stem} step {state['step']}"] = stats
            print(Path(f).stem, state["step"], {k: float(np.median(v)) for k, v in stats.items()},
                  flush=True)
        (OUT / "precision.json").write_text(json.dumps(rows, indent=1))
    elif argv[0] == "adamw-by-step":
        result = json.loads((OUT / "adamw_check.json").read_text())
        result["ours_vs_torch_adamw_by_step"] = adamw_by_step()
        (OUT / "adamw_check.json").write_text(json.dumps(result, indent=1))
        print(json.dumps(result["ours_vs_torch_adamw_by_step"], indent=1))
    elif argv[0] == "subnormals":  # trainer states
        (OUT / "subnormals.json").write_text(json.dumps(subnormal_check(argv[1:]), indent=1))
    elif argv[0] == "partial":  # NAME STEPS
        r = partial(argv[1], int(argv[2]))
        print(r["reached_step"], json.dumps(r["by_step"], indent=1))
    elif argv[0] == "batch":
        (OUT / "batch_check.json").write_text(json.dumps(batch_check(), indent=1))
    elif argv[0] == "report":
        print(report())
    elif argv[0] == "adamw":
        result = adamw_check()
        OUT.mkdir(exist_ok=True)
        (OUT / "adamw_check.json").write_text(json.dumps(result, indent=1))
        print(json.dumps(result, indent=1))
    else:
        raise SystemExit(f"unknown command {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
