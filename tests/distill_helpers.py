"""Tiny models and data shared by the tests of `distil_edu.distill`: each run takes seconds on a CPU."""
import os
os.environ.setdefault('HF_HUB_OFFLINE', '1')
import random

import torch
from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

from distil_edu.teacher import offline_base_path

torch.set_num_threads(1)  # tiny models gain nothing from threads, and on a busy machine threads wait for each other

WORDS = ('the whale ship sea captain harpoon boat crew night storm wind water island port sail deep white old man long voyage '
         'people nation congress state union law war peace year government country president freedom labor trade money land').split()

def load_tokenizer():
    "The offline teacher's uncased BERT tokenizer (shipped with the encoder package, no hub needed)."
    return AutoTokenizer.from_pretrained(offline_base_path())

def tiny_teacher(vocab_size: int, dropout: float = 0.0, seed: int = 0) -> BertForMaskedLM:
    "A 4-layer BERT masked LM of width 32 with random weights: the student has 2 layers."
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=64, hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    return BertForMaskedLM(config).eval()

def token_sequences(tokenizer, n: int = 48, length: int = 24, seed: int = 0) -> list:
    "`n` packed-style sequences ([CLS] ids [SEP]) of random non-special tokens; every fifth one shorter, so batches need padding."
    generator = torch.Generator().manual_seed(seed)
    sequences = []
    for i in range(n):
        body = length - 2 - (7 if i % 5 == 4 else 0)
        ids = torch.randint(1999, 29000, (body,), generator=generator).tolist()
        sequences.append([tokenizer.cls_token_id, *ids, tokenizer.sep_token_id])
    return sequences

def write_text_corpus(folder, documents: int = 12, sentences: int = 60, seed: int = 0):
    "A folder of small English-like text files, for the command line."
    rng = random.Random(seed)
    os.makedirs(folder, exist_ok=True)
    for d in range(documents):
        text = ' '.join(' '.join(rng.choice(WORDS) for _ in range(rng.randint(6, 14))).capitalize() + '.' for _ in range(sentences))
        with open(os.path.join(folder, f'doc{d:02d}.txt'), 'w') as f: f.write(text + '\n')
    return folder

def tiny_run(output_dir, micro_batch_size: int = 2, steps: int = 5, learning_rate: float = 1e-3) -> dict:
    """Distil the tiny teacher (dropout off) for `steps` steps of 8 sequences, in this process or as one rank of a `torchrun` group.
    Rank 0 returns the per-step losses and terms and the final student's parameters; other ranks return {}."""
    from distil_edu.distill import DistilConfig, Distiller
    from distil_edu.parallel import init_distributed
    from distil_edu.student import make_student
    rank, world_size, _ = init_distributed()
    tokenizer = load_tokenizer()
    teacher = tiny_teacher(len(tokenizer), dropout=0.0)  # no dropout: one process and several must compute the very same numbers
    sequences = token_sequences(tokenizer)
    config = DistilConfig(batch_size=8, micro_batch_size=micro_batch_size, max_steps=steps, learning_rate=learning_rate, smoothing=None,
                          output_dir=str(output_dir), overwrite=True, progress=False, eval_every=2, checkpoint_every=2,
                          valid_sequences=8, device='cpu')
    distiller = Distiller(teacher, make_student(teacher), config, sequences[8:], sequences[:8], tokenizer=tokenizer)
    distiller.fit()
    if rank != 0: return {}
    return {'world_size': world_size, 'accumulation': distiller.accumulation, 'losses': distiller.losses(),
            'terms': [{k: r[k] for k in ('ce', 'mlm', 'cos')} for r in distiller.history if r['kind'] == 'train'],
            'parameters': torch.cat([p.detach().flatten() for p in distiller.student.parameters()]).tolist()}
