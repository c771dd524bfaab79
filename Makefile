# SPDX-License-Identifier: MIT
# Front door: `make demo` and `make check` install what is missing (Debian, as root), build, run.

BUILD        ?= build
BUILD_ASAN   ?= build-asan
BUILD_FUZZ   ?= build-fuzz
FIXTURES     ?= $(BUILD)/fixtures
JOBS         ?= $(shell nproc)
FUZZ_SECONDS ?= 15
# Set to stop each fuzz target after this many executions (FUZZ_SECONDS is then the cap).
FUZZ_RUNS    ?=
# Optimised without debug information: the front doors build fast; configure your own for gdb.
BUILD_TYPE   ?= Release

# Everything the build, the tests and the QEMU world need, as Debian bookworm packages.
DEBIAN_PACKAGES := \
	g++ make cmake pkg-config ca-certificates \
	libssl-dev libelf-dev zlib1g-dev libgtest-dev libgmock-dev nlohmann-json3-dev \
	libcli11-dev libbearssl-dev gnu-efi clang-19 libclang-rt-19-dev lld-19 \
	qemu-system-x86 ovmf sbsigntool busybox-static binutils openssl cpio gzip zstd xz-utils \
	python3 python3-pefile python3-cryptography python3-importlib-resources file hyperfine \
	mtools dosfstools fdisk debian-archive-keyring dpkg-dev patch

.PHONY: all deps build unit asan asan-build asan-tests fuzz fuzz-build fuzz-runs fixtures check \
        demo clean

all: build

# Installs only what is missing; `apt-get update` runs once, and only when something is.
deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "efikexec: missing Debian packages (install as root): $$missing" >&2; exit 1; fi; \
	  echo "efikexec: installing $$missing"; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)
	cmake --build $(BUILD) -j$(JOBS)

# Built from Debian packages at test time: bookworm's, then trixie's and forky's (privately).
fixtures: deps
	tests/fixtures/make-fixtures.sh $(FIXTURES)
	tests/fixtures/make-fixtures-newer.sh $(FIXTURES)/newer $(FIXTURES)

# The tests never kexec this machine: the real system calls refuse while this is set.
TEST_ENV := EFIKEXEC_FORBID_KEXEC=1 EFIKEXEC_FIXTURES=$(abspath $(FIXTURES)) \
	EFIKEXEC_REQUIRE_FIXTURES=1 EFIKEXEC_REQUIRE_QEMU=1

# Every test of the normal build, the QEMU/OVMF suites included.
unit: build fixtures
	cd $(BUILD) && $(TEST_ENV) ctest --output-on-failure -j$(JOBS)

# The same tests under AddressSanitizer and UndefinedBehaviorSanitizer, guest boots aside (the
# sanitized program is not the static one the guests run); the OVMF conformance transcripts of
# the normal build are reused (they are cached by the hash of what produced them).
asan-build: deps
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DEFIKEXEC_SANITIZE=ON \
	  -DCMAKE_C_FLAGS_DEBUG=-g1 "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1" \
	  -DEFT_OVMF_DIR=$(abspath $(BUILD))/tests/conformance/ovmf
	cmake --build $(BUILD_ASAN) -j$(JOBS)

asan-tests:
	cd $(BUILD_ASAN) && $(TEST_ENV) ctest --output-on-failure -j$(JOBS) -LE qemu

asan: unit asan-build
	$(MAKE) --no-print-directory asan-tests

fuzz-build: deps
	cmake -S . -B $(BUILD_FUZZ) -DEFIKEXEC_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-19 \
	  -DCMAKE_C_COMPILER=clang-19
	cmake --build $(BUILD_FUZZ) -j$(JOBS)

# Every target for FUZZ_SECONDS, as many at once as there are cores.
fuzz-runs:
	EFIKEXEC_FIXTURES=$(abspath $(FIXTURES)) FUZZ_RUNS=$(FUZZ_RUNS) \
	  tests/fuzz/run-fuzzers.sh $(BUILD_FUZZ)/tests/fuzz \
	  $(FUZZ_SECONDS) $(JOBS)

fuzz: fixtures fuzz-build
	$(MAKE) --no-print-directory fuzz-runs

# The Release suite's guests boot one at a time and keep about one core busy: the sanitizer and
# fuzz trees build beside them at the lowest priority (their output in $(BUILD)/side-builds.log),
# then their tests run.
check: build fixtures
	@( nice -n 19 $(MAKE) --no-print-directory asan-build fuzz-build \
	     > $(BUILD)/side-builds.log 2>&1 ) & side=$$!; \
	$(MAKE) --no-print-directory unit; tested=$$?; \
	wait $$side; built=$$?; \
	if [ $$built != 0 ]; then \
	  echo "efikexec: building the sanitizer or fuzz tree failed:" >&2; \
	  tail -60 $(BUILD)/side-builds.log >&2; \
	fi; \
	[ $$tested = 0 ] && [ $$built = 0 ]
	$(MAKE) --no-print-directory asan-tests
	$(MAKE) --no-print-directory fuzz-runs

demo: build fixtures
	tests/demo.sh $(BUILD) $(FIXTURES)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
