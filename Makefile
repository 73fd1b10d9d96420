# coldplug: a thin wrapper over meson/ninja. The two commands a user needs:
#   make demo    install what is missing, build, and show coldplug at work
#   make check   the whole test suite (ends with "N passed, N failed")
# Each target first makes sure of the Debian packages it needs (scripts/deps.sh
# GROUP), before meson configures anything: as root, make demo and make check
# install what is missing; otherwise they name it and stop. Plain `make` never
# runs apt-get: it names what is missing and fails, even as root.
# A build directory configured before an optional part's packages were there
# (the Starlark runner: golang-go, golang-starlark-dev) looks again by itself
# (tests/starlark/meson.build), and make check fails rather than run
# fewer tests if it is still missing.
# Also: make check-fresh  (root, about 40 min) a fresh minbase Debian 12 root
#                    (debootstrap, cached in ~/.cache/coldplug/fresh), a clone
#                    of the committed HEAD in it, and make demo then make check
#                    run there: scripts/check-fresh.sh (--keep keeps the root:
#                    make check-fresh CHECK_FRESH_ARGS=--keep). Not in .ci/run.
# Also: make bench   the NIC benchmark on QEMU 7.2 and 10.0 (root, about 18 min):
#                    bench/results/nic-*.json, then bench/RESULTS.md from them;
#                    then the start benchmark (about 4 min more):
#                    bench/results/start-*.json, then bench/RESULTS-start.md;
#                    then the disk benchmark (about 4 min more):
#                    bench/results/disk-*.json, then bench/RESULTS-disk.md
# Also: make mutation  break the library one change at a time (tests/mutation/):
#                    each must be caught by the tests it names
# Also: make deb     the Debian package (root installs what it needs): built from
#                    a copy of the tree in build/deb/src, lintian-checked
#                    (errors and warnings fail), left at build/deb/coldplug_*.deb
#                    (scripts/deb.sh; its one line on stdout is that path)

BUILD ?= build
ASAN ?= build-asan
FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 60
BENCH_RESULTS ?= bench/results
export COLDPLUG_CACHE ?= $(HOME)/.cache/coldplug
CHECK_FRESH_ARGS ?=

.PHONY: all build check demo bench fuzz format install clean
.PHONY: check-fresh
.PHONY: deb
.PHONY: mutation

all: build

# Configure $(BUILD) once and build it; every target that uses it runs its
# deps.sh group first.
define build_tree
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) -Dwerror=true
	@ninja -C $(BUILD)
endef

build:
	@scripts/deps.sh --no-install build
	$(build_tree)

check:
	@scripts/deps.sh check
	@BUILD=$(BUILD) ASAN=$(ASAN) tests/run-checks.sh

demo:
	@scripts/deps.sh demo
	$(build_tree)
	@[ -x $(BUILD)/tests/starlark/incus-scriptlet ] || { echo "demo: $(BUILD) has no \
	Starlark runner (tests/starlark): golang-go and golang-starlark-dev are needed; \
	'meson setup --reconfigure $(BUILD)' looks for them again" >&2; exit 1; }
	@tests/qemu/demo.sh $(BUILD)

check-fresh:
	@scripts/check-fresh.sh $(CHECK_FRESH_ARGS)

deb:
	@scripts/deps.sh deb
	@scripts/deb.sh $(BUILD)/deb

bench:
	@scripts/deps.sh demo
	$(build_tree)
	@[ -x $(BUILD)/bench/bench-nic ] || { echo "bench: $(BUILD) was configured with -Dqemu_tests=false" >&2; exit 1; }
	@tests/qemu/prepare.sh $(BUILD)
	@mkdir -p $(BENCH_RESULTS)
	@for v in 7.2 10.0; do \
		COLDPLUG_LAB_ENV=$(CURDIR)/$(BUILD)/lab.env $(BUILD)/bench/bench-nic --qemu $$v \
			--out $(BENCH_RESULTS)/nic-$$v.json || exit 1; \
	done
	@$(BUILD)/bench/bench-nic --markdown bench/RESULTS.md $(BENCH_RESULTS)/nic-7.2.json \
		$(BENCH_RESULTS)/nic-10.0.json
	@for v in 7.2 10.0; do \
		COLDPLUG_LAB_ENV=$(CURDIR)/$(BUILD)/lab.env $(BUILD)/bench/bench-start --qemu $$v \
			--repeat 11 --out $(BENCH_RESULTS)/start-$$v.json || exit 1; \
	done
	@$(BUILD)/bench/bench-start --markdown bench/RESULTS-start.md \
		$(BENCH_RESULTS)/start-7.2.json $(BENCH_RESULTS)/start-10.0.json
	@for v in 7.2 10.0; do \
		COLDPLUG_LAB_ENV=$(CURDIR)/$(BUILD)/lab.env $(BUILD)/bench/bench-disk --qemu $$v \
			--out $(BENCH_RESULTS)/disk-$$v.json || exit 1; \
	done
	@$(BUILD)/bench/bench-disk --markdown bench/RESULTS-disk.md \
		$(BENCH_RESULTS)/disk-7.2.json $(BENCH_RESULTS)/disk-10.0.json

fuzz:
	@scripts/deps.sh fuzz
	@[ -f $(FUZZ)/build.ninja ] || CC=clang meson setup $(FUZZ) -Dfuzzing=true \
		-Db_sanitize=address,undefined -Db_lundef=false -Dqemu_tests=false
	@ninja -C $(FUZZ)
	@FUZZ=$(FUZZ) FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh

# Break the library one small change at a time; every change must be
# caught by the tests it names (tests/mutation/README.md).
mutation:
	@scripts/deps.sh build
	@tests/mutation/run.sh

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

install: build
	@meson install -C $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN) $(FUZZ)
