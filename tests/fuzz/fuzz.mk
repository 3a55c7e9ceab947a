# libFuzzer targets, built with clang's -fsanitize=fuzzer plus ASan and UBSan.
#
#   make fuzz                     each target for FUZZ_SECONDS (default 600)
#   make fuzz-smoke               each target for FUZZ_SMOKE_SECONDS (part of make test)
#   make build/fuzz/fuzz_token    one target
#
# A target tests/fuzz/fuzz_NAME.c links tracking/ and, when it sets
# FUZZ_EXTRA_fuzz_NAME below, the server sources it exercises. Its seed
# corpus lives in tests/fuzz/corpus/NAME/; findings land in build/fuzz/.

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined \
              -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CPPFLAGS := -D_GNU_SOURCE -Itracking -Iserver
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)

FUZZ_EXTRA_fuzz_http := server/http.c server/http_fast.c server/http_response.c \
                        server/listen_addr.c \
                        server/http_limits.c server/log.c
FUZZ_EXTRA_fuzz_http_fast := server/http_fast.c
FUZZ_EXTRA_fuzz_client_addr := server/client_addr.c

# The server sources a target links are prerequisites too, so editing one
# rebuilds the target.
.SECONDEXPANSION:
build/fuzz/%: tests/fuzz/%.c $(TRACKING_SRC) $(wildcard tracking/*.h server/*.h) \
              $$(FUZZ_EXTRA_$$*)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) -std=c11 $(FUZZ_FLAGS) -o $@ $< $(TRACKING_SRC) \
	    $(FUZZ_EXTRA_$*) $(LIBS_SERVER)

fuzz-build: $(FUZZ_BIN)

# Runs each target on a copy of its seed corpus, so findings of a run never
# change the committed corpus.
define fuzz_run
	@set -e; for f in $(FUZZ_BIN); do \
	    name=$${f##*/fuzz_}; work=build/fuzz/work/$$name; \
	    mkdir -p $$work; cp -r tests/fuzz/corpus/$$name/. $$work/ 2>/dev/null || true; \
	    echo "== fuzz $$name for $(1)s"; \
	    $$f -max_total_time=$(1) -print_final_stats=1 -artifact_prefix=build/fuzz/$$name- \
	        $$work 2>build/fuzz/$$name.log || { tail -40 build/fuzz/$$name.log; exit 1; }; \
	    grep -E '^stat::number_of_executed_units|^stat::new_units_added' build/fuzz/$$name.log; \
	done
endef

fuzz: fuzz-build
	$(call fuzz_run,$(FUZZ_SECONDS))

fuzz-smoke: fuzz-build
	$(call fuzz_run,$(FUZZ_SMOKE_SECONDS))
