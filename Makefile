# The two commands of the quick start: `make demo` and `make test`. Both set up .venv on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.e2gan-installed
export HF_HUB_OFFLINE ?= 1
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: install demo test bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -c constraints.txt -e '.[diffusers,onnx,fid,test]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/e2gan demo --out results

test: install
	$(PY) -m pytest -q

bench: install
	$(PY) -m benchmarks.run

clean:
	rm -rf results .pytest_cache
