"""The notebooks are the source: exporting and cleaning them must change nothing in the repository.

The check runs nbdev_export and nbdev_clean in a temporary copy of the notebooks and library, so the working tree is never
touched, and compares every file with the original.
"""
from __future__ import annotations
import shutil, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COPIED = ['settings.ini', 'setup.py', 'README.md', 'nbs', 'distil_edu']


def _snapshot(root: Path) -> dict:
    "Relative path -> bytes for the notebooks and library modules under `root`."
    files = [*root.glob('nbs/*.ipynb'), *root.glob('distil_edu/*.py')]
    return {str(f.relative_to(root)): f.read_bytes() for f in files}


def _copy(tmp: Path) -> Path:
    for name in COPIED:
        source = ROOT/name
        if source.is_dir(): shutil.copytree(source, tmp/name, ignore=shutil.ignore_patterns('__pycache__', '.ipynb_checkpoints', 'runs'))
        else: shutil.copy2(source, tmp/name)
    return tmp


def _nbdev(command: str, cwd: Path):
    script = Path(sys.executable).parent/command
    subprocess.run([str(script) if script.exists() else command], cwd=cwd, check=True, capture_output=True, text=True)


def test_export_and_clean_leave_no_diff(tmp_path):
    copy = _copy(tmp_path)
    before = _snapshot(copy)
    _nbdev('nbdev_export', copy)
    _nbdev('nbdev_clean', copy)
    after = _snapshot(copy)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"nbdev_export/nbdev_clean change these files: {changed}. Run `make export` and commit."


def test_readme_is_rendered_from_index():
    result = subprocess.run([sys.executable, str(ROOT/'scripts'/'render_readme.py'), '--check'], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr or result.stdout
