# distil_edu: the two commands of the README are `make demo` and `make test`.
PYTHON ?= python3
SHELL := /bin/bash

.PHONY: setup prepare demo test test-notebooks test-python lab export clean-nbs readme

setup:             ## install everything (torch pinned first, the package, dev tools, the teacher's encoder)
	bash scripts/setup.sh

prepare: setup     ## fetch the corpus and build (or reuse) the offline teacher
	$(PYTHON) -m distil_edu.teacher

demo: prepare      ## the main job: prepare, then execute every chapter into build/chapters
	mkdir -p build/chapters
	cd nbs && for nb in [0-9][0-9]_*.ipynb; do \
	  echo "== $$nb"; \
	  $(PYTHON) -m jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=1800 \
	    --output-dir ../build/chapters "$$nb" 2>&1 | grep -v '^\[NbConvertApp\] Writing' || exit 1; \
	done
	@echo "Executed chapters are in build/chapters/. Open them with: make lab"

test: prepare      ## every test: notebooks (nbdev_test) and the rest (pytest); tests never use the hub
	HF_HUB_OFFLINE=1 nbdev_test --timing
	HF_HUB_OFFLINE=1 $(PYTHON) -m pytest -q tests

lab: setup         ## open JupyterLab on the chapters
	$(PYTHON) -m jupyter lab nbs

export:            ## notebooks -> library, then strip notebook metadata
	nbdev_export && nbdev_clean

readme:            ## render README.md from nbs/index.ipynb (no Quarto needed)
	$(PYTHON) scripts/render_readme.py
