"""`distil_edu_train` with one fault injected into one rank, for a group started by `torchrun`.

    torchrun --nproc_per_node 2 ... fault_train.py [train options]      (DISTIL_EDU_FAULT=KIND:RANK:ARGUMENT)

The fault fires only in the first start of the group (`TORCHELASTIC_RESTART_COUNT` 0), so a group the agent
restarts runs clean, as a job does after a node is replaced. KIND is one of
- `kill-in-step` (ARGUMENT: step N, from 1): SIGKILL between the micro-batches of training step N;
- `kill-in-save` (ARGUMENT: K): SIGKILL halfway through the K-th file write of the checkpoints (rank 0 writes them);
- `stop-in-step` (N): SIGSTOP in step N: the process hangs, alive, the way a stuck GPU or a swapped-out node does;
- `sigterm-in-step` (N): SIGTERM to this rank alone in step N, e.g. a node being drained;
- `nan-in-step` (N): this rank's losses of step N are NaN;
- `fail-prepare`: this rank fails while it reads the corpus (inside `main_process_first`);
- `setting` (ARGUMENT: NAME=VALUE): this rank alone is started with `--NAME VALUE`;
- `slow` (ARGUMENT: seconds): each training step takes that much longer (RANK `*`: every rank), for a signal from
  outside.
Every other rank runs the unchanged command. The wrapper prints `fault fired` to stderr when it strikes.
"""
import os, signal, sys, time

import distil_edu.checkpoint as checkpoint
import distil_edu.distill as distill
import distil_edu.train as train

kind, _, rest = os.environ.get('DISTIL_EDU_FAULT', '').partition(':')
target_rank, _, argument = rest.partition(':')
rank, first_start = os.environ.get('RANK', '0'), os.environ.get('TORCHELASTIC_RESTART_COUNT', '0') == '0'
here = bool(kind) and first_start and target_rank in (rank, '*')
current = {'step': None}  # the training step running now, counted from 1


def fire(action):
    print(f"fault fired: {kind} on rank {rank}", file=sys.stderr, flush=True)
    action()


def die(): os.kill(os.getpid(), signal.SIGKILL)


if here and kind in ('kill-in-step', 'stop-in-step', 'sigterm-in-step', 'nan-in-step'):
    train_step, loss, calls = distill.Distiller.train_step, distill.micro_batch_loss, [0]

    def traced_step(self):
        current['step'], calls[0] = self.step + 1, 0
        return train_step(self)

    def faulty_loss(*args, **kwargs):
        shares, step = loss(*args, **kwargs), current['step']
        calls[0] += 1
        if step != int(argument): return shares
        if kind == 'nan-in-step':
            if calls[0] == 1: fire(lambda: None)
            return {name: value * float('nan') for name, value in shares.items()}
        if calls[0] == 2:  # between the first and the second micro-batch of the step
            signals = {'kill-in-step': signal.SIGKILL, 'stop-in-step': signal.SIGSTOP,
                       'sigterm-in-step': signal.SIGTERM}
            fire(lambda: os.kill(os.getpid(), signals[kind]))
        return shares

    distill.Distiller.train_step, distill.micro_batch_loss = traced_step, faulty_loss

if here and kind == 'kill-in-save':
    write_bytes, writes = checkpoint._write_bytes, [0]

    def torn_write(path, data):
        writes[0] += 1
        if writes[0] != int(argument): return write_bytes(path, data)
        with open(path, 'wb') as f: f.write(data[:len(data) // 2]); f.flush()
        fire(die)

    checkpoint._write_bytes = torn_write

if here and kind == 'slow':
    train_step_now = distill.Distiller.train_step

    def slow_step(self):
        time.sleep(float(argument))
        return train_step_now(self)

    distill.Distiller.train_step = slow_step

if here and kind == 'fail-prepare':
    def unreadable(*args, **kwargs):
        fire(lambda: None)
        raise OSError("corpus: cannot read the corpus (injected fault)")
    train.load_corpus = unreadable

argv = sys.argv[1:]
if here and kind == 'setting':
    name, _, value = argument.partition('=')
    argv += [f'--{name}', value]
    fire(lambda: None)

if __name__ == '__main__':
    train.main(argv)
