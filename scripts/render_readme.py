"""Render README.md from nbs/index.ipynb without Quarto (nbdev_readme needs Quarto)."""
from pathlib import Path
import sys
import nbformat

ROOT = Path(__file__).resolve().parent.parent

def render(index: Path = ROOT/'nbs'/'index.ipynb') -> str:
    "The README text: the index notebook's markdown cells, and its code cells as fenced Python, in order."
    parts = []
    for cell in nbformat.read(index, as_version=4).cells:
        if cell.cell_type == 'markdown': parts.append(cell.source.strip())
        elif cell.cell_type == 'code' and cell.source.strip() and not cell.source.lstrip().startswith('#| hide'):
            parts.append('```python\n' + cell.source.strip() + '\n```')
    return '\n\n'.join(parts) + '\n'

if __name__ == '__main__':
    text = render()
    if '--check' in sys.argv:
        sys.exit(0 if (ROOT/'README.md').read_text() == text else 'README.md differs from nbs/index.ipynb: run `make readme`')
    (ROOT/'README.md').write_text(text)
    print('README.md written from nbs/index.ipynb')
