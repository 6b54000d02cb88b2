"""The command line: every command and option says what it does; `list` shows what a project has."""
from __future__ import annotations

import argparse
import re

import pytest

from builder import cli, freeze
from conftest import FRONT, TINY_RUN_TOML, with_experiments, write_project


def test_every_command_and_option_is_described():
    parser = cli.make_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    summaries = {c.dest: c.help for c in commands._choices_actions}
    assert set(commands.choices) == {"build", "check", "serve", "train", "verify", "bench", "list"}
    for name, sub in commands.choices.items():
        assert summaries[name] and sub.description and len(sub.description) > len(summaries[name]), name
        for action in sub._actions + parser._actions:
            if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                assert action.help, f"{name}: {action.dest} has no help"
    help_text = commands.choices["serve"].format_help()
    assert "--port PORT" in help_text and "0 picks a free" in help_text


def test_list_shows_experiments_figures_and_sections(tmp_path, capsys, torch_one_thread):
    index = FRONT + "## One\n\n{{< chart mod-top-accuracy >}}\n\n```\n## not a heading\n```\n\n## Two\n"
    root = with_experiments(write_project(tmp_path / "proj", index))
    toml = root / "content" / "experiments.toml"
    toml.write_text(toml.read_text() + "\n" + TINY_RUN_TOML)
    freeze.ensure("tiny", root=root, progress=False)
    toml.write_text(toml.read_text().replace("lr = 1e-2", "lr = 2e-2"))
    capsys.readouterr()
    assert cli.main(["--root", str(root), "list"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert rows["tiny"].split()[1] == "modular"
    assert "stale: content/experiments.toml changed since it was trained: lr 0.01 -> 0.02" in rows["tiny"]
    assert "stale: no artifact yet in content/_freeze/mod-top/" in rows["mod-top"]
    assert rows["seeds-mod-top"].split()[1:4] == ["sweep", "of", "modular"]
    assert re.search(r"stale: 0 of \d+ runs frozen \(make train NAME=seeds-mod-top", rows["seeds-mod-top"])
    (mod_top,) = [line for line in out.splitlines() if line.startswith("  mod_top.py: ")]
    assert "mod-top-accuracy," in mod_top and "mod-top-weights (not placed)" in mod_top
    assert out.rstrip().endswith("Sections (## headings):\n  content/index.md:4  One\n  content/index.md:12  Two")
