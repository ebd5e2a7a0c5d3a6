"""The library reads like the model codebases it teaches: no line over 120 characters, no function over 60 lines, no class
over 120. The notebooks are checked by `ruff` (see ruff.toml); this checks what nbdev writes from them."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent/'distil_edu'
MODULES = sorted(p for p in PACKAGE.glob('*.py') if p.name != '_modidx.py')


def nbdev_all_lines(text: str) -> set:
    "Line numbers of the `__all__` list nbdev writes (its wrapper does not count the 10 characters of `__all__ = `)."
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == '__all__' for t in node.targets):
            return set(range(node.lineno, node.end_lineno + 1))
    return set()


def test_lines_at_most_120_characters():
    long = []
    for path in MODULES:
        text = path.read_text()
        allowed = nbdev_all_lines(text)
        long += [f"{path.name}:{n}: {len(line)} characters" for n, line in enumerate(text.splitlines(), 1)
                 if len(line) > 120 and n not in allowed]
    assert not long, long


def test_functions_and_classes_are_short():
    too_long = []
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            lines = getattr(node, 'end_lineno', 0) - getattr(node, 'lineno', 0) + 1
            limit = 60 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else 120
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and lines > limit:
                too_long.append((path.name, node.name, lines))
    assert not too_long, too_long
