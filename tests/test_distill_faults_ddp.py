"""Faults of a run of several processes: two gloo processes on the CPU under `torchrun`, the real `distil_edu_train`.

A killed rank that the agent restarts, a killed rank without a restart, a rank that hangs, SIGTERM to the agent (a
preempted job), a change in the number of processes on resume, a NaN on one rank, rank 0 failing while it prepares the
corpus, two runs sharing a teacher cache, and bad settings. Each run is bounded by `timeout` (seconds), far below
the job's: a hang fails the test instead of holding it. `fault_train.py` injects the faults that must strike at an
exact point."""
import json, os, re, signal, socket, subprocess, sys, time
from multiprocessing import get_context
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from distill_helpers import load_tokenizer, tiny_teacher, write_text_corpus
from distil_edu.checkpoint import find_checkpoint, verify_checkpoint

FAULTS = Path(__file__).with_name('fault_train.py')
STEPS = 12
SETTINGS = dict(batch_size=8, micro_batch_size=2, max_length=32, valid_sequences=16, eval_every=4, checkpoint_every=4,
                log_every=1, max_steps=STEPS, learning_rate=1e-3, progress=False, teacher='teacher', corpus='corpus')
TORCHRUN = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2']


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
    "A tiny teacher (4 layers of width 32, dropout off), a small text corpus and the run's settings file."
    folder = tmp_path_factory.mktemp('faults')
    tokenizer = load_tokenizer()
    teacher = tiny_teacher(len(tokenizer))
    teacher.save_pretrained(folder/'teacher'); tokenizer.save_pretrained(folder/'teacher')
    write_text_corpus(folder/'corpus')
    (folder/'run.json').write_text(json.dumps(SETTINGS))
    return folder


def environment(fault=None):
    env = {**os.environ, 'HF_HUB_OFFLINE': '1', 'OMP_NUM_THREADS': '1', 'TOKENIZERS_PARALLELISM': 'false'}
    env.pop('DISTIL_EDU_FAULT', None)
    return {**env, 'DISTIL_EDU_FAULT': fault} if fault else env


def train(folder, output_dir, *options, processes=2, fault=None, restarts=0, timeout=90):
    """`distil_edu_train --config run.json --output_dir OUTPUT_DIR OPTIONS` in `processes` processes (torchrun when 2),
    with `fault` injected (`fault_train.py`); the finished process."""
    command = ['--config', 'run.json', '--output_dir', str(output_dir), *options]
    program = [str(FAULTS)] if fault else ['-m', 'distil_edu.train']
    if processes == 1: command = [sys.executable, *program, *command]
    elif fault: command = [*TORCHRUN, '--max-restarts', str(restarts), *program, *command]
    else: command = [*TORCHRUN, '--max-restarts', str(restarts), '--no-python', 'distil_edu_train', *command]
    return subprocess.run(command, cwd=folder, env=environment(fault), capture_output=True, text=True, timeout=timeout)


def losses(output_dir) -> list:
    "The per-step losses in the run's log, and checks that every step is there once."
    log = [json.loads(line) for line in (Path(output_dir)/'log.jsonl').read_text().splitlines()]
    train = [r for r in log if r['kind'] == 'train']
    assert [r['step'] for r in train] == list(range(1, len(train) + 1)), [r['step'] for r in train]
    return [r['loss'] for r in train]


def student(output_dir) -> torch.Tensor:
    weights = load_file(Path(output_dir)/'student'/'model.safetensors')
    return torch.cat([weights[name].flatten() for name in sorted(weights)])


def assert_same_run(output_dir, reference, tolerance=1e-6):
    "Every step's loss and the final student equal the reference run's, within `tolerance`."
    got, want = losses(output_dir), losses(reference)
    assert len(got) == len(want) == STEPS
    assert max(abs(a - b) for a, b in zip(got, want)) <= tolerance, (got, want)
    assert (student(output_dir) - student(reference)).abs().max().item() <= tolerance


def errors(done) -> list:
    "The one-line errors of `distil_edu_train` in the output."
    return re.findall(r'distil_edu_train: error.*', done.stderr)


def said(done) -> str: return f"exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-4000:]}"


@pytest.fixture(scope='module')
def reference(folder):
    "The uninterrupted run of 2 processes."
    done = train(folder, 'reference')
    assert done.returncode == 0, said(done)
    return folder/'reference'


# 1. A killed rank, restarted: SIGKILL between two micro-batches of step 6 (rank 1), or halfway through writing the
# second checkpoint's state.pt (rank 0, the 4th file written). The agent restarts the group, which resumes from the last
# complete checkpoint (step 4) and ends with the same losses and the same student.
@pytest.mark.parametrize('fault', ['kill-in-step:1:6', 'kill-in-save:0:4'])
def test_killed_rank_is_restarted_and_the_run_is_exact(folder, reference, fault):
    done = train(folder, fault.split(':')[0], '--resume', 'auto', fault=fault, restarts=1)
    assert done.returncode == 0, said(done)
    assert 'fault fired' in done.stderr and 'Resuming at step 4 of 12' in done.stdout, said(done)
    assert_same_run(folder/fault.split(':')[0], reference)


# 2. A killed rank, no restart: the other one stops at once (its collective fails), names the lost rank, exits non-zero;
# the last checkpoint is intact.
def test_killed_rank_without_restart_stops_the_other_naming_it(folder):
    done = train(folder, 'killed', '--overwrite', 'true', fault='kill-in-step:1:6', timeout=60)
    assert done.returncode != 0
    [line] = errors(done)
    assert 'rank 0 of 2: lost rank 1 (its connection closed' in line and 'during step 6' in line, said(done)
    assert 'the last good checkpoint (step 4)' in line
    checkpoint, step = find_checkpoint(folder/'killed'/'checkpoint', say=None)
    assert step == 4 and verify_checkpoint(checkpoint)['step'] == 4


# ... and a rank that hangs, alive (SIGSTOP): nothing closes, so the other waits `collective_timeout` (5 s here), then
# stops naming it. Started without torchrun, whose agent would stop the group itself once rank 0 exits.
def test_hung_rank_is_named_after_the_collective_timeout(folder):
    with socket.socket() as probe: probe.bind(('127.0.0.1', 0)); port = probe.getsockname()[1]  # a free port
    env = {**environment('stop-in-step:1:6'), 'MASTER_ADDR': '127.0.0.1', 'MASTER_PORT': str(port), 'WORLD_SIZE': '2'}
    command = [sys.executable, str(FAULTS), '--config', 'run.json', '--output_dir', 'hung', '--overwrite', 'true',
               '--collective_timeout', '5']
    ranks = [subprocess.Popen(command, cwd=folder, env={**env, 'RANK': str(r), 'LOCAL_RANK': str(r)}, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for r in (0, 1)]
    try:
        out, err = ranks[0].communicate(timeout=60)  # 5 s of timeout and 3 s of check-in after the start
        assert ranks[0].returncode == 1, err[-3000:]
        [line] = re.findall(r'distil_edu_train: error.*', err)
        assert 'rank 0 of 2: lost rank 1 (no answer within collective_timeout = 5 s' in line and 'step 6' in line
        assert ranks[1].poll() is None  # rank 1 is still there, stopped
    finally:
        for process in ranks: process.kill(); process.communicate()
    assert find_checkpoint(folder/'hung'/'checkpoint', say=None)[1] == 4


# 3. Preemption: SIGTERM to the torchrun agent, as SLURM and Kubernetes send it. The agent passes it to every rank; they
# agree to stop after the same step, rank 0 writes one checkpoint, each exits 143. The same command with --resume auto
# then ends exactly where an uninterrupted run does.
def test_sigterm_to_the_agent_stops_every_rank_after_the_same_step(folder, reference):
    command = [*TORCHRUN, str(FAULTS), '--config', 'run.json', '--output_dir', 'preempted', '--overwrite', 'true']
    agent = subprocess.Popen(command, cwd=folder, env=environment('slow:*:0.3'), text=True, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)  # steps of 0.3 s more: the signal comes well before the end
    log = folder/'preempted'/'log.jsonl'
    try:
        for _ in range(1200):  # at most 60 s: wait for step 2 in the log
            if agent.poll() is not None: break
            if log.exists() and log.read_text().count('"train"') >= 2: break
            time.sleep(0.05)
        agent.send_signal(signal.SIGTERM)
        out, err = agent.communicate(timeout=60)
    finally: agent.kill()
    assert agent.returncode != 0  # torchrun itself exits 1 (its SignalException), its workers 143
    stops = re.findall(r'rank (\d): Interrupted \((SIGTERM|a signal to another process)\) after step (\d+)', out)
    assert sorted(rank for rank, _, _ in stops) == ['0', '1'], out[-2000:] + err[-2000:]
    step = int(stops[0][2])
    assert 2 <= step < STEPS and all(int(s) == step for _, _, s in stops)  # the same step in every rank
    assert err.count('SIGTERM: stopping after this step') == 2  # each rank received it
    assert find_checkpoint(folder/'preempted'/'checkpoint', say=None)[1] == step
    assert len(losses(folder/'preempted')) == step
    assert not (folder/'preempted'/'checkpoint.tmp').exists() and not (folder/'preempted'/'student').exists()
    done = train(folder, 'preempted', '--resume', 'auto')
    assert done.returncode == 0 and f'Resuming at step {step} of 12' in done.stdout, said(done)
    assert_same_run(folder/'preempted', reference)


# 4. Resume on another number of processes: SIGTERM to one rank (or the single process) in step 3, then the other
# number of processes. A step's update depends on the seed, the step and batch_size, not on the processes; only the
# order in which the gradients of the micro-batches are summed differs: one float32 rounding (about 2e-6 on a loss of
# 20.7, 2e-8 on a weight).
@pytest.mark.parametrize('before, after', [(2, 1), (1, 2)])
def test_resume_on_another_number_of_processes(folder, reference, before, after):
    output_dir = f'from_{before}_to_{after}'
    done = train(folder, output_dir, '--overwrite', 'true', processes=before, fault='sigterm-in-step:0:3')
    assert done.returncode == (143 if before == 1 else 1), said(done)  # under torchrun: the agent's exit code
    assert 'Interrupted' in done.stdout and find_checkpoint(folder/output_dir/'checkpoint', say=None)[1] == 3
    if before == 2: assert 'rank 1: Interrupted (a signal to another process) after step 3' in done.stdout
    done = train(folder, output_dir, '--resume', 'auto', processes=after)
    assert done.returncode == 0 and 'Resuming at step 3 of 12' in done.stdout, said(done)
    assert_same_run(folder/output_dir, reference, tolerance=1e-5)


# 5. A NaN on one rank only: the step's loss terms are summed over the processes before the check, so every rank sees
# it in the same step and stops with the same message, before the update; nobody is left waiting in a collective.
def test_nan_on_one_rank_stops_every_rank_at_the_same_step(folder):
    done = train(folder, 'nan', '--overwrite', 'true', fault='nan-in-step:1:6', timeout=60)
    assert done.returncode != 0 and re.search(r'exitcode\s*: 2', done.stderr), said(done)
    lines = errors(done)
    assert sorted(re.findall(r'\(rank (\d)\): step 6: ce = nan', '\n'.join(lines))) == ['0', '1'], said(done)
    assert all('the last good checkpoint (step 4)' in line for line in lines)
    assert find_checkpoint(folder/'nan'/'checkpoint', say=None)[1] == 4 and len(losses(folder/'nan')) == 5


# 6. Shared resources. Rank 0 fails while it prepares the corpus (inside `main_process_first`): it tells the other
# rank, which stops with its error instead of waiting or going on alone.
def test_rank_0_failing_in_preparation_stops_every_rank(folder):
    done = train(folder, 'prepare', '--overwrite', 'true', fault='fail-prepare:0', timeout=60)
    assert done.returncode != 0, said(done)
    lines = errors(done)
    assert len(lines) == 2, said(done)
    assert any('(rank 0): corpus: cannot read the corpus' in line for line in lines)
    assert any('rank 1 of 2: rank 0 failed while preparing the shared files' in line
               and 'OSError: corpus: cannot read the corpus' in line for line in lines)


# ... two runs write the same teacher-cache entries at the same moments: each entry is written under a temporary name
# and renamed, so both runs finish with the same losses and every entry is whole.
def test_two_runs_share_a_teacher_cache(folder):
    options = ['--overwrite', 'true', '--teacher_cache', 'cache', '--max_steps', '4']
    command = [sys.executable, '-m', 'distil_edu.train', '--config', 'run.json']
    runs = [subprocess.Popen([*command, '--output_dir', f'cached_{i}', *options], cwd=folder, env=environment(),
                             text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in (1, 2)]
    for run in runs:
        out, err = run.communicate(timeout=90)
        assert run.returncode == 0, err[-3000:]
    assert losses(folder/'cached_1') == losses(folder/'cached_2')
    entries = list((folder/'cache').glob('*/*.safetensors'))
    assert len(entries) == 4 * 4  # 4 steps of 4 micro-batches, the same in both runs
    for entry in entries: assert load_file(entry)['hidden'].shape[0] == 2
    assert not [p for p in (folder/'cache').rglob('*') if p.name.endswith('.tmp')]


def _write_entry_again_and_again(folder, times):
    from distil_edu.distill import TeacherCache
    torch.set_num_threads(1)
    cache = TeacherCache(folder, tiny_teacher(100), say=lambda message: None)
    hidden = torch.arange(2 * 5 * 32, dtype=torch.float32).reshape(2, 5, 32)
    for _ in range(times): cache._write(cache.folder/'entry.safetensors', hidden); cache.full = False


# ... and the narrowest race: two processes rewriting one entry 300 times each while a third reads it.
def test_one_entry_written_by_two_processes_is_always_whole(tmp_path):
    from distil_edu.distill import TeacherCache
    cache = TeacherCache(tmp_path, tiny_teacher(100), say=lambda message: None)
    path, want = cache.folder/'entry.safetensors', torch.arange(2 * 5 * 32, dtype=torch.float32).reshape(2, 5, 32)
    spawn = get_context('spawn')
    writers = [spawn.Process(target=_write_entry_again_and_again, args=(tmp_path, 300)) for _ in range(2)]
    for writer in writers: writer.start()
    reads = 0
    while any(writer.is_alive() for writer in writers):
        got = cache._read(path, torch.zeros(2, 5, dtype=torch.long))
        if got is not None: assert torch.equal(got, want); reads += 1
    for writer in writers: writer.join(timeout=60); assert writer.exitcode == 0
    assert reads > 0 and torch.equal(cache._read(path, torch.zeros(2, 5, dtype=torch.long)), want)
    assert [p.name for p in cache.folder.iterdir()] == ['entry.safetensors']  # no temporary file left


# 7. Bad input: every process finds the same fault in the settings; rank 0 alone reports it, in one line naming the
# setting, and every process exits 2 before it loads anything.
@pytest.mark.parametrize('options, fault, words', [
    (['--micro_batch_size', '3'], None, 'batch_size=8 must be a multiple of micro_batch_size × processes = 3 × 2'),
    (['--batch_size', '1', '--micro_batch_size', '1'], None,
     'batch_size=1 is smaller than the number of processes (2)'),
    ([], 'setting:1:learning_rate=0.01', 'different settings (learning_rate: rank 0 0.001, rank 1 0.01)'),
])
def test_bad_settings_are_one_line_from_rank_0(folder, options, fault, words):
    done = train(folder, 'bad', '--overwrite', 'true', *options, fault=fault, timeout=60)
    assert done.returncode != 0 and re.search(r'exitcode\s*: 2', done.stderr), said(done)
    [line] = errors(done)  # one line, from rank 0 alone, naming no rank: every process found the same
    assert line.startswith('distil_edu_train: error: ') and words in line, said(done)
    assert 'Teacher:' not in done.stdout  # nothing was loaded
