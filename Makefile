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

# The main job on the default model.
run: model build
	./build/autoinfer generate -m $(MODEL) --chat -n 200 \
	  -p "Solve step by step: A train travels from city A to city B at 60 km/h and returns at 40 km/h. What is the average speed for the round trip?"

clean:
	rm -rf build build-asan build-fuzz
