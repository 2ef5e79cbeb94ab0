# scalebench - build, test, install.
#
#   make                 build every benchmark in bench/
#   make check           build, then run every test (C unit tests and prove t/;
#                        TESTS='t/02-socketbench.t ...' for some of them)
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
# every lib/*.c (the library: sb.c the core, platform.c the platform layer,
# net.c, files.c, events.c the opt-in parts). Adding a benchmark or a library
# file needs no change here. tools/*.c are the programs the benchmarks use
# (httpd, mktestdata), built as tools/<name>. bench/forkbench-static is the
# one extra: forkbench.c linked with -static (glibc's libc.a, from
# libc6-dev, on Debian), built only where static linking works (below).
#
# This file is for GNU make and BSD make (bmake) alike: no pattern rules,
# no $(wildcard)/$(if); lists come from `VAR != command`, and each program is
# made from its .c by the POSIX single-suffix rule `.c:`. GNU make before 4.0
# (macOS's /usr/bin/make is 3.81) does not know `!=`: it reads `X != cmd` as
# setting a variable named "X !", so X is still unset there, and the `?=`
# line after each list sets it with $(shell cmd) instead. BSD make and newer
# GNU make never evaluate that line: X is set by then.

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
STATIC_CFLAGS = $(CSTD) -Ilib $(WARN) $(WERROR_$(WERROR)) $(OPT) $(CFLAGS)
LIBS    = -pthread

LIB_SRC   != ls lib/*.c
LIB_SRC   ?= $(shell ls lib/*.c)
LIB_HDR   != ls lib/*.h
LIB_HDR   ?= $(shell ls lib/*.h)
BENCH_SRC != ls bench/*.c
BENCH_SRC ?= $(shell ls bench/*.c)
TOOL_SRC  != ls tools/*.c
TOOL_SRC  ?= $(shell ls tools/*.c)
BENCHES_DYN = $(BENCH_SRC:.c=)
TOOLS    = $(TOOL_SRC:.c=)
UNIT     = t/c/sb_unit

# Static linking: does this compiler link a static program here? A probe
# (a one-line program linked with -static, in a temporary directory) asks
# once per make; macOS, which has no static libc, says no, and so would a
# Linux without libc.a. STATIC_LINK=yes|no on the command line overrides it.
PROBE_SH = d=$$(mktemp -d 2>/dev/null) || { echo no; exit 0; }; \
	printf 'int main(void) { return 0; }\n' > "$$d/p.c"; \
	if $(CC) $(CFLAGS) $(LDFLAGS) -static -o "$$d/p" "$$d/p.c" >/dev/null 2>&1; \
	then echo yes; else echo no; fi; rm -rf "$$d"
STATIC_PROBE != $(PROBE_SH)
STATIC_PROBE ?= $(shell $(PROBE_SH))
STATIC_LINK ?= $(STATIC_PROBE)
STATIC_yes = bench/forkbench-static
STATIC_no  =
STATIC   = $(STATIC_$(STATIC_LINK))
BENCHES  = $(BENCHES_DYN) $(STATIC)
PROGS    = $(BENCHES_DYN) $(TOOLS) $(UNIT)

.PHONY: all check unit clean install site static compare-kernels run quick
all: $(BENCHES) $(TOOLS)

# Each program depends on the flags it was built with, so that switching
# CC or SANITIZE rebuilds everything.
BUILD_ID = .build-id
$(BUILD_ID): FORCE
	@id='$(CC) $(ALL_CFLAGS) $(LDFLAGS)'; \
	 [ -f $@ ] && [ "$$(cat $@)" = "$$id" ] || printf '%s\n' "$$id" > $@
FORCE:

.SUFFIXES:
.SUFFIXES: .c
.c:
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_SRC) $(LIBS)

$(PROGS): $(LIB_SRC) $(LIB_HDR) $(BUILD_ID)

# Static: the sanitizers' runtimes cannot be linked statically, so this one
# is built without them (its source is sanitized in bench/forkbench).
bench/forkbench-static: bench/forkbench.c $(LIB_SRC) $(LIB_HDR) $(BUILD_ID)
	$(CC) $(STATIC_CFLAGS) -DFORKBENCH_STATIC=1 $(LDFLAGS) -static -o $@ bench/forkbench.c $(LIB_SRC) $(LIBS)

unit: $(UNIT)

# TESTS: which test files (default every one), e.g. TESTS='t/02-socketbench.t'
TESTS ?= t/
check: all $(UNIT)
	prove $(TESTS)

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
# Every program is relinked each time (one loop, the same under both makes).
STATIC_DIR = bench/static
static: $(LIB_SRC) $(LIB_HDR) $(BUILD_ID)
	@test '$(STATIC_LINK)' = yes || { echo 'make: static linking does not work with $(CC) here'; exit 2; }
	@mkdir -p $(STATIC_DIR)
	@for src in $(BENCH_SRC) $(TOOL_SRC); do \
		out=$(STATIC_DIR)/$$(basename $$src .c); echo "$(CC) ... -static -o $$out $$src"; \
		$(CC) $(STATIC_CFLAGS) $(LDFLAGS) -static -o $$out $$src $(LIB_SRC) $(LIBS) || exit 1; \
	done
	$(CC) $(STATIC_CFLAGS) -DFORKBENCH_STATIC=1 $(LDFLAGS) -static -o $(STATIC_DIR)/forkbench-static bench/forkbench.c $(LIB_SRC) $(LIBS)

# Each kernel runs the suite in the same VM (harness/vm: same QEMU, CPU
# model, memory, cores and sizes, and the accelerator probed once, with the
# first kernel, so that KVM and TCG results are never mixed); a kernel that
# panics or hangs is logged and the next one runs. VMFLAGS e.g. "--quick
# --runs 1"; RESULTS for another results tree. The site is rendered last,
# every tag side by side.
KERNELS ?= /boot/vmlinuz-*
VMFLAGS ?=
compare-kernels: static
	@set -- $(KERNELS); [ -e "$$1" ] || { echo 'make: KERNELS="/boot/vmlinuz-A /boot/vmlinuz-B" names the kernels'; exit 2; }; \
	st=0; accel=$$(harness/vm --kernel "$$1" --probe | tail -n 1) || exit 1; \
	echo "== every kernel runs with the accelerator $$accel"; \
	for k in "$$@"; do \
		echo "== $$k"; harness/vm --kernel "$$k" --accel "$$accel" $(VMFLAGS) --results '$(RESULTS)' || st=1; \
	done; \
	plot/render --results '$(RESULTS)' || st=1; \
	exit $$st

clean:
	rm -f $(BENCHES_DYN) bench/forkbench-static $(TOOLS) $(UNIT) $(BUILD_ID)
	rm -rf $(STATIC_DIR)

# make run / make quick: a benchmark that failed does not stop the make
# (the harness's summary names it); the site is rendered from whatever was
# measured.
RUN_ARGS ?=
run: all
	@scripts/install-tools
	-harness/run --results '$(RESULTS)' $(RUN_ARGS)
	plot/render --results '$(RESULTS)'

quick: all
	@scripts/install-tools
	-harness/run --quick --results '$(RESULTS)' $(RUN_ARGS)
	plot/render --results '$(RESULTS)'
