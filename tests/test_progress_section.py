"""The section "The progress hidden before the jump": every number its prose quotes, recomputed
from the frozen runs (progress measures) and from the toy's simulation."""
from __future__ import annotations

import math

import numpy as np
import pytest

from builder.analysis import progress, toy
from builder.figures import hidden_progress as hp
from builder.figures import mod_bot
from builder.figures.context import BuildContext
from builder.paths import ROOT, frozen_root

from conftest import typed_numbers

pytestmark = pytest.mark.frozen("mod-top", "seeds-mod-top")
CTX = BuildContext(frozen_root())
RAW = (ROOT / "content" / "index.md").read_text(encoding="utf-8")
START = RAW.index("## The progress hidden before the jump")
END = RAW.index("\n## ", START)  # the next section
SECTION = " ".join(RAW[START:END].split())
VERIFIED: list[str] = []


def says(text: str) -> None:
    assert text in SECTION, text
    VERIFIED.append(text)


@pytest.fixture(scope="module")
def runs():
    return hp.measures(CTX)


def at(m: dict, step: int) -> int:
    """The first checkpoint at or after `step`."""
    return int(np.searchsorted(m["step"], step))


def test_the_definitions(runs):
    m = runs[mod_bot.FEATURED]
    p = m["run"]["p"]
    keys = list(m["run"]["groups"])
    says(f"for our opening run {keys[0]}, {keys[1]} and {keys[2]})")
    says(f"Over all ${p}^2$ pairs")
    says(f"$\\cos(2\\pi k (a+b)/{p})$ and $\\sin(2\\pi k (a+b)/{p})$")
    says(f"the {p} logits the model gives the pair")
    says(f"its {(p - 1) // 2} frequency norms")
    says("0 when every frequency carries the same weight and near 1 when a few carry it all")
    assert progress.gini(np.ones(33)) == 0 and progress.gini(np.eye(33)[0]) > 0.96


def test_the_opening_run_in_three_phases(runs):
    m = runs[mod_bot.FEATURED]
    (_, _, memorized), (_, c0, formed), (_, _, done) = m["phases"]
    assert c0 == memorized
    says(f"at step [{memorized:,}]{{show=\"progress.memorized\"}}")
    says(f"at step [{formed:,}]{{show=\"progress.formed\"}}")
    says(f"Cleanup ends when the test loss falls below {mod_bot.REACHED:g}, by step [{done:,}]{{show=\"progress.done\"}}")
    i0, i1 = at(m, memorized), at(m, formed)
    r0, r1 = m["restricted_loss"][i0], m["restricted_loss"][i1]
    assert r1 < r0 / progress.DROP  # "a tenth of its value"
    says(f"the restricted loss falls from {r0:.2f} to {r1:.3f}, a tenth of its value, while the test loss goes from "
         f"{m['test_loss'][i0]:.2f} to {m['test_loss'][i1]:.2f}")
    says(f"The excluded loss rises from {m['excluded_loss'][i0]:.3f} to {m['excluded_loss'][i1]:.2f}")
    assert m["excluded_loss"][-1] < m["excluded_loss"][i1] and abs(m["excluded_loss"][-1] - math.log(67) / 67) < 0.03
    # the accuracy chart's quiet stretch: test accuracy near chance for twenty thousand steps
    r = mod_bot.run(CTX)
    quiet = r["test_acc"][r["metric_step"] < 20_000]
    assert quiet.max() < 0.1 and r["test_acc"][r["metric_step"] >= 20_000].max() > 0.9


def test_the_weights_shrink_and_concentrate_in_cleanup(runs):
    m = runs[mod_bot.FEATURED]
    (_, _, memorized), (_, c0, formed), (_, _, done) = m["phases"]
    size = m["size"]
    assert int(np.argmax(size)) <= at(m, memorized)
    says(f"which had jumped from {size[0]:,.0f} to {size.max():,.0f} during memorization")
    after = at(m, done)
    drop = 1 - size[after] / size[at(m, formed)]
    says(f"falls by {drop:.0%} in the {int(m['step'][after]) - formed:,} steps from {formed:,} to {int(m['step'][after]):,}")
    g = m["gini"]
    says(f"it creeps from {g[at(m, c0)]:.2f} to {g[at(m, formed)]:.2f} during circuit formation, reaches {g[after]:.2f} "
         f"by the end of cleanup and {g[-1]:.2f} by the end of training")


def test_every_generalizing_run_shows_the_same_order(runs):
    reached = [m for m in runs.values() if m["run"]["reached"]]
    sisters = [m for k, m in runs.items() if k != mod_bot.FEATURED and m["run"]["reached"]]
    says(f"each of the {len(sisters)} sister runs that generalized, and our own")
    leads = np.array([m["lead"]["lead"] for m in reached])
    first, same = int((leads > 0).sum()), int((leads == 0).sum())
    assert first + same == len(reached) and same == 1
    says(f"before the test loss did in {first} of the {len(reached)} runs, and at the same checkpoint in the other")
    says(f"the lead is {np.median(leads):,.0f} steps at the median and up to {leads.max():,}")
    says(f"fell to a tenth of its value at the end of memorization")
    assert progress.DROP == 10
    spacing = {int(np.diff(m["step"])[0]) for k, m in runs.items() if k != mod_bot.FEATURED}
    assert len(spacing) == 1
    says(f"kept their weights only every {spacing.pop():,} steps")


def test_the_loss_of_each_frequency(runs):
    m = runs[mod_bot.FEATURED]
    keys = list(m["run"]["groups"])
    other = [k for k in range(1, m["mode_loss"].shape[1] + 1) if k not in keys]
    ml, steps = m["mode_loss"], m["step"]
    floor = ml[:, [k - 1 for k in other]].min(axis=1)
    from_step = {}
    for k in keys:
        below = ml[:, k - 1] < floor
        from_step[k] = next(int(steps[i]) for i in range(len(steps)) if below[i:].all())
    order = sorted(keys, key=from_step.get)
    (_, _, _), (_, _, formed), (_, _, done) = m["phases"]
    assert formed <= from_step[order[2]] <= done  # "in cleanup"
    says(f"frequency {order[0]} drops below every other frequency for good at step {from_step[order[0]]:,}, frequency "
         f"{order[1]} at step {from_step[order[1]]:,} and frequency {order[2]} only at step {from_step[order[2]]:,}, in cleanup")
    end_keys, end_other = ml[-1, [k - 1 for k in keys]], ml[-1, [k - 1 for k in other]]
    guess = math.log(67) / 67
    assert end_keys.max() < 0.55 * guess  # "halves"
    says(f"({end_keys.min():.3f} to {end_keys.max():.3f}, against $\\ln(67)/67 \\approx {guess:.3f}$)")
    says(f"no better than guessing ({end_other.min():.3f} to {end_other.max():.3f})")
    assert end_other.min() > 0.98 * guess


def test_the_toy_as_told():
    g_min, m_min = toy.min_norm_fit()
    says(f"{toy.N} training examples, all with target 1")
    says(f"the fit with the smallest weights puts $g = {toy.N}/{toy.N + 1}$")
    says(f"All {toy.N + 1} weights start at 0")
    r = hp.toy_runs(CTX)
    sgd = r["sgd"]
    assert (sgd["m_mean"][:, -1] < m_min + 1e-6).all() and (sgd["g"][:, -1] > sgd["m_mean"][:, -1] * 50).all()
    assert np.abs(sgd["m_mean"][sgd["wd"] == 0, -1] - m_min).max() < 1e-4  # without decay: the smallest fit
    says(f"the memorizers end at {m_min:.2f} or less")
    adam = r["adamw"]
    assert np.abs(adam["g"][:, -1] - 0.5).max() < 0.01 and np.abs(adam["m_mean"][:, -1] - 0.5).max() < 0.01  # every setting
    says("meet the data at $g = m_i = 0.5$")
    says(f"random minibatches of {toy.BATCH} examples")
    mini = r["adamw-minibatch"]
    i = int(np.flatnonzero(np.isclose(mini["lr"], 1e-3) & np.isclose(mini["wd"], 0.01))[0])
    assert mini["step"][-1] == hp.TOY_STEPS
    says(f"at a learning rate of 0.001 and weight decay of 0.01 it is at {mini['g'][i, -1]:.2f} after {hp.TOY_STEPS:,} steps")
    assert (mini["g"][:, -1] < g_min - 0.05).all()  # "stops short of the smallest fit", every setting


def test_every_number_of_the_section_is_computed(runs):
    VERIFIED.clear()
    test_the_definitions(runs)
    test_the_opening_run_in_three_phases(runs)
    test_the_weights_shrink_and_concentrate_in_cleanup(runs)
    test_every_generalizing_run_shows_the_same_order(runs)
    test_the_loss_of_each_frequency(runs)
    test_the_toy_as_told()
    typed = typed_numbers(SECTION, VERIFIED)
    assert not typed, f"numbers in the section typed, not checked against the data: {typed}"
