# kupgrade: one Makefile, pkg-config for every library.

PKGS      := criu libprotobuf-c mount libsystemd
CC        ?= cc
CFLAGS    ?= -O2 -g
CFLAGS    += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -D_GNU_SOURCE \
             $(shell pkg-config --cflags $(PKGS))

# make TEST_HOOKS=1: the test build, which reads the KUPGRADE_* test hooks
# (kupgrade/test-hooks.h, docs/fault-injection.md); tests/vm installs it into
# its guest. Only from the command line, so that a variable left in the
# environment cannot make a production build read them. Its objects go to a
# directory of their own: make does not track compile flags, so the two
# builds never share an object.
ifneq ($(filter-out 0 1,$(TEST_HOOKS)),)
$(error TEST_HOOKS is 0 or 1, not '$(TEST_HOOKS)')
endif
ifeq ($(origin TEST_HOOKS)$(TEST_HOOKS),command line1)
BUILD       := build/test
HOOK_CFLAGS := -DKUPGRADE_TEST_HOOKS
else
ifeq ($(TEST_HOOKS),1)
$(warning TEST_HOOKS=1 from the environment is ignored: pass it on the command line, make TEST_HOOKS=1)
endif
BUILD       := build
HOOK_CFLAGS :=
endif

# The layers (docs/ARCHITECTURE.md): each sees only the include paths below it,
# so an include that crosses a layer the wrong way does not compile
# (tests/check-includes.sh catches what falls through to a system header of
# the same name). -iquote: our headers answer "..." only, so a system header's
# <paths.h> or <cpio.h> is never ours.
INC_BASIC  := -iquote kupgrade/basic
INC_DOMAIN := -iquote kupgrade $(INC_BASIC) -iquote build/images
INC_CLI    := -iquote kupgrade/cli $(INC_DOMAIN)
$(BUILD)/obj/kupgrade/basic/%.o: INC := $(INC_BASIC)
$(BUILD)/obj/kupgrade/%.o: INC := $(INC_DOMAIN)
$(BUILD)/obj/kupgrade/cli/%.o: INC := $(INC_CLI)
$(BUILD)/obj/tests/%.o: INC := $(INC_CLI)
$(BUILD)/obj/images/%.o: INC := $(INC_DOMAIN)
LDLIBS    += $(shell pkg-config --libs $(PKGS))

PREFIX    ?= /usr
SBINDIR   ?= $(PREFIX)/sbin
UNITDIR   ?= /lib/systemd/system
GENDIR    ?= /lib/systemd/system-generators
SHUTDIR   ?= /lib/systemd/system-shutdown
MANDIR    ?= $(PREFIX)/share/man
DOCDIR    ?= $(PREFIX)/share/doc/kupgrade
LIBEXEC   ?= $(PREFIX)/lib/kupgrade

PROTOS    := $(wildcard images/*.proto)
PROTO_C   := $(patsubst images/%.proto,build/images/%.pb-c.c,$(PROTOS))
PROTO_H   := $(PROTO_C:.c=.h)
SRCS      := $(wildcard kupgrade/*.c kupgrade/basic/*.c kupgrade/cli/*.c)
OBJS      := $(patsubst %.c,$(BUILD)/obj/%.o,$(SRCS)) \
             $(patsubst build/images/%.c,$(BUILD)/obj/images/%.o,$(PROTO_C))
LIB_OBJS  := $(filter-out $(BUILD)/obj/kupgrade/cli/main.o,$(OBJS))
TEST_SRCS := $(wildcard tests/unit/*.c)
TEST_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(TEST_SRCS))
FMT_SRCS  := $(SRCS) $(TEST_SRCS) \
             $(wildcard kupgrade/*.h kupgrade/basic/*.h kupgrade/cli/*.h tests/unit/*.h)

.SECONDARY: $(PROTO_C) $(PROTO_H)
.PHONY: all clean install deps check check-style check-unit check-vm check-vm-all check-all bench demo format format-check
all: $(BUILD)/kupgrade

$(BUILD)/kupgrade: $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

build/images/%.pb-c.c build/images/%.pb-c.h: images/%.proto
	@mkdir -p build/images
	protoc-c --proto_path=images --c_out=build/images $<

$(BUILD)/obj/%.o: %.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(INC) $(CFLAGS) $(HOOK_CFLAGS) -MMD -MP -c -o $@ $<

# The generated protobuf code is the same for both builds (build/images).
$(BUILD)/obj/images/%.o: build/images/%.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(INC) $(CFLAGS) $(HOOK_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/unit-tests: $(TEST_OBJS) $(LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

check-unit: $(BUILD)/unit-tests
	$(BUILD)/unit-tests

# The VM scenarios (tests/vm/suite.sh): `check` runs every scenario on
# Debian 12 and the plan, preflight, switch and services scenarios on Debian 13 as well, one
# at a time; `check-all` runs every scenario on both releases.
check-vm: all
	tests/vm/suite.sh

check-vm-all: all
	tests/vm/suite.sh --all

# The tree's shape: formatted, layered, no include cycle, the architecture's
# file tables true; and the VM harness's verdicts, on fake scenarios.
check-style: format-check
	tests/check-includes.sh
	tests/check-architecture.sh
	tests/check-harness.sh

check: check-style check-unit check-vm

check-all: check-style check-unit check-vm-all

bench: all
	tests/vm/bench.sh

demo: all
	tests/vm/demo.sh

deps:
	tests/deps.sh

build/kupgrade.8: docs/kupgrade.8.scd
	scdoc < $< > $@
build/kupgrade.conf.5: docs/kupgrade.conf.5.scd
	scdoc < $< > $@

MANPAGES := $(patsubst docs/%.scd,build/%,$(wildcard docs/*.scd))

install: all $(MANPAGES)
	$(if $(HOOK_CFLAGS),@echo "make install: the TEST_HOOKS=1 build: it reads the KUPGRADE_* test hooks" >&2)
	install -D -m 0755 $(BUILD)/kupgrade $(DESTDIR)$(SBINDIR)/kupgrade
	install -d $(DESTDIR)$(GENDIR)
	ln -sf $(SBINDIR)/kupgrade $(DESTDIR)$(GENDIR)/kupgrade-generator
	for f in $(wildcard units/*.service units/*.target units/*.socket); do \
		install -D -m 0644 $$f $(DESTDIR)$(UNITDIR)/$$(basename $$f); done
	for f in $(wildcard units/*-generator); do \
		install -D -m 0755 $$f $(DESTDIR)$(GENDIR)/$$(basename $$f); done
	for f in $(wildcard hooks/kernel/postinst.d/*); do \
		install -D -m 0755 $$f $(DESTDIR)/etc/kernel/postinst.d/$$(basename $$f); done
	for f in $(wildcard hooks/kernel-install/*.install); do \
		install -D -m 0755 $$f $(DESTDIR)$(PREFIX)/lib/kernel/install.d/$$(basename $$f); done
	for d in hooks scripts/init-premount scripts/init-bottom scripts/local-bottom; do \
		for f in $$(ls hooks/initramfs-tools/$$d/* 2>/dev/null); do \
			install -D -m 0755 $$f $(DESTDIR)$(PREFIX)/share/initramfs-tools/$$d/$$(basename $$f); done; done
	install -D -m 0755 hooks/carry-images $(DESTDIR)$(LIBEXEC)/carry-images
	for f in $(wildcard hooks/dracut/90kupgrade/*); do \
		install -D -m 0755 $$f $(DESTDIR)$(PREFIX)/lib/dracut/modules.d/90kupgrade/$$(basename $$f); done
	for f in $(MANPAGES); do \
		s=$${f##*.}; install -D -m 0644 $$f $(DESTDIR)$(MANDIR)/man$$s/$$(basename $$f); done
	for f in $(wildcard docs/*.md) README.md; do \
		install -D -m 0644 $$f $(DESTDIR)$(DOCDIR)/$$(basename $$f); done

format:
	clang-format -i $(FMT_SRCS)

# Lists the files clang-format would change, changes nothing, fails if there is one.
format-check:
	@out=$$(clang-format --dry-run -Werror $(FMT_SRCS) 2>&1) && exit 0; \
	files=$$(echo "$$out" | sed -n 's/^\([^ :]*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' | uniq); \
	if [ -n "$$files" ]; then echo "$$files"; echo "These files are not formatted: run 'make format'." >&2; \
	else echo "$$out" >&2; fi; exit 1

clean:
	rm -rf build

-include $(OBJS:.o=.d) $(TEST_OBJS:.o=.d)
