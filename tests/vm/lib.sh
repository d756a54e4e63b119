# shellcheck shell=bash
# tests/vm/lib.sh: helpers for VM scenarios (and for poking at a guest by hand).
#
#   #!/bin/bash
#   . "$(dirname "$0")/../lib.sh"       # sets -euo pipefail, traps, cleanup
#   vm_boot                             # KV_OLD; or: vm_boot "$KV_NEW"
#   vm_wait_ssh 180 || fail "no ssh"
#   [[ $(vm_ssh uname -r) == "$KV_OLD" ]] || fail "wrong kernel"
#   pass "it works"
#
# Every wait has a hard limit; a guest that does not answer is a failure that
# prints the serial log tail, never an endless wait.  Several VMs (from
# several scenarios or engineers) can run at once: each has its own state
# directory, its own qcow2 overlay over the run's disk and its own free port.
#
# Environment (all optional):
#   KUP_RUN_DIR     the run: image/ (disk.img, kernels, key, image.env) and
#                   logs/. run.sh sets it; otherwise a new one is made under
#                   /var/tmp/kupgrade-tests/runs/ and the image is prepared by
#                   the first vm_boot (tests/vm/image.sh: cached base + this
#                   work tree's `make install`).
#   KUP_LOG_DIR     this scenario's logs (default $KUP_RUN_DIR/logs/<name>)
#   KUP_CACHE       image cache (default /var/cache/kupgrade-tests)
#   KUP_VM_LIFETIME qemu is killed after this many seconds whatever happens
#                   (default 1800)
#   KUP_VM_APPEND   extra kernel command line for every vm_boot
#   KUP_DISTRO      the guest's Debian release, bookworm (default) or trixie
#                   (tests/vm/image.sh); a run's image has one, recorded in
#                   its image.env: asking for another in the same run fails
#   KUP_QEMU_CPU    qemu -cpu value (default per distro: none for bookworm,
#                   qemu's own; "max,la57=off,-cx16" for trixie: under this
#                   host's qemu 7.2 TCG the Debian 13 6.12 kernels panicked
#                   in SLUB's cmpxchg16b fast path (__kmalloc_noprof) in 2
#                   of 3 cold boots with cmpxchg16b offered; without it SLUB
#                   takes its locked path. Measured with boots.sh on a host
#                   at load 10-16: 6 of 6 good with -cx16, and 3 of 3 good
#                   without it: the flag is kept as the safe side)
#   KUP_QEMU_ACCEL  qemu -accel value (default tcg,tb-size=64). With qemu's
#                   default 1 GB translation cache the kexec'd kernel stalled
#                   in clear_page_rep (soft lockups in udev workers): pages
#                   it clears still hold the old kernel's translated code.
#                   Measured on the same loaded host: default cache, cold
#                   boot 202 s / bare kexec 446 s; 64 MB, 234 s / 195 s.
#   KUP_KEEP_DISKS=1  keep each VM's qcow2 overlay after vm_stop
#   KUP_NO_IMAGE=1  do not prepare/load the image when sourced (dev.sh)
#
# After sourcing: KV_OLD, KV_NEW (kernel versions in the image), KUP_DISTRO,
# KUP_REPO.
#
# Kernel release strings may hold regex metacharacters (Debian 13:
# "6.12.118+deb13-cloud-amd64"): quote them with kup_re_quote before putting
# them in a regex (vm_session_expect, vm_serial_wait*, grep -E, awk).
#
# VM life (the current VM is the one in $VM_DIR; set VM_DIR to switch):
#   vm_boot [KVER [CMDLINE...]]  start qemu (TCG, 4G, 2 vCPU, virtio disk/net,
#                                ssh on 127.0.0.1:$VM_PORT), serial log with
#                                host timestamps in $VM_DIR/serial.log; sets
#                                VM_DIR, VM_PORT, VM_BOOT_T0 (epoch)
#   vm_boot_again [KVER]         the same guest's disk booted cold again (after
#                                a reset or a panic's reboot ended qemu)
#   vm_wait_ssh TIMEOUT [OLD_BOOT_ID]  wait for ssh (from a boot other than
#                                OLD_BOOT_ID if given: use it after a kexec);
#                                sets VM_SSH_UP_T (epoch); on timeout or
#                                qemu exit: serial log tail, return 1
#   vm_boot_id                   the guest's current boot id
#   vm_ssh CMD...                run CMD in the guest as root (limit
#                                VM_SSH_TIMEOUT, default 300 s)
#   vm_scp_to SRC... DST         copy host files into the guest
#   vm_scp_from SRC DST          copy a guest file to the host
#   vm_alive                     qemu still running?
#   vm_stop [TIMEOUT]            poweroff, wait, then kill; closes sessions
#   vm_kill                      kill qemu now
#   vm_nothing_left              nothing of a switch that did not happen is
#                                left (kernel, lock, images, drop-ins...)
#   vm_journal [TAG]             guest journal (all boots) into $KUP_LOG_DIR;
#                                read from the stopped disk if ssh is dead
# Serial log:
#   vm_serial_log                path of the current VM's serial log
#   vm_serial_tail [N]           last N lines (default 40)
#   vm_serial_wait REGEX TIMEOUT wait for a serial line matching REGEX
#   vm_serial_time REGEX [AFTER] host epoch of the first line matching REGEX
#                                (optionally the first one after epoch AFTER)
# Long-lived interactive ssh session (ssh -tt, stdin from a FIFO, output
# timestamped per line by the host clock; survives a guest kexec as long as
# the guest side survives; no client-side keepalive timeout for 30 min):
#   vm_session_open NAME [CMD]   open; waits until the remote shell answers;
#                                records the client's local TCP port; logs in
#                                as $VM_SESSION_USER (default root)
#   vm_session_send NAME TEXT    write TEXT (printf %b: "ls\n") to its stdin
#   vm_session_expect NAME REGEX TIMEOUT   wait for REGEX in its output
#   vm_session_log NAME          path of its log
#   vm_session_port NAME         the client's local port (from ss -tnp)
#   vm_session_alive NAME        is the ssh client still running?
#   vm_session_close NAME
# Scenario results and figures:
#   info MSG / pass MSG / fail REASON (exit 1, journal + serial tail) /
#   skip REASON (exit 77)
#   measure NAME VALUE           "MEASURE NAME=VALUE", kept in measure.txt
#   kup_now / kup_since T0 [T1]  epoch now / seconds between (1 decimal)
#   kup_re_quote STRING          STRING as an ERE matching it literally (for
#                                grep -E, awk and vm_* REGEX arguments)
#   kup_on_exit CMD              run CMD at exit (before VMs are killed)

set -euo pipefail

KUP_VM_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KUP_REPO=$(cd "$KUP_VM_LIB/../.." && pwd)
KUP_CACHE=${KUP_CACHE:-/var/cache/kupgrade-tests}
: "${KUP_VM_LIFETIME:=2400}" "${VM_SSH_TIMEOUT:=300}" "${KUP_QEMU_ACCEL:=tcg,tb-size=64}"
KUP_SCENARIO=${KUP_SCENARIO:-$(basename "$0" .sh)}

kup_now() { echo "$EPOCHREALTIME"; }
kup_since() { awk -v a="$1" -v b="${2:-$EPOCHREALTIME}" 'BEGIN { printf "%.1f", b - a }'; }
info() { printf '[%(%T)T] %s\n' -1 "$*"; }
# Bracketed ("[+]"), not backslashed: awk -v would eat the backslashes.
kup_re_quote() { sed -e 's/[].[*+?(){}|$/]/[&]/g' -e 's/\^/\\^/g' <<<"$1"; }

if [[ -z ${KUP_RUN_DIR:-} ]]; then
	KUP_RUN_DIR=/var/tmp/kupgrade-tests/runs/$(date +%Y%m%d-%H%M%S)-$$
	mkdir -p "$KUP_RUN_DIR"
	info "run directory: $KUP_RUN_DIR"
fi
export KUP_RUN_DIR
KUP_LOG_DIR=${KUP_LOG_DIR:-$KUP_RUN_DIR/logs/$KUP_SCENARIO}
mkdir -p "$KUP_LOG_DIR"

# --- image ---------------------------------------------------------------
vm_image_ready() {
	local img=$KUP_RUN_DIR/image
	if [[ ! -f $img/image.env ]]; then
		mkdir -p "$img"
		(
			# One preparation per run, even with scenarios started in parallel.
			flock 9
			[[ -f $img/image.env ]] || "$KUP_VM_LIB/image.sh" "$img"
		) 9>"$KUP_RUN_DIR/.image.lock" || {
			echo "vm_image_ready: building the guest image failed" >&2
			return 1
		}
	fi
	local want=${KUP_DISTRO:-}
	# shellcheck disable=SC1091
	. "$img/image.env"
	KUP_IMAGE_DIR=$img
	KUP_DISTRO=${KUP_DISTRO:-bookworm}
	if [[ -n $want && $want != "$KUP_DISTRO" ]]; then
		echo "vm_image_ready: KUP_DISTRO=$want, but this run's image ($img) is $KUP_DISTRO" >&2
		return 1
	fi
	if [[ -z ${KUP_QEMU_CPU+set} ]]; then
		case $KUP_DISTRO in
		trixie) KUP_QEMU_CPU=max,la57=off,-cx16 ;;
		*) KUP_QEMU_CPU= ;;
		esac
	fi
	export KV_OLD KV_NEW KUP_IMAGE_DIR KUP_DISTRO KUP_QEMU_CPU
}

# --- VM start and stop -----------------------------------------------------
VM_ALL=()
vm__port_busy() { [[ -n $(ss -Htan "( sport = :$1 )" 2>/dev/null) ]]; }
vm__free_port() {
	local p i
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		vm__port_busy "$p" || {
			echo "$p"
			return 0
		}
	done
	echo "vm__free_port: no free port found" >&2
	return 1
}
vm__pgid() { cat "$VM_DIR/pgid" 2>/dev/null; }
vm_alive() {
	local pg
	pg=$(vm__pgid) || return 1
	kill -0 -- "-$pg" 2>/dev/null && [[ -f $VM_DIR/qemu.pid ]] &&
		kill -0 "$(cat "$VM_DIR/qemu.pid")" 2>/dev/null
}
vm_serial_log() { echo "$VM_DIR/serial.log"; }
vm_serial_tail() {
	local n=${1:-40}
	echo "----- serial log tail ($VM_DIR/serial.log, last $n lines) -----"
	tail -n "$n" "$VM_DIR/serial.log" 2>/dev/null | cut -c1-300 || true
	echo "----- end of serial log tail -----"
}

# vm__launch KVER CMDLINE PORT: start qemu in its own session (so it outlives
# nothing but its lifetime limit and our cleanup), output through tsline.
# KUP_VM_FWD="7000 80": more guest TCP ports forwarded from 127.0.0.1 (a free
# host port each; vm_fwd_port GUESTPORT tells which).
vm__launch() {
	local kv=$1 cmdline=$2 port=$3 g h fwd=""
	for g in ${KUP_VM_FWD:-}; do
		h=$(vm__free_port)
		echo "$h" >"$VM_DIR/fwd-$g"
		fwd+=",hostfwd=tcp:127.0.0.1:$h-:$g"
	done
	rm -f "$VM_DIR/qemu.pid"
	setsid bash -c '
		exec timeout --foreground -s KILL '"$KUP_VM_LIFETIME"' qemu-system-x86_64 \
			-name "kupgrade-$0" -accel '"$KUP_QEMU_ACCEL"' '"${KUP_QEMU_CPU:+-cpu $KUP_QEMU_CPU}"' -m 4G -smp 2 -nographic -no-reboot \
			-kernel "$1" -initrd "$2" -append "$3" \
			-drive file="$4",format=qcow2,if=virtio,cache=unsafe \
			-netdev user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:"$5"-:22'"$fwd"' \
			-device virtio-net-pci,netdev=net0 \
			-pidfile "$6" </dev/null 2>&1 | "$7" >"$8"' \
		"$(basename "$VM_DIR")" "$KUP_IMAGE_DIR/vmlinuz-$kv" "$KUP_IMAGE_DIR/initrd.img-$kv" \
		"$cmdline" "$VM_DIR/disk.qcow2" "$port" "$VM_DIR/qemu.pid" \
		"$KUP_VM_LIB/tsline" "$VM_DIR/serial.log" </dev/null >/dev/null 2>&1 &
	# (not on the scenario's stdout: a VM left by a scenario killed before
	# its trap ran would keep run.sh's tee of that output waiting)
	echo $! >"$VM_DIR/pgid"
}

vm_boot() {
	local kv=${1:-} extra="${*:2}" cmdline
	vm_image_ready
	kv=${kv:-$KV_OLD}
	[[ -f $KUP_IMAGE_DIR/vmlinuz-$kv ]] ||
		{ echo "vm_boot: no kernel $kv in the image (have $KV_OLD, $KV_NEW)" >&2; return 1; }
	VM_DIR=$(mktemp -d "$KUP_LOG_DIR/vm.XXXX")
	VM_ALL+=("$VM_DIR")
	qemu-img create -q -f qcow2 -F raw -b "$KUP_IMAGE_DIR/disk.img" "$VM_DIR/disk.qcow2"
	# no_timer_check: on a loaded host the TCG guest's boot-time check of
	# the IO-APIC timer can miss its ticks and panic ("IO-APIC + timer
	# doesn't work!", seen at load 16 on Debian 12 and 13 guests alike).
	cmdline="console=ttyS0 root=/dev/vda rw no_timer_check ${KUP_VM_APPEND:-} $extra"
	echo "$kv" >"$VM_DIR/kver"
	vm__start "$kv" "$cmdline"
}

# vm__start KVER CMDLINE: qemu on $VM_DIR's disk, retried on a port race.
vm__start() {
	local kv=$1 cmdline=$2 port attempt i
	for ((attempt = 0; attempt < 5; attempt++)); do
		port=$(vm__free_port)
		VM_BOOT_T0=$(kup_now)
		vm__launch "$kv" "$cmdline" "$port"
		# Up when qemu wrote its pid file and listens on the port.
		for ((i = 0; i < 300; i++)); do
			if [[ -s $VM_DIR/qemu.pid ]] && vm__port_busy "$port"; then
				VM_PORT=$port
				echo "$port" >"$VM_DIR/port"
				echo "$VM_BOOT_T0" >"$VM_DIR/boot-t0"
				info "vm_boot: $KUP_DISTRO $kv${KUP_QEMU_CPU:+ (-cpu $KUP_QEMU_CPU)}, ssh on 127.0.0.1:$port, state in $VM_DIR"
				return 0
			fi
			kill -0 "$(vm__pgid)" 2>/dev/null || break
			sleep 0.1
		done
		vm_kill
		grep -q 'host forwarding' "$VM_DIR/serial.log" 2>/dev/null && continue
		echo "vm_boot: qemu did not start:" >&2
		cat "$VM_DIR/serial.log" >&2
		return 1
	done
	echo "vm_boot: could not get a free port for ssh forwarding" >&2
	return 1
}

# vm_boot_again [KVER]: the same guest, its disk as it was left, booted cold
# (as the firmware does after a reset or a panic's reboot, which ends qemu
# here: -no-reboot). The earlier serial log is kept as serial.log.N.
vm_boot_again() {
	local kv=${1:-$KV_OLD} n=1
	vm_alive && vm_kill
	while [[ -e $VM_DIR/serial.log.$n ]]; do n=$((n + 1)); done
	mv "$VM_DIR/serial.log" "$VM_DIR/serial.log.$n"
	echo "$kv" >"$VM_DIR/kver"
	vm__start "$kv" "console=ttyS0 root=/dev/vda rw no_timer_check ${KUP_VM_APPEND:-}"
}

vm_fwd_port() { cat "$VM_DIR/fwd-$1"; }

vm_kill() {
	local pg qpid
	# The pgid file names setsid's pid, which can miss qemu: qemu's own pid
	# file makes sure (if that pid is still a qemu).
	qpid=$(cat "${VM_DIR:-/nonexistent}/qemu.pid" 2>/dev/null) &&
		[[ $(cat "/proc/$qpid/comm" 2>/dev/null) == qemu-system* ]] && kill "$qpid" 2>/dev/null
	pg=$(vm__pgid) || return 0
	kill -TERM -- "-$pg" 2>/dev/null || return 0
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		kill -0 -- "-$pg" 2>/dev/null || return 0
		sleep 0.2
	done
	kill -KILL -- "-$pg" 2>/dev/null || true
}

vm_stop() {
	local limit=${1:-30} t0 s
	[[ -n ${VM_DIR:-} && -d $VM_DIR ]] || return 0
	for s in "$VM_DIR"/session-*/; do
		[[ -d $s ]] && vm_session_close "$(basename "$s" | sed 's/^session-//')"
	done
	if vm_alive; then
		VM_SSH_TIMEOUT=10 vm_ssh 'systemctl poweroff' >/dev/null 2>&1 || true
		t0=$SECONDS
		while vm_alive && ((SECONDS - t0 < limit)); do sleep 0.5; done
		vm_alive && info "vm_stop: no poweroff within ${limit} s, killing qemu"
	fi
	vm_kill
	[[ -n ${KUP_KEEP_DISKS:-} ]] || rm -f "$VM_DIR/disk.qcow2"
}

# vm_nothing_left: after a switch that did not happen (a fault, a kill),
# nothing of it may remain: no kernel loaded, no lock table (ours or CRIU's),
# no images, staged initrd or pending report, no drop-in, window scaling on,
# no stopped process, no frozen cgroup. Prints what it found; 1 if anything.
# VM_NOTHING_LEFT_SH is the guest-side script, to put into a bigger one (one
# ssh login costs seconds under TCG).
VM_NOTHING_LEFT_SH='
	[ "$(cat /sys/kernel/kexec_loaded)" = 0 ] || { echo "a kernel is still loaded"; exit 1; }
	! nft list table inet kupgrade >/dev/null 2>&1 || { echo "the lock table remains"; exit 1; }
	! nft list tables | grep -q CRIU || { echo "a CRIU lock table remains"; exit 1; }
	[ ! -e /run/kupgrade-images ] || { echo "images remain: $(ls -R /run/kupgrade-images | head)"; exit 1; }
	[ ! -e /run/kupgrade-stage/initrd.img ] || { echo "a staged initrd remains"; exit 1; }
	! mountpoint -q /run/kupgrade-stage || { echo "the stage tmpfs remains"; exit 1; }
	[ ! -e /var/lib/kupgrade/pending.manifest ] || { echo "a pending manifest remains"; exit 1; }
	! ls /run/systemd/system/*.d/50-kupgrade-* 2>/dev/null || { echo "drop-ins remain"; exit 1; }
	[ "$(cat /proc/sys/net/ipv4/tcp_window_scaling)" = 1 ] || { echo "window scaling is off"; exit 1; }
	stopped=$(grep -ls "^State:[[:space:]]*T" /proc/[0-9]*/status) || true
	[ -z "$stopped" ] || { echo "stopped: $stopped"; exit 1; }
	! grep -lx 1 $(find /sys/fs/cgroup -name cgroup.freeze) || { echo "a frozen cgroup"; exit 1; }
'
vm_nothing_left() { vm_ssh "$VM_NOTHING_LEFT_SH"; }

# --- ssh -----------------------------------------------------------------------
vm__ssh_opts() {
	VM_SSH_OPTS=(-i "$KUP_IMAGE_DIR/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes
		-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
		-o ConnectTimeout=10 -o ServerAliveInterval=5 -o ServerAliveCountMax=6)
	VM_PORT=$(cat "$VM_DIR/port")
}
vm_ssh() {
	vm__ssh_opts
	timeout --foreground -k 5 "$VM_SSH_TIMEOUT" \
		ssh "${VM_SSH_OPTS[@]}" -p "$VM_PORT" root@127.0.0.1 "$@"
}
vm_scp_to() {
	local dst=${*: -1}
	vm__ssh_opts
	timeout --foreground -k 5 "$VM_SSH_TIMEOUT" \
		scp -q "${VM_SSH_OPTS[@]}" -P "$VM_PORT" "${@:1:$#-1}" "root@127.0.0.1:$dst"
}
vm_scp_from() {
	vm__ssh_opts
	timeout --foreground -k 5 "$VM_SSH_TIMEOUT" \
		scp -q "${VM_SSH_OPTS[@]}" -P "$VM_PORT" "root@127.0.0.1:$1" "$2"
}

vm_boot_id() { vm_ssh cat /proc/sys/kernel/random/boot_id; }
vm_wait_ssh() { # TIMEOUT [OLD_BOOT_ID: only a different boot counts]
	local limit=${1:?vm_wait_ssh TIMEOUT} old=${2:-} t0=$EPOCHREALTIME start=$SECONDS id left
	vm__ssh_opts
	while ((SECONDS - start < limit)); do
		if ! vm_alive; then
			echo "vm_wait_ssh: qemu exited while waiting for ssh (after $(kup_since "$t0") s)" >&2
			vm_serial_tail 60 >&2
			return 1
		fi
		# One attempt may take long on a starved guest (logind, PAM): give it
		# up to 90 s of what is left, never more than the limit.
		left=$((limit - (SECONDS - start)))
		((left > 90)) && left=90
		((left < 5)) && left=5
		if id=$(VM_SSH_TIMEOUT=$left vm_ssh -o ConnectTimeout=10 cat /proc/sys/kernel/random/boot_id 2>/dev/null) &&
			[[ -n $id && $id != "$old" ]]; then
			VM_SSH_UP_T=$(kup_now)
			return 0
		fi
		sleep 1
	done
	echo "vm_wait_ssh: no ssh answer on 127.0.0.1:$VM_PORT within ${limit} s (waited $(kup_since "$t0") s)" >&2
	vm_serial_tail 60 >&2
	return 1
}

# --- serial log ------------------------------------------------------------------
vm_serial_time() { # REGEX [AFTER_EPOCH]
	awk -v re="$1" -v after="${2:-0}" '
		{ t = $1; line = $0; sub(/^[^|]*\| /, "", line) }
		t + 0 > after + 0 && line ~ re { print t; found = 1; exit }
		END { exit !found }' "$VM_DIR/serial.log"
}
# A serial line matching REGEX logged after EPOCH (the log keeps earlier
# boots, which may match too), within TIMEOUT s.
vm_serial_wait_after() { # REGEX EPOCH TIMEOUT
	local start=$SECONDS
	while ((SECONDS - start < $3)); do
		vm_serial_time "$1" "$2" >/dev/null && return 0
		kill -0 "$(cat "$VM_DIR/qemu.pid" 2>/dev/null)" 2>/dev/null || break
		sleep 1
	done
	echo "no serial line matching '$1' after $2 within $3 s" >&2
	return 1
}
vm_serial_wait() { # REGEX TIMEOUT
	local start=$SECONDS
	while ((SECONDS - start < $2)); do
		grep -qE -- "$1" "$VM_DIR/serial.log" 2>/dev/null && return 0
		vm_alive || break
		sleep 0.5
	done
	echo "vm_serial_wait: no serial line matching '$1' within $2 s" >&2
	vm_serial_tail 40 >&2
	return 1
}

# --- interactive sessions ----------------------------------------------------------
vm__sdir() { echo "$VM_DIR/session-$1"; }
vm_session_log() { echo "$(vm__sdir "$1")/log"; }
vm_session_port() { cat "$(vm__sdir "$1")/lport"; }
vm_session_alive() { kill -0 "$(cat "$(vm__sdir "$1")/ssh.pid" 2>/dev/null)" 2>/dev/null; }
vm_session_send() { # NAME TEXT; fails (never blocks) if the client is gone
	vm_session_alive "$1" || {
		echo "vm_session_send: session $1 is closed" >&2
		return 1
	}
	timeout 10 bash -c 'printf "%b" "$1" >"$2"' _ "$2" "$(vm__sdir "$1")/in" 2>/dev/null
}
vm_session_expect() { # NAME REGEX TIMEOUT
	local log start=$SECONDS
	log=$(vm_session_log "$1")
	while ((SECONDS - start < $3)); do
		grep -qE -- "$2" "$log" 2>/dev/null && return 0
		sleep 0.3
	done
	echo "vm_session_expect: '$2' not seen in session $1 within $3 s; its log tail:" >&2
	tail -n 20 "$log" >&2 || true
	return 1
}

vm_session_open() { # NAME [REMOTE CMD]
	local name=$1 d i lport
	d=$(vm__sdir "$name")
	mkdir -p "$d"
	mkfifo "$d/in"
	vm__ssh_opts
	# The holder keeps the FIFO open for writing, so ssh never sees EOF
	# between two vm_session_send calls.
	sleep 2147483647 >"$d/in" &
	echo $! >"$d/holder.pid"
	(
		echo "$BASHPID" >"$d/ssh.pid"
		# No ServerAlive probes: ssh takes the first value of an option, so
		# VM_SSH_OPTS' 5 s x 6 would end the session after 30 s of pause;
		# and any packet the host sends while the guest is away is one that
		# qemu's user-mode TCP retransmits and gives up on after about two
		# minutes, resetting the connection.
		local i opts=()
		for ((i = 0; i < ${#VM_SSH_OPTS[@]}; i++)); do
			if [[ ${VM_SSH_OPTS[i]} == -o && ${VM_SSH_OPTS[i + 1]:-} == ServerAlive* ]]; then
				((i++))
				continue
			fi
			opts+=("${VM_SSH_OPTS[i]}")
		done
		exec ssh -tt "${opts[@]}" -o ServerAliveInterval=0 \
			-p "$VM_PORT" "${VM_SESSION_USER:-root}@127.0.0.1" "${@:2}"
	) <"$d/in" 2>&1 | "$KUP_VM_LIB/tsline" >"$d/log" &
	for ((i = 0; i < 100; i++)); do
		[[ -s $d/ssh.pid ]] && break
		sleep 0.1
	done
	# The client's local port identifies the TCP connection for later checks.
	for ((i = 0; i < 300; i++)); do
		lport=$(ss -Htnp state established "( dport = :$VM_PORT )" 2>/dev/null |
			awk -v pid="pid=$(cat "$d/ssh.pid")," 'index($0, pid) { n = split($3, a, ":"); print a[n]; exit }' || true)
		[[ -n $lport ]] && break
		vm_session_alive "$name" || break
		sleep 0.1
	done
	[[ -n $lport ]] || {
		echo "vm_session_open: ssh session $name did not connect" >&2
		cat "$d/log" >&2
		return 1
	}
	echo "$lport" >"$d/lport"
	if [[ $# -lt 2 ]]; then
		vm_session_send "$name" 'echo KUP_SESSION_""READY\n'
		vm_session_expect "$name" 'KUP_SESSION_READY' 60 || return 1
	fi
	info "session $name: ssh client pid $(cat "$d/ssh.pid"), local port $lport, log $d/log"
}

vm_session_close() {
	local d pid
	d=$(vm__sdir "$1")
	[[ -f $d/holder.pid ]] || return 0
	kill "$(cat "$d/holder.pid")" 2>/dev/null || true
	rm -f "$d/holder.pid"
	pid=$(cat "$d/ssh.pid" 2>/dev/null) || return 0
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.2
	done
	kill "$pid" 2>/dev/null || true
}

# --- journal --------------------------------------------------------------------------
vm_journal() { # [TAG]
	local tag=${1:-$(date +%H%M%S)} out raw jdir
	out=$KUP_LOG_DIR/journal-$(basename "$VM_DIR")-$tag.txt
	if vm_alive && VM_SSH_TIMEOUT=60 vm_ssh 'journalctl --list-boots --no-pager; journalctl -o short-precise --no-pager' \
		>"$out" 2>&1; then
		info "guest journal (all boots) saved to $out"
		return 0
	fi
	# ssh is dead: read the persistent journal straight from the disk.
	vm_kill
	[[ -f $VM_DIR/disk.qcow2 ]] || { echo "vm_journal: no disk left to read" >&2; return 1; }
	raw=$VM_DIR/journal-disk.raw
	jdir=$VM_DIR/journal-$tag
	mkdir -p "$jdir"
	qemu-img convert -O raw "$VM_DIR/disk.qcow2" "$raw" &&
		debugfs -R "rdump /var/log/journal $jdir" "$raw" >/dev/null 2>&1 || true
	rm -f "$raw"
	if journalctl -D "$jdir/journal" --no-pager -o short-precise >"$out" 2>&1 &&
		grep -q . "$out" && ! grep -q '^-- No entries --' "$out"; then
		info "guest journal (read from the stopped disk) saved to $out"
	else
		echo "vm_journal: no journal readable from the disk" >&2
		return 1
	fi
}

# --- results -------------------------------------------------------------------------------
measure() {
	echo "MEASURE $1=$2"
	echo "$1=$2" >>"$KUP_LOG_DIR/measure.txt"
}
pass() {
	echo "PASS: ${*:-$KUP_SCENARIO}"
	exit 0
}
skip() {
	echo "SKIP: $*"
	exit 77
}
fail() {
	echo "FAIL: $*"
	if [[ -n ${VM_DIR:-} && -d $VM_DIR ]]; then
		vm_serial_tail 40 || true
		vm_journal fail || true
	fi
	echo "FAIL: $*"
	exit 1
}

KUP_EXIT_HOOKS=()
kup_on_exit() { KUP_EXIT_HOOKS+=("$*"); }
vm__on_exit() {
	local rc=$? h d
	for h in "${KUP_EXIT_HOOKS[@]}"; do eval "$h" || true; done
	for d in "${VM_ALL[@]}"; do
		VM_DIR=$d
		for s in "$d"/session-*/; do
			[[ -d $s ]] && vm_session_close "$(basename "$s" | sed 's/^session-//')"
		done
		vm_kill
		[[ -n ${KUP_KEEP_DISKS:-} ]] || rm -f "$d/disk.qcow2"
	done
	return "$rc"
}
# A command of the scenario itself that fails outside a test (set -e) is a
# failure with a reason: which line, which command (a regex that did not
# match a release with a "+", say), and the console and journal as fail()
# gives them. Functions and $(...) do not inherit it (no set -E): only the
# scenario's own lines.
kup__errexit() { # STATUS LINE COMMAND
	# bash runs an ERR trap under set +e too: only where set -e would exit.
	[[ $- == *e* ]] || return 0
	fail "$(basename "$0"):$2: '$3' exited $1 (set -e)"
}
if [[ -z ${KUP_VM_DETACH:-} ]]; then
	trap 'kup__errexit $? $LINENO "$BASH_COMMAND"' ERR
	trap vm__on_exit EXIT
	trap 'exit 143' TERM
	trap 'exit 130' INT
	trap 'exit 141' PIPE
fi
[[ -n ${KUP_NO_IMAGE:-} ]] || vm_image_ready
