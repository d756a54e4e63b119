#!/bin/bash
# tests/vm/dev.sh: a guest to poke at by hand, outside any scenario.
#
#   tests/vm/dev.sh start [KVER]    prepare the image (cached base + this work
#                                   tree), boot it (default KV_OLD), copy
#                                   build/test/kupgrade (the TEST_HOOKS=1 build) to /usr/sbin/kupgrade, and
#                                   print the VM directory; the VM keeps
#                                   running (at most KUP_VM_LIFETIME, default
#                                   3600 s) after this command returns
#   tests/vm/dev.sh ssh VMDIR [CMD...]      run CMD (or a shell) in it
#   tests/vm/dev.sh push VMDIR              copy build/test/kupgrade again
#   tests/vm/dev.sh scp VMDIR SRC... DST    copy host files into it
#   tests/vm/dev.sh log VMDIR               serial log tail
#   tests/vm/dev.sh stop VMDIR              power off (then kill)
#
# The image is rebuilt from the work tree at each start (about 20 s with a
# warm cache); `push` is enough after changing only the binary.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cmd=${1:-}
shift || true
export KUP_VM_DETACH=1 KUP_VM_LIFETIME=${KUP_VM_LIFETIME:-3600}

use_vm() {
	[[ -n ${1:-} && -f $1/port ]] || { echo "dev.sh: '${1:-}' is not a VM directory (see 'dev.sh start')" >&2; exit 64; }
	VM_DIR=$(cd "$1" && pwd)
	# VMDIR = <run>/logs/dev/vm.XXXX
	export KUP_RUN_DIR=${VM_DIR%/logs/*} KUP_LOG_DIR=${VM_DIR%/*}
}

case $cmd in
start)
	export KUP_RUN_DIR=${KUP_RUN_DIR:-/var/tmp/kupgrade-tests/runs/dev-$(date +%Y%m%d-%H%M%S)-$$} KUP_SCENARIO=dev
	make -s -C "$HERE/../.." all TEST_HOOKS=1
	. "$HERE/lib.sh"
	vm_boot "${1:-$KV_OLD}"
	vm_wait_ssh 300 || { vm_kill; exit 1; }
	vm_scp_to "$KUP_REPO/build/test/kupgrade" /usr/sbin/kupgrade
	info "up in $(kup_since "$VM_BOOT_T0" "$VM_SSH_UP_T") s on $(vm_ssh uname -r); kernels: KV_OLD=$KV_OLD KV_NEW=$KV_NEW"
	echo "VM_DIR=$VM_DIR"
	echo "  $0 ssh $VM_DIR            # shell"
	echo "  $0 stop $VM_DIR"
	echo "  ssh -i $KUP_IMAGE_DIR/id_ed25519 -p $VM_PORT -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@127.0.0.1"
	;;
ssh | push | scp | log | stop)
	use_vm "${1:-}"
	shift
	KUP_NO_IMAGE=1 . "$HERE/lib.sh"
	KUP_IMAGE_DIR=$KUP_RUN_DIR/image
	case $cmd in
	ssh) if (($#)); then vm_ssh "$@"; else VM_SSH_TIMEOUT=86400 vm_ssh -t; fi ;;
	push) vm_scp_to "$KUP_REPO/build/test/kupgrade" /usr/sbin/kupgrade ;;
	scp) vm_scp_to "$@" ;;
	log) vm_serial_tail "${1:-40}" ;;
	stop)
		vm_stop
		# The run's disk goes once none of its VMs runs any more.
		for d in "$KUP_LOG_DIR"/vm.*/; do
			VM_DIR=${d%/}
			vm_alive && exit 0
		done
		rm -f "$KUP_RUN_DIR/image/disk.img"
		;;
	esac
	;;
*)
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit 64
	;;
esac
