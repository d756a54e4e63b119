#!/bin/bash
# kup-cost: 187
# kup-timeout: 2400
# The switch as an operator makes it, from inside the session that must
# survive it: an ssh session printing a counter runs "kupgrade --kernel" for
# the other kernel; the same connection, shell and counter survive, and the
# same shell then prints the new "uname -r". Then back again to the first
# kernel: the second switch checkpoints a tree CRIU restored, which must go
# as well as the first.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../switch-lib.sh"

vm_boot "$KV_OLD"
vm_wait_ssh 900 || fail "no ssh after the cold boot"

switch_counter_start
switch "$KV_NEW" new
switch "$KV_OLD" back
switch_counter_check
switch_compare_bare_kexec
pass "ssh session, shell and counter survived two switches ($KV_OLD -> $KV_NEW -> $KV_OLD), same client port $SW_PORT0"
