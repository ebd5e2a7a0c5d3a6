"""A tiny distillation run in a process of its own, with a fault injected where the test asks, so that the process dies (or is
stopped) the way a job on a cluster does.

    python fault_worker.py OUTPUT_DIR FAULT

FAULT is one of
- `none`: run to the end;
- `kill-in-step:N`, `sigterm-in-step:N`, `sigint-in-step:N`: that signal, from inside training step N (counted from 1);
- `kill-before:NAME:K`, `kill-after:NAME:K`: SIGKILL just before / after the K-th call of `distil_edu.checkpoint.NAME`, one of the
  steps of writing a checkpoint (`save_model`, `_write_bytes`, `_fsync`, `_rename`, `_remove`);
- `truncate:K`: the K-th `_write_bytes` writes half of its bytes, then SIGKILL;
- `slow`: 30 steps, each 0.4 s longer (for a signal sent from outside).
The exit code is the one the command line uses: 0, or 130 / 143 after Ctrl-C / SIGTERM.
"""
import os, signal, sys, time

sys.path.insert(0, os.path.dirname(__file__))
from distill_helpers import load_tokenizer, tiny_teacher, token_sequences  # noqa: E402
import distil_edu.checkpoint as checkpoint  # noqa: E402
import distil_edu.distill as distill  # noqa: E402
from distil_edu.student import make_student  # noqa: E402

SETTINGS = dict(batch_size=8, micro_batch_size=4, max_steps=6, learning_rate=1e-3, smoothing=None, progress=False, eval_every=3,
                checkpoint_every=2, valid_sequences=8)


def make_distiller(output_dir, **settings):
    "The tiny teacher (dropout on: the random streams must be restored too) and its 2-layer student; the tests build the same."
    tokenizer = load_tokenizer()
    sequences = token_sequences(tokenizer)
    teacher = tiny_teacher(len(tokenizer), dropout=0.1)
    student = make_student(tiny_teacher(len(tokenizer), dropout=0.1))
    config = distill.DistilConfig(**{**SETTINGS, 'output_dir': str(output_dir), **settings})
    return distill.Distiller(teacher, student, config, sequences[8:], sequences[:8], tokenizer=tokenizer)


def _die(): os.kill(os.getpid(), signal.SIGKILL)


def _patch_call(name: str, number: int, when: str):
    "Replace `checkpoint.NAME` by a wrapper that dies before or after its `number`-th call."
    original, calls = getattr(checkpoint, name), [0]
    def wrapper(*args, **kwargs):
        calls[0] += 1
        if calls[0] == number and when == 'before': _die()
        result = original(*args, **kwargs)
        if calls[0] == number and when == 'after': _die()
        return result
    setattr(checkpoint, name, wrapper)


def _patch_truncate(number: int):
    original, calls = checkpoint._write_bytes, [0]
    def wrapper(path, data):
        calls[0] += 1
        if calls[0] != number: return original(path, data)
        with open(path, 'wb') as f: f.write(data[:len(data) // 2]); f.flush(); os.fsync(f.fileno())
        _die()
    checkpoint._write_bytes = wrapper


def _in_step(d, step: int, action):
    "Run `action` once, from inside training step `step` (a forward hook of the student's encoder)."
    done = []
    def hook(module, inputs, output):
        if module.training and d.step == step - 1 and not done: done.append(True); action()
    d.student.distilbert.register_forward_hook(hook)


def main(output_dir: str, fault: str) -> int:
    kind, _, argument = fault.partition(':')
    if kind in ('kill-before', 'kill-after'):
        name, number = argument.split(':'); _patch_call(name, int(number), kind.split('-')[1])
    if kind == 'truncate': _patch_truncate(int(argument))
    d = make_distiller(output_dir, overwrite=True, **({'max_steps': 30} if kind == 'slow' else {}))
    signals = {'kill-in-step': _die, 'sigterm-in-step': lambda: os.kill(os.getpid(), signal.SIGTERM),
               'sigint-in-step': lambda: os.kill(os.getpid(), signal.SIGINT)}
    if kind in signals: _in_step(d, int(argument), signals[kind])
    if kind == 'slow': d.student.distilbert.register_forward_hook(lambda *_: time.sleep(0.2) if d.student.training else None)
    d.fit()
    print(f"stopped_by={d.stopped_by} step={d.step}", flush=True)
    return checkpoint.EXIT_CODES.get(d.stopped_by, 0) if d.interrupted else 0


if __name__ == '__main__':
    sys.exit(main(*sys.argv[1:]))
