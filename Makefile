# SPDX-License-Identifier: AGPL-3.0-or-later
# PlanetTracker -- one GNU Makefile for everything (STYLE.md §9).
#
#   make                 build build/planettracker (optimized, with debug info)
#   make run             install missing packages, build, serve on http://localhost:8000
#   make test            install test packages, build with ASan+UBSan, run every suite
#   make SANITIZE=address,undefined   sanitized build under build/san/
#   make unit | fuzz-replay | integration | browser    one suite (sanitized build)
#   make fuzz            run each libFuzzer target for FUZZ_SECONDS (default 60)
#   make bench           micro-benchmarks (see bench/)
#   make format          clang-format every C file
#
# Adding a C unit test is adding tests/unit/<layer>/<name>_test.c; a fuzz target is
# tests/fuzz/<target>/driver.c with corpus/ and regressions/ beside it.

CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS := libuv libpcre2-8 libcrypto jansson swe libcurl sqlite3 libpq hiredis zlib

SANITIZE ?=
ifeq ($(SANITIZE),)
  OUT ?= build
  # -O3 with link-time optimisation: the request path crosses many small functions in
  # many files (buffers, JSON, forms); callgrind counts 11,745 instructions per computed
  # GET /planets/mars at -O2, 10,475 here, with byte-identical answers (bench/RESULTS.md).
  OPT ?= -O3 -g
  LTO ?= -flto=auto
  SANFLAGS :=
else
  OUT ?= build/san
  OPT ?= -O1 -g -fno-omit-frame-pointer
  SANFLAGS := -fsanitize=$(SANITIZE) -fno-sanitize-recover=all
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wpointer-arith -Wcast-qual -Wformat=2
CPPFLAGS += -D_GNU_SOURCE -Isrc -I$(OUT)/gen
CFLAGS += -std=c17 $(OPT) $(LTO) $(WARN) $(SANFLAGS) -pthread \
          $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
LDFLAGS += $(SANFLAGS) $(LTO) -pthread
LDLIBS += $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -lm

# gcc-ar: an archive of link-time-optimisation objects needs the compiler's plugin.
LTO_AR ?= $(if $(LTO),gcc-ar,ar)

LAYERS := base http client web astro store pubsub app
LIB_SRC := $(filter-out src/app/main.c,$(foreach l,$(LAYERS),$(wildcard src/$(l)/*.c)))
LIB_OBJ := $(patsubst %.c,$(OUT)/obj/%.o,$(LIB_SRC)) $(OUT)/obj/gen/assets.o
ASSETS := $(shell find web -type f 2>/dev/null | LC_ALL=C sort)

UNIT_SRC := $(wildcard tests/unit/*/*_test.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(OUT)/tests/unit/%,$(UNIT_SRC))
FUZZ_DIRS := $(patsubst %/driver.c,%,$(wildcard tests/fuzz/*/driver.c))
MICRO_SRC := $(wildcard bench/micro/*.c)
MICRO_BIN := $(patsubst bench/micro/%.c,$(OUT)/bench/%,$(MICRO_SRC))

.PHONY: all run deps deps-test test tsan-bins unit fuzz-replay fuzz integration browser bench format clean

all: $(OUT)/planettracker

deps:
	@scripts/install-deps run

deps-test:
	@scripts/install-deps test

run: deps
	@$(MAKE) --no-print-directory all
	$(OUT)/planettracker serve

$(OUT)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

# Static assets from web/ are embedded in the binary (served under /static/).
$(OUT)/tools/embed: tools/embed.c
	@mkdir -p $(dir $@)
	$(CC) -std=c17 -O2 -Wall -Wextra -Werror -o $@ $< -lz

$(OUT)/gen/assets.c: $(OUT)/tools/embed $(ASSETS)
	@mkdir -p $(dir $@)
	$(OUT)/tools/embed web $(ASSETS) > $@.tmp && mv $@.tmp $@

# The Earth-orientation data of data/iers/ is compiled in by src/app/eop_data.c.
EOP_FILES := data/iers/finals2000A.all data/iers/Leap_Second.dat
$(OUT)/obj/src/app/eop_data.o: CPPFLAGS += -DPT_DATA_DIR='"$(CURDIR)/data"'
$(OUT)/obj/src/app/eop_data.o: $(EOP_FILES)

$(OUT)/obj/gen/assets.o: $(OUT)/gen/assets.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(OUT)/libpt.a: $(LIB_OBJ)
	@rm -f $@
	$(LTO_AR) rcs $@ $^

$(OUT)/planettracker: $(OUT)/obj/src/app/main.o $(OUT)/libpt.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(OUT)/tests/unit/%: tests/unit/%.c $(OUT)/libpt.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Itests -o $@ $< $(OUT)/libpt.a $(LDFLAGS) \
	    $(LDLIBS) $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null)

$(OUT)/bench/%: bench/micro/%.c $(OUT)/libpt.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(OUT)/libpt.a $(LDFLAGS) $(LDLIBS)

# ---------------------------------------------------------------- test suites

test: deps-test
	@$(MAKE) --no-print-directory SANITIZE=address,undefined all-tests
	@$(MAKE) --no-print-directory tsan-bins
	@$(MAKE) --no-print-directory all $(UNIT_BIN)
	@scripts/run-tests build/san
	@scripts/run-tests build unit

# ThreadSanitizer build of what runs on several threads: the astro caches (unit
# tests with worker threads) and the server, whose executor runs event searches.
TSAN_UNITS := build/tsan/tests/unit/astro/fast_test build/tsan/tests/unit/astro/riseset_test
tsan-bins:
	@$(MAKE) --no-print-directory SANITIZE=thread OUT=build/tsan build/tsan/planettracker \
	    $(TSAN_UNITS)

all-tests: $(OUT)/planettracker $(UNIT_BIN) fuzz-bins $(OUT)/tools/truth_ref

# The reference positions for the API's own time data (tests/integration/test_50_api.py).
$(OUT)/tools/truth_ref: tests/tools/truth_ref.c
	@mkdir -p $(dir $@)
	$(CC) -std=c17 -O2 -D_GNU_SOURCE -Wall -Wextra -Werror $(shell $(PKG_CONFIG) --cflags swe) \
	    -o $@ $< $(shell $(PKG_CONFIG) --libs swe) -lm

unit: $(UNIT_BIN)
	@scripts/run-tests $(OUT) unit

# libFuzzer drivers, built with clang; `make test` replays their corpus and
# regressions (every file once), `make fuzz` explores.
FUZZ_CC ?= clang
FUZZ_FLAGS := -std=c17 -g -O1 -D_GNU_SOURCE -Isrc -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
# Each target lists the sources it links in tests/fuzz/<target>/sources.
fuzz-bins: $(patsubst tests/fuzz/%,$(OUT)/fuzz/%,$(FUZZ_DIRS))

$(OUT)/fuzz/%: tests/fuzz/%/driver.c tests/fuzz/%/sources $(LIB_SRC)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(shell $(PKG_CONFIG) --cflags $(PKGS)) -o $@ $< \
	    $$(cat tests/fuzz/$*/sources) $(shell $(PKG_CONFIG) --libs $(PKGS)) -lm -pthread

FUZZ_SECONDS ?= 60
fuzz: fuzz-bins
	@for d in $(FUZZ_DIRS); do t=$$(basename $$d); mkdir -p $(OUT)/fuzz-corpus/$$t; \
	  echo "fuzz $$t for $(FUZZ_SECONDS)s"; \
	  $(OUT)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=$$d/regressions/ \
	    $$( [ -f $$d/dict ] && echo -dict=$$d/dict ) $(OUT)/fuzz-corpus/$$t $$d/corpus || exit 1; \
	done

bench: $(MICRO_BIN)

format:
	clang-format -i $$(find src tests bench tools -name '*.[ch]')

clean:
	rm -rf build

-include $(shell find $(OUT)/obj -name '*.d' 2>/dev/null)
