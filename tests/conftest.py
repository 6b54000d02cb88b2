"""Shared fixtures: throwaway project roots, a built demo site, headless Chromium.

Every build here writes into pytest's tmp dirs and uses one per-session chart-compile cache
(Builder(cache=...)), so charts compile once per session and nothing is ever written into the
repository's own `.cache/` or `site/`.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import builder  # noqa: F401  (first: it keeps numpy's BLAS on one thread, as in a build)

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
if str(FIXTURES) not in sys.path:
    sys.path.insert(0, str(FIXTURES))

import demo_figures  # noqa: E402  (tests/fixtures on sys.path)

from builder.build import Builder  # noqa: E402
from builder.bib import parse_bibliography  # noqa: E402
from builder.markdown import make_parser, render_markdown  # noqa: E402

# The smallest run and sweep the freeze-store tests train (a second or so each).
TINY_RUN_TOML = """\
[tiny]
kind = "modular"
p = 11
train_fraction = 0.5
seed = 3
embed = 8
hidden = 8
weight_decay = 1.0
lr = 1e-2
steps = 30
metrics = 4
checkpoints = 3
"""
TINY_SWEEP_TOML = """\
[tiny-sweep]
kind = "sweep"
of = "modular"
seed = [1, 2]
shard_size = 1
p = 11
train_fraction = 0.5
embed = 8
hidden = 8
weight_decay = 0.1
lr = 1e-2
steps = 20
metrics = 5
checkpoints = 0
curve_points = 3
"""

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]

# The sample page that exercises every syntax (citations, a footnote with math, a link and a
# citation in two paragraphs, aligned display math, pmatrix, \lVert, a sticky group with a
# scrubbable chart and an animate link, a second chart of the same section).
DEMO_MD = r"""---
title: A test article
description: Engine test page
authors: [Ada Lovelace, {name: Alan Turing, affiliation: Bletchley}]
date: 2026-11-22
---
## Grokking

Networks can fit their training set long before they generalize [@power2022]. Later work
explained the mechanism [@nanda2023; @liu2022].[^fn]

$$
\begin{aligned}
\operatorname{logits}(a, b) &= \operatorname{ReLU}\left(E_a W_{\text{in}} + E_b W_{\text{in}}\right) W_{\text{out}} E^\top \\
c^\star &= \argmax_c \operatorname{logits}_c = (a + b) \bmod 67
\end{aligned}
$$

A matrix $\begin{pmatrix} \cos\theta & -\sin\theta \\ \sin\theta & \cos\theta \end{pmatrix}$ and a norm $\lVert W \rVert_2$.

::: sticky
{{< chart demo-line >}}

Move over the line chart, or [play the decade]{animate="demo-play"}.
:::

{{< chart demo-bars >}}

[^fn]: A footnote with math $\sum_i w_i^2$, a [link](#references) and a citation [@power2022].

    A second paragraph in the footnote.
"""

# A few entries of content/references.bib: arXiv eprints, a DOI and a plain URL.
DEMO_BIB = r"""% References for the test article.
@article{power2022,
  title         = {Grokking: Generalization Beyond Overfitting on Small Algorithmic Datasets},
  author        = {Power, Alethea and Burda, Yuri and Edwards, Harri and Babuschkin, Igor and Misra, Vedant},
  journal       = {arXiv preprint},
  year          = {2022},
  eprint        = {2201.02177},
  archivePrefix = {arXiv}
}

@inproceedings{nanda2023,
  title         = {Progress Measures for Grokking via Mechanistic Interpretability},
  author        = {Nanda, Neel and Chan, Lawrence and Lieberum, Tom and Smith, Jess and Steinhardt, Jacob},
  booktitle     = {International Conference on Learning Representations (ICLR)},
  year          = {2023},
  eprint        = {2301.05217},
  archivePrefix = {arXiv}
}

@inproceedings{liu2022,
  title         = {Towards Understanding Grokking: An Effective Theory of Representation Learning},
  author        = {Liu, Ziming and Kitouni, Ouail and Nolte, Niklas and Michaud, Eric J. and Tegmark, Max and Williams, Mike},
  booktitle     = {Advances in Neural Information Processing Systems (NeurIPS)},
  year          = {2022},
  eprint        = {2205.10343},
  archivePrefix = {arXiv}
}

@inproceedings{bender2021,
  title         = {On the Dangers of Stochastic Parrots: Can Language Models Be Too Big?},
  author        = {Bender, Emily M. and Gebru, Timnit and McMillan-Major, Angelina and Shmitchell, Shmargaret},
  booktitle     = {ACM Conference on Fairness, Accountability, and Transparency (FAccT)},
  year          = {2021},
  doi           = {10.1145/3442188.3445922}
}

@article{olah2022,
  title         = {Mechanistic Interpretability, Variables, and the Importance of Interpretable Bases},
  author        = {Olah, Christopher},
  journal       = {Transformer Circuits Thread},
  year          = {2022},
  url           = {https://transformer-circuits.pub/2022/mech-interp-essay/index.html}
}
"""

FRONT = "---\ntitle: T\n---\n"  # the smallest valid front matter (body starts on line 4)


# ---- project roots and builds ---------------------------------------------------------------
@pytest.fixture(scope="session")
def chart_cache(tmp_path_factory) -> Path:
    """One chart-compile cache (and Vega bundle cache) for the whole session."""
    return tmp_path_factory.mktemp("chart-cache")


@pytest.fixture(scope="session")
def registry():
    return demo_figures.registry()


@pytest.fixture(scope="session")
def refs():
    return parse_bibliography(DEMO_BIB, "content/references.bib")


def write_project(root: Path, index: str = DEMO_MD, bib: str | None = DEMO_BIB, pages: dict | None = None) -> Path:
    content = root / "content"
    content.mkdir(parents=True, exist_ok=True)
    (content / "index.md").write_text(index, encoding="utf-8")
    if bib is not None:
        (content / "references.bib").write_text(bib, encoding="utf-8")
    for name, text in (pages or {}).items():
        (content / name).write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def make_project(tmp_path):
    """make_project(index=..., bib=..., pages={...}, name=...) -> a project root in tmp_path."""
    def make(index: str = DEMO_MD, bib: str | None = DEMO_BIB, pages: dict | None = None, name: str = "proj") -> Path:
        return write_project(tmp_path / name, index, bib, pages)
    return make


@pytest.fixture
def build(registry, chart_cache):
    """build(root, out=None) -> BuildReport, with the demo figures as the registry."""
    def run(root: Path, out: Path | None = None):
        return Builder(root, registry=registry, cache=chart_cache).build(out)
    return run


def render_article(root: Path = REPO):
    """content/index.md rendered as the build renders it, with the project's own figures and
    its facts and claims evaluated against the committed artifacts (charts placed, not made)."""
    from builder.bib import load_bibliography
    from builder.facts import Book
    from builder.figures import default_registry
    from builder.figures.context import BuildContext

    ctx = BuildContext(root, train=False)
    reg = default_registry(ctx)
    book = Book(reg.facts, reg.claims, ctx)
    refs = load_bibliography(root / "content" / "references.bib", Path("content/references.bib"))
    text = (root / "content" / "index.md").read_text(encoding="utf-8")
    return render_markdown(text, Path("content/index.md"), refs, reg.figures, reg.animations, book=book), reg


@pytest.fixture(scope="session")
def article_doc():
    """(the real article rendered, its registry), once per session."""
    return render_article()


@pytest.fixture
def render(refs, registry):
    """render(markdown) -> Document, straight through the Markdown plugins (no site written)."""
    md = make_parser()

    def run(text: str, path: str = "content/index.md", bib_refs: dict | None = None):
        return render_markdown(text, Path(path), refs if bib_refs is None else bib_refs,
                               registry.figures, registry.animations, md)
    return run


def with_experiments(root: Path) -> Path:
    """Copy the repository's content/experiments.toml in: the project's own figure modules (which
    the CLI registers) read it to know their sections' steps."""
    toml = REPO / "content" / "experiments.toml"
    if toml.exists() and not (root / "content" / "experiments.toml").exists():
        shutil.copy(toml, root / "content" / "experiments.toml")
    return root


def run_cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    """`python -m builder --root ROOT build` as an author runs it (the project's own figures)."""
    with_experiments(root)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "builder", "--root", str(root), "build", *args],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=120)


def tree_hashes(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under `folder`."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory, chart_cache) -> Path:
    """The demo page built once per session; returns its site/ directory (read-only use)."""
    root = write_project(tmp_path_factory.mktemp("demo"))
    Builder(root, registry=demo_figures.registry(), cache=chart_cache).build()
    return root / "site"


@pytest.fixture(scope="module")
def torch_one_thread():
    """Train on one thread, as the freeze store does (see builder/freeze.py), then restore."""
    from builder.training.trainer import one_thread

    with one_thread():
        yield


# ---- serving and the browser ----------------------------------------------------------------
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@contextlib.contextmanager
def serving(folder: Path):
    """`folder` served on 127.0.0.1 from a thread; yields its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def http_site(demo_site):
    """The demo site served on 127.0.0.1 from a thread; yields its base URL."""
    with serving(demo_site) as url:
        yield url


@pytest.fixture(scope="session")
def chromium():
    """A headless Chromium (the Debian package) driven by Playwright."""
    if not CHROMIUM.exists():  # a failure, not a skip: a run that opened no page must say so
        pytest.fail("browser tests need /usr/bin/chromium: apt-get install -y chromium fonts-dejavu-core "
                    "(make test does it as root), or deselect them with -m 'not browser'", pytrace=False)
    from playwright import sync_api

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def pytest_collection_modifyitems(config, items):
    """Browser tests run last, so a slow browser start never delays the fast feedback."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


__all__ = ["DEMO_MD", "DEMO_BIB", "FRONT", "TINY_RUN_TOML", "TINY_SWEEP_TOML", "run_cli", "tree_hashes", "typed_numbers", "with_experiments",
           "write_project"]


def typed_numbers(prose: str, verified: list[str]) -> list[str]:
    """The numbers of a stretch of prose that no sentence in `verified` (those a claim test built
    from the data and found in the prose) contains: numbers typed, not checked. Citations, span
    attributes and chart shortcodes are not prose."""
    import re

    text = re.sub(r"\[@[^\]]*\]|\{[a-z]+=\"[^\"]*\"\}|\{\{<[^>]*>\}\}", "", prose)
    said = " ".join(verified)
    return [n for n in re.findall(r"\d[\d,.]*\d%?|\d%?", text) if n not in said]


@pytest.fixture(autouse=True)
def _subnormals_kept_after_each_test():
    """A test that leaves torch flushing subnormal floats to zero (the trainer's mode, which
    torch cannot report) would change float arithmetic, and hypothesis's float strategies, in
    the tests after it: each test ends with the process's default mode back."""
    yield
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_flush_denormal(False)
