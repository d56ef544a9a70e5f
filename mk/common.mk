# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Shared build rules. Every product goes under $(OUTPUT). V=1 prints full commands.

OUTPUT    ?= .output
CLANG     ?= clang
BPFTOOL   ?= bpftool
CC        ?= cc
ARCH_INC  := /usr/include/$(shell uname -m)-linux-gnu

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# BPF: -mcpu=v3 for 32-bit jumps and atomics (cmpxchg), supported from 5.12.
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -Wall -Werror -Wno-unused-function \
	-Iinclude -Ibpf -I$(ARCH_INC) -MMD -MP

# User space. SANITIZE=1 adds ASan and UBSan (and keeps frame pointers).
USER_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
	-Wshadow -Wformat=2 -D_GNU_SOURCE -Iinclude -I$(OUTPUT) -I/usr/share/include/llhttp -MMD -MP
USER_LDLIBS := -lbpf -lelf -lz
# libFuzzer targets: clang, coverage instrumentation, ASan and UBSan always
FUZZ_CFLAGS := $(filter-out -fsanitize=% -fno-sanitize-recover=all,$(USER_CFLAGS)) \
	-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ifeq ($(SANITIZE),1)
USER_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
USER_LDFLAGS += -fsanitize=address,undefined
endif

.DELETE_ON_ERROR:
# keep objects make thinks are intermediate (rebuilds stay incremental)
.SECONDARY:

# foo.bpf.c -> $(OUTPUT)/bpf/foo.tmp.o -> (bpftool link) foo.bpf.o -> foo.skel.h
$(OUTPUT)/bpf/%.tmp.o: bpf/%.bpf.c | $(OUTPUT)/bpf
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/bpf/%.bpf.o: $(OUTPUT)/bpf/%.tmp.o
	$(call msg,LINK,$@)
	$(Q)$(BPFTOOL) gen object $@ $<

$(OUTPUT)/%.skel.h: $(OUTPUT)/bpf/%.bpf.o mk/common.mk
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

$(OUTPUT)/obj/%.o: %.c | $(OUTPUT)/obj
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(USER_CFLAGS) -c $< -o $@

$(OUTPUT) $(OUTPUT)/bpf $(OUTPUT)/obj $(OUTPUT)/bin:
	$(Q)mkdir -p $@
