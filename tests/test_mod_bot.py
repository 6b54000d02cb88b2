"""Section 5 ("It's full of stars"): the Fourier view of the frozen opening run, its stars, the
per-group logits and the accuracy chart. The prose's numbers are facts and its sentences claims
(builder.figures.mod_bot), evaluated by tests/test_claims.py; these tests check the charts' data
and the analysis behind the facts."""
from __future__ import annotations


import numpy as np
import pytest

from builder.analysis import fourier
from builder.figures import mod_bot
from builder.figures._common import LEVELS, vmax_of
from builder.paths import frozen_root
from builder.figures.context import BuildContext


ARTIFACTS = frozen_root()  # whose content/_freeze/ is read, see builder.claims
CTX = BuildContext(ARTIFACTS)  # the figure modules read it through a build context


@pytest.fixture(scope="module")
def r():
    return mod_bot.run(CTX)


@pytest.mark.frozen("mod-top")
def test_star_rows_close_each_ring_in_angle_order(r):
    rows = mod_bot.star_rows(r)
    last = [row for row in rows if row["s"] == len(r["step"]) - 1 and row["side"] == "input weights" and row["k"] == 21]
    ranks = sorted(row["o"] for row in last)
    assert ranks == list(range(len(r["groups"][21]) + 1))
    first, closing = [row for row in last if row["o"] == 0], [row for row in last if row["o"] == len(r["groups"][21])]
    assert first[0]["n"] == closing[0]["n"]
    by_rank = sorted((row for row in last if row["o"] < len(r["groups"][21])), key=lambda row: row["o"])
    angles = [np.arctan2(row["y"], row["x"]) for row in by_rank]
    assert angles == sorted(angles)


def page_logits(r, step_index, a, b):
    """Per group label and in total: what the logits chart computes, from the quantized weights."""
    qin, qout = quantized(r, "w_in")[step_index], quantized(r, "w_out")[step_index]
    out = {}
    for k, neurons in r["groups"].items():
        out[f"frequency {k}"] = group_logits(qin, qout, neurons, a, b)
    out["total"] = np.maximum(qin[a] + qin[b], 0) @ qout.T
    return out


def fft_key_frequencies(w: np.ndarray, threshold: float = fourier.KEY_FREQUENCY_THRESHOLD) -> list[int]:
    """Key frequencies recomputed with numpy's FFT rather than builder.analysis.fourier: the
    orthonormal (cos, sin) pair of frequency k has norm sqrt(2 / p) |FFT_k|; a neuron counts
    towards the k of its largest pair when that norm passes the threshold."""
    p = w.shape[0]
    norms = np.abs(np.fft.rfft(w, axis=0))[1:p // 2 + 1] * np.sqrt(2 / p)  # (33, neurons)
    return sorted({int(k) + 1 for k, m in zip(norms.argmax(0), norms.max(0)) if m > threshold})


@pytest.fixture(scope="module")
def seeds():
    from builder import freeze
    from builder.training import config

    spec = config.get(mod_bot.SEEDS).resolve()
    frozen = freeze.load_sweep(mod_bot.SEEDS, root=ARTIFACTS)
    assert frozen.manifest["runs_done"] == len(spec["seed"]), \
        f"content/_freeze/{mod_bot.SEEDS} is incomplete: run `python -m builder train {mod_bot.SEEDS}`"
    return spec, frozen.arrays


@pytest.mark.frozen("mod-top", "seeds-mod-top")
def test_every_sister_run_is_frozen_and_its_key_frequencies_recompute(seeds, r):
    spec, a = seeds
    assert len(spec["seed"]) >= 32 and 0 not in spec["seed"]
    rs = mod_bot.runs(CTX)
    assert list(rs) == ["seed0"] + [f"seed{s}" for s in spec["seed"]]
    assert a["w_in"].shape == (len(spec["seed"]), spec["checkpoints"], 67, 24)
    for i, s in enumerate(spec["seed"]):
        assert list(rs[f"seed{s}"]["groups"]) == fft_key_frequencies(a["w_in"][i, -1].astype(np.float64)), s
    assert list(r["groups"]) == fft_key_frequencies(r["w_in"][-1])
    # the grid titles each run with exactly those frequencies
    rows = mod_bot.seeds_chart(CTX)["datasets"]["seeds"]
    for row in rows:
        keys = list(rs[row["key"]]["groups"])
        shown = " ".join(map(str, keys)) if rs[row["key"]]["reached"] else f"{len(keys)} freqs"
        assert row["title"] == f"seed {rs[row['key']]['seed']} · {shown}"


def quantized(r, side):
    """The weights as the page holds them: 91 levels of the heatmaps' fixed range."""
    vmax = vmax_of(r[side])
    q = np.clip(np.round(r[side] / vmax * LEVELS), -LEVELS, LEVELS)
    return q * (vmax / LEVELS)


def group_logits(w_in, w_out, neurons, a, b):
    return np.maximum(w_in[a, neurons] + w_in[b, neurons], 0) @ w_out[:, neurons].T


@pytest.mark.frozen("mod-top")
def test_the_page_quantized_weights_answer_as_the_model(r):
    """The logits chart computes from the page's 91-level weights: they answer (nearly) every
    pair as the model does."""
    p = r["p"]
    c = np.arange(p)
    qin, qout = quantized(r, "w_in")[-1], quantized(r, "w_out")[-1]
    total_q = (np.maximum(qin[:, None] + qin[None, :], 0) @ qout.T).argmax(-1)
    assert (total_q == (c[:, None] + c[None, :]) % p).mean() > 0.99


@pytest.mark.frozen("mod-top")
def test_a_group_s_rivals_sit_k_inverse_apart(r):
    """Issue 27: on a frequency-k wave the answers that nearly tie with the right one are k⁻¹ mod p
    away (one step along the wave), not k away. The prose's fact computes k⁻¹; the group's own
    logits bear it out: the answers k⁻¹ away score higher than those k away."""
    p, k = r["p"], mod_bot.first_key(CTX)
    inv = mod_bot.inverse(CTX)
    assert k * inv % p == 1 and inv != k
    neurons = r["groups"][k]
    w_in, w_out = r["w_in"][-1], r["w_out"][-1]
    for a, b in ((10, 30), (0, 0), (66, 5)):
        logits = group_logits(w_in, w_out, neurons, a, b)
        answer = (a + b) % p
        near = min(logits[(answer + inv) % p], logits[(answer - inv) % p])
        far = max(logits[(answer + k) % p], logits[(answer - k) % p])
        assert near > far


@pytest.mark.frozen("mod-top", "seeds-mod-top")
def test_the_accuracy_chart_shows_each_run_it_can(r):
    """The stars section's accuracy chart: the featured run's logged accuracies at every logged
    step, a sister run's two final accuracies (all it kept) as dots, its note in the title."""
    spec = mod_bot.accuracy_chart(CTX)
    rows = spec["datasets"]["accuracy"]
    assert len(rows) == 2 * len(r["metric_step"])
    test = [row["v"] for row in rows if row["split"] == "test"]
    assert np.allclose(test, r["test_acc"], atol=1e-4) and not any(row.get("final") for row in rows)
    variants = spec["usermeta"]["variants"]
    assert set(variants) == set(mod_bot.runs(CTX))
    _, a = freeze_sweep()
    i = int(np.flatnonzero(a["seed"] == 33)[0])
    v = variants["seed33"]
    assert {row["split"]: row["v"] for row in v["data"]["accuracy"]} == {
        "train": round(float(a["final_train_acc"][i]), 4), "test": round(float(a["final_test_acc"][i]), 4)}
    assert all(row["final"] for row in v["data"]["accuracy"]) and v["signals"]["acc_note"]
    assert variants[mod_bot.FEATURED]["signals"]["acc_note"] == ""
    layers = [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"] for layer in spec["layer"]]
    assert layers[:2] == ["line", "point"]
    assert mod_bot.accuracy_chart(CTX, narrow=True)["title"]["text"]["expr"].startswith("['Train and test accuracy of', run_name")


def freeze_sweep():
    from builder import freeze
    frozen = freeze.load_sweep(mod_bot.SEEDS, root=ARTIFACTS)
    return frozen.manifest, frozen.arrays


def test_a_stall_is_found_on_a_synthetic_curve():
    """The stall detector behind "a few runs generalize in two steps": four flat points between
    1e-5 and 1e-3, then a tenfold fall; a curve that falls straight through has none."""
    steps = np.arange(0, 10_001, 500)
    flat = np.concatenate([np.geomspace(1, 1e-4, 8), np.full(5, 1e-4), np.geomspace(1e-4, 1e-7, 8)])
    found = mod_bot.stall({"metric_step": steps, "test_loss": flat})
    assert found is not None and found[0] == int(steps[7]) and abs(found[1] - 1e-4) < 1e-5
    assert mod_bot.stall({"metric_step": steps, "test_loss": np.geomspace(1, 1e-8, len(steps))}) is None
    stuck = np.concatenate([np.geomspace(1, 1e-4, 8), np.full(13, 1e-4)])  # flat but never falls further
    assert mod_bot.stall({"metric_step": steps, "test_loss": stuck}) is None


@pytest.mark.frozen("mod-top", "seeds-mod-top")
def test_the_seeds_chart_subtitle_is_the_summary():
    chart = mod_bot.seeds_chart(CTX)
    assert chart["title"]["subtitle"] == mod_bot.summary_line(CTX)
    s = mod_bot.summary(CTX)
    assert s["reached"] == mod_bot.reached_all(CTX) and s["runs"] == mod_bot.n_sisters(CTX) + 1
