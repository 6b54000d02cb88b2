"""Issue 27's minibatches: `batch_size` draws each step's examples per model; unwritten, training
is full batch exactly as before (no spec or key changes: tests/test_optimizers.py)."""
from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest
import torch

from builder import freeze
from builder.errors import BuildError
from builder.paths import ROOT
from builder.training import config, experiments, models, tasks, trainer

from conftest import TINY_RUN_TOML

pytestmark = pytest.mark.usefixtures("torch_one_thread")

SEEDS = (3, 4)


def sgd(batch_size: int = 0, steps: int = 6, seeds=SEEDS) -> trainer.TrainConfig:
    n = len(seeds)
    return trainer.TrainConfig(steps=steps, seeds=tuple(seeds), lr=(0.5, 1.0)[:n],
                               weight_decay=(0.1, 0.0)[:n], l1=(0.0,) * n, n_metrics=3,
                               n_checkpoints=0, optimizer="sgd", momentum=0.9,
                               batch_size=batch_size)


def modular():
    """p = 7, 60% of the 28 pairs: 17 training examples every model shares."""
    return tasks.modular_addition(7, 0.6, 0), models.ModelConfig(n_in=7, n_out=7, embed=5, hidden=4)


def parity():
    """20 training strings of each model's own (y is (M, N))."""
    data = tasks.sparse_parity(6, 2, 20, 10, list(SEEDS))
    return data, models.ParityConfig(n_in=7, hidden=8)


def test_batch_size_changes_the_trajectory_but_not_the_logged_training_set():
    data, model = modular()
    full = trainer.train(data, model, sgd(), progress=False)
    mini = trainer.train(data, model, sgd(batch_size=5), progress=False)
    assert not np.allclose(full["final_embed"], mini["final_embed"])
    assert not np.allclose(full["train_loss"][:, -1], mini["train_loss"][:, -1])
    # step 0 is logged before any update: the same weights, measured on all 17 pairs either way
    np.testing.assert_array_equal(full["train_loss"][:, 0], mini["train_loss"][:, 0])
    np.testing.assert_array_equal(full["train_acc"][:, 0], mini["train_acc"][:, 0])
    # the final train accuracy is a fraction of all 17 pairs, not of a batch of 5
    assert np.allclose(mini["train_acc"][:, -1] * 17, np.round(mini["train_acc"][:, -1] * 17))


@pytest.mark.parametrize("task", [modular, parity])
def test_a_minibatch_run_is_deterministic_and_does_not_depend_on_its_batch(task):
    """The same seeds give the same bits; a model's stream is its own, so a model trained alone
    follows (to rounding) the same path as inside a batch of two."""
    data, model = task()
    one = trainer.train(data, model, sgd(batch_size=5), progress=False)
    again = trainer.train(data, model, sgd(batch_size=5), progress=False)
    for key in one:
        np.testing.assert_array_equal(one[key], again[key], err_msg=key)
    if task is parity:
        return  # a parity model's strings come from its batch's seeds: alone is another data set
    # the second model of the batch (seed 4, lr 1, no decay), alone
    cfg = dataclasses.replace(sgd(batch_size=5, seeds=SEEDS[1:]), lr=(1.0,), weight_decay=(0.0,))
    alone = trainer.train(data, model, cfg, progress=False)
    for key in ("final_embed", "final_w_in", "final_w_out"):
        np.testing.assert_allclose(alone[key][0], one[key][1], rtol=1e-5, atol=1e-6, err_msg=key)


@pytest.mark.parametrize("task", [modular, parity])
def test_each_step_takes_the_gradient_of_exactly_batch_size_examples(task):
    """Every update's gradient is, per model, the gradient of the mean loss over the 5 distinct
    examples its own generator draws that step (reproduced here from trainer.batch_generators),
    at the weights before that update."""
    data, model = task()
    size, steps = 5, 4
    start = model.init(list(SEEDS))
    weights, grads_seen = [start], []

    def probe(step, params, grads, moments):
        grads_seen.append({k: g.clone() for k, g in grads.items()})
        weights.append({k: p.detach().clone() for k, p in params.items()})

    trainer.train(data, model, sgd(batch_size=size, steps=steps), progress=False, probe=probe)
    assert len(grads_seen) == steps
    generators = trainer.batch_generators(SEEDS)
    inputs, y = model.encode(data.train_x), data.train_y
    shared = y.dim() == 1
    n = len(y) if shared else y.shape[1]
    drawn = []
    for step, grads in enumerate(grads_seen):
        index = trainer.draw_batch(generators, n, size)
        assert index.shape == (2, size)
        drawn.append(index)
        for m in range(2):
            assert len(set(index[m].tolist())) == size  # without replacement
            params = {k: p[m:m + 1].clone().requires_grad_(True) for k, p in weights[step].items()}
            if shared:
                x = tuple(t[index[m]] for t in inputs)
                labels = y[index[m]]
            else:
                x, labels = inputs[m:m + 1, index[m]], y[m:m + 1, index[m]]
            model.loss(model.forward(params, x), labels).sum().backward()
            for k, p in params.items():
                torch.testing.assert_close(grads[k][m], p.grad[0], rtol=1e-5, atol=1e-7,
                                           msg=f"step {step + 1}, model {m}, {k}")
    # fresh each step, and each model its own
    assert not torch.equal(drawn[0], drawn[1])
    assert not torch.equal(drawn[0][0], drawn[0][1])


def test_rows_picks_shared_or_own_examples():
    index = torch.tensor([[2, 0], [1, 2]])
    shared_x = torch.arange(3.0).view(3, 1)
    x, y = trainer.rows(((shared_x, shared_x * 10), torch.tensor([5, 6, 7])), index)
    assert x[0].squeeze(-1).tolist() == [[2.0, 0.0], [1.0, 2.0]] and x[1].shape == (2, 2, 1)
    assert y.tolist() == [[7, 5], [6, 7]]
    own_x = torch.arange(6.0).view(2, 3, 1)  # model 0's rows 0, 1, 2; model 1's rows 3, 4, 5
    x, y = trainer.rows((own_x, torch.tensor([[0, 1, 2], [3, 4, 5]])), index)
    assert x.squeeze(-1).tolist() == [[2.0, 0.0], [4.0, 5.0]] and y.tolist() == [[2, 0], [4, 5]]


def test_a_minibatch_run_resumes_bit_for_bit(tmp_path):
    """Each model's batch generator is part of the saved state: stopped at step 3 and resumed, a
    run draws the batches an uninterrupted one draws."""
    data, model = modular()
    cfg = sgd(batch_size=5, steps=8)
    whole = trainer.train(data, model, cfg, progress=False)
    state = tmp_path / "state.pt"
    assert trainer.train(data, model, cfg, state_path=state, state_key="k", max_steps=3,
                         progress=False) is None
    resumed = trainer.train(data, model, cfg, state_path=state, state_key="k", progress=False)
    for key in whole:
        np.testing.assert_array_equal(whole[key], resumed[key], err_msg=key)


def test_batch_size_reaches_the_trainer_and_the_key_only_when_written():
    base = config.parse(TINY_RUN_TOML)["tiny"].resolve()
    assert "batch_size" not in base and experiments.train_config([base]).batch_size == 0
    written = config.parse(TINY_RUN_TOML + "batch_size = 8\n")["tiny"].resolve()
    assert written["batch_size"] == 8 and experiments.train_config([written]).batch_size == 8
    assert experiments.spec_key(written) != experiments.spec_key(base)


@pytest.mark.parametrize("extra, message", [
    ("batch_size = 0", "batch_size must be positive, not 0"),
    ("batch_size = -4", "batch_size must be positive, not -4"),
    ("batch_size = 2.5", "batch_size must be an integer, not 2.5"),
    # p = 11, train_fraction 0.5: 33 of the 66 pairs
    ("batch_size = 34", "batch_size = 34 is more than the 33 training pairs (p = 11, "
                        "train_fraction = 0.5)"),
])
def test_a_bad_batch_size_is_a_one_line_error_at_its_line(extra, message):
    text = TINY_RUN_TOML + "# a comment\n" + extra + "\n"
    line = text.splitlines().index(extra) + 1
    with pytest.raises(BuildError) as info:
        config.parse(text)
    shown = str(info.value)
    assert shown.startswith(f"content/experiments.toml:{line}: ") and message in shown, shown
    assert "\n" not in shown and "hint" in shown
    config.parse(TINY_RUN_TOML + "batch_size = 33\n")  # every training pair: allowed


def test_a_parity_batch_larger_than_its_strings_is_refused():
    text = (ROOT / "content" / "experiments.toml").read_text()
    bad = text.replace("[sparse-parity]\n", "[sparse-parity]\nbatch_size = 100000\n", 1)
    with pytest.raises(BuildError, match=r"experiments.toml:\d+: \[sparse-parity\] batch_size = "
                                         r"100000 is more than the [\d,]+ training strings"):
        config.parse(bad)


MATCHED = ("sweep-grok-sgd-matched", "sweep-grok-minibatch", "sweep-grok-gd")


def test_the_matched_grids_are_adamws_cell_for_cell():
    """Each of the three sweeps is [sweep-grok-phase] with lr x 1,000 and decay / 1,000 (the same
    lr x decay, the decoupled shrink of a step), the same seeds, model, split and logging."""
    table = config.load(ROOT)
    adam = table["sweep-grok-phase"].resolve()
    for name in MATCHED:
        spec = table[name].resolve()
        assert spec["optimizer"] == "sgd"
        assert [lr / 1000 for lr in spec["lr"]] == pytest.approx(adam["lr"], rel=1e-12)
        assert [wd * 1000 for wd in spec["weight_decay"]] == pytest.approx(adam["weight_decay"], rel=1e-12)
        same = {k: v for k, v in spec.items()
                if k not in ("lr", "weight_decay", "optimizer", "momentum", "batch_size")}
        assert same == {k: v for k, v in adam.items() if k not in ("lr", "weight_decay")}, name
    momenta = {name: table[name].resolve()["momentum"] for name in MATCHED}
    assert momenta == {"sweep-grok-sgd-matched": 0.9, "sweep-grok-minibatch": 0.9, "sweep-grok-gd": 0.0}
    assert table["sweep-grok-minibatch"].resolve()["batch_size"] == 128
    assert "batch_size" not in table["sweep-grok-sgd-matched"].resolve()
    assert tasks.modular_train_size(67, 0.4) == 911


@pytest.mark.parametrize("name", MATCHED)
def test_the_quick_profile_of_each_matched_sweep_trains(tmp_path, name):
    (tmp_path / "content").mkdir()
    shutil.copy(ROOT / "content" / "experiments.toml", tmp_path / "content" / "experiments.toml")
    frozen = freeze.train_sweep(name, root=tmp_path, profile="quick", progress=False)
    a = frozen.arrays
    assert frozen.manifest["runs_done"] == frozen.manifest["runs_total"] == 4 and a["done"].all()
    assert a["curve_step"][-1] == 300 and (a["first_test_acc_90"] >= -1).all()
    # at the smaller rate every run trains; at 10 the minibatch runs may diverge (a NaN loss),
    # which the summary keeps as it is, its accuracies still fractions
    assert np.isfinite(a["train_curve"][a["lr"] == 1.0]).all()
    assert ((a["final_train_acc"] >= 0) & (a["final_train_acc"] <= 1)).all()
