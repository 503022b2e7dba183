# libhe — plain GNU make.  `make help` lists the targets.

CC      ?= cc
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
DESTDIR ?=
BUILD   ?= build
SAN     ?=

VERSION := 0.1.0

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
BASE     := -std=gnu11 -D_GNU_SOURCE -fPIC -pthread -DHE_VERSION=\"$(VERSION)\"
OPT      ?= -O2 -g
ifeq ($(SAN),asan)
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else ifeq ($(SAN),tsan)
SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
else
SANFLAGS :=
endif
ALL_CFLAGS = $(BASE) $(WARN) $(OPT) $(SANFLAGS) $(CFLAGS)

COMMON_SRCS   := common/addr.c common/log.c common/fdid.c
HISTORY_SRCS  := history/table.c history/rules.c history/plan.c history/history.c history/file.c \
                 history/netid.c
RESOLVER_SRCS := resolver/memo.c resolver/memopick.c resolver/learn.c resolver/feed.c resolver/dns.c resolver/hosts.c resolver/sort.c \
                 resolver/gaiconf.c resolver/source.c resolver/answer.c
FAULTS_SRCS   := faults/spec.c faults/sink.c faults/fault.c
RACER_SRCS    := racer/race.c racer/order.c racer/options.c racer/strand.c racer/connector.c \
                 racer/fdmap.c racer/background.c racer/helper.c racer/splice.c racer/fdclose.c \
                 racer/remember.c racer/stats.c racer/rescue.c
SHIM_SRCS     := shim/init.c shim/real.c shim/config.c shim/connect.c shim/loopback.c shim/faults.c shim/socket.c shim/refresh.c shim/lookup.c shim/bind.c shim/getaddrinfo.c \
                 shim/gethostbyname.c shim/close.c shim/epoll.c shim/exit.c shim/getpeername.c shim/getsockopt.c
LIB_SRCS      := $(COMMON_SRCS) $(HISTORY_SRCS) $(RESOLVER_SRCS) $(RACER_SRCS) $(FAULTS_SRCS) $(SHIM_SRCS)
LIB_OBJS      := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
LIB           := $(BUILD)/libhe.so

HISTORY_OBJS := $(HISTORY_SRCS:%.c=%.o)

# Each unit test links only the objects of the module it tests.
UNIT_TESTS := check_race check_memo check_config check_options check_strand check_hosts check_feed check_sort check_answer \
              check_fdmap check_connector check_splice check_history check_histshare check_faults
check_race_OBJS    := racer/race.o racer/order.o common/addr.o
check_memo_OBJS    := resolver/memo.o resolver/memopick.o resolver/learn.o common/addr.o
check_config_OBJS  := shim/config.o common/log.o
check_options_OBJS := racer/options.o
check_strand_OBJS  := racer/strand.o common/fdid.o
check_hosts_OBJS   := resolver/hosts.o common/addr.o
check_feed_OBJS    := resolver/feed.o common/addr.o
check_sort_OBJS    := resolver/sort.o resolver/gaiconf.o resolver/source.o common/addr.o
check_answer_OBJS  := resolver/answer.o common/addr.o
check_fdmap_OBJS   := racer/fdmap.o common/fdid.o
check_faults_OBJS  := faults/spec.o faults/fault.o faults/sink.o resolver/hosts.o common/addr.o common/fdid.o \
                      common/log.o
check_history_OBJS := $(HISTORY_OBJS) common/addr.o common/log.o
check_histshare_OBJS := $(HISTORY_OBJS) common/addr.o common/log.o
check_connector_OBJS := racer/connector.o racer/options.o racer/strand.o racer/fdmap.o racer/race.o racer/stats.o \
                        racer/order.o common/addr.o common/fdid.o common/log.o
check_splice_OBJS  := racer/splice.o racer/background.o racer/helper.o racer/rescue.o faults/sink.o racer/remember.o \
                      $(HISTORY_OBJS) $(check_connector_OBJS)
UNIT_BINS := $(UNIT_TESTS:%=$(BUILD)/tests/%)

# Fuzz targets: tests/fuzz/fuzz_<name>.c with a corpus in tests/fuzz/corpus/<name>/.
# `make fuzz` runs each under libFuzzer for FUZZ_SECONDS; `make check`
# replays every corpus with the ordinary compiler.
FUZZ_TARGETS := config hosts history faults
fuzz_config_OBJS := shim/config.o common/log.o
fuzz_hosts_OBJS  := resolver/hosts.o common/addr.o
fuzz_history_OBJS := history/table.o history/rules.o common/addr.o
fuzz_faults_OBJS := faults/spec.o faults/fault.o faults/sink.o resolver/hosts.o common/addr.o \
                    common/fdid.o common/log.o
FUZZ_SECONDS ?= 60
FUZZ_REPLAYS := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/replay_%)

CARES_LIBS   := $(shell pkg-config --libs libcares 2>/dev/null || echo -lcares)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)

.PHONY: all deps demo check check-unit check-install check-integration check-asan check-tsan bench \
        install fuzz print-fuzz-srcs format clean help deb check-deb

HISTORY_CLI := $(BUILD)/he-history

all: $(LIB) $(HISTORY_CLI)

help:
	@echo "make            build $(LIB)"
	@echo "make deps       install the Debian packages the build and tests need"
	@echo "make demo       show a program rescued from a dead address, without and with libhe"
	@echo "make check      unit and integration tests"
	@echo "make check-asan the same under AddressSanitizer + UBSan"
	@echo "make check-tsan the threaded tests under ThreadSanitizer"
	@echo "make bench      overhead and failover figures"
	@echo "make fuzz       run the libFuzzer targets for FUZZ_SECONDS each (needs clang)"
	@echo "make install    PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) LIBDIR=$(LIBDIR)"
	@echo "make deb        build/libhe_$(VERSION)_<arch>.deb, then lintian (LINT=no: without)"
	@echo "make check-deb  the .deb installed into a scratch root, and examples/ci run against it"

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fvisibility=hidden -MMD -MP -c $< -o $@

# Only the hooks are exported: everything else is hidden by -fvisibility.
$(LIB): $(LIB_OBJS)
	$(CC) $(ALL_CFLAGS) -shared -Wl,-z,now -Wl,-z,defs -o $@ $^ -ldl $(CARES_LIBS)

# he-history (he-run --history, --forget): the history module and the
# configuration reader, without the hooks.
$(HISTORY_CLI): $(BUILD)/obj/history/cli.o $(addprefix $(BUILD)/obj/,$(HISTORY_OBJS)) \
                $(BUILD)/obj/shim/config.o $(BUILD)/obj/common/addr.o $(BUILD)/obj/common/log.o
	$(CC) $(ALL_CFLAGS) -o $@ $^

# cli.o is in no library: its header dependencies are read here too, or a
# changed struct (shim/config.h) leaves it stale and he-history crashes.
-include $(LIB_OBJS:.o=.d) $(BUILD)/obj/history/cli.d

.SECONDEXPANSION:
$(BUILD)/tests/%: tests/unit/%.c $$(addprefix $(BUILD)/obj/,$$($$*_OBJS))
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -o $@ $^ $(CHECK_LIBS)

deps:
	@scripts/install-deps

check: deps
	$(MAKE) check-unit check-install check-deb check-integration

check-install:
	tests/check-install.sh

check-unit: $(UNIT_BINS) $(FUZZ_REPLAYS)
	@failed=0; for t in $(UNIT_BINS); do CK_FORK=yes $$t || failed=1; done; \
	for f in $(FUZZ_TARGETS); do $(BUILD)/fuzz/replay_$$f tests/fuzz/corpus/$$f/* || failed=1; done; \
	exit $$failed

$(BUILD)/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $$(addprefix $(BUILD)/obj/,$$(fuzz_$$*_OBJS))
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^

fuzz:
	@scripts/install-deps fuzz
	@for f in $(FUZZ_TARGETS); do \
	    mkdir -p build/fuzz-work/$$f && \
	    clang -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	        -o build/fuzz-work/fuzz_$$f tests/fuzz/fuzz_$$f.c \
	        $$($(MAKE) -s --no-print-directory print-fuzz-srcs F=$$f) && \
	    build/fuzz-work/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) \
	        build/fuzz-work/$$f tests/fuzz/corpus/$$f || exit 1; \
	done

print-fuzz-srcs:
	@echo $(patsubst %.o,%.c,$(fuzz_$(F)_OBJS))

check-integration: $(LIB) $(HISTORY_CLI)
	HE_LIB=$(abspath $(LIB)) HE_HISTORY_CLI=$(abspath $(HISTORY_CLI)) HE_SAN=$(SAN) \
	    tests/integration/run.sh

check-asan: deps
	$(MAKE) BUILD=build/asan SAN=asan check-unit check-integration

check-tsan: deps
	$(MAKE) BUILD=build/tsan SAN=tsan all check-unit
	HE_LIB=$(abspath build/tsan/libhe.so) HE_SAN=tsan tests/integration/run.sh \
	    'threads|nonblocking/(dead4|dead6|fork|close|refuse)|rescue/(nb/ref(use|deadlive)|late-rst/nb)|banner/c-epoll/(noaccept|silent|close|write)'

demo: deps $(LIB)
	@scripts/demo $(abspath $(LIB))

bench: deps $(LIB)
	@bench/run $(abspath $(LIB))

# he-run (and he-lab) learn where the library is, and the version.
SUBST = sed -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@VERSION@|$(VERSION)|'

install: $(LIB) $(HISTORY_CLI)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PREFIX)/bin \
	    $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man7
	install -m 0755 $(LIB) $(DESTDIR)$(LIBDIR)/libhe.so
	install -m 0755 $(HISTORY_CLI) $(DESTDIR)$(PREFIX)/bin/he-history
	$(SUBST) scripts/he-run > $(DESTDIR)$(PREFIX)/bin/he-run
	chmod 0755 $(DESTDIR)$(PREFIX)/bin/he-run
	install -m 0644 man/he-run.1 $(DESTDIR)$(PREFIX)/share/man/man1/he-run.1
	install -m 0644 man/libhe.7 $(DESTDIR)$(PREFIX)/share/man/man7/libhe.7
	if [ -f scripts/he-lab ]; then \
	    $(SUBST) scripts/he-lab > $(DESTDIR)$(PREFIX)/bin/he-lab && \
	    chmod 0755 $(DESTDIR)$(PREFIX)/bin/he-lab; fi
	if [ -f man/he-lab.1 ]; then \
	    install -m 0644 man/he-lab.1 $(DESTDIR)$(PREFIX)/share/man/man1/he-lab.1; fi

# ---- Debian package -------------------------------------------------------
# `make deb`: build/libhe_VERSION_ARCH.deb from `make install PREFIX=/usr
# LIBDIR=/usr/lib/<multiarch>/libhe` (built in build/deb with
# dpkg-buildflags' hardening; scripts/build-deb, packaging/deb/), then lintian
# (installed by `scripts/install-deps lint` if missing; LINT=no skips it).
# `make check-deb` (part of `make check`): the same package installed into a
# scratch root with dpkg --root, and examples/ci/failover-check.sh run
# against it and against the build tree.
LINT ?= yes
DEB  := build/libhe_$(VERSION)_$(shell dpkg --print-architecture 2>/dev/null).deb

deb:
	@scripts/build-deb $(VERSION) $(DEB)
	@if [ "$(LINT)" != no ]; then scripts/install-deps lint && \
	    echo "lintian $(DEB)" && lintian --fail-on error,warning --info $(DEB) && \
	    echo "lintian: no errors, no warnings"; fi

check-deb: $(LIB) $(HISTORY_CLI)
	@scripts/build-deb $(VERSION) $(DEB) >/dev/null
	tests/check-deb.sh $(DEB)

format:
	clang-format -i $(LIB_SRCS) history/cli.c \
	    $(wildcard common/*.h history/*.h resolver/*.h racer/*.h faults/*.h shim/*.h) \
	    $(wildcard tests/unit/*.c tests/fuzz/*.c tests/integration/progs/*.c bench/*.c bench/*.h)

clean:
	rm -rf build
