"""Execute each chapter top to bottom in a fresh Jupyter kernel, as a learner runs it, and print its run time.

Cells gated by a test flag of settings.ini (`#| slow`, `#| gpu`) are left out unless the flag is passed with --flags
(GPU cells run by themselves when torch sees a GPU), as are `#| eval: false` cells and the `nbdev_export()` cell (it would
rewrite the library). The notebooks are read, never written. This is a benchmark, not a timed test: the goal is at most
3 minutes per chapter on 2 cores.

    python scripts/bench_chapters.py                  # every chapter, on 2 cores
    python scripts/bench_chapters.py 00_temperature   # chapters whose file name contains one of the words
    python scripts/bench_chapters.py --cores 4 --flags slow
"""
from __future__ import annotations
import argparse, configparser, os, platform, re, sys, time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT/'nbs'
GOAL_SECONDS = 180


def chapters(nbs: Path = NBS) -> list[Path]:
    "The chapter notebooks `NN_topic.ipynb` (and `NNb_topic.ipynb`), in chapter order."
    return sorted(p for p in nbs.glob('*.ipynb') if re.match(r'\d\d[a-z]?_', p.name))


def test_flags(root: Path = ROOT) -> set[str]:
    "The flags that gate cells out of test runs (`tst_flags` in settings.ini)."
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(root/'settings.ini')
    return set(cfg['DEFAULT'].get('tst_flags', '').split())


def _gpu_available() -> bool:
    try:
        import torch
        return torch.cuda.is_available()
    except ImportError: return False


def skipped_flags(flags: str | set[str] = '', root: Path = ROOT) -> set[str]:
    "The test flags whose cells are left out: all of settings.ini's but `flags`, and but `gpu` on a machine with a GPU."
    run = set(flags.split()) if isinstance(flags, str) else set(flags)
    if _gpu_available(): run.add('gpu')
    return test_flags(root) - run


_re_directive = re.compile(r'^\s*#\|\s*([\w-]+:?)\s*(.*?)\s*$')


def directives(source: str) -> dict[str, str]:
    "The `#| name value` comments at the top of a cell, as {name: value} (`eval:` keeps its colon, as nbdev writes it)."
    found = {}
    for line in source.splitlines():
        if not line.strip(): continue
        m = _re_directive.match(line)
        if not m: break
        found[m.group(1)] = m.group(2)
    return found


def keep_cell(cell, skip: set[str]) -> bool:
    "Whether a learner's run executes `cell` (a notebook code or markdown cell) with the `skip` flags left out."
    if cell.cell_type != 'code': return True
    if 'nbdev_export(' in cell.source: return False
    d = directives(cell.source)
    if d.get('eval:', '').lower() == 'false': return False
    return not (skip & d.keys())


def runnable(path: Path, skip: set[str]):
    "The notebook at `path` without the cells a run leaves out, and the number of code cells left out."
    nb = nbformat.read(path, as_version=4)
    kept = [c for c in nb.cells if keep_cell(c, skip)]
    dropped = sum(c.cell_type == 'code' for c in nb.cells) - sum(c.cell_type == 'code' for c in kept)
    nb.cells = kept
    return nb, dropped


def error_outputs(nb) -> list[str]:
    "Every error output, or stderr stream holding a traceback or an `...Error:` line, of an executed notebook."
    found = []
    for i, cell in enumerate(nb.cells):
        for output in cell.get('outputs', []):
            if output.output_type == 'error':
                found.append(f'cell {i}: {output.get("ename")}: {output.get("evalue")}')
            elif output.output_type == 'stream' and output.get('name') == 'stderr':
                text = ''.join(output.get('text', ''))
                if 'Traceback (most recent call last)' in text or re.search(r'^\w+Error: ', text, re.M):
                    found.append(f'cell {i}: stderr: {text.strip().splitlines()[-1]}')
    return found


def execute_chapter(path: Path, skip: set[str], timeout: int = 1800):
    """Run the chapter in a fresh `python3` kernel started in the chapter's folder, stopping at the first error
    (`nbclient.exceptions.CellExecutionError`). Returns (executed notebook, seconds, code cells left out)."""
    from nbclient import NotebookClient
    nb, dropped = runnable(path, skip)
    client = NotebookClient(nb, timeout=timeout, startup_timeout=300, kernel_name='python3', allow_errors=False,
                            resources={'metadata': {'path': str(path.parent)}})  # startup: a busy machine is slow
    start = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - start, dropped


def cpu_name() -> str:
    "The CPU model, from /proc/cpuinfo where there is one."
    try: return next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))
    except (OSError, StopIteration): return platform.processor() or platform.machine()


def limit_cores(cores: int):
    "Pin this process, and so the kernels it starts, to `cores` CPU cores, with as many math-library threads."
    if hasattr(os, 'sched_setaffinity'):
        available = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, set(available[:cores]))
    for var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS'): os.environ[var] = str(cores)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('names', nargs='*', help='run only chapters whose file name contains one of these words')
    parser.add_argument('--cores', type=int, default=2, help='CPU cores the kernels may use (default 2)')
    parser.add_argument('--flags', default='', help='test flags whose cells run too, e.g. "slow"')
    parser.add_argument('--timeout', type=int, default=1800, help='seconds one cell may take')
    args = parser.parse_args(argv)
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    os.environ.pop('MPLBACKEND', None)  # the kernel's own inline backend, as in JupyterLab
    limit_cores(args.cores)
    skip = skipped_flags(args.flags)
    paths = [p for p in chapters() if not args.names or any(n in p.name for n in args.names)]
    print(f'{len(paths)} chapter(s) on {args.cores} core(s) of {cpu_name()}, '
          f'cells flagged {" ".join(sorted(skip)) or "(none)"} left out')
    failed = 0
    for path in paths:
        try:
            nb, seconds, dropped = execute_chapter(path, skip, args.timeout)
            errors = error_outputs(nb)
        except Exception as e:
            print(f'{path.name:32s}  FAILED: {type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ""}')
            failed += 1; continue
        note = 'over the 3 min goal' if seconds > GOAL_SECONDS else ''
        if errors: note, failed = f'{len(errors)} error output(s)', failed + 1
        print(f'{path.name:32s} {seconds:7.1f} s  ({dropped} code cell(s) left out)  {note}'.rstrip())
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
