"""The README's code is documentation that must stay true: run every Python block in it."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs(index):
    exec(compile(BLOCKS[index], f"README.md block {index}", "exec"), {"__name__": "__readme__"})


# A block followed by "Output:" and a text block must print exactly that text.
SHOWN = re.findall(r"```python\n(.*?)```\n\nOutput:\n\n```text\n(.*?)```", README.read_text(),
                   flags=re.S)


def test_readme_shows_estimator_outputs():
    assert len(SHOWN) >= 2


@pytest.mark.parametrize("index", range(len(SHOWN)))
def test_readme_output_is_what_the_block_prints(index, capsys):
    code, expected = SHOWN[index]
    exec(compile(code, f"README.md shown block {index}", "exec"), {"__name__": "__readme__"})
    assert capsys.readouterr().out == expected
