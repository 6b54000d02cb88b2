"""Command line: python -m builder build|check|serve|train|verify|bench."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from builder import paths
from builder.errors import BuildError


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

    with tempfile.TemporaryDirectory() as tmp:
        report = Builder(Path(args.root)).build(Path(tmp) / "site")
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

    return verify_command(args.names, root=Path(args.root), scratch=args.scratch,
                          tests=[Path(t) for t in args.tests] or None)


def _bench(args) -> int:
    from builder.bench import main as bench_main

    return bench_main(Path(args.root), quick=args.quick, only=args.only)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m builder", description=__doc__)
    parser.add_argument("--root", default=str(paths.ROOT), help="project root (default: this checkout)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("build", help="train what is stale, then build site/")
    p.add_argument("--out", help="output directory (default: site/)")
    p.set_defaults(func=_build)
    p = sub.add_parser("check", help="validate content without touching site/, and list written facts "
                       "whose fallback differs from the data")
    p.add_argument("--strict", action="store_true", help="exit 1 when a written fallback differs from the data")
    p.set_defaults(func=_check)
    p = sub.add_parser("serve", help="preview on 127.0.0.1, rebuilding on change")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=_serve)
    p = sub.add_parser("train", help="force retraining of experiments (all when none named)")
    p.add_argument("names", nargs="*")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="where a sweep's shards run (ray: the optional extra, a Ray cluster)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.set_defaults(func=_train)
    p = sub.add_parser("verify", help="retrain experiments into a scratch folder and check the "
                       "article's claims on them (default: those that train in a few minutes)")
    p.add_argument("names", nargs="*")
    p.add_argument("--scratch", help="where the fresh artifacts go (default: .cache/verify)")
    p.add_argument("--tests", action="append", default=[],
                   help="claim test files to run (default: this checkout's tests with a "
                        "`frozen` marker); repeatable")
    p.set_defaults(func=_verify)
    p = sub.add_parser("bench", help="build and training benchmarks")
    p.add_argument("--quick", action="store_true", help="smaller measurements (for tests)")
    p.add_argument("--only", choices=["page"], help="only the page measures (load, read, scrub) on the built site/")
    p.set_defaults(func=_bench)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except BuildError as exc:
        print(exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
