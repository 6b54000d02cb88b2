"""A hand-built network for a + b (mod M), checked exactly on every build.

Numbers sit on the unit circle, e(x) = (cos wx, sin wx) with w = 2 pi / M. Neuron n (of N) reads
the direction u_n at angle theta_n = 2 pi n / N, so its pre-activation is

    h_n(a, b) = <e(a) + e(b), u_n> = 2 cos(w(a - b)/2) cos(w(a + b)/2 - theta_n),

applies f (x^2 or ReLU) and writes v_n at the doubled angle 2 theta_n; candidate c is read out
with e(c). For f = x^2 and N = 3 or N >= 5 the sum over neurons collapses to

    logit_c = N cos^2(w(a - b)/2) cos(w(a + b - c)),

so the argmax is (a + b) mod M, with one exception: the factor cos(w(a - b)/2) is the length of
(e(a) + e(b)) / 2, which is zero when a and b are opposite on the circle. That happens only for
even M and a - b = M/2 (mod M): then every logit is 0 and the answer is a tie ("degenerate").
For N = 1, 2, 4 extra harmonics survive the sum (see logits_closed_form_square) and the
construction is wrong. ReLU also gives a sinusoid in c, but its phase is only roughly w(a + b)
(for N = 3 or 4 not even that), so some pairs come out wrong; check_construction counts where.

The logits of any such network are <z, e(c)> for the 2-vector z = sum_n f(h_n) v_n (`readout`),
a sinusoid in c. So check_construction never materialises the M^3 logits: from z it gets the
answer's logit and the best other logit exactly (see _classify_readout) and sorts every pair
into correct / degenerate / tied / wrong. logits_direct and classify_direct do the brute force;
the tests check that both agree.

Tolerance. Logits are compared on the scale S = N * max|f(+-2)| (a bound on |logit|) with
TOL = 1e-12 * S. The direct sum's rounding error is below 1e-15 S and a degenerate pair's
readout below 1e-16 S, while the smallest genuine margin between the answer and the runner-up
in the checked moduli (square, M = 499, a - b = (M +- 1)/2) is 2e-10 S: TOL is ~1000 times
above the noise and ~200 times below that margin, so degenerate (|z| <= TOL), tied
(|margin| <= TOL) and correct (margin > TOL) are unambiguous. That margin falls like M^-4, so
moduli much beyond 1000 would need a smaller TOL; each row records its smallest margin. ReLU
near-ties are genuine, and are counted as tied.
"""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import numpy as np

MODULI = (12, 13, 16, 31, 59, 64, 67, 97, 100, 113, 127, 128, 256, 257, 499, 500)
REPORT_NS = tuple(range(3, 11))  # neuron counts checked and reported
EXACT_NS = tuple(range(5, 11))   # where the square construction must be exact (N = 3 is too)
ACTIVATIONS = {"square": np.square, "relu": lambda x: np.maximum(x, 0.0)}
TOL = 1e-12  # relative to the logit scale, see the module docstring

CORRECT, DEGENERATE, TIED, WRONG = 0, 1, 2, 3  # per-pair outcome codes


def embed(m: int) -> np.ndarray:
    """(m, 2): e(x) = (cos wx, sin wx); also the unembedding of candidate answers."""
    angle = 2 * np.pi * np.arange(m) / m
    return np.stack([np.cos(angle), np.sin(angle)], axis=1)


def in_proj(n: int) -> np.ndarray:
    """(n, 2): neuron n reads u_n = (cos theta_n, sin theta_n), theta_n = 2 pi n / N."""
    theta = 2 * np.pi * np.arange(n) / n
    return np.stack([np.cos(theta), np.sin(theta)], axis=1)


def out_proj(n: int, factor: int = 2) -> np.ndarray:
    """(n, 2): neuron n writes v_n at angle factor * theta_n (2 for the construction)."""
    theta = 2 * np.pi * np.arange(n) / n
    return np.stack([np.cos(factor * theta), np.sin(factor * theta)], axis=1)


def scale(n: int, activation: str) -> float:
    """A bound on |logit|: N neurons, |h| <= 2, unit out- and unembedding vectors."""
    f = ACTIVATIONS[activation]
    return n * float(max(abs(f(2.0)), abs(f(-2.0))))


def _preactivations(n: int, m: int, a=None) -> np.ndarray:
    """h[n, a, b] (neuron axis first: fast to build and to contract)."""
    p = in_proj(n) @ embed(m).T  # (n, m): each neuron's reading of each number
    rows = p if a is None else p[:, np.atleast_1d(a)]
    return rows[:, :, None] + p[:, None, :]


def preactivations(n: int, m: int, a=None) -> np.ndarray:
    """h[a, b, n] = <e(a), u_n> + <e(b), u_n>; all a (m, m, n) or the given a values."""
    return np.moveaxis(_preactivations(n, m, a), 0, -1)


def readout(n: int, m: int, activation: str = "square", a=None, out_factor: int = 2) -> np.ndarray:
    """z[a, b] = sum_n f(h_n) v_n, (m, m, 2) (a as in logits_direct): logits = z @ embed(m).T."""
    return ACTIVATIONS[activation](preactivations(n, m, a)) @ out_proj(n, out_factor)


def logits_direct(n: int, m: int, activation: str = "square", a=None, out_factor: int = 2) -> np.ndarray:
    """logits[a, b, c] straight from the matrices: f(h) @ out_proj @ embed.T.

    a=None gives all (m, m, m) (8 m^3 bytes: 1 GB at m = 500, so pass a subset of a there);
    an int or array a gives (len(a), m, m).
    """
    out = out_proj(n, out_factor) @ embed(m).T  # (n, m): each neuron's vote for each candidate
    return ACTIVATIONS[activation](preactivations(n, m, a)) @ out


def logits_closed_form_square(n: int, m: int, a=None) -> np.ndarray:
    """The same logits for f = x^2 in closed form, any N >= 1; shape as logits_direct.

    With C = cos(w(a - b)/2) and h_n = 2C cos(phi - theta_n), phi = w(a + b)/2:
    f(h_n) = 2C^2 (1 + cos(2 phi - 2 theta_n)), and summing against cos(wc - 2 theta_n) gives
    N C^2 [cos(w(a + b - c)) + [N | 4] cos(w(a + b + c)) + 2 [N | 2] cos(wc)].
    """
    w = 2 * np.pi / m
    x = np.arange(m)
    av = (x if a is None else np.atleast_1d(a))[:, None, None]
    b, c = x[None, :, None], x[None, None, :]
    logit = np.cos(w * (av + b - c))
    if 4 % n == 0:
        logit = logit + np.cos(w * (av + b + c))
    if 2 % n == 0:
        logit = logit + 2 * np.cos(w * c)
    return n * np.cos(w * (av - b) / 2) ** 2 * logit


def predicted_degenerate(m: int) -> np.ndarray:
    """(m, m) bool: a - b = M/2 (mod M), where cos(w(a - b)/2) = 0 (never for odd M)."""
    x = np.arange(m)
    return (m % 2 == 0) & ((x[:, None] - x[None, :]) % m == m // 2)


def _outcomes(target: np.ndarray, rival: np.ndarray, degenerate: np.ndarray, tol: float):
    """Codes and margins from the answer's logit, the best other logit and the degenerate mask."""
    margin = target - rival
    codes = np.full(margin.shape, TIED, np.int8)
    codes[margin > tol] = CORRECT
    codes[margin < -tol] = WRONG
    codes[degenerate] = DEGENERATE
    return codes, margin


@functools.lru_cache(maxsize=2)
def _answer_directions(m: int) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin of w (a + b) for every pair, flattened (m^2,)."""
    x = np.arange(m)
    angle = 2 * np.pi * ((x[:, None] + x[None, :]) % m).ravel() / m
    return np.cos(angle), np.sin(angle)


def _classify_readout(z: np.ndarray, m: int, tol: float):
    """(codes, margins), each (m, m), from readouts z (2, m^2) for the pairs (a, b) in order.

    Turn z into the answer's frame, (x, y) = z rotated by -w(a + b): the logit of candidate
    a + b + d is then x cos(wd) + y sin(wd) = r cos(wd - beta), a sinusoid in d peaking at the
    grid offset k nearest beta. If k = 0 the answer leads and the best other candidate is a
    neighbour, d = +-1; otherwise the best other candidate is k itself, the overall maximum.
    """
    ca, sa = _answer_directions(m)
    x, y = z[0] * ca + z[1] * sa, z[1] * ca - z[0] * sa  # x is the answer's logit
    w = 2 * np.pi / m
    rival = x * np.cos(w) + np.abs(y) * np.sin(w)  # the better neighbour
    off = np.flatnonzero(np.abs(y) > x * np.tan(w / 2))  # |beta| > w/2: k != 0
    xo, yo = x[off], y[off]
    beta = np.arctan2(yo, xo)
    k = np.rint(beta / w)
    k[k == 0] = np.sign(beta[k == 0])  # |beta| = w/2 up to rounding: either neighbour
    rival[off] = np.sqrt(xo * xo + yo * yo) * np.cos(beta - w * k)
    codes, margin = _outcomes(x, rival, x * x + y * y <= tol * tol, tol)
    return codes.reshape(m, m), margin.reshape(m, m)


def _readouts(h: np.ndarray, activation: str, out_factor: int) -> np.ndarray:
    """(2, pairs) readouts sum_n f(h_n) v_n (x and y rows) from pre-activations h[n, ...]."""
    n = h.shape[0]
    return out_proj(n, out_factor).T @ ACTIVATIONS[activation](h).reshape(n, -1)


def classify(n: int, m: int, activation: str = "square", out_factor: int = 2):
    """(codes, margins), each (m, m) over (a, b): codes CORRECT / DEGENERATE / TIED / WRONG,
    margins = logit of (a + b) mod m minus the best other logit. Evaluates only the logits that
    can matter (see _classify_readout); agrees with classify_direct."""
    z = _readouts(_preactivations(n, m), activation, out_factor)
    return _classify_readout(z, m, TOL * scale(n, activation))


def classify_direct(n: int, m: int, activation: str = "square", out_factor: int = 2):
    """Like classify, by brute force over all M logits per pair (one a at a time)."""
    codes, margins = np.empty((m, m), np.int8), np.empty((m, m))
    b = np.arange(m)
    tol = TOL * scale(n, activation)
    for a in range(m):
        logit = logits_direct(n, m, activation, a, out_factor)[0]  # (b, c)
        t = (a + b) % m
        target, size = logit[b, t], np.abs(logit).max(axis=1)
        logit[b, t] = -np.inf
        codes[a], margins[a] = _outcomes(target, logit.max(axis=1), size <= tol, tol)
    return codes, margins


def failing_pairs(n: int, m: int, activation: str = "relu", out_factor: int = 2) -> np.ndarray:
    """(k, 2) array of the (a, b) whose answer is wrong or tied (degenerate pairs excluded)."""
    codes, _ = classify(n, m, activation, out_factor)
    return np.argwhere((codes == WRONG) | (codes == TIED))


@dataclass(frozen=True)
class Row:
    activation: str
    n: int
    m: int
    checked: int      # pairs (a, b): m^2
    correct: int      # argmax is (a + b) mod m, ahead of every other c by more than TOL * scale
    degenerate: int   # all logits within TOL * scale of 0
    tied: int         # not degenerate; the answer is within the tolerance of the best other c
    wrong: int        # not degenerate; some other c beats the answer by more than the tolerance
    degenerate_as_predicted: bool  # degenerate pairs are exactly a - b = m/2 (mod m)
    min_margin: float  # smallest (answer - best other) / scale over correct pairs (nan if none)
    example_failure: tuple[int, int] | None  # one wrong or tied (a, b)

    @property
    def failing(self) -> int:
        return self.tied + self.wrong


@dataclass(frozen=True)
class Report:
    rows: tuple[Row, ...]
    seconds: float  # wall time of check_construction

    def row(self, activation: str, n: int, m: int) -> Row:
        for r in self.rows:
            if (r.activation, r.n, r.m) == (activation, n, m):
                return r
        raise KeyError((activation, n, m))


def _row(activation: str, n: int, m: int, h: np.ndarray, out_factor: int) -> Row:
    codes, margin = _classify_readout(_readouts(h, activation, out_factor), m, TOL * scale(n, activation))
    count = np.bincount(codes.ravel(), minlength=4)
    degenerate = codes == DEGENERATE
    predicted = count[DEGENERATE] == 0 if m % 2 else np.array_equal(degenerate, predicted_degenerate(m))
    ok = margin[codes == CORRECT]
    bad = (codes == WRONG) | (codes == TIED)
    example = tuple(int(v) for v in np.unravel_index(bad.argmax(), bad.shape)) if bad.any() else None
    return Row(activation, n, m, m * m, int(count[CORRECT]), int(count[DEGENERATE]), int(count[TIED]),
               int(count[WRONG]), bool(predicted),
               float(ok.min() / scale(n, activation)) if ok.size else float("nan"), example)


def check_construction(moduli=MODULI, ns=REPORT_NS, activations=("square", "relu"),
                       out_factor: int = 2) -> Report:
    """One row per (activation, N, M); out_factor != 2 builds a broken network (for tests)."""
    start = time.perf_counter()
    rows = [_row(act, n, m, h, out_factor) for m in moduli for n in ns
            for h in [_preactivations(n, m)] for act in activations]
    order = {a: i for i, a in enumerate(activations)}
    rows.sort(key=lambda r: (order[r.activation], ns.index(r.n), moduli.index(r.m)))
    return Report(tuple(rows), time.perf_counter() - start)


def assert_square_exact(report: Report, ns=EXACT_NS) -> None:
    """ValueError (one line) unless every square row with N in ns is exact: no wrong or tied
    pair and degenerate pairs exactly at a - b = M/2. Missing rows count as failures."""
    rows = [r for r in report.rows if r.activation == "square" and r.n in ns]
    problems = [f"N={n}: not checked" for n in ns if not any(r.n == n for r in rows)]
    problems += [f"N={r.n} M={r.m}: {r.wrong} wrong, {r.tied} tied"
                 + ("" if r.degenerate_as_predicted else f", {r.degenerate} degenerate not at a-b=M/2")
                 for r in rows if r.failing or not r.degenerate_as_predicted]
    if problems:
        raise ValueError(f"square construction is not exact: {'; '.join(problems)}")


def verify_construction(moduli=MODULI) -> Report:
    """The build's check: run check_construction and assert_square_exact; return the report."""
    report = check_construction(moduli)
    assert_square_exact(report)
    return report


@dataclass(frozen=True)
class FailureSummary:
    activation: str
    checked: int                       # pairs over all rows of this activation
    failing: int                       # wrong + tied
    cases: tuple[tuple[int, int, int, tuple[int, int]], ...]  # (N, M, failing, an (a, b)) per failing row
    first_failing_m: dict[int, int | None]    # per N, the smallest checked M with a failure

    @property
    def fraction(self) -> float:
        return self.failing / self.checked if self.checked else 0.0


def failure_summary(report: Report, activation: str = "relu") -> FailureSummary:
    """Where an activation's network gets pairs wrong, over the rows of report."""
    rows = [r for r in report.rows if r.activation == activation]
    first = {n: min((r.m for r in rows if r.n == n and r.failing), default=None)
             for n in sorted({r.n for r in rows})}
    return FailureSummary(activation, sum(r.checked for r in rows), sum(r.failing for r in rows),
                          tuple((r.n, r.m, r.failing, r.example_failure) for r in rows if r.failing), first)


# -- the linear stage and the fold (the appendix's first two steps) ---------------------------
# Before the activation, everything the network does is linear in the midpoint s = (e(a) + e(b))/2,
# whose direction is w(a + b)/2 when cos(w(a - b)/2) > 0 and the opposite one when it is negative.
# On the doubled dial (answer c at the half angle wc/2, so c appears twice, at k = c and k = c + M,
# on opposite sides) a linear readout <s, d_k> peaks on a copy of a + b for every pair. But one
# score per answer means adding the two copies, and they are exact negatives: the sum is 0.
# ReLU(x) = x/2 + |x|/2: the linear half goes through the same linear map as a network with no
# activation, which is 0 for N = 2 and N >= 4; the rest, |h|/2, is the same for s and -s (the fold).
def dial(m: int) -> np.ndarray:
    """(2m, 2): the doubled dial, position k at the half angle wk/2 (answer k mod m; the two
    copies of an answer, k and k + m, are opposite)."""
    angle = np.pi * np.arange(2 * m) / m
    return np.stack([np.cos(angle), np.sin(angle)], axis=1)


def midpoints(m: int, a=None) -> np.ndarray:
    """(e(a) + e(b)) / 2 for all pairs, (m, m, 2), or (len(a), m, 2) for the given a."""
    e = embed(m)
    rows = e if a is None else e[np.atleast_1d(a)]
    return (rows[:, None, :] + e[None, :, :]) / 2


def dial_scores(m: int, a=None) -> np.ndarray:
    """The linear readout of the midpoint on the doubled dial: scores[a, b, k] = <s, d_k>."""
    return midpoints(m, a) @ dial(m).T


def linear_map(n: int) -> np.ndarray:
    """(2, 2): the network with no activation, z = L (e(a) + e(b)), L = sum_n v_n u_n^T; zero
    for N = 2 and N >= 4 (a linear map cannot double an angle), a reflection for N = 3."""
    return out_proj(n).T @ in_proj(n)


def fold_halves(n: int, m: int, a=None) -> tuple[np.ndarray, np.ndarray]:
    """The ReLU readout split in two, ReLU(h) = h/2 + |h|/2: (linear half, folded half), each
    (m, m, 2) like readout (their sum is readout(n, m, "relu"))."""
    h = preactivations(n, m, a)
    v = out_proj(n)
    return (h / 2) @ v, (np.abs(h) / 2) @ v


def opposite_partner(a: int, b: int, m: int) -> tuple[int, int] | None:
    """A pair (a2, b2), a2 <= b2, with the same answer (a2 + b2 = a + b mod m) whose midpoint
    points the opposite way to the midpoint of (a, b), the longest such midpoint (a2 and b2
    closest together; the smaller a2 on a tie); None when (a, b) has no midpoint (opposite
    numbers of an even modulus)."""
    s = midpoints(m, a)[0, b]
    if np.hypot(*s) <= TOL:
        return None
    mids = midpoints(m)
    x = np.arange(m)
    same = ((x[:, None] + x[None, :]) % m == (a + b) % m) & (x[:, None] <= x[None, :])
    facing = same & (mids @ s < -TOL)
    length = np.where(facing, np.hypot(mids[..., 0], mids[..., 1]), -1.0)
    a2, b2 = np.unravel_index(int(np.argmax(length)), length.shape)  # first maximum: smallest a2
    return int(a2), int(b2)


@dataclass(frozen=True)
class LinearRow:
    m: int
    pairs: int
    degenerate: int       # midpoint 0 (even m, opposite numbers): every dial score is 0
    on_a_copy: int        # the dial's unique top position names (a + b) mod m
    far_copy: int         # ... and it is the copy k = (a + b + m) mod 2m (cos(w(a - b)/2) < 0)
    copies_cancel: float  # the largest |score_k + score_(k+m)|, over pairs and answers


def linear_dial(m: int) -> LinearRow:
    """What the doubled dial does for every pair of modulus m. The scores of a pair, <s, d_k>,
    are |s| cos(wk/2 - angle of s): a sinusoid sampled every w/2, whose maximum is the grid
    point nearest the angle, strictly above both neighbours (then it is above every other
    point). So each pair's top is found from its angle and confirmed against its neighbours'
    scores; the copies' sums are bounded by |s| |d_k + d_(k+m)|. linear_dial_direct is the
    brute force over every score (for the tests: it is m^3 numbers)."""
    s = midpoints(m).reshape(-1, 2)
    d = dial(m)
    x = np.arange(m)
    raw = (x[:, None] + x[None, :]).ravel()
    zero = np.hypot(s[:, 0], s[:, 1]) <= TOL
    top = np.rint(np.arctan2(s[:, 1], s[:, 0]) / (np.pi / m)).astype(int) % (2 * m)
    score = lambda k: np.einsum("ij,ij->i", s, d[k % (2 * m)])  # noqa: E731
    peak = score(top)
    unique = (peak - score(top - 1) > TOL) & (peak - score(top + 1) > TOL)
    hit = ~zero & unique & (top % m == raw % m)
    far = hit & (top == (raw + m) % (2 * m))
    cancel = float(np.hypot(s[:, 0], s[:, 1]).max() * np.abs(d[:m] + d[m:]).max())
    return LinearRow(m, m * m, int(zero.sum()), int(hit.sum()), int(far.sum()), cancel)


def linear_dial_direct(m: int) -> LinearRow:
    """linear_dial by brute force: all 2m scores of every pair."""
    scores = dial_scores(m)  # (m, m, 2m)
    x = np.arange(m)
    raw = x[:, None] + x[None, :]
    zero = np.abs(scores).max(axis=2) <= TOL
    top = scores.argmax(axis=2)
    ordered = np.sort(scores, axis=2)
    hit = ~zero & (ordered[..., -1] - ordered[..., -2] > TOL) & (top % m == raw % m)
    far = hit & (top == (raw + m) % (2 * m))
    cancel = float(np.abs(scores[..., :m] + scores[..., m:]).max())
    return LinearRow(m, m * m, int(zero.sum()), int(hit.sum()), int(far.sum()), cancel)


@dataclass(frozen=True)
class FoldRow:
    n: int
    linear_norm: float   # the largest entry of |L| (0 for N = 2 and N >= 4)
    linear_half: float   # the largest |linear half| of the ReLU readout over every pair of m
    relu_vs_abs: float   # the largest |readout_relu - readout_abs / 2| over every pair of m


def fold_check(n: int, m: int) -> FoldRow:
    lin, folded = fold_halves(n, m)
    relu = readout(n, m, "relu")
    return FoldRow(n, float(np.abs(linear_map(n)).max()), float(np.abs(lin).max()),
                   float(np.abs(relu - folded).max()))
