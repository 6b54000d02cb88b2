"""The section "The progress hidden before the jump": its measures and phases as the charts draw
them. The prose's numbers are facts and its sentences claims (builder.figures.hidden_progress),
evaluated by tests/test_claims.py; these tests check the definitions behind them."""
from __future__ import annotations

import numpy as np
import pytest

from builder.analysis import progress
from builder.figures import hidden_progress as hp
from builder.figures import mod_bot, mod_top
from builder.figures.context import BuildContext
from builder.paths import frozen_root

pytestmark = pytest.mark.frozen("mod-top", "seeds-mod-top")
CTX = BuildContext(frozen_root())


@pytest.fixture(scope="module")
def runs():
    return hp.measures(CTX)


def test_memorization_ends_at_the_logged_test_loss_peak_in_every_run(runs):
    """Issue 27: one definition of the end of memorization, the logged test-loss peak (the
    opening footnote's step), for the phase shading, the leads and the prose."""
    for key, m in runs.items():
        r = m["run"]
        peak = int(r["metric_step"][np.argmax(r["test_loss"])])
        assert m["phases"][0] == ("memorization", 0, peak), key
        if len(m["phases"]) > 1:
            assert m["phases"][1][1] == peak, key
    r = mod_top.run(CTX)
    assert hp.test_peak(CTX) == int(r["metric_step"][np.argmax(r["test_loss"])])
    assert hp.test_peak(CTX) % 500 != 0  # logged between two checkpoints: the measures start at the next one


def test_the_size_chart_draws_the_sum_of_squares_of_every_parameter(runs):
    """Issue 27: the size the story is about is that of the parameters weight decay acts on. The
    logged l2_norm squared is it: at the end it equals the sum of squares of the final E, W_in
    and W_out the artifact keeps."""
    a = CTX.artifact(mod_top.EXPERIMENT).arrays
    final = sum(float(np.square(np.asarray(a[k], np.float64)).sum()) for k in ("final_embed", "final_w_in", "final_w_out"))
    m = runs[hp.FEATURED]
    assert m["param_norm"][-1] == pytest.approx(final, rel=1e-4)
    rows = hp.run_tables(hp.FEATURED, m)["data"]["size"]
    kinds = {row["what"] for row in rows}
    assert kinds == set(hp.SIZES)
    assert sum(row["what"] == hp.SIZES[0] for row in rows) == len(a["metric_step"])
    sister = next(k for k in runs if k != hp.FEATURED)
    assert {row["what"] for row in hp.run_tables(sister, runs[sister])["data"]["size"]} == {hp.SIZES[1]}


def test_the_restricted_loss_is_taken_on_both_splits(runs):
    """Ours on the training pairs, Nanda et al.'s on the held-out pairs: both at every checkpoint,
    equal when the logits depend on a + b alone and the residues are spread the same way."""
    m = runs[hp.FEATURED]
    assert m["restricted_loss_test"].shape == m["restricted_loss"].shape
    assert np.all(m["restricted_loss_test"] > 0)
    p = 7
    w = np.random.default_rng(0).normal(size=(1, p, 3))
    a, b = np.triu_indices(p)
    every = np.arange(len(a))
    half = progress.measures(w, w, every[::2], keys=[1], modes=False)
    assert np.isfinite(half["restricted_loss_test"]).all()


def test_the_lead_starts_at_the_first_checkpoint_after_the_peak():
    step = np.arange(0, 10_001, 1000)
    test = np.array([1, 2, 3, 2.9, 2.5, 2, 1, 0.2, 0.1, 0.05, 0.01])
    restricted = np.array([1, 1, 1, 0.9, 0.5, 0.09, 0.05, 0.01, 0.01, 0.01, 0.01])
    out = progress.lead(step, test, restricted, peak=1500)
    assert out["memorized"] == 2000 and out["restricted"] == 5000 and out["test"] == 7000 and out["lead"] == 2000


def test_the_toy_settings_the_prose_names_are_simulated():
    r = hp.toy_runs(CTX)["adamw-minibatch"]
    assert hp.TOY_STEPS == 100_000 and r["step"][-1] == hp.TOY_STEPS
    assert np.isclose(r["lr"], 1e-3).any() and np.isclose(r["wd"], 0.01).any()
