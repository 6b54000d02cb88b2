# Two commands matter: `make site` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: site test serve train verify bench clean check

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

## make site: train what is stale or missing, then build site/
site: $(STAMP)
	$(PY) -m builder build

## make test: the whole test suite (unit, training, end-to-end build, browser); installs
## Chromium and Java first when missing (as root, with apt-get), or says what to install
test: $(STAMP)
	@case "$(PYTEST_ARGS)" in *"not browser"*) ;; *) tests/system_deps.sh ;; esac
	$(PY) -m pytest $(PYTEST_ARGS)

## make serve: preview on http://127.0.0.1:8000, rebuilding on change
serve: $(STAMP)
	$(PY) -m builder serve

## make train [NAME=mod-top]: force retraining (all experiments when NAME is empty)
train: $(STAMP)
	$(PY) -m builder train $(NAME)

## make verify [NAME=five-neuron] [PERTURB=1]: retrain into .cache/verify (never content/_freeze/),
## print per array the largest difference from the committed artifact, build the whole article
## from the fresh artifacts (every fact and claim evaluated) and run the claim tests on them
## (default: every experiment that trains in a few minutes). PERTURB=N: initial weights nudged
## by N ulps first, a stand-in for another CPU's rounding.
verify: $(STAMP)
	$(PY) -m builder verify $(NAME) $(if $(PERTURB),--perturb $(PERTURB))

## make bench: build and training benchmarks, printed as a table
bench: site
	$(PY) -m builder bench

## make check: validate content without writing site/
check: $(STAMP)
	$(PY) -m builder check

## make clean: remove site/ (only when a build made it: site/.builder-made, or assets/glue.js
## for a site built before the stamp) and the caches
clean:
	@if [ -e site ] && [ ! -e site/.builder-made ] && [ ! -e site/assets/glue.js ]; then \
	  echo "site/ was not made by a build (no site/.builder-made): left as it is"; else rm -rf site; fi
	rm -rf .cache .pytest_cache .hypothesis
