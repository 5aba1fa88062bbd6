"""The README opens with the two commands, and CI runs the second one and nothing else."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    head = text.split("---", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", head, flags=re.S)


def _commands(path: Path) -> list[str]:
    """The lines of a shell script that run something (no comments, blank lines or `set`)."""
    lines = [line.strip() for line in path.read_text().splitlines()]
    return [
        line
        for line in lines
        if line and not line.startswith("#") and not line.startswith(("set ", "cd "))
    ]


def test_readme_starts_with_exactly_two_commands():
    commands = _readme_commands()
    assert len(commands) == 2
    assert all("\n" not in c for c in commands)
    install_and_run, test = commands
    assert "pip install ." in install_and_run and "padlab report" in install_and_run
    assert shlex.split(test)[:2] == ["sh", "tools/test.sh"]


def test_ci_runs_the_readme_test_command_and_nothing_else():
    assert _commands(ROOT / ".ci" / "run") == [_readme_commands()[1]]


def test_the_test_script_installs_what_it_needs_and_runs_pytest():
    script = (ROOT / "tools" / "test.sh").read_text()
    for needed in ("chromium", "chromium-driver", "python3-venv", "apt-get", "sudo"):
        assert needed in script
    assert "python3 -m venv .venv" in script
    assert '-e ".[test]"' in script
    assert '.venv/bin/python -m pytest "$@"' in script
