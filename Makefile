# coldplug: a thin wrapper over meson/ninja. The two commands a user needs:
#   make demo    install what is missing, build, and show coldplug at work
#   make check   the whole test suite (ends with "N passed, N failed")
# As root, missing Debian packages are installed; otherwise they are named.
# Also: make bench   the NIC benchmark on QEMU 7.2 and 10.0 (root, about 12 min):
#                    bench/results/nic-*.json, then bench/RESULTS.md from them

BUILD ?= build
ASAN ?= build-asan
FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 60
BENCH_RESULTS ?= bench/results
export COLDPLUG_CACHE ?= $(HOME)/.cache/coldplug

.PHONY: all build check demo bench fuzz format install clean

all: build

build:
	@scripts/deps.sh build
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) -Dwerror=true
	@ninja -C $(BUILD)

check:
	@scripts/deps.sh check
	@BUILD=$(BUILD) ASAN=$(ASAN) tests/run-checks.sh

demo: build
	@scripts/deps.sh demo
	@tests/qemu/demo.sh $(BUILD)

bench: build
	@scripts/deps.sh demo
	@[ -x $(BUILD)/bench/bench-nic ] || { echo "bench: $(BUILD) was configured with -Dqemu_tests=false" >&2; exit 1; }
	@tests/qemu/prepare.sh $(BUILD)
	@mkdir -p $(BENCH_RESULTS)
	@for v in 7.2 10.0; do \
		COLDPLUG_LAB_ENV=$(CURDIR)/$(BUILD)/lab.env $(BUILD)/bench/bench-nic --qemu $$v \
			--out $(BENCH_RESULTS)/nic-$$v.json || exit 1; \
	done
	@$(BUILD)/bench/bench-nic --markdown bench/RESULTS.md $(BENCH_RESULTS)/nic-7.2.json \
		$(BENCH_RESULTS)/nic-10.0.json

fuzz:
	@scripts/deps.sh fuzz
	@[ -f $(FUZZ)/build.ninja ] || CC=clang meson setup $(FUZZ) -Dfuzzing=true \
		-Db_sanitize=address,undefined -Db_lundef=false -Dqemu_tests=false
	@ninja -C $(FUZZ)
	@FUZZ=$(FUZZ) FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

install: build
	@meson install -C $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN) $(FUZZ)
