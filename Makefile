# distil_edu: the two commands of the README are `make demo` and `make test`.
PYTHON ?= python3
SHELL := /bin/bash

.PHONY: setup browser prepare demo chapters test lab export readme docs docs-serve

setup:             ## install everything (torch pinned first, the package, dev tools, the teacher's encoder)
	bash scripts/setup.sh

prepare: setup     ## fetch the corpus and build (or reuse) the offline teacher
	$(PYTHON) -m distil_edu.teacher

demo: prepare      ## the main job: distil the offline teacher into a student on the default corpus (<= 10 min on 2 cores)
	HF_HUB_OFFLINE=1 $(PYTHON) -m distil_edu.train --preset demo

chapters: prepare  ## execute every chapter into build/chapters (what a learner sees in JupyterLab)
	mkdir -p build/chapters
	cd nbs && for nb in [0-9][0-9]*_*.ipynb; do \
	  echo "== $$nb"; \
	  $(PYTHON) -m jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=1800 \
	    --output-dir ../build/chapters "$$nb" || exit 1; \
	done

browser: setup     ## Chromium (Debian) and Playwright (PyPI) for the browser tests
	bash scripts/install_browser.sh

test: prepare browser docs  ## every test: lint (ruff), notebooks (nbdev_test), the rest (pytest; the site in Chromium)
	$(PYTHON) -m ruff check distil_edu nbs
	HF_HUB_OFFLINE=1 nbdev_test --timing
	HF_HUB_OFFLINE=1 $(PYTHON) -m pytest -q tests $(PYTEST_ARGS)

lab: setup         ## open JupyterLab on the chapters
	$(PYTHON) -m jupyter lab nbs

export:            ## notebooks -> library, then strip notebook metadata
	nbdev_export && nbdev_clean

docs: setup        ## the docs site into _site/ without Quarto: nbdev processes the notebooks, MkDocs renders them
	$(PYTHON) -c "from distil_edu.corpus import fetch_corpus; fetch_corpus()"  # the chapters' import cells read the corpus
	HF_HUB_OFFLINE=1 $(PYTHON) scripts/build_docs.py

docs-serve:        ## browse the docs site at http://127.0.0.1:8000 (rebuilt first if a source changed since)
	HF_HUB_OFFLINE=1 $(PYTHON) scripts/build_docs.py --if-stale
	$(PYTHON) -m http.server 8000 --bind 127.0.0.1 --directory _site

readme:            ## render README.md from nbs/index.ipynb (no Quarto needed)
	$(PYTHON) scripts/render_readme.py
