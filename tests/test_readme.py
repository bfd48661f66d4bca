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
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs_as_a_script(index, tmp_path):
    script = tmp_path / f"readme_block_{index}.py"
    script.write_text(BLOCKS[index])
    proc = subprocess.run(
        [sys.executable, script.name], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, f"README block {index} failed:\n{proc.stderr[-4000:]}"
