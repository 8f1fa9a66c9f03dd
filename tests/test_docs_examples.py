"""Every shell example of the README and docs/ runs, so the docs cannot go stale.

A ```` ```sh ```` block is run with bash (``-e``, ``pipefail``) in a copy of the repository, with
the test's virtualenv as ``.venv`` and its ``bin`` first on PATH, so ``vossim``, ``make demo``
and ``. .venv/bin/activate`` work as a reader would type them. The blocks of one file run in
order in one copy (a later block may read what an earlier one wrote). Each must exit 0.

A ```` ```text ```` block right after a ```` ```sh ```` block is its output: every line of it
must appear in what the commands printed (stdout and stderr), in order, with runs of spaces
collapsed. ``…`` stands for anything (timings, a free port); a line that is only ``…`` or only
table rules (``┌──┬──┐``) is skipped.

A block that cannot run here says so in its fence, visibly, with the reason:
```` ```sh not-run: REASON ````. Such blocks are listed at the end of the test run and kept few.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_RUN = "not-run:"
MAX_NOT_RUN = 8  # the examples that cannot run here stay a short, visible list
_FENCE = re.compile(r"^```(\S*)\s*(.*)$")
_RULE = re.compile(r"^[\s─━┌┐└┘├┤┬┴┼┏┓┗┛┣┫┳┻╋┡┩╇│┃]*$")
_COPY_IGNORED = shutil.ignore_patterns(".git", ".venv", "out", "build", ".mariadb",
                                       "__pycache__", ".pytest_cache", ".ruff_cache",
                                       "*.egg-info", "bench-results*")


@dataclass
class Block:
    path: Path
    line: int
    language: str
    info: str
    text: str
    output: str | None = None  # the ```text block that follows, when there is one

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def not_run_reason(self) -> str | None:
        return self.info.split(NOT_RUN, 1)[1].strip() if NOT_RUN in self.info else None


def fenced_blocks(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown file; a ```text block is attached to the ```sh block
    right before it (only blank lines between)."""
    blocks: list[Block] = []
    lines = path.read_text().splitlines()
    index = 0
    previous_end = -2
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        start = index
        index += 1
        body: list[str] = []
        while index < len(lines) and not lines[index].startswith("```"):
            body.append(lines[index])
            index += 1
        block = Block(path, start + 1, opening.group(1), opening.group(2), "\n".join(body))
        between = lines[previous_end + 1:start] if previous_end >= 0 else ["x"]
        if (block.language == "text" and blocks and blocks[-1].language == "sh"
                and not any(line.strip() for line in between)):
            blocks[-1].output = block.text
        else:
            blocks.append(block)
        previous_end = index
        index += 1
    return blocks


def _shell_blocks(path: Path) -> list[Block]:
    return [block for block in fenced_blocks(path) if block.language == "sh"]


def _normalised(line: str) -> str:
    """Runs of spaces collapsed; a heavy table border (rich's header row) read as a light one."""
    return " ".join(line.replace("┃", "│").split())


def missing_output(expected: str, actual: str) -> str | None:
    """The first expected line that is not in ``actual`` (after the previous one), or None."""
    got = [_normalised(line) for line in actual.splitlines()]
    position = 0
    for line in expected.splitlines():
        want = _normalised(line)
        if not want or want == "…" or _RULE.match(want):
            continue
        pattern = re.compile(".*?".join(re.escape(part) for part in want.split("…")))
        for offset, candidate in enumerate(got[position:]):
            if pattern.fullmatch(candidate) or ("…" not in want and want == candidate):
                position += offset + 1
                break
        else:
            return line
    return None


def _repository_copy(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    assert sys.prefix != sys.base_prefix, "run the tests from the virtualenv (make test)"
    copy = tmp_path / "vossim"
    shutil.copytree(ROOT, copy, ignore=_COPY_IGNORED, symlinks=True)
    (copy / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    stamp = tmp_path / "installed-stamp"  # `make` must not reinstall into the shared virtualenv
    stamp.touch()
    venv_bin = str(Path(sys.prefix) / "bin")
    env = {**os.environ, "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": str(copy), "COLUMNS": "110", "MAKEFLAGS": f"STAMP={stamp}"}
    for inherited in ("VIRTUAL_ENV", "MAKELEVEL", "MFLAGS"):  # run by `make test`: a reader's
        env.pop(inherited, None)                                # shell has none of these
    return copy, env


def _stop_private_mariadb(copy: Path, env: dict[str, str]) -> None:
    """A guide that ran `make mariadb` and failed before `make mariadb-stop` leaves no server."""
    if (copy / ".mariadb").exists():
        subprocess.run([sys.executable, str(copy / "bench" / "private_mariadb.py"), "stop",
                        "--dir", str(copy / ".mariadb")], env=env, capture_output=True,
                       timeout=60, check=False)


@pytest.mark.parametrize("doc", [d for d in DOCS if _shell_blocks(d)],
                         ids=lambda d: str(d.relative_to(ROOT)))
def test_every_shell_example_runs(doc: Path, tmp_path: Path) -> None:
    copy, env = _repository_copy(tmp_path)
    try:
        for block in _shell_blocks(doc):
            if block.not_run_reason is not None:
                continue
            done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block.text], cwd=copy,
                                  env=env, capture_output=True, text=True, timeout=240,
                                  check=False)
            printed = done.stdout + done.stderr
            assert done.returncode == 0, (
                f"{block.where}: the example exits {done.returncode}:\n{block.text}\n---\n"
                f"{printed[-3000:]}")
            if block.output is not None:
                missing = missing_output(block.output, printed)
                assert missing is None, (
                    f"{block.where}: the output shown in the docs is not what the example "
                    f"prints; missing line:\n{missing}\n--- printed:\n{printed[-4000:]}")
    finally:
        _stop_private_mariadb(copy, env)


def test_examples_that_cannot_run_here_are_few_and_say_why() -> None:
    skipped = [block for doc in DOCS for block in _shell_blocks(doc)
               if block.not_run_reason is not None]
    for block in skipped:
        assert len(block.not_run_reason or "") >= 15, f"{block.where}: give the reason"
    assert len(skipped) <= MAX_NOT_RUN, [block.where for block in skipped]
    print("\nshell examples not run here:")
    for block in skipped:
        print(f"  {block.where}: {block.not_run_reason}")


def test_the_readme_is_a_front_door_and_its_links_hold() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if "://" in target:
                continue
            assert (doc.parent / target).exists(), f"{doc.relative_to(ROOT)}: dead link {target}"


def test_output_matching_skips_timings_and_rules_but_not_numbers() -> None:
    printed = "┌──┬──┐\n│ calls   │  8,555 │\nanalysed 8,555 CDRs in 0.40 s (21,668 CDR/s)\n"
    assert missing_output("┌───┐\n│ calls │ 8,555 │\nanalysed 8,555 CDRs in … s (… CDR/s)",
                          printed) is None
    assert missing_output("│ calls │ 8,203 │", printed) == "│ calls │ 8,203 │"
    # Order matters: a line shown after another must be printed after it.
    assert missing_output("analysed 8,555 CDRs in …\n│ calls │ 8,555 │", printed) is not None
