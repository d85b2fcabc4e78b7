# Everyday commands. The build itself is CMake (build/ and build-asan/).
MODEL ?= models/SmolLM2-135M-Instruct.Q4_1.gguf
JOBS  ?= $(shell nproc)

.PHONY: all setup model build build-asan test test-fast fuzz run clean

all: build

setup:
	@scripts/setup.sh

model: setup
	@scripts/get-model.sh smollm2

build: setup
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build -j$(JOBS)

build-asan: setup
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DAI_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j$(JOBS)

# The whole suite: release build, then the same tests under ASan+UBSan, then
# a bounded fuzzing run of the GGUF reader.
test: model build build-asan
	cd build && ctest --output-on-failure -j$(JOBS)
	cd build-asan && ctest --output-on-failure -j$(JOBS)
	@scripts/fuzz.sh 60

# Release build only (quick iteration).
test-fast: model build
	cd build && ctest --output-on-failure -j$(JOBS)

fuzz: setup
	@scripts/fuzz.sh 300

# The main job: a short unattended optimisation of the default model (the
# built-in knob search; in a git worktree under .autoinfer/, so this checkout
# is left as it is), then its report. Needs a clean tree. The kept commits are
# on branch autoinfer/$(RUN_TAG); see docs/loop.md.
RUN_TAG    ?= run-$(shell date +%Y%m%d-%H%M%S)
RUN_BUDGET ?= 4
run: model build
	@tag=$(RUN_TAG); \
	./build/autoinfer optimise --worktree --tag $$tag --budget $(RUN_BUDGET) \
	  --quick --rounds 6 --tokens 16 -m $(MODEL) && \
	./build/autoinfer report $$tag

clean:
	rm -rf build build-asan build-fuzz
