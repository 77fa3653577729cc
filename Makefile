# Two commands do everything on a fresh Debian 12 machine: `make run` and `make test`.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
STRATA_ARGS ?=

.PHONY: all setup setup-bench configure build run test test-unit test-e2e bench clean

all: build

setup:
	@scripts/setup.sh

setup-bench:
	@scripts/setup.sh --bench

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

configure: $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR)

run: setup
	@$(MAKE) --no-print-directory build
	./$(BUILD_DIR)/strata serve $(STRATA_ARGS)

test: setup
	@$(MAKE) --no-print-directory build
	@$(MAKE) --no-print-directory test-unit test-e2e

test-unit:
	ctest --test-dir $(BUILD_DIR) --output-on-failure

test-e2e:
	STRATA_BIN=$(abspath $(BUILD_DIR))/strata node --test tests/e2e/

bench: setup-bench
	@$(MAKE) --no-print-directory build
	bench/run.sh

clean:
	rm -rf $(BUILD_DIR)
