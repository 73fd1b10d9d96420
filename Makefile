# coldplug: a thin wrapper over meson/ninja. The two commands a user needs:
#   make demo    install what is missing, build, and show coldplug at work
#   make check   the whole test suite (ends with "N passed, N failed")
# As root, missing Debian packages are installed; otherwise they are named.

BUILD ?= build
ASAN ?= build-asan
FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 60
export COLDPLUG_CACHE ?= $(HOME)/.cache/coldplug

.PHONY: all build check demo fuzz format install clean

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
