"""Section 5 ("It's full of stars"): the Fourier view of the frozen opening run, its stars and the
per-group logits, against the claims of the prose."""
from __future__ import annotations

import numpy as np
import pytest

from builder.analysis import fourier
from builder.figures import mod_bot
from builder.figures._common import LEVELS, vmax_of
from builder.paths import ROOT, frozen_root
from builder.figures.context import BuildContext

ARTIFACTS = frozen_root()  # whose content/_freeze/ is read, see builder.claims
CTX = BuildContext(ARTIFACTS)  # the figure modules read it through a build context


@pytest.fixture(scope="module")
def r():
    return mod_bot.run(CTX)


@pytest.fixture(scope="module")
def prose():
    return " ".join((ROOT / "content" / "index.md").read_text(encoding="utf-8").split())


def key_share(w, keys):
    """Share of each neuron's non-constant Fourier energy in the key frequencies' cos and sin rows."""
    c = fourier.project(w)
    rows = [2 * k - 1 for k in keys] + [2 * k for k in keys]
    return np.square(c[..., rows, :]).sum(-2) / np.square(c[..., 1:, :]).sum(-2)


@pytest.mark.frozen("mod-top")
def test_fourier_energy_concentrates_in_the_key_frequencies(r, prose):
    keys = list(r["groups"])
    assert keys == [21, 24, 29] and [len(v) for v in r["groups"].values()] == [8, 9, 7]
    assert "only the cosine and sine columns of three frequencies are left, 21, 24 and 29" in prose
    assert "(8, 9 and 7 of them)" in prose
    for side in mod_bot.SIDES:
        assert key_share(r[side][-1], keys).min() > 0.9  # every neuron, at the end
        assert key_share(r[side][0], keys).mean() < 0.3  # at init: spread over all 33
    at = int(np.searchsorted(r["step"], 10_000))
    assert round(fourier.energy_in_top(r["w_in"][at], 1).mean(), 2) in (0.32, 0.33, 0.34)
    assert round(100 * fourier.energy_in_top(r["w_in"][-1], 1).mean()) == 97
    assert fourier.energy_in_top(r["w_out"][-1], 1).mean() > 0.995


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


def quantized(r, side):
    """The weights as the page holds them: 91 levels of the heatmaps' fixed range."""
    vmax = vmax_of(r[side])
    q = np.clip(np.round(r[side] / vmax * LEVELS), -LEVELS, LEVELS)
    return q * (vmax / LEVELS)


def group_logits(w_in, w_out, neurons, a, b):
    return np.maximum(w_in[a, neurons] + w_in[b, neurons], 0) @ w_out[:, neurons].T


@pytest.mark.frozen("mod-top")
def test_each_group_draws_a_cosine_and_only_together_they_are_always_right(r, prose):
    p = r["p"]
    w_in, w_out = r["w_in"][-1], r["w_out"][-1]
    c = np.arange(p)
    alone = []
    for k, neurons in r["groups"].items():
        for a, b in ((10, 30), (0, 0), (66, 5)):
            cosine = np.cos(2 * np.pi * k * (c - (a + b)) / p)
            logits = group_logits(w_in, w_out, neurons, a, b)
            assert np.corrcoef(logits, cosine)[0, 1] > 0.9  # 0.95-0.999 in this run
            # peaked at the right answer: the wave's phase is within three unwrapped steps of it
            # (0.1 to 2.8 in this run; the bars next to the peak are 99.6% as high)
            phase = np.angle(np.sum(logits * np.exp(2j * np.pi * k * c / p)))
            assert abs(np.angle(np.exp(1j * (phase - 2 * np.pi * k * (a + b) / p)))) < 3 * 2 * np.pi / p
        h = np.maximum(w_in[:, None, neurons] + w_in[None, :, neurons], 0)
        right = (h @ w_out[:, neurons].T).argmax(-1) == (c[:, None] + c[None, :]) % p
        alone.append(right.mean())
    assert f"for only {round(100 * min(alone))}% to {round(100 * max(alone))}% of the pairs" in prose
    total = (np.maximum(w_in[:, None] + w_in[None, :], 0) @ w_out.T).argmax(-1)
    assert (total == (c[:, None] + c[None, :]) % p).all()
    # the page's quantized weights give the same answers
    qin, qout = quantized(r, "w_in")[-1], quantized(r, "w_out")[-1]
    total_q = (np.maximum(qin[:, None] + qin[None, :], 0) @ qout.T).argmax(-1)
    assert (total_q == (c[:, None] + c[None, :]) % p).mean() > 0.99


def page_logits(r, step_index, a, b):
    """Per group label and in total: what the logits chart computes, from the quantized weights."""
    qin, qout = quantized(r, "w_in")[step_index], quantized(r, "w_out")[step_index]
    out = {}
    for k, neurons in r["groups"].items():
        out[f"frequency {k}"] = group_logits(qin, qout, neurons, a, b)
    out["total"] = np.maximum(qin[a] + qin[b], 0) @ qout.T
    return out


@pytest.mark.frozen("mod-top")
def test_the_animation_spans_generalization(r):
    steps, test_loss = r["metric_step"], r["test_loss"]
    start, end = (np.searchsorted(steps, s) for s in mod_bot.GENERALIZE)
    assert test_loss[start] > 0.1 and test_loss[end] < 1e-5
    keys = list(r["groups"])
    at = lambda s: key_share(r["w_in"][int(np.searchsorted(r["step"], s))], keys).mean()  # noqa: E731
    assert at(mod_bot.GENERALIZE[0]) < 0.4 < 0.7 < at(mod_bot.GENERALIZE[1])  # 0.34 -> 0.74 of the energy


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


@pytest.mark.frozen("mod-top")
def test_the_fourier_footnote_numbers(r, prose):
    start, end = (fourier.dominant(r["w_in"][i])[2] for i in (0, -1))
    assert start.max() < 1 and 13 <= end.min() and end.max() < 22 and len(end) == 24
    assert "At initialization every neuron's largest norm is below 1; at the end of the featured run every one of the 24 is between 13 and 22" in prose
    assert f"only when that norm is above {fourier.KEY_FREQUENCY_THRESHOLD:g};" in prose


@pytest.mark.frozen("mod-top", "seeds-mod-top")
def test_a_sister_run_improves_late_after_a_plateau_as_a_group_fills_up(prose):
    r = mod_bot.runs(CTX)[mod_bot.LATE_RUN]
    s, t = r["metric_step"], r["test_loss"]
    plateau = t[(s >= 15_500) & (s <= 17_100)]
    assert len(plateau) >= 3 and plateau.max() / plateau.min() < 1.3 and f"{plateau.mean():.0e}" == "1e-04"
    after = t[np.searchsorted(s, 22_000)]
    assert f"{after:.1e}" == "2.7e-06" and round(plateau.mean() / after, -1) == 40
    sizes = {step: fourier.key_frequencies(r["w_in"][int(np.searchsorted(r["step"], step))]) for step in (16_000, 18_000, 20_000)}
    assert [len(sizes[step].get(12, [])) for step in sizes] == [2, 4, 6]
    assert all(len(sizes[16_000][k]) >= 5 for k in (7, 13, 30))
    assert mod_bot.LATE[0] < 15_500 and mod_bot.LATE[1] >= 22_000
    assert ("by step 15,500 its test loss is down to 10⁻⁴, and there it stays for about 1,500 steps, carried by three "
            "full groups at frequencies 7, 13 and 30 and a lone pair of neurons at frequency 12") in prose
    assert "from 2 neurons at step 16,000 to 4 at step 18,000 and 6 at step 20,000, and the test loss falls another 40-fold, to 2.7 × 10⁻⁶ by step 22,000" in prose


WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven"}


@pytest.mark.frozen("mod-top", "seeds-mod-top")
def test_the_sister_runs_are_summarized_as_the_prose_says(seeds, prose):
    spec, a = seeds
    rs = mod_bot.runs(CTX)
    sisters = [r for k, r in rs.items() if k != mod_bot.FEATURED]
    reached = [r for r in sisters if r["reached"]]
    n, m = len(sisters), len(reached)
    assert f"We trained the same model {n} more times" in prose
    firsts = sorted(int(r["metric_step"][np.argmax(r["test_loss"] < mod_bot.REACHED)]) for r in reached)
    assert (f"{m} of the {n} runs drove their test loss below 0.001 within 50,000 steps, the first after "
            f"{firsts[0]:,} steps and the last after {firsts[-1]:,}.") in prose
    # the key-frequency counts, as the chart's subtitle and the prose give them
    s = mod_bot.summary(CTX)
    assert (s["runs"], s["reached"]) == (n + 1, m + rs[mod_bot.FEATURED]["reached"])
    counts = sorted(s["key_counts"].items(), key=lambda kv: -kv[1])
    parts = [f"{c} use {WORDS[k]} frequencies" if i == 0 else ("one uses " + WORDS[k] if c == 1 else f"{c} use {WORDS[k]}")
             for i, (k, c) in enumerate(counts)]
    said = ", ".join(parts[:-1]) + " and " + parts[-1]
    assert f"of the {s['reached']} runs that generalized, ours included, {said}." in prose
    chart = mod_bot.seeds_chart(CTX)
    assert chart["title"]["subtitle"] == mod_bot.summary_line(CTX)
    # the runs that did not generalize
    stuck = [r for r in sisters if not r["reached"]]
    start = rs[mod_bot.FEATURED]["test_loss"][0]
    below = [r for r in stuck if r["test_loss"].min() < 0.99 * start]
    assert f"The other {len(stuck)} runs were still memorizing" in prose
    assert len(below) == 1 and f"(seed {below[0]['seed']} got part of the way, to {below[0]['test_loss'].min():.2f})" in prose
    spread = sorted(len(r["groups"]) for r in stuck)
    assert f"spread over many frequencies, {spread[0]} to {spread[-1]} of them" in prose
    late = sum(f > 30_000 for f in firsts)
    assert f"{late} of the {m} runs that did generalize got there only after step 30,000" in prose
    assert m == n // 2 and "whether this model groks is a coin toss" in prose
    # what the page writes for the run shown (the Markdown's text is the featured run's)
    assert f'Shown now: [{mod_bot.run_label(mod_bot.FEATURED, rs[mod_bot.FEATURED])}]{{show="mod-bot.chosen"}}.' in prose
    assert "of 64 other seeds, trained in the section \"It's full of stars\", half generalized" in prose and n == 64
