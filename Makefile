# videonas: `make reproduce` runs every experiment; `make test` runs the tests and validates the notebooks.
# Every target that needs Python depends on `setup`, which builds .venv once and again only when pyproject.toml changes.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
KERNEL := videonas
PROFILE ?= default
LAB_ARGS ?=
export KERAS_BACKEND ?= tensorflow
export TF_CPP_MIN_LOG_LEVEL ?= 2
# oneDNN's CPU kernels: TensorFlow's own Conv3D gradient is ~100x slower on CPUs without AVX-512 (videonas/__init__.py)
export TF_ENABLE_ONEDNN_OPTS ?= 1
# pip prints one warning per package for the machine's optional local indexes; keep the install log readable.
PIP_FILTER := grep -v "is ignored: it is neither a file nor a directory" || true
# One line per package pip collects, so a cold install shows progress instead of minutes of silence.
PIP_PROGRESS := grep -E --line-buffered "^(Collecting|Successfully installed|ERROR)" | cut -c1-110 || true

.PHONY: setup test test-fast reproduce reports bench lab clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip 2>&1 | $(PIP_FILTER)
	@echo "videonas: installing the package and its dependencies into $(VENV) (a few minutes on a cold pip cache)"
	$(BIN)/python -m pip install -e '.[test]' 2>&1 | $(PIP_PROGRESS)
	$(BIN)/python -c "from videonas import native_stderr; native_stderr.import_quietly('videonas', 'keras', 'torch', 'tensorflow', 'av', 'cv2')"
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (videonas)" >/dev/null
	@touch $(STAMP)

# Two pytest workers (TEST_WORKERS=0 runs in one process); --dist loadfile gives a file, so a notebook's cells, to one
# worker, in order.
TEST_WORKERS ?= 2
XDIST := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

# PYTEST_ARGS adds pytest options (for example PYTEST_ARGS=--durations=0 to time every test and notebook cell).
PYTEST_ARGS ?=

test: setup
	$(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-current-env -q $(XDIST) $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/python -m pytest tests -m "not slow" -q $(XDIST) $(PYTEST_ARGS)

# RESUME=1 keeps the notebooks that already finished with this code and continues an unfinished one's stores.
reproduce: setup
	$(BIN)/python -m videonas reproduce --profile $(PROFILE) $(if $(RESUME),--resume)

reports: setup
	$(BIN)/python -m videonas report

bench: setup
	$(BIN)/python -m videonas bench

# Headless and container-friendly: never opens a browser (open the printed URL), adds --allow-root when run as root;
# host, port, token: make lab LAB_ARGS="--ip=0.0.0.0 --port=8890 --IdentityProvider.token=secret"
lab: setup
	$(BIN)/jupyter lab notebooks --no-browser $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
