"""Command line: python -m builder build|check|serve|train|verify|bench|list."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from builder import paths
from builder.errors import BuildError, one_line


def _build(args) -> int:
    from builder.build import Builder

    report = Builder(Path(args.root)).build(Path(args.out) if args.out else None)
    if report.drift:
        print(f"note: {len(report.drift)} written number(s) differ from the data; the page shows the data "
              "(make check lists them)", file=sys.stderr)
    print(f"built {len(report.pages)} page(s), {report.charts} chart(s) in {report.seconds:.2f} s -> {args.out or 'site/'}")
    return 0


def _check(args) -> int:
    import tempfile

    from builder.build import Builder

    # never trains (a stale artifact is an error naming `make train`), so nothing is written
    # under content/; the site goes to a temporary folder, removed after
    with tempfile.TemporaryDirectory(prefix="builder-check-") as tmp:
        report = Builder(Path(args.root), train=False).build(Path(tmp) / "site")
    for line in report.drift:
        print(line)
    if report.drift:
        print(f"content is valid; {len(report.drift)} written fallback(s) differ from the data "
              "(the page shows the data; update the text)")
        return 1 if args.strict else 0
    print("content is valid")
    return 0


def _serve(args) -> int:
    from builder.serve import serve

    code = serve(Path(args.root), port=args.port)
    # serve() has closed the port and every connection, and nothing is left to write. Tearing down
    # what the build imported (torch, the chart compiler) takes about a second more: skip it, so
    # that Ctrl-C stops the preview at once.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _train(args) -> int:
    from builder import freeze

    return freeze.train_command(args.names, root=Path(args.root), executor=args.executor,
                                device=args.device)


def _verify(args) -> int:
    from builder.verify import verify_command

    return verify_command(args.names, root=Path(args.root), scratch=args.scratch, perturb=args.perturb,
                          tests=[Path(t) for t in args.tests] or None)


def _bench(args) -> int:
    from builder.bench import main as bench_main

    return bench_main(Path(args.root), quick=args.quick, only=args.only)


def _list(args) -> int:
    from builder.listing import list_command

    return list_command(Path(args.root))


NAMES_HELP = ("experiment names: the [tables] of content/experiments.toml "
              "(python -m builder list shows them)")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m builder", description=__doc__)
    parser.add_argument("--root", default=str(paths.ROOT),
                        help="the project folder, holding content/ (default: this checkout)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=summary, description=f"{summary[0].upper()}{summary[1:]}. {description}")

    p = command("build", "train what is stale, then build site/",
                "Trains the single runs whose frozen artifact is missing or out of date (never a sweep), "
                "compiles the charts that changed, and replaces site/ only when everything succeeded.")
    p.add_argument("--out", help="write the site into this folder instead of site/; an existing folder is "
                                 "replaced only when a build made it or it is empty")
    p.set_defaults(func=_build)
    p = command("check", "validate the content without touching site/",
                "A full build into a temporary folder that never trains and never writes under content/: every "
                "error an author can make is reported as path:line, and site/ stays as it is. Also lists each written fact whose fallback differs "
                "from the data (path:line: written X, the data says Y).")
    p.add_argument("--strict", action="store_true", help="exit 1 when a written fallback differs from the data")
    p.set_defaults(func=_check)
    p = command("serve", "preview on http://127.0.0.1, rebuilding on every change",
                "Prints the address at once (a 'building' page until the first build is done), rebuilds on "
                "every change under content/ and builder/, reloads the browser, and shows a build error "
                "in the page until it is fixed. An edit to the Python code restarts the build process.")
    p.add_argument("--port", type=int, default=8000,
                   help="the port on 127.0.0.1 to serve on (default 8000; 0 picks a free one)")
    p.set_defaults(func=_serve)
    p = command("train", "retrain experiments, even when their frozen artifact is current",
                "Without names, every experiment. A sweep trains only its shards not yet frozen, "
                "resuming a killed run.")
    p.add_argument("names", nargs="*", metavar="NAME", help=NAMES_HELP + "; none: all of them")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="where a sweep's shards run (ray: the optional extra, a Ray cluster)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.set_defaults(func=_train)
    p = command("verify", "retrain experiments into a scratch folder and check the article's claims on them",
                "Prints per array the largest difference from the committed artifact, then runs the claim "
                "tests on the fresh artifacts; never writes into content/_freeze/.")
    p.add_argument("names", nargs="*", metavar="NAME",
                   help=NAMES_HELP + "; none: those whose training took under 3 minutes")
    p.add_argument("--scratch", help="where the fresh artifacts go (default: .cache/verify)")
    p.add_argument("--tests", action="append", default=[],
                   help="claim test files to run (default: this checkout's tests with a "
                        "`frozen` marker); repeatable")
    p.add_argument("--perturb", type=int, default=0, metavar="ULPS",
                   help="start from initial weights nudged by ULPS units in the last place (a stand-in for "
                        "another CPU's rounding; make verify PERTURB=1)")
    p.set_defaults(func=_verify)
    p = command("bench", "build and training benchmarks",
                "Build timings, site size, training throughput, and page measures in headless Chromium.")
    p.add_argument("--quick", action="store_true", help="smaller measurements (for tests)")
    p.add_argument("--only", choices=["page"], help="only the page measures (load, read, scrub) on the built site/")
    p.set_defaults(func=_bench)
    command("list", "list the experiments, figure ids and sections",
            "Experiments with their kind and whether their frozen artifact is current (and why not), "
            "figure ids grouped by section module (marked when no page places them), and the ## "
            "sections of each page with their lines. Trains and writes nothing.").set_defaults(func=_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except BuildError as exc:
        print(exc, file=sys.stderr)
        return 1
    except OSError as exc:  # what no command turned into a BuildError: still one line, no traceback
        where = exc.filename or "error"
        print(one_line(f"{where}: {exc.strerror or exc} (hint: check the disk and the folder's permissions)"),
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
