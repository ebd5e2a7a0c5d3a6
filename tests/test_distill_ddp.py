"""Two CPU processes under torchrun (gloo) distil exactly like one process on the same global batch and seed."""
import json, os, subprocess, sys
from pathlib import Path

import pytest

from distill_helpers import tiny_run

WORKER = Path(__file__).with_name('ddp_worker.py')

def _run(command, tmp_path):
    env = {**os.environ, 'HF_HUB_OFFLINE': '1', 'OMP_NUM_THREADS': '1', 'TOKENIZERS_PARALLELISM': 'false'}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(map(str, command))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done

def test_two_processes_match_one(tmp_path):
    one = tiny_run(tmp_path/'one', micro_batch_size=2)  # one process, here
    _run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', WORKER,
          '--out', 'two.json', '--output_dir', 'two', '--micro_batch_size', '2'], tmp_path)
    two = json.loads((tmp_path/'two.json').read_text())
    assert (one['world_size'], one['accumulation']) == (1, 4)  # 8 sequences per step: 4 micro-batches of 2 in one process
    assert (two['world_size'], two['accumulation']) == (2, 2)  # ... or 2 micro-batches of 2 in each of 2 processes
    assert len(one['losses']) == len(two['losses']) == 5
    assert max(abs(a - b) for a, b in zip(one['losses'], two['losses'])) < 1e-5, (one['losses'], two['losses'])
    for a, b in zip(one['terms'], two['terms']):
        for name in ('ce', 'mlm', 'cos'): assert abs(a[name] - b[name]) < 1e-5, (name, a, b)
    assert max(abs(a - b) for a, b in zip(one['parameters'], two['parameters'])) < 1e-5  # the same student at the end
    assert one['losses'][-1] != one['losses'][0]  # it did train
    for name in ('one', 'two'):  # rank 0 wrote the checkpoint, the log and the student
        assert (tmp_path/name/'checkpoint'/'student.safetensors').exists()
        assert (tmp_path/name/'student'/'config.json').exists()
        log = [json.loads(line) for line in (tmp_path/name/'log.jsonl').read_text().splitlines()]
        assert [r['step'] for r in log if r['kind'] == 'train'] == [1, 2, 3, 4, 5]


def test_processes_started_with_different_settings_refuse_to_train(tmp_path):
    "A `Distiller` in several processes compares their settings first: a difference is a ValueError in every one."
    env = {**os.environ, 'HF_HUB_OFFLINE': '1', 'OMP_NUM_THREADS': '1', 'TOKENIZERS_PARALLELISM': 'false'}
    done = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', WORKER,
                           '--out', 'two.json', '--output_dir', 'two', '--rank_1_learning_rate', '0.01'],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and not (tmp_path/'two.json').exists()
    for rank in (0, 1):
        assert (f"rank {rank}: ValueError: the processes were started with different settings (learning_rate: rank 0 "
                "0.001, rank 1 0.01)") in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]
    assert not (tmp_path/'two'/'checkpoint').exists()  # refused before the first step
