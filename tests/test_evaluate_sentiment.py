"""`fetch_sentiment` without the network: `pip download` is replaced by a stand-in that writes a small source tarball of the
same layout as vadersentiment's, or that fails the way pip fails offline."""
from __future__ import annotations
import io, subprocess, tarfile
from pathlib import Path

import pytest

from distil_edu import evaluate

ROWS = ['1\t2.26666666667\tThe Rock is destined to be the 21st Century\'s new \'\'Conan\'\'.',
        '2\t-0.6\tEffective but too tepid biopic',
        '3\t0.3\tNeither here nor there.',
        '4\t-1.8125\tHer fans walked out muttering words like \'\'horrible\'\'.',
        '5\t1.4375\tWe\u2019ve seen the plot before, but there\u2019s an enthusiastic charm in it.',
        '6\t-0.5\tNo surprises.']


def _add(tar: tarfile.TarFile, name: str, content: bytes):
    info = tarfile.TarInfo(name); info.size = len(content)
    tar.addfile(info, io.BytesIO(content))


def fake_sdist(folder: Path) -> Path:
    "A source tarball laid out like vaderSentiment-3.3.2.tar.gz, with a CRLF ground-truth file and no final line end."
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode='w:gz') as tar:
        _add(tar, 'hutto_ICWSM_2014/_README_.txt', b'readme')
        _add(tar, f'hutto_ICWSM_2014/{evaluate.SENTIMENT_FILE}', '\r\n'.join(ROWS).encode('utf-8'))
    path = folder/'vaderSentiment-3.3.2.tar.gz'
    with tarfile.open(path, 'w:gz') as tar:
        _add(tar, 'vaderSentiment-3.3.2/setup.py', b'')
        _add(tar, f'vaderSentiment-3.3.2/{evaluate.SENTIMENT_ARCHIVE}', inner.getvalue())
    return path


def test_fetch_runs_pip_download_and_extracts(tmp_path, monkeypatch):
    calls = []
    def pip(command, **kwargs):
        calls.append(command)
        fake_sdist(Path(command[command.index('-d') + 1]))
        return subprocess.CompletedProcess(command, 0, '', '')
    monkeypatch.setattr(evaluate.subprocess, 'run', pip)
    path = evaluate.fetch_sentiment(tmp_path/'sentiment')
    assert path == tmp_path/'sentiment'/evaluate.SENTIMENT_FILE
    assert calls[0][1:] == ['-m', 'pip', 'download', '--no-deps', '--no-binary', ':all:', '--quiet', '--disable-pip-version-check',
                            'vadersentiment==3.3.2', '-d', calls[0][-1]]
    rows = evaluate.read_ratings(path)
    assert [r['id'] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[4]['text'].startswith('We\u2019ve')  # UTF-8 kept
    assert evaluate.fetch_sentiment(tmp_path/'sentiment') == path and len(calls) == 1  # second call: already there
    # written under a temporary name and renamed (a chapter running beside may read it meanwhile): nothing else is left
    assert [p.name for p in (tmp_path/'sentiment').iterdir()] == [evaluate.SENTIMENT_FILE]
    data = evaluate.load_sentiment(path, validation=1, test=1)
    kept = sorted(i for part in data.values() for i in part['id'])
    assert kept == [1, 2, 4, 5, 6]  # |rating| >= 0.5, the boundary -0.5 included
    labels = {i: l for part in data.values() for i, l in zip(part['id'], part['label'])}
    assert labels == {1: 1, 2: 0, 4: 0, 5: 1, 6: 0}


def test_fetch_fails_clearly_offline(tmp_path, monkeypatch):
    def pip(command, **kwargs):
        return subprocess.CompletedProcess(command, 1, '', 'ERROR: No matching distribution found for vadersentiment==3.3.2')
    monkeypatch.setattr(evaluate.subprocess, 'run', pip)
    with pytest.raises(RuntimeError, match='pip download vadersentiment==3.3.2') as error:
        evaluate.fetch_sentiment(tmp_path)
    assert 'No matching distribution' in str(error.value) and evaluate.SENTIMENT_FILE in str(error.value)
    assert not (tmp_path/evaluate.SENTIMENT_FILE).exists()


def test_extract_names_what_is_missing(tmp_path):
    empty = tmp_path/'other-1.0.tar.gz'
    with tarfile.open(empty, 'w:gz') as tar: _add(tar, 'other-1.0/setup.py', b'')
    with pytest.raises(FileNotFoundError, match='hutto_ICWSM_2014.tar.gz'): evaluate.extract_sentiment(empty, tmp_path/'out')
    with pytest.raises(ValueError, match='not a tar archive'): evaluate.extract_sentiment(Path(__file__), tmp_path/'out')
