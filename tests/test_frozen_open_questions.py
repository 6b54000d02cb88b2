"""Section 6 against its frozen runs: the architecture sweeps hold every cell, the numbers the
prose quotes follow from them, and the two memorization runs have the shapes the text describes.
Artifacts are read from builder.paths.frozen_root() (see builder.claims)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from builder import freeze
from builder.analysis import outcomes
from builder.figures import sweep_mod
from builder.paths import ROOT, frozen_root
from builder.training import config, sweep
from builder.figures.context import BuildContext

ARTIFACTS = frozen_root()
CTX = BuildContext(ARTIFACTS)  # the figure modules read it through a build context
GENERALIZED = (2, 3)  # train and test drop together, grokking


@pytest.fixture(scope="module")
def sweeps():
    return {reg: freeze.load_sweep(name, root=ARTIFACTS).arrays for reg, name in sweep_mod.SWEEPS}


def classes(a):
    return outcomes.classify_sweep(a, sweep_mod.LOSS_THRESHOLD, sweep_mod.RATIO_THRESHOLD)


def generalized(a, **where):
    c = classes(a)
    mask = np.isin(c, GENERALIZED)
    for key, value in where.items():
        mask &= np.isclose(np.asarray(a[key], float), value)
    return int(mask.sum())


@pytest.mark.frozen("sweep-mod-l2", "sweep-mod-l1")
@pytest.mark.parametrize("reg,name", sweep_mod.SWEEPS)
def test_every_cell_of_both_sweeps_is_frozen(sweeps, reg, name):
    a = sweeps[reg]
    spec = config.get(name, ROOT).resolve("full")
    assert a["done"].all() and len(a["done"]) == len(sweep.plan(spec).runs) == 216
    cells = set(zip(a["case"].tolist(), a["embed"].tolist(), a["lr"].tolist(), a["weight_decay"].tolist()))
    want = set(itertools.product(range(len(spec["cases"])), spec["embed"], spec["lr"], spec["weight_decay"]))
    assert {(c, e, float(np.float32(l)), float(np.float32(w))) for c, e, l, w in cells} == {
        (c, e, float(np.float32(l)), float(np.float32(w))) for c, e, l, w in want}
    for cell in want:
        m = (a["case"] == cell[0]) & (a["embed"] == cell[1]) & np.isclose(a["lr"], cell[2]) & np.isclose(a["weight_decay"], cell[3])
        assert sorted(a["seed"][m].tolist()) == spec["seed"]


@pytest.mark.frozen("sweep-mod-l2", "sweep-mod-l1")
def test_the_page_thresholds_mark_runs_that_end_above_90_percent(sweeps):
    """The footnote: at the figure's defaults, generalizing = final test accuracy above 90%, for
    every L2 run and all but one L1 run."""
    mismatches = {reg: int((np.isin(classes(a), GENERALIZED) != (a["final_test_acc"] > 0.9)).sum())
                  for reg, a in sweeps.items()}
    assert mismatches == {"L2": 0, "L1": 1}
    # section 3's default would call every L1 run "high train loss"
    assert (outcomes.classify_sweep(sweeps["L1"]) == 0).all()


@pytest.mark.frozen("sweep-mod-l2", "sweep-mod-l1")
def test_the_prose_ranking_of_architectures(sweeps):
    per_case = {reg: [generalized(a, case=k) for k in range(9)] for reg, a in sweeps.items()}
    assert per_case == {"L2": [11, 5, 2, 1, 1, 2, 0, 0, 0], "L1": [8, 3, 3, 1, 0, 1, 0, 0, 0]}
    for reg, counts in per_case.items():
        assert counts[0] == max(counts) and max(counts[1:]) <= 5  # the opening architecture leads
        assert max(counts[4:]) <= 2 and counts[7] == counts[8] == 0  # collapsed sides do worse
    # the tied, doubly collapsed model cannot fit: at most 9% of its training pairs
    for a in sweeps.values():
        assert a["final_train_acc"][a["case"] == 7].max() < 0.095


@pytest.mark.frozen("sweep-mod-l2", "sweep-mod-l1")
def test_the_prose_on_regularization_strength(sweeps):
    l2, l1 = sweeps["L2"], sweeps["L1"]
    c = classes(l2)
    assert generalized(l2) == 22 and generalized(l2, weight_decay=1.0) == 22
    weak = np.isclose(l2["weight_decay"], 0.1)
    assert outcomes.counts(c[weak]) == {"high train loss": 12, "high test loss": 96,
                                        "train and test drop together": 0, "grokking": 0}
    assert set(l2["case"][weak & (c == 0)].tolist()) == {7}
    assert outcomes.counts(classes(l1))["high train loss"] == 78
    assert outcomes.counts(c)["high train loss"] == 36


@pytest.mark.frozen("sweep-mod-l2", "sweep-mod-l1")
def test_the_page_rows_classify_as_python_does():
    rows, curves = sweep_mod.grid_data(CTX)
    assert len(rows) == 432 and len(curves) == 2 * 9 * 8
    assert all(len(v) == 3 * 101 for v in curves.values())
    codes = outcomes.classify([r["mtr"] for r in rows], [r["mte"] for r in rows], [r["mr"] for r in rows],
                              sweep_mod.LOSS_THRESHOLD, sweep_mod.RATIO_THRESHOLD)
    assert int(np.isin(codes, GENERALIZED).sum()) == 22 + 16


def run(name):
    a = freeze.ensure(name, root=ARTIFACTS).arrays
    return {k: np.asarray(a[k]) for k in ("metric_step", "train_acc", "test_acc", "train_loss", "test_loss")}


def at(r, step):
    return int(np.searchsorted(r["metric_step"], step))


@pytest.mark.frozen("mem-tiny")
def test_the_tiny_model_generalizes_then_memorizes():
    r = run("mem-tiny")
    peak = int(np.argmax(r["test_acc"]))
    assert r["metric_step"][peak] == 4350 and round(float(r["test_acc"][peak]), 2) == 0.84
    assert r["train_acc"][peak] < 1  # the peak comes before the training pairs are all fit
    assert r["metric_step"][np.argmax(r["train_acc"] >= 1)] == 6900
    assert (r["train_acc"][at(r, 6900):] == 1).all()
    assert round(float(r["test_acc"][-1]), 2) == 0.73
    assert round(float(r["test_loss"][-1] / r["test_loss"].min())) == 13
    assert r["train_loss"][-1] < 1e-6 < r["train_loss"][peak]  # the training loss keeps falling


@pytest.mark.frozen("mem-again")
def test_the_second_model_generalizes_memorizes_and_generalizes_again():
    r = run("mem-again")
    assert r["metric_step"][np.argmax(r["train_acc"] >= 1)] == 3300
    first = r["test_acc"][at(r, 2000):at(r, 30000) + 1]
    assert 0.87 < first.min() and first.max() < 0.91  # 87% to 91% for 30,000 steps
    i, j = at(r, 28000), at(r, 40000)
    assert round(float(r["train_loss"][i] / r["train_loss"][j])) == 20
    assert 2 <= r["test_loss"][j] / r["test_loss"][i] < 2.5
    assert round(float(r["test_acc"][j]), 2) == 0.84
    dip = r["test_loss"][at(r, 52000)]
    assert dip / r["test_loss"][at(r, 54000):].min() > 1e5  # five orders of magnitude
    assert r["metric_step"][np.argmax(r["test_acc"] >= 1)] == 64900
    assert (r["test_acc"][at(r, 64900):] == 1).all()


@pytest.mark.frozen("seeds-mem-tiny", "mem-tiny")
def test_the_tiny_model_does_the_same_from_30_seeds():
    a = freeze.ensure("seeds-mem-tiny", root=ARTIFACTS).arrays
    steps, acc = np.asarray(a["metric_step"]), np.asarray(a["test_acc"])
    assert acc.shape == (30, 401)
    peak = acc.max(axis=1)
    assert (round(float(peak.min()), 2), round(float(peak.max()), 2)) == (0.77, 0.97)
    assert int((steps[acc.argmax(axis=1)] < 7000).sum()) == 28
    assert int((peak - acc[:, -1] >= 0.03).sum()) == 28
    # seed 0 of the batch is the featured run, trained alone
    np.testing.assert_allclose(acc[0], run("mem-tiny")["test_acc"], atol=2e-3)


@pytest.mark.frozen("seeds-mem-again-slow", "seeds-mem-again-fast", "mem-again")
def test_the_second_models_seed_search():
    """The prose on the 12 runs tried with mem-again's settings (six seeds at lr 1e-3 and 3e-3)."""
    runs = {}
    for speed in ("slow", "fast"):
        a = freeze.ensure(f"seeds-mem-again-{speed}", root=ARTIFACTS).arrays
        steps = np.asarray(a["metric_step"])
        for i, seed in enumerate(np.asarray(a["seed"])):
            runs[(speed, int(seed))] = {k: np.asarray(a[k])[i] for k in ("test_acc", "train_loss")}
    assert len(runs) == 12
    early = [r["test_acc"][steps <= 2000].max() for r in runs.values()]
    assert (round(float(min(early)), 2), round(float(max(early)), 2)) == (0.87, 0.98)
    np.testing.assert_allclose(runs[("fast", 0)]["test_acc"], run("mem-again")["test_acc"], atol=2e-3)

    def lost_and_won_back(r):
        """Points of test accuracy given back (from a peak of at least 87%) while the train loss
        fell 200-fold or more, if the run later came back to within a point of that peak."""
        acc, loss = r["test_acc"], r["train_loss"]
        best = np.maximum.accumulate(acc)
        low = int(np.argmax(best - acc))
        peak = int(np.argmax(acc[:low + 1]))
        fell = loss[peak] / loss[low] >= 200
        back = acc[low:].max() >= acc[peak] - 0.01 or acc[low:].max() >= 0.97
        return round(float(acc[peak] - acc[low]), 3) if fell and back and acc[peak] >= 0.87 else 0

    lost = {k: lost_and_won_back(r) for k, r in runs.items()}
    came_back = {k: v for k, v in lost.items() if v >= 0.03}
    assert sorted(came_back) == [("fast", 0), ("slow", 0), ("slow", 1)]
    assert max(came_back, key=came_back.get) == ("fast", 0) and round(came_back[("fast", 0)], 2) <= 0.08
    assert runs[("fast", 0)]["test_acc"][-1] == 1
    final = {k: round(float(r["test_acc"][-1]), 2) for k, r in runs.items()}
    slid = {k: v for k, v in final.items() if v < 0.97}
    assert sorted(slid.values()) == [0.94, 0.95]
    for k in slid:  # they slid while the train loss rose
        acc, loss = runs[k]["test_acc"], runs[k]["train_loss"]
        peak, low = int(np.argmax(acc)), len(acc) - 1
        assert loss[low] > loss[peak]
    rest = [v for k, v in final.items() if k not in slid and k not in came_back]
    assert len(rest) == 7 and all(0.97 <= v <= 1 for v in rest)
