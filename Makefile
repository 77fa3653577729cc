# Two commands do everything on a fresh Debian 12 machine: `make run` and `make test`.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
STRATA_ARGS ?=
# The filter-language fuzzer: Clang 16 (Debian 12's clang 14 and 15 cannot compile libstdc++'s
# std::expected, which util::Result is), its own build directory, a bounded run.
FUZZ_DIR ?= build-fuzz
FUZZ_CC ?= clang-16
FUZZ_CXX ?= clang++-16
FUZZ_SECONDS ?= 30

.PHONY: all setup setup-bench configure build run test test-unit test-e2e fuzz bench clean

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
	@$(MAKE) --no-print-directory fuzz

test-unit:
	ctest --test-dir $(BUILD_DIR) --output-on-failure

test-e2e:
	STRATA_BIN=$(abspath $(BUILD_DIR))/strata node --test tests/e2e/

# Runs the filter fuzzer for FUZZ_SECONDS on a copy of its seed corpus (the repository is left as it
# is); a crash leaves its input in $(FUZZ_DIR)/ and fails the target.
fuzz: setup
	@test -f $(FUZZ_DIR)/build.ninja || CC=$(FUZZ_CC) CXX=$(FUZZ_CXX) cmake -S . -B $(FUZZ_DIR) -G Ninja \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATA_FUZZ=ON
	cmake --build $(FUZZ_DIR) --target strata_query_fuzz
	@corpus=$$(mktemp -d) && cp src/query/fuzz_corpus/* "$$corpus"/ && \
	  ./$(FUZZ_DIR)/src/query/strata_query_fuzz -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -max_len=4096 -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/ "$$corpus"; \
	  status=$$?; rm -rf "$$corpus"; exit $$status

bench: setup-bench
	@$(MAKE) --no-print-directory build
	bench/run.sh

clean:
	rm -rf $(BUILD_DIR) $(FUZZ_DIR)
