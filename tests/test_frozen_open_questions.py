"""Section 6 against its frozen runs: the architecture sweeps hold every cell, the facts the prose
shows agree with counts made another way, and the memorization runs' moments are in order (the
prose's numbers and sentences are facts and claims: tests/test_claims.py evaluates them).
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
def test_the_section_facts_agree_with_an_independent_count(sweeps):
    """The prose's numbers are facts (builder.figures.sweep_mod, evaluated by test_claims); here
    the same counts come from the frozen sweeps by another route (freeze.load_sweep, the case
    indices of experiments.toml) and must agree."""
    per_case = {reg: [generalized(a, case=k) for k in range(9)] for reg, a in sweeps.items()}
    assert sweep_mod.opening_l2(CTX) == per_case["L2"][0] and sweep_mod.opening_l1(CTX) == per_case["L1"][0]
    assert sweep_mod.best_other(CTX) == max(max(v[1:]) for v in per_case.values())
    assert sweep_mod.collapsed_max(CTX) == max(max(v[4:]) for v in per_case.values())
    assert sweep_mod.nothing_shared_l2(CTX) == per_case["L2"][3]
    assert sweep_mod.l2_generalized(CTX) == generalized(sweeps["L2"]) == generalized(sweeps["L2"], weight_decay=1.0)
    assert sweep_mod.l1_high_train(CTX) == outcomes.counts(classes(sweeps["L1"]))["high train loss"]
    assert sweep_mod.tied_collapsed_train(CTX) == max(float(a["final_train_acc"][a["case"] == 7].max()) for a in sweeps.values())
    assert sweep_mod.opening_rate(CTX) == (sum(v[0] for v in per_case.values()), 48)


def test_roles_follow_the_switches():
    roles = [sweep_mod._role(c) for c in config.get("sweep-mod-l2", ROOT).resolve("full")["cases"]]
    assert roles == ["opening", "untied", "two-in-proj", "nothing-shared", "collapsed", "collapsed", "collapsed",
                     "both-collapsed-tied", "both-collapsed"]


@pytest.mark.frozen("sweep-mod-l2", "sweep-mod-l1")
def test_the_page_rows_classify_as_python_does():
    rows, curves = sweep_mod.grid_data(CTX)
    assert len(rows) == 432 and len(curves) == 2 * 9 * 8
    assert all(len(v) == 3 * 101 for v in curves.values())
    codes = outcomes.classify([r["mtr"] for r in rows], [r["mte"] for r in rows], [r["mr"] for r in rows],
                              sweep_mod.LOSS_THRESHOLD, sweep_mod.RATIO_THRESHOLD)
    assert int(np.isin(codes, GENERALIZED).sum()) == sweep_mod.l2_generalized(CTX) + sum(
        sweep_mod._won(CTX, "L1", case=k) for k in range(9))


@pytest.mark.frozen("seeds-mem-tiny", "mem-tiny")
def test_the_tiny_batch_holds_the_featured_run():
    """Seed 0 of the 30-seed batch is the featured run, trained alone (the seeds' facts describe
    the same model)."""
    a = freeze.ensure("seeds-mem-tiny", root=ARTIFACTS).arrays
    assert np.asarray(a["test_acc"]).shape[0] == 30
    featured = freeze.ensure("mem-tiny", root=ARTIFACTS).arrays
    np.testing.assert_allclose(np.asarray(a["test_acc"])[0], np.asarray(featured["test_acc"]), atol=2e-3)


@pytest.mark.frozen("mem-again")
def test_the_second_runs_moments_are_in_order():
    """fit < end of the plateau < dip < recovery < perfect (the definitions in open_q_mem)."""
    from builder.figures import open_q_mem

    m = open_q_mem.again(CTX)
    steps = m["r"]["metric_step"]
    assert m["fit"] < m["end"] < m["dip"] < m["back"]
    assert steps[m["back"]] < open_q_mem.again_perfect(CTX)
