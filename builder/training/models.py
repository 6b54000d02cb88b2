"""The models, batched over a leading models axis: the modular-addition and sparse-parity MLPs.

The trainer sees a model only through its config's methods (`init`, `encode`, `forward`, `loss`,
`accuracy`, `snapshot`), so both configs below offer the same six.

Modular addition:

    logits = ReLU(E_in[a] W_a + E_in[b] W_b) W_out E_out^T          (no biases)

Every parameter has shape (M, ...): M independent models train in the same matrix products.
Switches (all off gives the opening model with its tied embedding and shared in-projection):

- tied_embedding:      E_in and E_out are one matrix E.
- tied_in_projection:  W_a and W_b are one matrix W_in.
- collapsed_input:     no in-projection; the embedding maps straight to the hidden layer.
- collapsed_output:    no out-projection; the hidden layer meets E_out directly.

A collapsed side's embedding is `hidden` wide instead of `embed` wide; a tied embedding needs both
sides equally wide.

- sequential:          the reference's order of products (builder.training.investigate only):
                       one-hot rows times E, then W_in; hidden times W_out, then E^T; instead
                       of the collapsed matrices below. The same function, other roundings,
                       ~10x slower.
- circle_embedding:    E is not learned but fixed: row i is (cos, sin)(2 pi i / p), so only the
                       2 x hidden in-projection and the hidden x 2 out-projection train (the
                       five-neuron model of section 4). Needs embed 2, tied, nothing collapsed.

The products are computed on the collapsed matrices (E_in W_a is p x hidden, W_out E_out^T is
hidden x p) and rows are gathered per example, instead of pushing every example through the wide
embedding: the same function, 5-12x faster.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

# The reference's embedding initialiser (variance scaling 2, fan-in, truncated normal) divides the
# standard deviation by the std of a unit normal truncated at +-2, so the drawn values have the
# nominal std sqrt(2 / fan_in). Its linear layers do not correct, so theirs is ~0.88 / sqrt(fan_in).
TRUNCATED_STD = 0.87962566103423978


@dataclass(frozen=True)
class ModelConfig:
    n_in: int  # input symbols (p)
    n_out: int  # output classes (p)
    embed: int = 500
    hidden: int = 24
    tied_embedding: bool = True
    tied_in_projection: bool = True
    collapsed_input: bool = False
    collapsed_output: bool = False
    circle_embedding: bool = False
    sequential: bool = False
    snapshot_extra: tuple[str, ...] = ()  # what checkpoints keep beyond snapshot()'s default

    @property
    def embed_in(self) -> int:
        return self.hidden if self.collapsed_input else self.embed

    @property
    def embed_out(self) -> int:
        return self.hidden if self.collapsed_output else self.embed

    def check(self) -> None:
        if self.circle_embedding and (self.embed != 2 or not self.tied_embedding
                                      or self.collapsed_input or self.collapsed_output):
            raise ValueError("a circle embedding is tied, 2 wide and has both projections")
        unknown = [name for name in self.snapshot_extra if name not in SNAPSHOT_EXTRAS]
        if unknown:
            raise ValueError(f"no snapshot field {unknown[0]!r} (there are {', '.join(SNAPSHOT_EXTRAS)})")
        if self.circle_embedding and "embed" in self.snapshot_extra:
            raise ValueError("a circle embedding is fixed, not learned: there is none to snapshot")
        if self.tied_embedding and self.embed_in != self.embed_out:
            raise ValueError(
                "a tied embedding with one collapsed side needs embed == hidden "
                f"(embed {self.embed}, hidden {self.hidden})")

    def shapes(self) -> dict[str, tuple[int, int]]:
        """Parameter name -> shape of one model's matrix, in the order they are initialised."""
        self.check()
        shapes = {}
        if self.circle_embedding:
            pass  # fixed, not a parameter: see circle()
        elif self.tied_embedding:
            shapes["embed"] = (self.n_in, self.embed_in)
        else:
            shapes["embed_in"] = (self.n_in, self.embed_in)
            shapes["embed_out"] = (self.n_out, self.embed_out)
        if not self.collapsed_input:
            if self.tied_in_projection:
                shapes["w_in"] = (self.embed_in, self.hidden)
            else:
                shapes["w_in_a"] = (self.embed_in, self.hidden)
                shapes["w_in_b"] = (self.embed_in, self.hidden)
        if not self.collapsed_output:
            shapes["w_out"] = (self.hidden, self.embed_out)
        return shapes

    # the trainer's interface (the module functions below do the work)
    def init(self, seeds: list[int]) -> dict[str, torch.Tensor]:
        return init_params(self, seeds)

    def encode(self, x: torch.Tensor):
        return encode(x, self.n_in)

    def forward(self, params, inputs) -> torch.Tensor:
        return forward(params, self, inputs)

    def loss(self, logits, y) -> torch.Tensor:
        return loss(logits, y)

    def loss_grad(self, y, n_models: int):
        return loss_grad(y, n_models, self.n_out)

    def accuracy(self, logits, y) -> torch.Tensor:
        return accuracy(logits, y)

    def snapshot(self, params) -> dict[str, torch.Tensor]:
        return snapshot(params, self)


def init_params(cfg: ModelConfig, seeds: list[int]) -> dict[str, torch.Tensor]:
    """One model per seed, each drawn from its own generator: (M, rows, cols) float32 tensors."""
    per_model = []
    for seed in seeds:
        gen = torch.Generator().manual_seed(seed)
        one = {}
        for name, (rows, cols) in cfg.shapes().items():
            t = torch.empty(rows, cols)
            if name.startswith("embed"):  # variance scaling 2 over fan-in `rows`, corrected
                std = math.sqrt(2.0 / rows) / TRUNCATED_STD
            else:  # linear layer: parameter std 1 / sqrt(fan_in), truncated at 2 std
                std = 1.0 / math.sqrt(rows)
            one[name] = torch.nn.init.trunc_normal_(t, 0.0, std, -2 * std, 2 * std, generator=gen)
        per_model.append(one)
    return {name: torch.stack([one[name] for one in per_model]) for name in per_model[0]}


def circle(p: int) -> torch.Tensor:
    """The fixed embedding (1, p, 2): number i at angle 2 pi i / p on the unit circle."""
    angle = 2 * math.pi * torch.arange(p, dtype=torch.float64) / p
    return torch.stack([angle.cos(), angle.sin()], dim=1).float().unsqueeze(0)


def collapsed(params: dict[str, torch.Tensor], cfg: ModelConfig):
    """(in_a, in_b, out): the (M, p, hidden) matrices the hidden layer actually sees.

    in_a = E_in W_a and in_b = E_in W_b; out = (W_out E_out^T)^T, one row per output class.
    """
    if cfg.circle_embedding:
        e_in = e_out = circle(cfg.n_in)
    else:
        e_in = params["embed"] if cfg.tied_embedding else params["embed_in"]
        e_out = params["embed"] if cfg.tied_embedding else params["embed_out"]
    if cfg.collapsed_input:
        in_a = in_b = e_in
    elif cfg.tied_in_projection:
        in_a = in_b = e_in @ params["w_in"]
    else:
        in_a, in_b = e_in @ params["w_in_a"], e_in @ params["w_in_b"]
    out = e_out if cfg.collapsed_output else e_out @ params["w_out"].transpose(1, 2)
    return in_a, in_b, out


def encode(x: torch.Tensor, n_in: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One-hot rows (N, n_in) for the a's and the b's of inputs x (N, 2) of symbol indices.

    Multiplying by one-hot rows instead of indexing keeps forward and backward as matrix
    products; on CPU the scatter behind an indexing backward is several times slower.
    """
    eye = torch.eye(n_in)
    return eye[x[:, 0]], eye[x[:, 1]]


def forward(params: dict[str, torch.Tensor], cfg: ModelConfig, inputs) -> torch.Tensor:
    """Logits (M, N, n_out) for inputs = encode(x, cfg.n_in)."""
    if cfg.sequential:
        return forward_sequential(params, cfg, inputs)
    one_a, one_b = inputs
    in_a, in_b, out = collapsed(params, cfg)
    if in_a is in_b:  # a shared in-projection: E[a] W + E[b] W = (onehot(a) + onehot(b)) E W
        pre = (one_a + one_b) @ in_a
    else:
        pre = one_a @ in_a + one_b @ in_b
    return torch.relu(pre) @ out.transpose(1, 2)


def forward_sequential(params: dict[str, torch.Tensor], cfg: ModelConfig, inputs) -> torch.Tensor:
    """forward() in the reference's order: (onehot(a) E) W_in + (onehot(b) E) W_in, then
    (ReLU(.) W_out) E^T; each product of the chain evaluated on the (M, N, embed) activations."""
    if cfg.circle_embedding:
        raise ValueError("sequential order is for learned embeddings")
    one_a, one_b = inputs
    e_in = params["embed"] if cfg.tied_embedding else params["embed_in"]
    e_out = params["embed"] if cfg.tied_embedding else params["embed_out"]
    # onehot(a) E is exactly row a of E: gathered (the same values, ~2x faster than the product)
    emb_a, emb_b = e_in[:, one_a.argmax(-1)], e_in[:, one_b.argmax(-1)]  # (M, N, embed_in)
    if cfg.collapsed_input:
        pre = emb_a + emb_b
    elif cfg.tied_in_projection:
        pre = emb_a @ params["w_in"] + emb_b @ params["w_in"]
    else:
        pre = emb_a @ params["w_in_a"] + emb_b @ params["w_in_b"]
    hidden = torch.relu(pre)
    out = hidden if cfg.collapsed_output else hidden @ params["w_out"]
    return out @ e_out.transpose(1, 2)


def loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-model cross-entropy averaged over examples *and* classes: (M,).

    Dividing by the class count follows the reference (initial loss ~ ln(p) / p, not ln(p)).
    """
    return nll(torch.log_softmax(logits, dim=-1), y)


def nll(logp: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """`loss` from the log-probabilities on: (M,)."""
    picked = -logp.gather(-1, y.expand(logp.shape[0], -1).unsqueeze(-1)).squeeze(-1)
    return picked.mean(dim=1) / logp.shape[-1]


def loss_grad(y: torch.Tensor, n_models: int, n_classes: int):
    """A function: logits (n_models, N, n_classes) -> the gradient of loss(logits, y).sum().

    What autograd passes back to the log-softmax is a constant: nll is linear in log p, so its
    gradient (-1 / (N n_classes) at each label, 0 elsewhere) is made once, by autograd on `nll`
    itself, and the log-softmax's backward runs on it each call, as inside loss(...).backward().
    The same bits, without the gather, the scatter into a zeroed (M, N, p) tensor, and the mean
    of every step (~10% of a batched step of the opening model).
    """
    logp = torch.zeros(n_models, len(y), n_classes, device=y.device, requires_grad=True)
    (upstream,) = torch.autograd.grad(nll(logp, y).sum(), logp)

    def grad(logits: torch.Tensor) -> torch.Tensor:
        z = logits.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(torch.log_softmax(z, dim=-1), z, upstream)
        return g

    return grad


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-model fraction of examples whose largest logit is the label: (M,)."""
    return (logits.argmax(dim=-1) == y).float().mean(dim=1)


def weight_norms(params: dict[str, torch.Tensor]):
    """(L1, L2) norms of each model's parameters taken together: two (M,) tensors."""
    flat = torch.cat([p.flatten(1) for p in params.values()], dim=1)
    return flat.abs().sum(dim=1), flat.square().sum(dim=1).sqrt()


def embedding(params: dict[str, torch.Tensor], cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """The learned embedding itself: embed (M, p, embed), or embed_in and embed_out if untied."""
    names = ("embed",) if cfg.tied_embedding else ("embed_in", "embed_out")
    return {name: params[name].detach() for name in names}


# Fields an experiment may ask its checkpoints to keep besides the default (its `snapshot`
# setting in experiments.toml, e.g. snapshot = ["embed"]): name -> (params, cfg) -> arrays.
SNAPSHOT_EXTRAS = {"embed": embedding}


def snapshot(params: dict[str, torch.Tensor], cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """What a weight checkpoint keeps: the collapsed matrices, (M, p, hidden) each, then the
    extra fields cfg.snapshot_extra names (SNAPSHOT_EXTRAS).

    w_in is E W_in (with an untied in-projection: w_in_a and w_in_b); w_out is (W_out E^T)^T.
    """
    in_a, in_b, out = collapsed(params, cfg)
    if cfg.circle_embedding:  # also the two small projections themselves
        kept = {"w_in": in_a, "w_out": out, "proj_in": params["w_in"].detach(),
                "proj_out": params["w_out"].detach()}
    elif cfg.collapsed_input or cfg.tied_in_projection:
        kept = {"w_in": in_a, "w_out": out}
    else:
        kept = {"w_in_a": in_a, "w_in_b": in_b, "w_out": out}
    for name in cfg.snapshot_extra:
        kept.update(SNAPSHOT_EXTRAS[name](params, cfg))
    return kept


@dataclass(frozen=True)
class ParityConfig:
    """Sparse parity: logit = ReLU(x W_in) w_out for x = 30 bits and a constant 1 (31 inputs).

    The appended 1 is the hidden layer's bias (its row of W_in), so W_in holds every first-layer
    weight and the heatmap shows the bias as one more input. No output bias: the labels are
    balanced, and without one every weight sits in the two matrices the figures draw.
    """
    n_in: int = 31  # the bits and the constant 1
    hidden: int = 64

    def shapes(self) -> dict[str, tuple[int, int]]:
        return {"w_in": (self.n_in, self.hidden), "w_out": (self.hidden, 1)}

    def init(self, seeds: list[int]) -> dict[str, torch.Tensor]:
        """Truncated normal at +-2 std, parameter std 1 / sqrt(fan_in), as the modular layers."""
        per_model = []
        for seed in seeds:
            gen = torch.Generator().manual_seed(seed)
            one = {}
            for name, (rows, cols) in self.shapes().items():
                std = 1.0 / math.sqrt(rows)
                one[name] = torch.nn.init.trunc_normal_(
                    torch.empty(rows, cols), 0.0, std, -2 * std, 2 * std, generator=gen)
            per_model.append(one)
        return {name: torch.stack([one[name] for one in per_model]) for name in per_model[0]}

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x  # already (M, N, n_in) floats

    def forward(self, params, x: torch.Tensor) -> torch.Tensor:
        """One logit per example: (M, N)."""
        return (torch.relu(x @ params["w_in"]) @ params["w_out"]).squeeze(-1)

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-model binary cross-entropy, averaged over examples: (M,)."""
        return torch.nn.functional.binary_cross_entropy_with_logits(
            logits, y, reduction="none").mean(dim=1)

    def accuracy(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return ((logits > 0).to(y.dtype) == y).float().mean(dim=1)

    def snapshot(self, params) -> dict[str, torch.Tensor]:
        """w_in (M, n_in, hidden): inputs x neurons, the bias last; w_out (M, hidden)."""
        return {"w_in": params["w_in"].detach(), "w_out": params["w_out"].detach().squeeze(-1)}
