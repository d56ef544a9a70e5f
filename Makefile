# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# sluice: one entry point. `make help` lists the targets.

.DEFAULT_GOAL := all
include mk/common.mk

# ---- BPF programs: every bpf/*.bpf.c becomes an object and a skeleton ----
BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_NAMES := $(patsubst bpf/%.bpf.c,%,$(BPF_SRCS))
BPF_OBJS  := $(patsubst %,$(OUTPUT)/bpf/%.bpf.o,$(BPF_NAMES))
SKELS     := $(patsubst %,$(OUTPUT)/%.skel.h,$(BPF_NAMES))

# ---- user-space library shared by the agent, the CLI and the tests ----
LIB_SRCS := $(wildcard user/lib/*.c)
LIB_OBJS := $(patsubst %.c,$(OUTPUT)/obj/%.o,$(LIB_SRCS))
LIB      := $(OUTPUT)/libsluice.a

# ---- programs: the agent and the CLI ----
AGENT_OBJS := $(patsubst %.c,$(OUTPUT)/obj/%.o,$(wildcard user/agent/*.c))
CLI_OBJS   := $(patsubst %.c,$(OUTPUT)/obj/%.o,$(wildcard user/cli/*.c))
SLUICED    := $(OUTPUT)/bin/sluiced
# the agent without main(), for unit tests of its model and journal
AGENT_LIB  := $(OUTPUT)/libsluiced.a
SLUICECTL  := $(if $(CLI_OBJS),$(OUTPUT)/bin/sluicectl)

# ---- L7 proxy (user/proxy), part of the agent; llhttp compiled from Debian's
# node-llhttp sources where they are installed, never copied into the tree ----
LLHTTP_DIR  := /usr/share/llhttp
LLHTTP_OBJS := $(patsubst %,$(OUTPUT)/obj/llhttp/%.o,api http llhttp)
PROXY_SRCS  := $(wildcard user/proxy/*.c)
PROXY_OBJS  := $(patsubst %.c,$(OUTPUT)/obj/%.o,$(PROXY_SRCS))
AGENT_OBJS  += $(PROXY_OBJS) $(LLHTTP_OBJS)
AGENT_LDLIBS := -ljansson -lcrypto -lpthread $(USER_LDLIBS) -lm

# ---- tests ----
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/bin/unit/%,$(UNIT_SRCS))
UNIT_OBJS := $(patsubst %.c,$(OUTPUT)/obj/%.o,$(UNIT_SRCS))
BPFT_SRCS := $(wildcard tests/bpf/*.c)
BPFT_OBJS := $(patsubst %.c,$(OUTPUT)/obj/%.o,$(BPFT_SRCS))
BPFT_BIN  := $(OUTPUT)/bin/test_bpf
E2E_SRCS  := $(wildcard tests/e2e/*.c)
E2E_BINS  := $(patsubst tests/e2e/%.c,$(OUTPUT)/bin/e2e/%,$(E2E_SRCS))
# benchmarks (tests/bench, `make bench`): C drivers and BPF floor programs
BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_BINS := $(patsubst tests/bench/%.c,$(OUTPUT)/bin/bench/%,$(BENCH_SRCS))
BENCH_BPF  := $(patsubst tests/bench/%.bpf.c,$(OUTPUT)/bench/%.bpf.o,$(wildcard tests/bench/*.bpf.c))
BENCH_BINS := $(filter-out %.bpf,$(BENCH_BINS))
# libFuzzer targets: tests/fuzz/fuzz_*.c, linked with the parsers they exercise
# (everything in user/proxy but the event loop and the sockmap loader)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(OUTPUT)/bin/fuzz/%,$(FUZZ_SRCS))
FUZZ_LIB_SRCS := $(filter-out user/proxy/proxy.c user/proxy/splice.c,$(PROXY_SRCS)) $(LIB_SRCS)
FUZZ_LIB_OBJS := $(patsubst %.c,$(OUTPUT)/fuzzobj/%.o,$(FUZZ_LIB_SRCS)) \
	$(patsubst %,$(OUTPUT)/fuzzobj/llhttp/%.o,api http llhttp)

.PHONY: all bpf lib progs tests deps test test-unit test-bpf test-e2e test-fuzz vmtest demo bench asan clean help

all: bpf lib progs tests ## build everything (BPF objects, skeletons, agent, CLI, tests)

bpf: $(BPF_OBJS) $(SKELS) ## build the BPF objects and their skeletons

lib: $(LIB)

progs: $(SLUICED) $(SLUICECTL)

tests: $(UNIT_BINS) $(BPFT_BIN) $(E2E_BINS) $(if $(SANITIZE),,$(FUZZ_BINS) $(BENCH_BINS) $(BENCH_BPF))

$(AGENT_LIB): $(filter-out %/main.o,$(AGENT_OBJS))
	$(call msg,AR,$@)
	$(Q)ar rcs $@ $^

$(SLUICED): $(AGENT_OBJS) $(LIB) | $(OUTPUT)/bin
	$(call msg,LD,$@)
	$(Q)$(CC) $(USER_LDFLAGS) -o $@ $^ $(AGENT_LDLIBS)

$(SLUICECTL): $(CLI_OBJS) $(LIB) | $(OUTPUT)/bin
	$(call msg,LD,$@)
	$(Q)$(CC) $(USER_LDFLAGS) -o $@ $^ -ljansson $(USER_LDLIBS) -lm

$(OUTPUT)/bin/e2e/%: $(OUTPUT)/obj/tests/e2e/%.o $(LIB)
	$(call msg,LD,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(USER_LDFLAGS) -o $@ $^ -ljansson -lcrypto -lpthread $(USER_LDLIBS)

$(OUTPUT)/obj/llhttp/%.o: $(LLHTTP_DIR)/%.c | $(OUTPUT)/obj
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(USER_CFLAGS) -c $< -o $@

$(OUTPUT)/fuzzobj/llhttp/%.o: $(LLHTTP_DIR)/%.c
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -c $< -o $@

$(OUTPUT)/fuzzobj/%.o: %.c
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -c $< -o $@

$(OUTPUT)/bin/fuzz/%: $(OUTPUT)/fuzzobj/tests/fuzz/%.o $(FUZZ_LIB_OBJS)
	$(call msg,LD,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CLANG) -fsanitize=fuzzer,address,undefined -o $@ $^ -ljansson -lcrypto -lpthread $(USER_LDLIBS) -lm

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)ar rcs $@ $^

$(OUTPUT)/bench/%.bpf.o: tests/bench/%.bpf.c $(SKELS)
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/bin/bench/%: $(OUTPUT)/obj/tests/bench/%.o $(LIB)
	$(call msg,LD,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(USER_LDFLAGS) -o $@ $^ -ljansson -lcrypto -lpthread $(USER_LDLIBS) -lm
$(patsubst %.c,$(OUTPUT)/obj/%.o,$(filter-out %.bpf.c,$(BENCH_SRCS))): $(SKELS)

# The status page is built into sluiced as it is (.incbin).
$(OUTPUT)/obj/user/agent/status_page.o: user/agent/status.html

# Anything that includes a skeleton must wait for it.
E2E_OBJS := $(patsubst %.c,$(OUTPUT)/obj/%.o,$(E2E_SRCS))
$(LIB_OBJS) $(BPFT_OBJS) $(AGENT_OBJS) $(UNIT_OBJS) $(E2E_OBJS): $(SKELS)
$(FUZZ_LIB_OBJS) $(patsubst %.c,$(OUTPUT)/fuzzobj/%.o,$(FUZZ_SRCS)): $(SKELS)

$(OUTPUT)/bin/unit/%: $(OUTPUT)/obj/tests/unit/%.o $(AGENT_LIB) $(LIB)
	$(call msg,LD,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(USER_LDFLAGS) -o $@ $^ -lcmocka $(AGENT_LDLIBS)

$(BPFT_BIN): $(BPFT_OBJS) $(LIB) | $(OUTPUT)/bin
	$(call msg,LD,$@)
	$(Q)$(CC) $(USER_LDFLAGS) -o $@ $^ $(USER_LDLIBS) -lm

deps: ## install missing build and test packages with apt-get
	$(Q)sh mk/deps.sh

test: deps ## install what is missing, build, run every suite (plain, ASan/UBSan, then in QEMU per kernel)
	$(Q)$(MAKE) --no-print-directory all
	$(Q)sh tests/run.sh
	$(Q)echo "== the same suites under ASan and UBSan"
	$(Q)$(MAKE) --no-print-directory asan
	$(Q)echo "== the BPF and end-to-end suites inside QEMU, on each kernel of vmtest/KERNELS"
	$(Q)sh vmtest/run.sh

test-unit: $(UNIT_BINS) ## cmocka unit tests
	$(Q)sh tests/run.sh unit

test-bpf: bpf $(BPFT_BIN) ## BPF_PROG_TEST_RUN fixtures on the real objects (root)
	$(Q)sh tests/run.sh bpf

test-fuzz: $(FUZZ_BINS) ## run each libFuzzer target for SL_FUZZ_SECONDS (default 20)
	$(Q)sh tests/run.sh fuzz

test-e2e: all ## end-to-end: real TCP through sluiced in a lab of namespaces (root)
	$(Q)sh tests/run.sh e2e

vmtest: deps ## the BPF and end-to-end suites inside QEMU on each kernel in vmtest/KERNELS (root)
	$(Q)$(MAKE) --no-print-directory all
	$(Q)sh vmtest/run.sh

bench: deps ## measure (never assert) speed as ratios in one run; QUICK=1 for a short run (root); writes docs/benchmarks.md
	$(Q)sh mk/deps.sh bench
	$(Q)$(MAKE) --no-print-directory all
	$(Q)QUICK=$(QUICK) sh tests/bench/run.sh

demo: deps ## build, make a lab, balance real traffic through the CLI, show the result (root)
	$(Q)$(MAKE) --no-print-directory all
	$(Q)sh tests/e2e/demo.sh

asan: ## build with ASan and UBSan, run every suite under them
	$(Q)$(MAKE) --no-print-directory OUTPUT=.output/asan SANITIZE=1 all
	$(Q)OUTPUT=.output/asan sh tests/run.sh unit cli bpf e2e

clean: ## remove every build product
	$(call msg,CLEAN,$(OUTPUT))
	$(Q)rm -rf .output

help: ## list the targets
	@echo "sluice make targets (V=1 shows full commands, SANITIZE=1 adds ASan/UBSan):"
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^[^:]*:([a-z0-9-]+):.*## /\1: ## /; s/^([a-z0-9-]+):.*## /  \1\t/' | expand -t 14

-include $(shell find $(OUTPUT) -name '*.d' 2>/dev/null)
