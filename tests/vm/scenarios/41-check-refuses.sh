#!/bin/bash
# kup-cost: 99
# 41-check-refuses: `kupgrade check` refuses, with a clear message, exit 2
# and nothing changed: a missing file, a file that is not a kernel, a kernel
# whose modules directory is missing (a copy of the other kernel whose
# header names a version that is not installed), too little memory for the
# images (KUPGRADE_MEMORY_LIMIT, see kupgrade(8)); a usage error exits 64;
# and it accepts the real other kernel (exit 0, --json can_switch true), also
# as "--kernel newest".
# "kupgrade --kernel --json" prints one document when no switch happens:
# refused by its checks (exit 2), rolled back by a fault (exit 70).
. "$(dirname "$0")/../lib.sh"
vm_boot
vm_wait_ssh 300 || fail "the guest did not come up"
from=$(vm_ssh uname -r)
to=$KV_NEW
[[ $from == "$KV_NEW" ]] && to=$KV_OLD

# What check must not change: loaded kernel, mounts, kupgrade's dirs, nft rules.
state() {
	vm_ssh 'cat /sys/kernel/kexec_loaded; findmnt -rn -o TARGET,FSTYPE | sort
		ls -la /run/kupgrade* /var/lib/kupgrade 2>&1; nft list ruleset 2>&1' | sha256sum
}
before=$(state)

# expect NAME EXIT REGEX -- CMD: run CMD in the guest, check exit code and message.
expect() {
	local name=$1 code=$2 re=$3 out rc=0 t0
	shift 4
	t0=$(kup_now)
	out=$(vm_ssh "$@" 2>&1) || rc=$?
	info "$name: exit $rc in $(kup_since "$t0") s"
	printf '%s\n' "$out" | sed 's/^/    /'
	((rc == code)) || fail "$name: exit $rc, expected $code"
	grep -qE -- "$re" <<<"$out" || fail "$name: no message matching '$re'"
	[[ $(state) == "$before" ]] || fail "$name: check changed the system"
}

expect usage 64 'needs --kernel' -- kupgrade check
expect missing-file 2 'FAIL +kernel +/boot/vmlinuz-0\.0\.0-none: No such file or directory' -- \
	kupgrade check --kernel /boot/vmlinuz-0.0.0-none
expect not-a-kernel 2 'FAIL +kernel +/etc/os-release is not a Linux kernel image' -- \
	kupgrade check --kernel /etc/os-release

# The other kernel, its header naming a release whose third number is all
# 9s (6.1.0-57-cloud-amd64: 6.1.9-57-..., 6.12.118+deb13-...: 6.12.999+...),
# same length: no such modules directory.
[[ $to =~ ^([0-9]+\.[0-9]+\.)([0-9]+)(.*)$ ]] || fail "cannot make a fake version of $to"
fake=${BASH_REMATCH[1]}$(tr 0-8 9 <<<"${BASH_REMATCH[2]}")${BASH_REMATCH[3]}
[[ ${#fake} == "${#to}" && $fake != "$to" ]] || fail "cannot make a same-length fake version of $to"
vm_ssh "mkdir -p /root/fake && python3 - <<PY
import sys
b = open('/boot/vmlinuz-$to', 'rb').read()
i = b.find(b'$to (')
assert 0 < i < 65536, i
open('/root/fake/vmlinuz-$fake', 'wb').write(b[:i] + b'$fake' + b[i + len('$to'):])
PY
cp /boot/initrd.img-$to /root/fake/initrd.img-$fake" || fail "cannot build the fake kernel"
before=$(state)
expect no-modules 2 "FAIL +modules +/lib/modules/$(kup_re_quote "$fake") does not exist" -- \
	kupgrade check --kernel "/root/fake/vmlinuz-$fake"

expect low-memory 2 'FAIL +memory +the images .* MiB are available' -- \
	KUPGRADE_MEMORY_LIMIT=64M kupgrade check --kernel "/boot/vmlinuz-$to"

expect accepts 0 '"can_switch":true' -- kupgrade check --json --kernel "/boot/vmlinuz-$to"
# CRIU's version and its nftables lock (the dump's) probed.
expect accepts-text 0 'ok +criu +criu check passes \(CRIU [0-9]+\.[0-9]+(\.[0-9]+)?\), nftables lock' -- \
	kupgrade check --kernel "/boot/vmlinuz-$to"
# --kernel newest: the other kernel when it is the newer one (the fake one
# is not in /boot), else nothing to do (3).
if [[ $to == "$KV_NEW" ]]; then
	expect newest 0 "The newest installed kernel is $(kup_re_quote "$to") \\(running $(kup_re_quote "$from")\\)" -- \
		kupgrade check --kernel newest
else
	expect newest 3 "Nothing to do: no kernel in /boot is newer than the running one" -- kupgrade check --kernel newest
fi
json=$(vm_ssh kupgrade check --json --kernel "/boot/vmlinuz-$to" 2>/dev/null)
python3 -c 'import json, sys; d = json.loads(sys.argv[1]); assert d["release"] == sys.argv[2] and d["transport"] == "initrd", d' \
	"$json" "$to" || fail "the --json document is not what was expected: $json"
# no_switch_json NAME EXIT OUTCOME -- CMD: the switch's --json document without a switch.
no_switch_json() {
	local name=$1 code=$2 outcome=$3 json rc=0
	shift 4
	json=$(vm_ssh "$@" 2>/dev/null) || rc=$?
	((rc == code)) || fail "$name: exit $rc, expected $code"
	python3 -c 'import json, sys; d = json.loads(sys.argv[1]); assert d["outcome"] == sys.argv[2] and d["exit_code"] == int(sys.argv[3]) and d["switched"] is False and d["message"], d' \
		"$json" "$outcome" "$code" || fail "$name: the --json document is not what was expected: $json"
	[[ $(switch_state) == "$before_switch" ]] || fail "$name: the switch that did not happen changed the system"
	info "$name: exit $rc, $(tr -d '\n' <<<"$json")"
}
# Its progress directory may stay; no kernel loaded, no lock, no image, no
# drop-in, no pending report may.
switch_state() {
	vm_ssh 'cat /sys/kernel/kexec_loaded; findmnt -rn -o TARGET,FSTYPE | sort; nft list ruleset 2>&1
		ls -la /run/kupgrade /run/kupgrade-images /var/lib/kupgrade/images /var/lib/kupgrade/pending.manifest \
			/run/systemd/system 2>&1; true' | sha256sum
}
before_switch=$(switch_state)
no_switch_json switch-refused 2 refused -- kupgrade --kernel /boot/vmlinuz-0.0.0-none --yes --json
no_switch_json switch-rolled-back 70 rolled-back -- \
	KUPGRADE_KEXEC_NO_CHECKS=1 KUPGRADE_FAULT=check kupgrade --kernel "/boot/vmlinuz-$to" --yes --json

pass "check refused a missing file, a non-kernel, missing modules and low memory with exit 2 and no change, and accepted $to"
