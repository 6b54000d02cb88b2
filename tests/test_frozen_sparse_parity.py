"""The frozen sparse-parity runs and the sweep (sections 2 and 3): their shapes and grid.

What the prose says about them is facts and claims (builder/figures/sparse_parity.py and
sweep_sparse_parity.py), evaluated by tests/test_claims.py.

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
from builder.paths import freeze_dir, frozen_root
from builder.training import config
from builder.figures.context import BuildContext

ARTIFACTS = frozen_root()
CTX = BuildContext(ARTIFACTS)  # the figure modules read it through a build context

def frozen(name):
    spec = config.get(name, frozen_root()).resolve()
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


@pytest.mark.frozen("sparse-parity")
def test_shapes(l1):
    spec, a = l1
    assert a["w_in"].shape == (101, 31, spec["hidden"]) and a["w_in"].dtype == np.float16
    assert a["w_out"].shape == (101, spec["hidden"])
    assert a["checkpoint_step"][[0, -1]].tolist() == [0, spec["steps"]]
    assert a["train_acc"].shape == a["test_loss"].shape == (spec["metrics"],)
    assert spec["train_size"] == 1200 and spec["regularizer"] == "l1"


@pytest.mark.frozen("sparse-parity-l2")
def test_l2_shapes(l2):
    spec, a = l2
    assert a["w_in"].shape == (101, 31, spec["hidden"]) and spec["regularizer"] == "l2"
    assert a["checkpoint_step"][[0, -1]].tolist() == [0, spec["steps"]]


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
def test_the_finished_sweep_has_every_grid_point_and_every_outcome():
    sweep = freeze.load_sweep("sweep-sparse-parity", root=ARTIFACTS)
    a, m = sweep.arrays, sweep.manifest
    assert m["runs_done"] == m["runs_total"] == 1125 and m["shards_done"] == m["shards_total"], \
        "the sweep is unfinished: run `python -m builder train sweep-sparse-parity`"
    spec = config.get("sweep-sparse-parity").resolve()
    points = set(zip(*(a[axis].tolist() for axis in ("hidden", "train_size", "weight_decay", "seed"))))
    assert points == {(h, n, wd, s) for h in spec["hidden"] for n in spec["train_size"]
                      for wd in spec["weight_decay"] for s in spec["seed"]}
    counts = np.bincount(outcomes.classify_sweep(a), minlength=4)
    assert (counts > 0).all()  # all four outcomes occur at the default thresholds
