# scalebench - build, test, install.
#
#   make                 build every benchmark in bench/
#   make check           build, then run every test (C unit tests and prove t/)
#   make CC=clang check  the same with clang
#   make SANITIZE=1 check  tests with -fsanitize=address,undefined
#   make WERROR=1        warnings are errors (CI builds this way)
#   make install PREFIX=/usr/local
#   make static          every benchmark linked statically into bench/static/
#                        (for the VM's initramfs: harness/vm, docs/vm.md)
#   make compare-kernels KERNELS="/boot/vmlinuz-A /boot/vmlinuz-B"
#                        run the suite in a VM under each kernel, render the site
#   make clean
#
# Every bench/*.c but the library (sb.c) is one benchmark program, built as
# bench/<name> against bench/sb.c. Adding a benchmark needs no change here.

CC      ?= cc
PREFIX  ?= /usr/local
CSTD    = -std=c11 -D_POSIX_C_SOURCE=200809L
WARN    = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
OPT     = -O2 -g
CFLAGS  ?=
LDFLAGS ?=
SAN_1   = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SANFLAGS = $(SAN_$(SANITIZE))
WERROR_1 = -Werror
ALL_CFLAGS = $(CSTD) $(WARN) $(WERROR_$(WERROR)) $(OPT) $(SANFLAGS) $(CFLAGS)
LIBS    = -pthread

LIB_SRC  = bench/sb.c
LIB_HDR  = bench/sb.h
BENCH_SRC = $(filter-out $(LIB_SRC),$(wildcard bench/*.c))
BENCHES  = $(BENCH_SRC:.c=)
UNIT     = t/c/sb_unit

.PHONY: all check unit clean install static compare-kernels
all: $(BENCHES)

# Each program depends on the flags it was built with, so that switching
# CC or SANITIZE rebuilds everything.
BUILD_ID = bench/.build-id
$(BUILD_ID): FORCE
	@id='$(CC) $(ALL_CFLAGS) $(LDFLAGS)'; \
	 [ -f $@ ] && [ "$$(cat $@)" = "$$id" ] || printf '%s\n' "$$id" > $@
FORCE:

bench/%: bench/%.c $(LIB_SRC) $(LIB_HDR) $(BUILD_ID)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_SRC) $(LIBS)

$(UNIT): t/c/sb_unit.c $(LIB_SRC) $(LIB_HDR) $(BUILD_ID)
	$(CC) $(ALL_CFLAGS) -Ibench $(LDFLAGS) -o $@ $< $(LIB_SRC) $(LIBS)

unit: $(UNIT)

check: all $(UNIT)
	prove t/

install: all
	mkdir -p $(DESTDIR)$(PREFIX)/bin
	for b in $(BENCHES); do cp $$b $(DESTDIR)$(PREFIX)/bin/ || exit 1; done

# Static builds for the VM's initramfs (no shared libc there): glibc's
# libc.a, so that the guest runs the same libc code as the host's programs.
# No sanitizers (their runtimes do not link statically). glibc warns at link
# time that getaddrinfo() in a static program needs its shared NSS modules
# at run time: only numeric loopback addresses are resolved, which need none.
STATIC_DIR = bench/static
STATIC_BENCHES = $(BENCH_SRC:bench/%.c=$(STATIC_DIR)/%) \
	$(if $(wildcard bench/forkbench.c),$(STATIC_DIR)/forkbench-static)
STATIC_CFLAGS = $(CSTD) $(WARN) $(WERROR_$(WERROR)) $(OPT) $(CFLAGS)

static: $(STATIC_BENCHES)

$(STATIC_DIR)/%: bench/%.c $(LIB_SRC) $(LIB_HDR) $(BUILD_ID)
	@mkdir -p $(STATIC_DIR)
	$(CC) $(STATIC_CFLAGS) $(LDFLAGS) -static -o $@ $< $(LIB_SRC) $(LIBS)

$(STATIC_DIR)/forkbench-static: bench/forkbench.c $(LIB_SRC) $(LIB_HDR) $(BUILD_ID)
	@mkdir -p $(STATIC_DIR)
	$(CC) $(STATIC_CFLAGS) -DFORKBENCH_STATIC=1 $(LDFLAGS) -static -o $@ $< $(LIB_SRC) $(LIBS)

# Each kernel runs the suite in the same VM (harness/vm: same QEMU, CPU
# model, memory, cores and sizes, and the accelerator probed once, with the
# first kernel, so that KVM and TCG results are never mixed); a kernel that
# panics or hangs is logged and the next one runs. VMFLAGS e.g. "--quick
# --runs 1"; RESULTS for another results tree. The site is rendered last,
# every tag side by side.
KERNELS ?= $(wildcard /boot/vmlinuz-*)
VMFLAGS ?=
compare-kernels: static
	@test -n "$(strip $(KERNELS))" || { echo 'make: KERNELS="/boot/vmlinuz-A /boot/vmlinuz-B" names the kernels'; exit 2; }
	@st=0; accel=$$(harness/vm --kernel "$(firstword $(KERNELS))" --probe | tail -n 1) || exit 1; \
	echo "== every kernel runs with the accelerator $$accel"; \
	for k in $(KERNELS); do \
		echo "== $$k"; harness/vm --kernel "$$k" --accel "$$accel" $(VMFLAGS) $(if $(RESULTS),--results $(RESULTS)) || st=1; \
	done; \
	if grep -q '^site:' Makefile; then $(MAKE) --no-print-directory site || st=1; \
	elif [ -x plot/render ]; then plot/render $(if $(RESULTS),--results $(RESULTS)) || st=1; \
	else echo "make: no plot renderer yet (plot/render is not merged): the web page is not rendered"; fi; \
	exit $$st

clean:
	rm -f $(BENCHES) $(UNIT) $(BUILD_ID)
	rm -rf $(STATIC_DIR)
