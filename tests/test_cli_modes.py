"""``padlab modes`` end to end, through the installed console script and in-process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from padlab.cli.main import main
from padlab.modes import RULES


def test_console_script_is_installed():
    exe = shutil.which("padlab") or str(
        __import__("pathlib").Path(sys.executable).with_name("padlab")
    )
    result = subprocess.run([exe, "modes"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "d c b | a b c d | c b a" in result.stdout


def test_table_lists_every_rule_with_its_diagram_and_names(capsys):
    assert main(["modes"]) == 0
    out = capsys.readouterr().out
    for rule in RULES:
        assert rule.name in out
        assert rule.pattern in out
    reflect_row = next(line for line in out.splitlines() if line.startswith("reflect "))
    assert reflect_row.split()[13:] == ["reflect", "mirror", "-", "BORDER_REFLECT_101", "reflect",
                                       "REFLECT", "reflect"]  # fmt: skip


def test_translate_prints_every_library_or_none(capsys):
    assert main(["modes", "--translate", "scipy:reflect"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("scipy:reflect is padlab 'symmetric': c b a | a b c d | d c b")
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()[3:]}
    assert rows == {
        "padlab": "symmetric",
        "numpy": "symmetric",
        "scipy": "reflect",
        "scipy.signal": "symm",
        "cv2": "BORDER_REFLECT",
        "torch": "none",
        "tf": "SYMMETRIC",
        "onnx": "none",
    }


def test_json_outputs_parse(capsys):
    assert main(["modes", "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert [row["rule"] for row in table] == [rule.name for rule in RULES]
    assert main(["modes", "--translate", "cv2:BORDER_WRAP", "--json"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert one["rule"] == "circular"
    assert one["names"]["torch"] == "circular"


@pytest.mark.parametrize(
    ("word", "match"),
    [("mirror", "'scipy:mirror'"), ("matlab:x", "unknown library 'matlab'"), ("zz", "unknown")],
)
def test_bad_names_give_one_line_and_status_2(capsys, word, match):
    assert main(["modes", "--translate", word]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("padlab modes: error: ")
    assert match in lines[0]


def test_version_is_the_installed_distributions(capsys):
    from importlib.metadata import version

    import padlab

    assert padlab.__version__ == version("padlab")
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"padlab {version('padlab')}"


@pytest.mark.parametrize("command", ["report", "filter", "compare", "modes", "kernels"])
def test_every_help_shows_exit_codes_and_defaults(capsys, command):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = capsys.readouterr().out
    assert "exit status: 0 done" in text and "2 bad input" in text
    assert "(default: None)" not in text and "(default: False)" not in text


def test_a_closed_pipe_ends_quietly():
    process = subprocess.Popen(
        [sys.executable, "-c", "from padlab.cli.main import entry; entry()", "modes", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    process.stdout.close()  # the reader goes away before padlab writes
    err = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=60) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err
