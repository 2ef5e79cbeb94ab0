# scalebench - build, test, install.
#
#   make                 build every benchmark in bench/
#   make check           build, then run every test (C unit tests and prove t/)
#   make CC=clang check  the same with clang
#   make SANITIZE=1 check  tests with -fsanitize=address,undefined
#   make WERROR=1        warnings are errors (CI builds this way)
#   make site            render the graphs and web page from results/
#                        (RESULTS=dir for another tree) into results/site/
#   make publish DEST=dir  copy results/site/ and the raw files it links to dir,
#                        or DEST=[user@]host:path over ssh (harness/publish)
#   make install PREFIX=/usr/local
#   make static          every benchmark linked statically into bench/static/
#                        (for the VM's initramfs: harness/vm, docs/vm.md)
#   make compare-kernels KERNELS="/boot/vmlinuz-A /boot/vmlinuz-B"
#                        run the suite in a VM under each kernel, render the site
#   make clean
#   make run             install missing tools (gnuplot) where possible, build,
#                        run the whole suite 5 times (harness/run), render the site
#   make quick           the same at small sizes: a smoke test (about a minute)
#                        RUN_ARGS='--tag x --only forkbench ...' passes options on
#
# Every bench/*.c is one benchmark program, built as bench/<name> against
# the library in lib/. Adding a benchmark needs no change here. tools/*.c are
# the programs the benchmarks use (httpd, mktestdata), built as tools/<name>.
# bench/forkbench-static is the one extra: forkbench.c linked with -static
# (glibc's libc.a, from libc6-dev, on Debian).

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
ALL_CFLAGS = $(CSTD) -Ilib $(WARN) $(WERROR_$(WERROR)) $(OPT) $(SANFLAGS) $(CFLAGS)
LIBS    = -pthread

LIB_SRC  = lib/sb.c
LIB_HDR  = lib/sb.h
BENCH_SRC = $(wildcard bench/*.c)
TOOL_SRC = $(wildcard tools/*.c)
TOOLS    = $(TOOL_SRC:.c=)
BENCHES  = $(BENCH_SRC:.c=) $(STATIC)
STATIC   = bench/forkbench-static
UNIT     = t/c/sb_unit

.PHONY: all check unit clean install site static compare-kernels
all: $(BENCHES) $(TOOLS)

# Each program depends on the flags it was built with, so that switching
# CC or SANITIZE rebuilds everything.
BUILD_ID = .build-id
$(BUILD_ID): FORCE
	@id='$(CC) $(ALL_CFLAGS) $(LDFLAGS)'; \
	 [ -f $@ ] && [ "$$(cat $@)" = "$$id" ] || printf '%s\n' "$$id" > $@
FORCE:

bench/%: bench/%.c $(LIB_SRC) $(LIB_HDR) $(BUILD_ID)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_SRC) $(LIBS)

tools/%: tools/%.c $(LIB_SRC) $(LIB_HDR) $(BUILD_ID)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_SRC) $(LIBS)

# Static: the sanitizers' runtimes cannot be linked statically, so this one
# is built without them (its source is sanitized in bench/forkbench).
$(STATIC): bench/forkbench.c $(LIB_SRC) $(LIB_HDR) $(BUILD_ID)
	$(CC) $(CSTD) -Ilib $(WARN) $(WERROR_$(WERROR)) $(OPT) $(CFLAGS) -DFORKBENCH_STATIC=1 $(LDFLAGS) -static -o $@ bench/forkbench.c $(LIB_SRC) $(LIBS)

$(UNIT): t/c/sb_unit.c $(LIB_SRC) $(LIB_HDR) $(BUILD_ID)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_SRC) $(LIBS)

unit: $(UNIT)

check: all $(UNIT)
	prove t/

# The web page: every tag under $(RESULTS), one comparison graph per
# benchmark (gnuplot), growth verdicts, index.html. Needs perl and gnuplot.
RESULTS ?= results
site:
	plot/render --results '$(RESULTS)'

# The published page: results/site/ and every raw file its pages link, in
# the same layout, to a folder or over ssh (a tar stream, no rsync needed).
.PHONY: publish
publish:
	@test -n '$(DEST)' || { echo 'make: DEST=dir or DEST=[user@]host:path says where to publish'; exit 2; }
	harness/publish --results '$(RESULTS)' '$(DEST)'

install: all
	mkdir -p $(DESTDIR)$(PREFIX)/bin
	for b in $(BENCHES); do cp $$b $(DESTDIR)$(PREFIX)/bin/ || exit 1; done

# Static builds for the VM's initramfs (no shared libc there): glibc's
# libc.a, so that the guest runs the same libc code as the host's programs.
# No sanitizers (their runtimes do not link statically). glibc warns at link
# time that getaddrinfo() in a static program needs its shared NSS modules
# at run time: only numeric loopback addresses are resolved, which need none.
STATIC_DIR = bench/static
STATIC_BENCHES = $(BENCH_SRC:bench/%.c=$(STATIC_DIR)/%) $(TOOL_SRC:tools/%.c=$(STATIC_DIR)/%) \
	$(if $(wildcard bench/forkbench.c),$(STATIC_DIR)/forkbench-static)
STATIC_CFLAGS = $(CSTD) -Ilib $(WARN) $(WERROR_$(WERROR)) $(OPT) $(CFLAGS)

static: $(STATIC_BENCHES)

$(STATIC_DIR)/%: bench/%.c $(LIB_SRC) $(LIB_HDR) $(BUILD_ID)
	@mkdir -p $(STATIC_DIR)
	$(CC) $(STATIC_CFLAGS) $(LDFLAGS) -static -o $@ $< $(LIB_SRC) $(LIBS)

$(STATIC_DIR)/%: tools/%.c $(LIB_SRC) $(LIB_HDR) $(BUILD_ID)
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
		echo "== $$k"; harness/vm --kernel "$$k" --accel "$$accel" $(VMFLAGS) --results '$(RESULTS)' || st=1; \
	done; \
	$(MAKE) --no-print-directory site RESULTS='$(RESULTS)' || st=1; \
	exit $$st

clean:
	rm -f $(BENCHES) $(TOOLS) $(UNIT) $(BUILD_ID)
	rm -rf $(STATIC_DIR)

# make run / make quick: a benchmark that failed does not stop the make
# (the harness's summary names it); the site is rendered from whatever was
# measured.
RUN_ARGS ?=
.PHONY: run quick
run: all
	@scripts/install-tools
	-harness/run --results '$(RESULTS)' $(RUN_ARGS)
	@$(MAKE) --no-print-directory site RESULTS='$(RESULTS)'

quick: all
	@scripts/install-tools
	-harness/run --quick --results '$(RESULTS)' $(RUN_ARGS)
	@$(MAKE) --no-print-directory site RESULTS='$(RESULTS)'
