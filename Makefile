# Thin wrapper over CMake presets. The two set-up commands:
#   make run    builds a release and runs sutra-server on 127.0.0.1:50051 with ./data
#   make test   installs missing packages, builds and runs the default suite
.PHONY: all deps build release test test-data test-asan test-tsan run bench format format-check tidy clean

PRESET ?= debug
DATA_DIR ?= $(CURDIR)/data

all: build

deps:
	@./scripts/setup-deps.sh

build: deps
	cmake --preset $(PRESET) >/dev/null
	cmake --build --preset $(PRESET)

release: deps
	cmake --preset release >/dev/null
	cmake --build --preset release

test: build
	ctest --preset $(PRESET) --timeout 600 $(CTEST_ARGS)

# The tests on real data alone (WordNet end to end; also in `make test`).
test-data: build
	ctest --preset $(PRESET) --timeout 600 -L data $(CTEST_ARGS)

test-asan:
	$(MAKE) test PRESET=asan

test-tsan:
	$(MAKE) test PRESET=tsan CTEST_ARGS="-L stress"

run: release
	./build/release/sutra-server --host 127.0.0.1 --data-dir $(DATA_DIR)

bench: release
	@./scripts/setup-deps.sh bench
	./bench/run.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

tidy: build
	clang-tidy -p build/$(PRESET) --quiet $$(git ls-files 'src/*.c')

clean:
	rm -rf build
