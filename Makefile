# tally - build, run and test.
#
#   make                 bin/tallyd and bin/tallyctl
#   make run             install missing packages, build, serve on 127.0.0.1:8080
#   make test            install missing packages, build, run every test
#   make test-unit       cmocka unit tests of tracking/ and server parts
#   make test-integration  real redis-server + tallyd over loopback HTTP
#   make test-browser    the dashboard and shop journeys in headless Chromium
#   make test-asan       the whole suite under AddressSanitizer and UBSan
#   make lint            cppcheck over every C source
#   make fuzz FUZZ_SECONDS=600   each libFuzzer target for that long
#   make bench           tallyd against nginx, cost per event, memory, script costs
#                        (BENCH_ARGS='--runs 5 --duration 10' for longer runs)
#   make SANITIZER=address|undefined   any target, sanitized, in build/<sanitizer>/

CC ?= cc
SANITIZER ?=
PREFIX ?= /usr/local

ifeq ($(SANITIZER),)
BUILD := build/release
BIN := bin
SAN_FLAGS :=
else ifeq ($(SANITIZER),address)
BUILD := build/asan
BIN := build/asan/bin
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
else ifeq ($(SANITIZER),undefined)
BUILD := build/ubsan
BIN := build/ubsan/bin
SAN_FLAGS := -fsanitize=undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
else
$(error SANITIZER must be empty, address or undefined)
endif

WARNINGS := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wwrite-strings -Wpointer-arith -Wformat=2
CPPFLAGS += -D_GNU_SOURCE -Itracking -Iserver -MMD -MP
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 $(WARNINGS) $(SAN_FLAGS) -fstack-protector-strong
# tracking/ is plain computation, so it also builds with -Wconversion.
TRACKING_CFLAGS := -Wconversion -Wsign-conversion
LDFLAGS += $(SAN_FLAGS)

LIBS_TRACKING := -ljansson -lcrypto
LIBS_SERVER := -levent_openssl -levent_pthreads -levent -lhiredis -lhttp_parser \
               -lssl $(LIBS_TRACKING) -lz -lpthread

TRACKING_SRC := $(wildcard tracking/*.c)
SERVER_SRC := $(filter-out server/main.c,$(wildcard server/*.c))
# The parts of server/ that tallyctl also uses: no event loop among them.
SHARED_SRC := server/log.c server/errmsg.c server/kvline.c server/config.c server/keys_file.c server/redis_url.c \
              server/http_limits.c server/auth.c server/store_scripts.c \
              server/keys_edit.c server/client_addr.c
CLI_SRC := $(wildcard cli/*.c)

TRACKING_OBJ := $(TRACKING_SRC:%.c=$(BUILD)/%.o)
# The webshop snippet, generated into build/gen/ (see the rules below).
SNIPPET_MIN := build/gen/tally.min.js
SNIPPET_C := build/gen/snippet_js.c
SNIPPET_OBJ := $(BUILD)/gen/snippet_js.o
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/%.o) $(SNIPPET_OBJ)
SHARED_OBJ := $(SHARED_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
LIBTRACKING := $(BUILD)/libtracking.a

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all run deps test-deps bench-deps test test-unit test-integration test-browser test-asan \
        fuzz fuzz-build bench clean lint npm
all: $(BIN)/tallyd $(BIN)/tallyctl

$(BUILD)/tracking/%.o: tracking/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(TRACKING_CFLAGS) -c -o $@ $<

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# npm ci installs the pinned terser and playwright-core whenever
# node_modules is missing or older than the lock file; npm writes
# node_modules/.package-lock.json on each install.
NODE_MODULES := node_modules/.package-lock.json
$(NODE_MODULES): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	@touch $@

# web/tally.js is minified with terser and compiled into tallyd as a C
# array, so tallyd serves it from memory with no file to find or keep in
# step at run time, and its ETag is fixed at build time.
$(SNIPPET_MIN): web/tally.js $(NODE_MODULES)
	@mkdir -p $(@D)
	node_modules/.bin/terser $< --compress --mangle --ecma 2017 --output $@

$(SNIPPET_C): $(SNIPPET_MIN) scripts/embed-js.js
	node scripts/embed-js.js $< $@

$(SNIPPET_OBJ): $(SNIPPET_C)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIBTRACKING): $(TRACKING_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

# The dashboard embeds its files and uPlot from npm (package-lock.json);
# see server/dashboard_assets.c. npm ci runs again when the lock changes.
DASHBOARD_FILES := dashboard/index.html dashboard/app.js dashboard/app.css

$(BUILD)/server/dashboard_assets.o: $(DASHBOARD_FILES) $(NODE_MODULES)

$(BIN)/tallyd: $(BUILD)/server/main.o $(SERVER_OBJ) $(LIBTRACKING)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_SERVER)

$(BIN)/tallyctl: $(CLI_OBJ) $(SHARED_OBJ) $(LIBTRACKING)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ -lhiredis -lcsv $(LIBS_TRACKING) -lpthread

# A unit test links the library and the server objects but main.o.
# TEST_LDFLAGS_<name> adds link flags, such as the --wrap that lets the
# journal test make fdatasync fail.
TEST_LDFLAGS_journal := -Wl,--wrap=fdatasync
$(BUILD)/tests/test_%: tests/unit/test_%.c $(LIBTRACKING) $(SERVER_OBJ)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $(TEST_LDFLAGS_$*) -o $@ $< $(SERVER_OBJ) \
	    $(LIBTRACKING) -lcmocka $(LIBS_SERVER)

deps:
	@sh scripts/install-deps.sh

test-deps:
	@sh scripts/install-deps.sh test

# make run REDIS=redis://host:port uses that Redis instead of a private one.
REDIS ?=
run: deps
	@$(MAKE) --no-print-directory all
	@TALLY_REDIS='$(REDIS)' sh scripts/run.sh

test-unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

test-integration: all
	TALLY_BIN=$(CURDIR)/$(BIN) TALLY_SANITIZER=$(SANITIZER) \
	    /usr/bin/python3 -m pytest -q -rs tests/integration

# Browser tests: Debian's /usr/bin/chromium driven by playwright-core from
# package-lock.json; they never download a browser. The dashboard test is
# pytest, the shop journeys use node's built-in test runner.
BROWSER_TESTS := $(wildcard tests/browser/*.test.js)
test-browser: all $(NODE_MODULES)
	TALLY_BIN=$(CURDIR)/$(BIN) /usr/bin/python3 -m pytest -q tests/browser
	TALLY_BIN=$(CURDIR)/$(BIN) node --test --test-concurrency=1 $(BROWSER_TESTS)

npm: $(NODE_MODULES)

# cppcheck sees no system headers, so it cannot read OpenSSL's version:
# signer.c's #error for an old OpenSSL is the compiler's to raise.
lint:
	cppcheck --enable=warning,performance,portability --inline-suppr --quiet \
	    --error-exitcode=1 --suppress=missingIncludeSystem \
	    --suppress=preprocessorErrorDirective:tracking/signer.c \
	    -D_GNU_SOURCE -Itracking -Iserver \
	    tracking server cli tests/unit tests/fuzz loadtest/touch_load.c

test: test-deps
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory test-unit
	@$(MAKE) --no-print-directory fuzz-smoke
	@$(MAKE) --no-print-directory test-integration
	@$(MAKE) --no-print-directory test-browser

test-asan:
	@$(MAKE) --no-print-directory SANITIZER=address test-unit test-integration

# The memory figure loads touchpoints with the store's own scripts.
$(BUILD)/loadtest/touch_load: loadtest/touch_load.c $(BUILD)/server/resp.o \
        $(BUILD)/server/store_scripts.o $(LIBTRACKING)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lcrypto -lpthread

bench-deps:
	@sh scripts/install-deps.sh bench

BENCH_ARGS ?=
bench: bench-deps
	@$(MAKE) --no-print-directory all $(BUILD)/loadtest/touch_load
	TALLY_BIN=$(CURDIR)/$(BIN) TALLY_TOUCH_LOAD=$(CURDIR)/$(BUILD)/loadtest/touch_load \
	    /usr/bin/python3 loadtest/bench.py $(BENCH_ARGS)
	/usr/bin/python3 loadtest/script_cost.py

include tests/fuzz/fuzz.mk

clean:
	rm -rf build bin

-include $(TRACKING_OBJ:.o=.d) $(SERVER_OBJ:.o=.d) $(CLI_OBJ:.o=.d) \
         $(BUILD)/server/main.d $(UNIT_BIN:=.d)
