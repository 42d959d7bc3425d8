# ChaosControl top-level commands. The real build is Meson + Ninja in build/;
# this file only strings the steps together (see README.md).
#
#   make        install missing Debian packages, build everything
#   make test   the same, then every test (unit, tiny-guest KVM, Linux guest)
#   make demo   the same build, then the main demo job
#   make bench  the same build, then the benchmarks in bench/
#   make fuzz   build the libFuzzer targets and run each for FUZZ_SECONDS
#   make install  the same build, then meson install into DESTDIR/PREFIX
#               (PREFIX default /usr/local; docs/install.md)
#   make clean  remove the build directories (the kernel cache stays)

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
MESON_OPTS ?=
FUZZ_SECONDS ?= 60
PREFIX     ?= /usr/local
DESTDIR    ?=

.PHONY: all deps build kernel test test-unit test-asan demo bench fuzz install clean

all: build

deps:
	@scripts/deps.sh

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD) $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)
	@kernel/build.sh --out $(BUILD)/kernel

# The sanitizer build runs the unit and tiny-guest tests again; shell-only
# tests (suite 'script': the kernel builder's) have no C to sanitize.
$(ASAN_BUILD)/build.ninja: | deps
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false $(MESON_OPTS)

test-asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	@kernel/build.sh --out $(ASAN_BUILD)/kernel
	meson test -C $(ASAN_BUILD) --print-errorlogs --suite unit --suite kvm --no-suite script || \
	  { scripts/test-failures.py $(ASAN_BUILD); exit 1; }

test: build test-asan
	meson test -C $(BUILD) --print-errorlogs || { scripts/test-failures.py $(BUILD); exit 1; }

demo: build
	@scripts/demo.sh $(BUILD)

bench: build
	@bench/run-all.sh $(BUILD)

fuzz: deps
	@scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# The prefix is a Meson option of $(BUILD) (changing it rebuilds nothing:
# the programs find their files relative to themselves).
install: build
	meson configure $(BUILD) -Dprefix=$(PREFIX)
	meson install -C $(BUILD) $(if $(DESTDIR),--destdir $(abspath $(DESTDIR)))

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
