"""The investigation's switches (issue 19): the reference's order of products computes the same
function, and the probe hook sees every update and leaves the run as it was."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from builder.training import models, tasks, trainer

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.mark.parametrize("switches", [
    {}, {"tied_embedding": False}, {"tied_in_projection": False},
    {"collapsed_input": True, "tied_embedding": False}, {"collapsed_output": True, "embed": 6},
])
def test_sequential_order_is_the_same_function(switches):
    cfg = models.ModelConfig(**{"n_in": 7, "n_out": 7, "embed": 5, "hidden": 6, **switches})
    params = models.init_params(cfg, [3, 4])
    inputs = models.encode(tasks.modular_pairs(7), 7)
    sequential = models.ModelConfig(**{**cfg.__dict__, "sequential": True})
    torch.testing.assert_close(models.forward(params, sequential, inputs),
                               models.forward(params, cfg, inputs), rtol=1e-5, atol=1e-5)


def test_probe_sees_every_update_and_changes_nothing():
    data = tasks.modular_addition(23, 0.5, 0)
    cfg = models.ModelConfig(23, 23, embed=16, hidden=8)
    tc = trainer.TrainConfig(steps=40, seeds=(5, 6), lr=(1e-2, 1e-2), weight_decay=(1.0, 1.0),
                             l1=(0.0, 0.0), n_metrics=5, n_checkpoints=2)
    seen = []
    plain = trainer.train(data, cfg, tc, progress=False)
    probed = trainer.train(data, cfg, tc, progress=False,
                           probe=lambda step, params, grads, moments: seen.append(step))
    assert seen == list(range(1, 41))
    for key in plain:
        np.testing.assert_array_equal(plain[key], probed[key])
    torch.set_flush_denormal(True)
