"""What the article claims about the frozen sparse-parity runs and the sweep (sections 2 and 3).

These read the committed artifacts (or those under $BUILDER_FREEZE_ROOT, see builder.claims:
each test's `frozen` marker names what it reads); they fail (not skip) when one is missing or stale:
retrain with `python -m builder train sparse-parity` (or sparse-parity-l2). The sweep trains for
hours in the background (`python -m builder train sweep-sparse-parity`, resumable); its tests
check the finished shards, and one checks that every grid point is there.
"""
from __future__ import annotations

import numpy as np
import pytest

from builder import freeze
from builder.analysis import outcomes
from builder.paths import ROOT, freeze_dir, frozen_root
from builder.training import config
from builder.figures.context import BuildContext

ARTIFACTS = frozen_root()
CTX = BuildContext(ARTIFACTS)  # the figure modules read it through a build context

def frozen(name):
    spec = config.get(name).resolve()
    found = freeze.read(name, freeze_dir(ARTIFACTS) / name, freeze.spec_key(spec))
    assert found is not None, \
        f"content/_freeze/{name} is missing or stale: run `python -m builder train {name}`"
    return spec, found.arrays


@pytest.fixture(scope="module")
def l1():
    return frozen("sparse-parity")


@pytest.fixture(scope="module")
def l2():
    return frozen("sparse-parity-l2")


def first(a, condition):
    hits = np.flatnonzero(condition)
    assert len(hits), "never happens"
    return hits[0]


@pytest.mark.frozen("sparse-parity")
def test_shapes(l1):
    spec, a = l1
    assert a["w_in"].shape == (101, 31, spec["hidden"]) and a["w_in"].dtype == np.float16
    assert a["w_out"].shape == (101, spec["hidden"])
    assert a["checkpoint_step"][[0, -1]].tolist() == [0, spec["steps"]]
    assert a["train_acc"].shape == a["test_loss"].shape == (spec["metrics"],)
    assert spec["train_size"] == 1200 and spec["regularizer"] == "l1"


@pytest.mark.frozen("sparse-parity")
def test_memorizes_first_then_generalizes(l1):
    _, a = l1
    memorizing = (a["train_acc"] >= 0.99) & (a["test_acc"] <= 0.60)
    memorized = first(a, memorizing)
    generalized = first(a, a["test_acc"] >= 0.99)
    assert memorized < generalized
    assert a["test_acc"][-1] >= 0.99 and a["train_acc"][-1] >= 0.99


@pytest.mark.frozen("sparse-parity")
def test_train_loss_rises_before_test_loss_collapses(l1):
    _, a = l1
    memorized = first(a, a["train_acc"] >= 0.99)
    generalized = first(a, a["test_acc"] >= 0.99)
    window = a["train_loss"][memorized:generalized + 1]
    lowest = np.minimum.accumulate(window)
    assert (window / lowest).max() > 1.2  # a visible rise on a log axis


@pytest.mark.frozen("sparse-parity")
def test_first_three_inputs_carry_the_weight_at_the_end(l1):
    _, a = l1
    w = np.abs(a["w_in"][-1].astype(np.float32))  # (31, hidden), bias last
    assert w[:3].sum() > 0.5 * w.sum()  # most of all first-layer weight, bias included
    assert w[:3].sum() > 0.95 * w[:30].sum()  # the 27 distractors faded to ~0
    start = np.abs(a["w_in"][0].astype(np.float32))
    assert start[:3].sum() < 0.2 * start[:30].sum()  # not so at the start


@pytest.mark.frozen("sparse-parity", "sparse-parity-l2")
def test_l2_spreads_weight_over_more_neurons(l1, l2):
    _, a1 = l1
    _, a2 = l2
    assert a2["test_acc"][-1] >= 0.99

    def neurons_using_the_three(a):
        per_neuron = np.abs(a["w_in"][-1].astype(np.float32))[:3].sum(axis=0)
        return int((per_neuron > 0.1 * per_neuron.max()).sum())

    assert neurons_using_the_three(a2) > 2 * neurons_using_the_three(a1)
    w2 = np.abs(a2["w_in"][-1].astype(np.float32))
    assert w2[:3].sum() < 0.8 * w2[:30].sum()  # distractors keep weight under L2


@pytest.mark.frozen("sweep-sparse-parity")
def test_finished_sweep_runs_are_grid_points_with_classes():
    sweep = freeze.load_sweep("sweep-sparse-parity", root=ARTIFACTS)
    a, m = sweep.arrays, sweep.manifest
    assert m["runs_total"] == 1125 and a["done"].shape == (1125,)
    assert m["runs_done"] == int(a["done"].sum())
    done = a["done"]
    spec = config.get("sweep-sparse-parity").resolve()
    for axis in ("hidden", "train_size", "weight_decay", "seed"):
        assert set(a[axis][done].tolist()) <= set(spec[axis])
    points = set(zip(*(a[axis][done].tolist() for axis in ("hidden", "train_size",
                                                             "weight_decay", "seed"))))
    assert len(points) == m["runs_done"]
    for key in ("min_train_loss", "min_test_loss", "max_ratio"):
        assert np.isfinite(a[key][done]).all() and np.isnan(a[key][~done]).all()
    assert (a["min_train_loss"][done] <= a["train_curve"][done].min(axis=1)).all()
    codes = outcomes.classify_sweep(a)
    assert (codes[done] >= 0).all() and (codes[~done] == outcomes.UNFINISHED).all()


@pytest.mark.frozen("sweep-sparse-parity")
def test_sweep_figure_holds_every_finished_run_with_its_exact_summaries():
    from builder.figures import sweep_sparse_parity as fig

    a = freeze.load_sweep("sweep-sparse-parity", root=ARTIFACTS).arrays
    rows, curves = fig.grid_data(CTX)
    done = np.flatnonzero(a["done"])
    assert len(rows) == len(done)
    # the page classifies the same float32 values as Python does
    page = outcomes.classify(*np.array([[r["mtr"], r["mte"], r["mr"]] for r in rows],
                                       dtype=np.float32).T)
    assert page.tolist() == outcomes.classify_sweep(a)[done].tolist()
    points = len(a["curve_step"])
    for key, curve in curves.items():
        runs = [r for r in rows if r["cell"] == key]
        assert len(curve) == len(runs) * points and len({r["seed"] for r in runs}) == len(runs)
        assert {(r["wd"], r["h"], r["n"]) for r in runs} == {(runs[0]["wd"], runs[0]["h"], runs[0]["n"])}


@pytest.mark.frozen("sweep-sparse-parity")
def test_an_unfinished_sweep_says_so_on_the_chart():
    from builder.figures import sweep_sparse_parity as fig

    a = freeze.load_sweep("sweep-sparse-parity", root=ARTIFACTS).arrays
    title = fig.grid_chart(CTX).get("title")
    if a["done"].all():
        assert title is None
    else:
        assert title["text"].startswith(f"{int(a['done'].sum()):,} of the 1,125 runs have finished")


@pytest.mark.frozen("sweep-sparse-parity")
def test_section_3_patterns_hold_on_the_finished_runs():
    """Each pattern the prose of section 3 names, on the runs frozen so far (default thresholds)."""
    a = freeze.load_sweep("sweep-sparse-parity", root=ARTIFACTS).arrays
    codes = outcomes.classify_sweep(a)
    HIGH_TRAIN, HIGH_TEST, TOGETHER, GROK = range(4)

    def cell(wd, hidden, n=None):
        m = a["done"] & (a["weight_decay"] == wd) & (a["hidden"] == hidden)
        if n is not None:
            m &= a["train_size"] == n
        return codes[m]

    prose = " ".join((ROOT / "content" / "index.md").read_text(encoding="utf-8").split())
    assert "up to 64 neurons, the weights are almost always held so small" in prose
    small = np.concatenate([cell(1.0, h) for h in (16, 32, 64)])
    assert (small == HIGH_TRAIN).mean() > 0.95
    wide = np.concatenate([cell(1.0, h) for h in (128, 256)])
    assert len(wide) and (wide == HIGH_TEST).mean() > 0.5 and (wide == HIGH_TRAIN).sum() == 0
    light = np.concatenate([cell(0.01, h) for h in (32, 64, 128, 256)])
    assert (light == HIGH_TEST).mean() > 0.9
    assert all((cell(0.1, h) == GROK).all() for h in (64, 128, 256))
    assert (cell(0.03, 16, 1000) != HIGH_TEST).all() and all((cell(0.03, 16, n) == GROK).all() for n in (1250, 1500, 1750))
    assert (cell(0.03, 128, 1500) != GROK).any() and (cell(0.03, 128, 1750) == GROK).all()
    assert (cell(0.3, 16, 1500) == TOGETHER).all()


@pytest.mark.frozen("sweep-sparse-parity")
def test_the_finished_sweep_has_every_grid_point_and_the_counts_the_prose_gives():
    sweep = freeze.load_sweep("sweep-sparse-parity", root=ARTIFACTS)
    a, m = sweep.arrays, sweep.manifest
    assert m["runs_done"] == m["runs_total"] == 1125 and m["shards_done"] == m["shards_total"], \
        "the sweep is unfinished: run `python -m builder train sweep-sparse-parity`"
    spec = config.get("sweep-sparse-parity").resolve()
    points = set(zip(*(a[axis].tolist() for axis in ("hidden", "train_size", "weight_decay", "seed"))))
    assert points == {(h, n, wd, s) for h in spec["hidden"] for n in spec["train_size"]
                      for wd in spec["weight_decay"] for s in spec["seed"]}
    codes = outcomes.classify_sweep(a)
    counts = np.bincount(codes, minlength=4)
    assert (counts > 0).all()  # all four outcomes occur at the default thresholds
    high_train, high_test, together, grok = counts.tolist()
    prose = " ".join((ROOT / "content" / "index.md").read_text(encoding="utf-8").split())
    assert (f"At the default thresholds, {grok} of the 1,125 runs grok, {together} learn the rule with train and "
            f"test loss falling together, {high_test} memorize without ever generalizing, and {high_train} never fit") in prose
    cells = {}
    for i, code in enumerate(codes):
        cells.setdefault((a["hidden"][i], a["train_size"][i], a["weight_decay"][i]), set()).add(int(code))
    unanimous = sum(len(c) == 1 for c in cells.values())
    assert len(cells) == 125 and f"in {unanimous} of the 125 cells, all nine seeds land in the same group" in prose
