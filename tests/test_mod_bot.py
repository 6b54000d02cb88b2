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
from builder.training import investigate

from conftest import typed_numbers

ARTIFACTS = frozen_root()  # whose content/_freeze/ is read, see builder.claims
CTX = BuildContext(ARTIFACTS)  # the figure modules read it through a build context


@pytest.fixture(scope="module")
def r():
    return mod_bot.run(CTX)


@pytest.fixture(scope="module")
def prose():
    return " ".join((ROOT / "content" / "index.md").read_text(encoding="utf-8").split())


# Every sentence of section 5 that a claim test found in the prose (says): the numbers of the
# sister-run paragraphs and the methods note must all come from one of them
# (test_every_number_of_the_sister_run_paragraphs_is_computed).
VERIFIED: list[str] = []


def says(prose: str, text: str) -> None:
    """Assert the prose contains `text` (built from the data) and remember it."""
    assert text in prose, text
    VERIFIED.append(text)


def key_share(w, keys):
    """Share of each neuron's non-constant Fourier energy in the key frequencies' cos and sin rows."""
    c = fourier.project(w)
    rows = [2 * k - 1 for k in keys] + [2 * k for k in keys]
    return np.square(c[..., rows, :]).sum(-2) / np.square(c[..., 1:, :]).sum(-2)


@pytest.mark.frozen("mod-top")
def test_fourier_energy_concentrates_in_the_key_frequencies(r, prose):
    keys = list(r["groups"])
    assert keys == [21, 24, 29] and [len(v) for v in r["groups"].values()] == [8, 9, 7]
    says(prose, f"only the cosine and sine columns of three frequencies are left, {keys[0]}, {keys[1]} and {keys[2]}")
    sizes = [len(v) for v in r["groups"].values()]
    says(prose, f"({sizes[0]}, {sizes[1]} and {sizes[2]} of them)")
    for side in mod_bot.SIDES:
        assert key_share(r[side][-1], keys).min() > 0.9  # every neuron, at the end
        assert key_share(r[side][0], keys).mean() < 0.3  # at init: spread over all 33
    at = int(np.searchsorted(r["step"], 10_000))
    assert round(fourier.energy_in_top(r["w_in"][at], 1).mean(), 2) in (0.32, 0.33, 0.34)
    says(prose, f"at step {r['step'][at]:,} a neuron's single strongest frequency carries a third of the energy")
    says(prose, f"At the end a neuron's strongest frequency carries {fourier.energy_in_top(r['w_in'][-1], 1).mean():.0%} of the energy")
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
    says(prose, f"each group on its own picks the right answer for only {round(100 * min(alone))}% to {round(100 * max(alone))}% of the pairs")
    k = list(r["groups"])[0]
    says(prose, f"with $k = {k}$ those neighbours are other answers {k} apart")
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
def test_the_animation_spans_generalization(r, prose):
    says(prose, f"from step {mod_bot.GENERALIZE[0]:,} to step {mod_bot.GENERALIZE[1]:,}, and watch the waves take over")
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
    says(prose, "At initialization every neuron's largest norm is below 1; at the end of the featured run every one of the 24 is between 13 and 22")
    says(prose, f"only when that norm is above {fourier.KEY_FREQUENCY_THRESHOLD:g};")


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
    says(prose, "by step 15,500 its test loss is down to 10⁻⁴, and there it stays for about 1,500 steps, carried by three "
            "full groups at frequencies 7, 13 and 30 and a lone pair of neurons at frequency 12")
    says(prose, "from 2 neurons at step 16,000 to 4 at step 18,000 and 6 at step 20,000, and the test loss falls another 40-fold, to 2.7 × 10⁻⁶ by step 22,000")


WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven"}


@pytest.mark.frozen("mod-top", "seeds-mod-top")
def test_the_sister_runs_are_summarized_as_the_prose_says(seeds, prose):
    spec, a = seeds
    rs = mod_bot.runs(CTX)
    sisters = [r for k, r in rs.items() if k != mod_bot.FEATURED]
    reached = [r for r in sisters if r["reached"]]
    n, m = len(sisters), len(reached)
    says(prose, f"We trained the same model {n} more times")
    firsts = sorted(int(r["metric_step"][np.argmax(r["test_loss"] < mod_bot.REACHED)]) for r in reached)
    says(prose, f"{m} of the {n} runs drove their test loss below {mod_bot.REACHED:g} within {spec['steps']:,} steps, the first by step "
                f"{firsts[0]:,} and the last by step {firsts[-1]:,} (we logged the loss every 500 steps or so")
    gaps = np.diff(rs[sisters[0]["key"]]["metric_step"])
    assert 499 <= np.median(gaps) and gaps.max() <= 501  # "every 500 steps or so"
    # the key-frequency counts, as the chart's subtitle and the prose give them
    s = mod_bot.summary(CTX)
    assert (s["runs"], s["reached"]) == (n + 1, m + rs[mod_bot.FEATURED]["reached"])
    counts = sorted(s["key_counts"].items(), key=lambda kv: -kv[1])
    parts = [f"{c} use {WORDS[k]} frequencies" if i == 0 else ("one uses " + WORDS[k] if c == 1 else f"{c} use {WORDS[k]}")
             for i, (k, c) in enumerate(counts)]
    said = ", ".join(parts[:-1]) + " and " + parts[-1]
    says(prose, f"of the {s['reached']} runs that generalized, ours included, {said}.")
    chart = mod_bot.seeds_chart(CTX)
    assert chart["title"]["subtitle"] == mod_bot.summary_line(CTX)
    # the runs that did not generalize: at chance, or on their way (final test accuracy)
    stuck = [r for r in sisters if not r["reached"]]
    says(prose, f"The other {len(stuck)} runs had not crossed that line when training stopped")
    acc = dict(zip(a["seed"].tolist(), a["final_test_acc"].tolist()))
    chance = [r for r in stuck if acc[r["seed"]] < 0.05]
    moving = sorted(acc[r["seed"]] for r in stuck if acc[r["seed"]] >= 0.05)
    says(prose, f"{len(chance)} still answered the held-out pairs no better than chance (under 5% right)")
    spread = sorted(len(r["groups"]) for r in chance)
    says(prose, f"spread over many frequencies, {spread[0]} to {spread[-1]} of them")
    says(prose, f"The remaining {len(moving)} were on their way out of memorization, their test accuracy between "
            f"{moving[0]:.0%} and {moving[-1]:.0%} and still climbing")
    for r in stuck:  # "still climbing": every one of them ends better than it was 5,000 steps before
        if acc[r["seed"]] >= 0.05:
            assert r["test_loss"][-1] < r["test_loss"][-11], r["seed"]
    closest = min(stuck, key=lambda r: r["test_loss"][-1])
    assert 1e-3 < closest["test_loss"][-1] < 1.5e-3  # "a hair above the line"
    says(prose, f"seed {closest['seed']} ended with its test loss at {closest['test_loss'][-1]:.2g}, a hair above")
    # a run that crossed and drifted back up: the only generalized run below 99% at the end
    back = [r for r in reached if acc[r["seed"]] < 0.99]
    assert len(back) == 1 and back[0]["test_loss"][-1] > back[0]["test_loss"].min()
    loss = f"{back[0]['test_loss'][-1]:.1e}".replace("e-04", " × 10⁻⁴")
    says(prose, f"seed {back[0]['seed']}, had dipped below the line and drifted back up a little by the end "
            f"({acc[back[0]['seed']]:.1%} right, test loss {loss})")
    late = sum(f > 30_000 for f in firsts)
    says(prose, f"{late} of the {m} runs that did generalize got there only after step 30,000")
    assert m == n // 2 and "coin toss" not in prose
    says(prose, "only half of our runs grok")
    # what the page writes for the run shown (the Markdown's text is the featured run's)
    says(prose, f'Shown now: [{mod_bot.run_label(mod_bot.FEATURED, rs[mod_bot.FEATURED])}]{{show="mod-bot.chosen"}}.')
    says(prose, f"of {n} other seeds, trained in the section \"It's full of stars\", half generalized")


@pytest.mark.frozen("mod-top", "seeds-mod-top")
def test_the_methods_note_against_the_reference(prose):
    """The footnote comparing our sister runs with the original article's seed sweep: our numbers
    recomputed from the frozen runs and from the controlled runs in investigation/, the
    reference's from its published data (builder.training.investigate.REFERENCE)."""
    import json
    ref = investigate.REFERENCE
    rs = mod_bot.runs(CTX)
    sisters = [r for k, r in rs.items() if k != mod_bot.FEATURED]
    steps = sisters[0]["metric_step"]
    curves = np.stack([r["test_loss"] for r in sisters])
    ours = investigate.summarize(steps, curves, 50_000)
    n = len(sisters)
    shares = ", ".join(f"{ours[f'by_{k}k'] / n:.0%}" for k in (20, 30)) + f" and {ours['by_40k'] / n:.0%}"
    refs = ", ".join(f"{ref['share_by'][f'{k}k']:.0%} by step {k},000" for k in (20, 30)) \
        + f" and {ref['share_by']['40k']:.0%} by step 40,000"
    says(prose, f"{ref['n']} runs of this same setting with different seeds: {ref['by_50k']} of them generalize "
            f"within 50,000 steps, {refs}. Ours: {ours['by_50k']} of {n}, and {shares} by those steps.")
    med = lambda d: ", ".join(f"{d[k]:.2f}" for k in (0, 1)) + f" and {d[2]:.2f}"
    theirs = med([ref["median_test_loss"][k] for k in ("2k", "10k", "20k")])
    mine = med([ours[f"median_test_loss_{k}k"] for k in (2, 10, 20)])
    says(prose, f"test loss at steps 2,000, 10,000 and 20,000 is {theirs} there and {mine} here")
    # the controlled runs (16 seeds each, investigation/<variant>.json)
    out = ROOT / "investigation"
    def variant(name):
        v = json.loads((out / f"{name}.json").read_text())
        return v, investigate.summarize(v["metric_step"], v["test_loss"], v["settings"]["steps"])
    control, c = variant("control")
    _, kept = variant("no-flush")
    assert len(control["seeds"]) == 16
    says(prose, f"In controlled runs of {len(control['seeds'])} seeds")
    assert (kept["median_test_loss_2k"], kept["median_test_loss_10k"]) == (c["median_test_loss_2k"], c["median_test_loss_10k"])
    says(prose, "keeping subnormal numbers instead of flushing them to zero leaves the median test loss at steps 2,000 and 10,000 unchanged to every digit")
    seq = json.loads((out / "sequential.partial.json").read_text())
    seq_2k = float(np.median(np.asarray(seq["test_loss"])[:, seq["metric_step"].index(2000)]))
    says(prose, f"leaves the median at step 2,000 at {seq_2k:.2f} ({c['median_test_loss_2k']:.2f} without)")
    rows = [investigate.probe_row(control["probes"], t) for t in (2000, 10000)]
    below = [r["share_sqrt_vhat_below_eps"] for r in rows]
    says(prose, f"in {below[0]:.0%} of the coordinates by step 2,000 and in {below[1]:.0%} by step 10,000")
    _, small_eps = variant("eps1e-12")
    assert small_eps["median_test_loss_2k"] > c["median_test_loss_2k"] > ref["median_test_loss"]["2k"]
    says(prose, f"at step 2,000 (median {small_eps['median_test_loss_2k']:.2f})")
    # rounding decides some seeds: seeds 1-16 retrained against the frozen ones, by step 30,000
    by_30k = lambda firsts: {i + 1 for i, f in enumerate(firsts) if f is not None and f <= 30_000}
    again = by_30k(c["first_generalized"])
    frozen = by_30k(investigate.summarize(steps, curves[:16], 50_000)["first_generalized"])
    assert [r["seed"] for r in sisters[:16]] == list(range(1, 17))
    extra = sorted(frozen - again)
    assert again < frozen and len(extra) == 1
    says(prose, f"generalized by step 30,000 in {len(again)} runs, the frozen ones in {len(frozen)} "
                f"(the same {WORDS[len(again)]} and seed {extra[0]})")


@pytest.mark.frozen("mod-top", "seeds-mod-top")
def test_every_number_of_the_section_is_computed(seeds, prose):
    """Issue 19: every number section 5 ("It's full of stars") and its methods note quote sits in
    a sentence a claim test built from the frozen runs (or the controlled runs), none typed alone."""
    spec, _ = seeds
    VERIFIED.clear()
    r = mod_bot.run(CTX)
    test_fourier_energy_concentrates_in_the_key_frequencies(r, prose)
    test_each_group_draws_a_cosine_and_only_together_they_are_always_right(r, prose)
    test_the_animation_spans_generalization(r, prose)
    test_the_sister_runs_are_summarized_as_the_prose_says(seeds, prose)
    test_a_sister_run_improves_late_after_a_plateau_as_a_group_fills_up(prose)
    test_the_methods_note_against_the_reference(prose)
    p = spec["p"]
    says(prose, f"Writing each neuron's {p} input weights as a sum of waves")
    says(prose, f"for every frequency $k$ from 1 to {(p - 1) // 2}, a cosine")
    says(prose, f"the same {spec['steps']:,} steps")
    says(prose, f"Any of the {(p - 1) // 2} can carry the circle, because {p} is a prime")
    says(prose, f"Seed {mod_bot.runs(CTX)[mod_bot.LATE_RUN]['seed']} is one of them")
    says(prose, f"(steps {mod_bot.LATE[0]:,} to {mod_bot.LATE[1]:,};")
    says(prose, "($10^{-8}$)")  # Adam's epsilon, from the spec below
    assert spec["eps"] == 1e-8
    says(prose, "shrinking it to $10^{-12}$")
    assert investigate.VARIANTS["eps1e-12"]["eps"] == 1e-12
    raw = (ROOT / "content" / "index.md").read_text(encoding="utf-8")
    start = raw.index("## It's full of stars")
    end = raw.index("\n## ", start + 3)
    note = raw[raw.index("[^reference]:"):]
    note = note[:note.index("\n\n") if "\n\n" in note else len(note)]
    typed = typed_numbers(" ".join((raw[start:end] + " " + note).split()), VERIFIED)
    assert not typed, f"numbers in section 5 typed, not checked against the data: {typed}"
