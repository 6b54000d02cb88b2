"""Sparse parity: the task generator, the model, the L1 penalty, batching and determinism."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from builder.paths import ROOT
from builder.training import config, experiments, models, tasks, trainer

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def quick_spec():
    return config.load(ROOT)["sparse-parity"].resolve("quick")


def test_labels_are_the_parity_of_the_first_three_bits():
    data = tasks.sparse_parity(30, 3, 200, 300, seeds=[0, 1])
    assert data.train_x.shape == (2, 200, 31) and data.test_x.shape == (2, 300, 31)
    assert data.train_y.shape == (2, 200)
    bits = data.train_x[..., :30]
    assert set(bits.unique().tolist()) == {0.0, 1.0}
    expected = (bits[..., 0] + bits[..., 1] + bits[..., 2]) % 2
    assert torch.equal(data.train_y, expected)
    assert torch.equal(data.test_y, data.test_x[..., :3].sum(-1) % 2)
    # the distractors do not decide the label: flipping bit 3 leaves it unchanged
    flipped = bits.clone()
    flipped[..., 3] = 1 - flipped[..., 3]
    assert torch.equal(tasks.parity_labels(flipped, 3), data.train_y)
    # balanced classes (roughly), so chance is 50%
    assert 0.4 < data.test_y.mean().item() < 0.6


def test_bias_column_is_all_ones():
    data = tasks.sparse_parity(30, 3, 50, 60, seeds=[4])
    assert torch.equal(data.train_x[..., 30], torch.ones(1, 50))
    assert torch.equal(data.test_x[..., 30], torch.ones(1, 60))


def test_seeds_draw_their_own_strings():
    a = tasks.sparse_parity(30, 3, 100, 100, seeds=[0, 1])
    again = tasks.sparse_parity(30, 3, 100, 100, seeds=[1, 0])
    assert torch.equal(a.train_x[0], again.train_x[1])  # same seed, same strings
    assert torch.equal(a.test_x[1], again.test_x[0])
    assert not torch.equal(a.train_x[0], a.train_x[1])  # different seeds, different strings
    assert not torch.equal(a.train_x[0], a.test_x[0])  # test strings are fresh
    # seed s's test stream is not seed s + 1's or anyone's training stream (2s vs 2s + 1)
    assert not torch.equal(a.test_x[0][:50], a.train_x[1][:50])
    # a larger training set begins with the smaller one's strings
    big = tasks.sparse_parity(30, 3, 150, 10, seeds=[0])
    assert torch.equal(big.train_x[0, :100], a.train_x[0])


def test_forward_matches_the_formula():
    cfg = models.ParityConfig(n_in=31, hidden=8)
    params = cfg.init([0, 1])
    assert params["w_in"].shape == (2, 31, 8) and params["w_out"].shape == (2, 8, 1)
    x = tasks.sparse_parity(30, 3, 20, 5, seeds=[0, 1]).train_x
    naive = torch.stack([torch.relu(x[m] @ params["w_in"][m]) @ params["w_out"][m, :, 0]
                         for m in range(2)])
    torch.testing.assert_close(cfg.forward(params, x), naive)
    y = torch.randint(0, 2, (2, 20)).float()
    logits = cfg.forward(params, x)
    p = torch.sigmoid(logits)
    bce = -(y * p.log() + (1 - y) * (1 - p).log()).mean(1)
    torch.testing.assert_close(cfg.loss(logits, y), bce)
    assert cfg.accuracy(torch.tensor([[1.0, -1.0, 2.0]]), torch.tensor([[1.0, 0.0, 0.0]])).item() \
        == pytest.approx(2 / 3)


def test_l1_penalty_gradient_is_sign_times_strength():
    """d/dw of strength * sum|w| is strength * sign(w), per model, added to the loss gradient."""
    cfg = models.ParityConfig(n_in=31, hidden=6)
    data = tasks.sparse_parity(30, 3, 40, 5, seeds=[0, 1])
    strengths = (1e-3, 0.5)

    def grads(l1):
        params = {k: v.clone().requires_grad_(True) for k, v in cfg.init([0, 1]).items()}
        tc = trainer.TrainConfig(steps=1, seeds=(0, 1), lr=(1e-3,) * 2, weight_decay=(0.0,) * 2,
                                 l1=l1)
        trainer.objective(params, cfg, tc, data.train_x, data.train_y).backward()
        return {k: p.grad for k, p in params.items()}, params

    with_l1, params = grads(strengths)
    without, _ = grads((0.0, 0.0))
    for name, p in params.items():
        analytic = torch.tensor(strengths).view(-1, 1, 1) * torch.sign(p.detach())
        torch.testing.assert_close(with_l1[name] - without[name], analytic, rtol=1e-5, atol=1e-6)


def test_batched_runs_with_their_own_data_train_as_if_alone(quick_spec):
    spec = {**quick_spec, "steps": 40, "metrics": 5, "checkpoints": 2}
    specs = [{**spec, "seed": 3, "weight_decay": 1e-3}, {**spec, "seed": 4, "lr": 3e-3}]
    both = experiments.run_parity_batch(specs, progress=False)
    for m, one in enumerate(specs):
        alone = experiments.run_parity(one, progress=False)
        np.testing.assert_allclose(both["final_w_in"][m], alone["final_w_in"], atol=1e-5)
        np.testing.assert_allclose(both["test_loss"][m], alone["test_loss"], rtol=1e-4)
    with pytest.raises(ValueError, match="differ in hidden"):
        experiments.run_parity_batch([spec, {**spec, "hidden": 4}], progress=False)


def test_quick_profile_learns_and_is_deterministic(quick_spec):
    first = experiments.run(quick_spec, progress=False)
    second = experiments.run(quick_spec, progress=False)
    for key in first:
        assert np.array_equal(first[key], second[key]), key
    assert first["w_in"].shape == (6, 31, 32) and first["w_in"].dtype == np.float16
    assert first["w_out"].shape == (6, 32) and first["train_loss"].shape == (21,)
    assert first["train_acc"][-1] > 0.9  # fits its 300 strings
    l2 = experiments.run({**quick_spec, "regularizer": "l2", "weight_decay": 0.3}, progress=False)
    assert not np.array_equal(l2["final_w_in"], first["final_w_in"])


def test_l1_shrinks_the_distractor_weights(quick_spec):
    spec = {**quick_spec, "steps": 150, "metrics": 4, "checkpoints": 2}
    weak = experiments.run({**spec, "weight_decay": 0.0}, progress=False)
    strong = experiments.run({**spec, "weight_decay": 1e-3}, progress=False)
    assert strong["l1_norm"][-1] < 0.9 * weak["l1_norm"][-1]


def test_parity_settings_are_checked(tmp_path):
    from builder.errors import BuildError
    text = (ROOT / "content" / "experiments.toml").read_text()
    bad = text.replace('regularizer = "l1"', 'regularizer = "l3"', 1)
    with pytest.raises(BuildError, match=r'experiments.toml:\d+: regularizer must be one of'):
        config.parse(bad)
