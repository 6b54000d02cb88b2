"""The hand-built modular-addition network: closed form, exactness, degenerate pairs, ReLU."""
from __future__ import annotations

import numpy as np
import pytest

from builder.analysis import construction as con


@pytest.fixture(scope="module")
def report():
    return con.check_construction()


def simple_closed_form(n, m, a=None):
    """N cos^2(w(a - b)/2) cos(w(a + b - c)): the formula for N = 3 and N >= 5."""
    w = 2 * np.pi / m
    x = np.arange(m)
    a = (x if a is None else np.atleast_1d(a))[:, None, None]
    b, c = x[None, :, None], x[None, None, :]
    return n * np.cos(w * (a - b) / 2) ** 2 * np.cos(w * (a + b - c))


@pytest.mark.parametrize("m", [13, 16])
def test_preactivation_factorises(m):
    n, w = 7, 2 * np.pi / m
    a, b = np.meshgrid(np.arange(m), np.arange(m), indexing="ij")
    theta = 2 * np.pi * np.arange(n) / n
    expected = 2 * np.cos(w * (a - b) / 2)[..., None] * np.cos(w * (a + b)[..., None] / 2 - theta)
    np.testing.assert_allclose(con.preactivations(n, m), expected, atol=1e-12)


@pytest.mark.parametrize("m", [7, 12, 13, 16, 31])
@pytest.mark.parametrize("n", range(1, 11))
def test_closed_form_equals_direct_sum(n, m):
    direct = con.logits_direct(n, m)
    assert direct.shape == (m, m, m)
    assert np.allclose(con.logits_closed_form_square(n, m), direct, rtol=0, atol=1e-12)
    # and for N = 3 or N >= 5 it is the single term N cos^2(w(a-b)/2) cos(w(a+b-c))
    assert np.allclose(simple_closed_form(n, m), direct, rtol=0, atol=1e-12) == (n == 3 or n >= 5)


def test_closed_form_for_some_rows_of_a_large_modulus():
    a = [0, 1, 249, 250, 499]
    direct = con.logits_direct(7, 500, a=a)
    assert direct.shape == (5, 500, 500)
    assert np.allclose(direct, simple_closed_form(7, 500, a), rtol=0, atol=1e-12)
    np.testing.assert_allclose(con.logits_direct(7, 500, a=250)[0], direct[3])


def test_readout_gives_the_logits():
    z = con.readout(6, 31, "relu")
    np.testing.assert_allclose(z @ con.embed(31).T, con.logits_direct(6, 31, "relu"), atol=1e-12)


def test_square_is_exact_for_n_3_and_5_to_10(report):
    for n in (3, *con.EXACT_NS):
        for m in con.MODULI:
            row = report.row("square", n, m)
            assert (row.wrong, row.tied) == (0, 0), row
            assert row.correct + row.degenerate == row.checked == m * m
            assert row.degenerate == (m if m % 2 == 0 else 0)
            assert row.degenerate_as_predicted
            assert row.min_margin > 100 * con.TOL  # correct by far more than the tolerance
            assert row.example_failure is None
    con.assert_square_exact(report)
    con.assert_square_exact(report, ns=(3, *con.EXACT_NS))
    assert len(con.failing_pairs(5, 499, "square")) == 0


@pytest.mark.parametrize("m", [12, 16, 13])
def test_degenerate_pairs_are_exactly_a_minus_b_half_m(m):
    logits = con.logits_direct(5, m)
    size = np.abs(logits).max(axis=2)
    predicted = con.predicted_degenerate(m)
    assert predicted.sum() == (m if m % 2 == 0 else 0)
    assert size[predicted].max(initial=0) < 1e-14 * con.scale(5, "square")
    assert size[~predicted].min() > 1e-3
    codes, _ = con.classify_direct(5, m)
    np.testing.assert_array_equal(codes == con.DEGENERATE, predicted)
    # everywhere else the argmax is the sum
    a, b = np.nonzero(~predicted)
    np.testing.assert_array_equal(logits[a, b].argmax(axis=1), (a + b) % m)


def test_n4_is_not_exact(report):
    m, a, b = 13, 1, 2
    logits = con.logits_direct(4, m, a=a)[0, b]
    assert logits.argmax() == 0 != (a + b) % m  # counterexample: 1 + 2 comes out as 0
    w = 2 * np.pi / m  # N = 4 keeps the mirror term: 8 cos^2(w(a-b)/2) cos(w(a+b)) cos(wc)
    np.testing.assert_allclose(logits, 8 * np.cos(w * (a - b) / 2) ** 2 * np.cos(w * (a + b))
                               * np.cos(w * np.arange(m)), atol=1e-12)
    assert all(report.row("square", 4, m).wrong > 0 for m in con.MODULI)
    with pytest.raises(ValueError, match="N=4 M=12"):
        con.assert_square_exact(report, ns=(4,))


@pytest.mark.parametrize("activation", ["square", "relu"])
@pytest.mark.parametrize("n, m", [(3, 12), (4, 13), (5, 16), (6, 31), (8, 64), (5, 127), (7, 12),
                                  (10, 100)])
def test_fast_classification_matches_brute_force(activation, n, m):
    codes, margins = con.classify(n, m, activation)
    direct_codes, direct_margins = con.classify_direct(n, m, activation)
    np.testing.assert_array_equal(codes, direct_codes)
    ok = codes != con.DEGENERATE  # degenerate margins are rounding noise either way
    np.testing.assert_allclose(margins[ok], direct_margins[ok], rtol=0,
                               atol=1e-13 * con.scale(n, activation))


def assert_really_fails(n, m, a, b):
    """From the full logits: the pair is not degenerate and some other c is at least as good."""
    logits = con.logits_direct(n, m, "relu", a=a)[0, b]
    tol = con.TOL * con.scale(n, "relu")
    assert np.abs(logits).max() > tol
    assert logits[(a + b) % m] <= np.delete(logits, (a + b) % m).max() + tol


def test_relu_fails_and_the_failures_are_real(report):
    summary = con.failure_summary(report)
    assert summary.activation == "relu"
    assert 0 < summary.failing < summary.checked and 0 < summary.fraction < 1
    for n, first in summary.first_failing_m.items():  # consistent with the rows
        fails = [m for m in con.MODULI if report.row("relu", n, m).failing]
        assert first == (min(fails) if fails else None)
    n, m = 5, summary.first_failing_m[5]
    assert m is not None
    pairs = con.failing_pairs(n, m)
    assert len(pairs) == report.row("relu", n, m).failing > 0
    for a, b in pairs[:: max(1, len(pairs) // 7)]:
        assert_really_fails(n, m, a, b)
    codes, _ = con.classify(n, m, "relu")
    a, b = np.argwhere(codes == con.CORRECT)[0]
    assert con.logits_direct(n, m, "relu", a=a)[0, b].argmax() == (a + b) % m


def test_relu_example_failures_are_real(report):
    cases = con.failure_summary(report).cases
    assert {n for n, *_ in cases} >= {3, 4, 5, 6, 7, 8, 10}
    for n, m, failing, (a, b) in cases[::4]:
        assert failing > 0
        assert_really_fails(n, m, a, b)


@pytest.mark.parametrize("out_factor", [1, -2, 3])
def test_check_raises_for_a_broken_construction(out_factor):
    broken = con.check_construction(moduli=(12, 13), ns=(5, 7), activations=("square",),
                                    out_factor=out_factor)
    with pytest.raises(ValueError, match="N=5 M=12") as err:
        con.assert_square_exact(broken, ns=(5, 7))
    assert "\n" not in str(err.value)
    assert "square construction is not exact" in str(err.value)


def test_check_raises_when_out_projection_is_not_doubled(monkeypatch):
    original = con.out_proj
    monkeypatch.setattr(con, "out_proj", lambda n, factor=2: original(n, 1))
    with pytest.raises(ValueError, match="not exact"):
        con.verify_construction(moduli=(13,))


def test_check_raises_when_rows_are_missing():
    partial = con.check_construction(moduli=(13,), ns=(5, 6))
    con.assert_square_exact(partial, ns=(5, 6))
    with pytest.raises(ValueError, match="N=7: not checked"):
        con.assert_square_exact(partial)


def test_verify_construction_returns_the_report():
    report = con.verify_construction(moduli=(12, 13))
    assert len(report.rows) == 2 * len(con.REPORT_NS) * 2
    assert report.seconds > 0
    assert report.row("relu", 3, 12).failing > 0
    with pytest.raises(KeyError):
        report.row("square", 11, 12)


# ---- the appendix's first two steps: the linear first try and the fold ----------------------
@pytest.mark.parametrize("m", [12, 13, 16, 31, 64, 67])
def test_the_fast_dial_check_matches_brute_force(m):
    fast, direct = con.linear_dial(m), con.linear_dial_direct(m)
    assert (fast.pairs, fast.degenerate, fast.on_a_copy, fast.far_copy) == \
        (direct.pairs, direct.degenerate, direct.on_a_copy, direct.far_copy)
    assert max(fast.copies_cancel, direct.copies_cancel) < con.TOL


def test_the_linear_dial_tops_on_a_copy_of_the_sum_and_its_copies_cancel():
    m = 13
    scores = con.dial_scores(m)
    assert scores.shape == (m, m, 2 * m)
    a, b = np.meshgrid(np.arange(m), np.arange(m), indexing="ij")
    top = scores.argmax(axis=2)
    np.testing.assert_array_equal(top % m, (a + b) % m)
    # the near copy (the sum itself) when a and b are less than half a circle apart
    near = np.abs(a - b) < m / 2
    np.testing.assert_array_equal(top[near], (a + b)[near])
    np.testing.assert_allclose(scores[..., :m] + scores[..., m:], 0, atol=1e-14)
    row = con.linear_dial(m)
    assert row.on_a_copy == m * m and row.far_copy == int((~near).sum()) > 0
    assert con.linear_dial(16).degenerate == 16  # opposite numbers of an even modulus: no midpoint


def test_a_broken_dial_is_caught(monkeypatch):
    """The check can fail: a dial at the full angle (each answer once, so no copies) misses."""
    monkeypatch.setattr(con, "dial", lambda m: np.concatenate([con.embed(m)] * 2))
    row = con.linear_dial(13)
    assert row.on_a_copy < row.pairs and row.copies_cancel > 0.1


@pytest.mark.parametrize("n", range(1, 11))
def test_a_network_without_activation_is_zero_from_four_neurons(n):
    lin = con.linear_map(n)
    z = con.preactivations(n, 13) @ con.out_proj(n)  # the network with f = identity
    np.testing.assert_allclose(z, con.midpoints(13) @ (2 * lin).T, atol=1e-12)
    if n == 2 or n >= 4:
        assert np.abs(lin).max() < 1e-14
    else:  # N = 1, 3: a linear map that does not vanish (for 3, 3/2 times a mirror)
        assert np.abs(lin).max() > 0.9
    if n == 3:
        np.testing.assert_allclose(lin, [[1.5, 0], [0, -1.5]], atol=1e-12)


@pytest.mark.parametrize("n, m", [(3, 13), (4, 16), (5, 67), (10, 31)])
def test_relu_is_a_linear_half_plus_a_folded_half(n, m):
    linear, folded = con.fold_halves(n, m)
    np.testing.assert_allclose(linear + folded, con.readout(n, m, "relu"), atol=1e-12)
    row = con.fold_check(n, m)
    assert (row.linear_half < 1e-13) == (n >= 4) and (row.relu_vs_abs < 1e-13) == (n >= 4)
    # the folded half is the same for a midpoint and its opposite: for (a, b) and its partner
    # the readouts point the same way
    a, b = 2, 3
    partner = con.opposite_partner(a, b, m)
    z1, z2 = folded[a, b], folded[partner]
    assert min(np.linalg.norm(z1), np.linalg.norm(z2)) > 0.1
    assert z1 @ z2 / np.linalg.norm(z1) / np.linalg.norm(z2) > 1 - 1e-9


def test_the_opposite_partner():
    assert con.opposite_partner(9, 15, 67) == (45, 46)
    assert con.opposite_partner(0, 6, 16) == (11, 11)
    assert con.opposite_partner(0, 8, 16) is None  # opposite numbers: no midpoint
    for a, b, m in ((9, 15, 67), (5, 60, 67), (2, 3, 12)):
        a2, b2 = con.opposite_partner(a, b, m)
        assert (a2 + b2) % m == (a + b) % m
        assert con.midpoints(m, a)[0, b] @ con.midpoints(m, a2)[0, b2] < 0


# ---- the appendix's facts and claims, against the construction computed another way ---------
@pytest.fixture(scope="module")
def appendix_book():
    from builder.facts import Book
    from builder.figures import appendix, default_registry
    from builder.figures.context import BuildContext
    from builder.paths import ROOT

    ctx = BuildContext(ROOT, train=False)
    registry = default_registry(ctx)
    return Book(registry.facts, registry.claims, ctx), appendix


def test_the_appendix_facts_are_what_the_network_computes(appendix_book):
    book, appendix = appendix_book
    a, b = book.value("appendix.relu-example")
    logits = con.logits_direct(5, 127, "relu", a=a)[0, b]
    assert logits.argmax() != (a + b) % 127 and logits.argmax() == book.value("appendix.relu-example-answer") == 7
    assert book.text("appendix.relu-wrong") == "4,064" and book.text("appendix.relu-pairs") == "16,129"
    assert book.text("appendix.partner") == "45 + 46" and book.text("appendix.pair") == "9 + 15"
    assert book.text("appendix.first-fail-5") == "127" and book.text("appendix.first-fail-3") == "12"
    for name in [n for n in book.claims if n.startswith("appendix.")]:
        holds, measured = book.check(name)
        assert holds, (name, measured)


def test_every_appendix_fact_and_claim_is_used_in_the_prose(appendix_book):
    from builder.paths import ROOT

    book, _ = appendix_book
    text = (ROOT / "content" / "index.md").read_text(encoding="utf-8")
    names = [n for n in (*book.facts, *book.claims) if n.startswith("appendix.")]
    unused = [n for n in names if f'"{n}"' not in text]
    assert len(names) > 10 and unused == []
