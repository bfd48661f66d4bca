"""The README's code is documentation that must stay true: run every Python block in it.

Each block is saved to a file and run with ``python`` in a fresh process, from an empty folder,
exactly as a reader who copies it would; a block that only works when ``exec``-ed inside the test
process (no ``__main__`` guard for Dask's worker processes, a name left over from another block)
fails here.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
# A block followed by "Output:" and a text block must print exactly that text (checked below,
# which also runs it); the others must run.
SHOWN = re.findall(r"```python\n(.*?)```\n\nOutput:\n\n```text\n(.*?)```", README.read_text(),
                   flags=re.S)
ALL_BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
BLOCKS = [b for b in ALL_BLOCKS if b not in {code for code, _ in SHOWN}]


def test_readme_has_python_blocks():
    assert len(ALL_BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs_as_a_script(index, tmp_path):
    script = tmp_path / f"readme_block_{index}.py"
    script.write_text(BLOCKS[index])
    proc = subprocess.run(
        [sys.executable, script.name], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, f"README block {index} failed:\n{proc.stderr[-4000:]}"



def test_readme_shows_estimator_outputs():
    assert len(SHOWN) >= 2


@pytest.mark.parametrize("index", range(len(SHOWN)))
def test_readme_output_is_what_the_block_prints(index, tmp_path):
    code, expected = SHOWN[index]
    script = tmp_path / f"readme_shown_{index}.py"
    script.write_text(code)
    proc = subprocess.run(
        [sys.executable, script.name], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert proc.stdout == expected
