"""Section 4: the circle-embedding model (kind "circle") and the frozen five-neuron run (what
the prose says about it is facts and claims in builder/figures/five_neuron.py, evaluated by
tests/test_claims.py). The frozen tests (marked `frozen`) read content/_freeze/five-neuron (or
the artifact under $BUILDER_FREEZE_ROOT, see builder.claims) and fail (not skip) when it is
missing or stale: retrain with `python -m builder train five-neuron`."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from builder import freeze
from builder.figures import five_neuron as fig
from builder.paths import ROOT, freeze_dir, frozen_root
from builder.training import config, experiments, models
from builder.figures.context import BuildContext

pytestmark = pytest.mark.usefixtures("torch_one_thread")
EVEN = 2 * math.pi / 5
ARTIFACTS = frozen_root()  # the project whose content/_freeze/ the frozen tests read
CTX = BuildContext(ARTIFACTS)  # the figure modules read it through a build context


@pytest.fixture(scope="module")
def frozen():
    spec = config.get(fig.EXPERIMENT, frozen_root()).resolve()
    found = freeze.read(fig.EXPERIMENT, freeze_dir(ARTIFACTS) / fig.EXPERIMENT, freeze.spec_key(spec))
    assert found is not None, "content/_freeze/five-neuron is missing or stale: run `python -m builder train five-neuron`"
    return fig.run(CTX)


@pytest.fixture(scope="module")
def prose():
    return (ROOT / "content" / "index.md").read_text(encoding="utf-8")


def test_the_circle_model_trains_only_the_two_projections():
    spec = config.get(fig.EXPERIMENT).resolve("quick")
    cfg = experiments.model_config(spec)
    assert cfg.shapes() == {"w_in": (2, 5), "w_out": (5, 2)}
    params = {k: v.requires_grad_() for k, v in cfg.init([0, 1]).items()}
    p = spec["p"]
    x = torch.tensor([[a, b] for a in range(p) for b in range(p)])
    logits = cfg.forward(params, cfg.encode(x))
    # the forward pass is ReLU(E[a] W + E[b] W) W_out E^T with E fixed on the unit circle
    angle = 2 * math.pi * torch.arange(p, dtype=torch.float64) / p
    e = torch.stack([angle.cos(), angle.sin()], 1)
    w_in, w_out = params["w_in"][1].double(), params["w_out"][1].double()
    direct = torch.relu(e[x[:, 0]] @ w_in + e[x[:, 1]] @ w_in) @ w_out @ e.T
    assert torch.allclose(logits[1].double(), direct, atol=1e-5)
    logits.sum().backward()
    assert all(v.grad is not None and v.grad.abs().sum() > 0 for v in params.values())
    with pytest.raises(ValueError, match="circle embedding"):
        models.ModelConfig(n_in=p, n_out=p, embed=3, hidden=5, circle_embedding=True).shapes()


def test_quick_circle_run_stores_both_projections():
    spec = config.get(fig.EXPERIMENT).resolve("quick")
    out = experiments.run(spec, progress=False)
    n = spec["checkpoints"]
    assert out["proj_in"].shape == (n, 2, 5) and out["proj_out"].shape == (n, 5, 2)
    assert out["proj_in"].dtype == np.float32 and out["w_in"].shape == (n, spec["p"], 5)
    # the collapsed matrix is the fixed circle times the stored projection
    angle = 2 * np.pi * np.arange(spec["p"]) / spec["p"]
    e = np.stack([np.cos(angle), np.sin(angle)], 1)
    assert np.allclose(out["w_in"][-1], e @ out["proj_in"][-1], atol=1e-2 * np.abs(out["w_in"][-1]).max())


@pytest.mark.frozen("five-neuron")
def test_the_animation_covers_the_convergence(frozen):
    steps = frozen["step"]
    end = int(np.searchsorted(steps, fig.CONVERGE[1]))
    gaps = fig.geometry(frozen["in"])["gaps"]
    dev = np.degrees(np.abs(gaps - EVEN).max(axis=1))
    assert dev[0] > 30 and dev[end] < 5  # scattered at the start, evenly spaced by its end


