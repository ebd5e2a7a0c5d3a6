"""DynamicMaskingCollator inside DataLoader worker processes, and the `python -m distil_edu.data` command line.

Notebooks run in one process, so what happens when a DataLoader copies the collator into workers is tested here:
workers must not repeat each other's masks, and a new epoch must bring new masks (dynamic masking).
"""
import os, subprocess, sys

import pytest
import torch
from torch.utils.data import DataLoader

os.environ.setdefault('HF_HUB_OFFLINE', '1')
from distil_edu.data import DynamicMaskingCollator


@pytest.fixture(scope='module')
def tokenizer():
    from transformers import AutoTokenizer
    from distil_edu.teacher import offline_base_path
    return AutoTokenizer.from_pretrained(offline_base_path())


def _sequences(tokenizer, n=64, length=64):
    "`n` identical sequences: any difference between their masks comes from the random draws."
    body = list(range(2000, 2000 + length - 2))
    return [{'input_ids': [tokenizer.cls_token_id] + body + [tokenizer.sep_token_id]} for _ in range(n)]


def _epoch_labels(loader):
    return [batch['labels'] for batch in loader]


def _loader(tokenizer, collator, workers, seed=0):
    return DataLoader(_sequences(tokenizer), batch_size=8, shuffle=False, num_workers=workers, collate_fn=collator,
                      generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize('seed', [None, 123])
def test_workers_draw_different_masks(tokenizer, seed):
    loader = _loader(tokenizer, DynamicMaskingCollator(tokenizer, seed=seed), workers=2)
    labels = _epoch_labels(loader)
    assert len(labels) == 8
    # batches 0 and 1 come from different workers, on identical sequences: their masks must differ
    assert not torch.equal(labels[0], labels[1])
    assert len({tuple(l.flatten().tolist()) for l in labels}) == len(labels)


@pytest.mark.parametrize('seed', [None, 123])
def test_new_epoch_new_masks(tokenizer, seed):
    loader = _loader(tokenizer, DynamicMaskingCollator(tokenizer, seed=seed), workers=2)
    first, second = _epoch_labels(loader), _epoch_labels(loader)
    assert all(not torch.equal(a, b) for a, b in zip(first, second))


def test_same_loader_seed_same_masks(tokenizer):
    runs = [_epoch_labels(_loader(tokenizer, DynamicMaskingCollator(tokenizer, seed=123), workers=2, seed=7)) for _ in range(2)]
    assert all(torch.equal(a, b) for a, b in zip(*runs))
    other = _epoch_labels(_loader(tokenizer, DynamicMaskingCollator(tokenizer, seed=123), workers=2, seed=8))
    assert not all(torch.equal(a, b) for a, b in zip(runs[0], other))


def test_main_process_masks_rate(tokenizer):
    labels = torch.cat(_epoch_labels(_loader(tokenizer, DynamicMaskingCollator(tokenizer, seed=0), workers=0)))
    eligible = 64 * 62  # every token but [CLS] and [SEP]
    assert abs((labels != -100).sum().item() / eligible - 0.15) < 0.01
    assert (labels[:, 0] == -100).all() and (labels[:, -1] == -100).all()


def test_benchmark_cli_help():
    out = subprocess.run([sys.executable, '-m', 'distil_edu.data', '--help'], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert '--batch-size' in out.stdout and '--max-length' in out.stdout
