#!/bin/bash
# kup-timeout: 3300
# An unprivileged local user (mallory, with ssh sessions of her own) tries to
# gain something from what kupgrade does as root; none of it may work:
#  (1) kupgrade run by her refuses every verb that acts, before doing
#      anything, with exit 77 and a message saying root is needed; plan
#      refuses the same way, check says "not root" (exit 2), status works
#      read-only; nothing is frozen, locked, loaded or written;
#  (2) a huge allocation in her session, to push the images out of memory:
#      refused by the preflight before anything is frozen; the same
#      allocation made only once the worker has started (after its plan):
#      the switch fails and rolls back, or goes on in memory; the images
#      never go to disk;
#  (3) between the worker's plan and the dump, the small tmpfs file her
#      session holds (which kupgrade carries across the kexec) is swapped
#      for a symlink to /etc/shadow, its directory for a symlink to an
#      identical copy, or the file for a FIFO: each switch is refused and
#      rolled back, nothing of /etc/shadow is carried, the FIFO hangs
#      nothing;
#  (4) on the new kernel, before the restore, a process of hers plants
#      symlinks (to /etc, to /etc/FILE) and a FIFO where her carried files
#      are put back, in /dev/shm and in her /run/user/UID: those sessions'
#      restore is refused, no file is created where she points, her other
#      session comes back with its files, her owner and modes;
#  (5) the images are readable only by root at every moment: watchers (one
#      as root checking modes and owners, one as mallory trying to read)
#      run through the switch, a copy of the staged initrd is parsed for the
#      modes and owners of its image entries, and the images are wiped after
#      the restore.
# Her first session (ma) is dumped before the attacking one (m0), so every
# rollback also restores a session of hers in place.
# Attempts (3) and the late allocation run with KUPGRADE_FAULT=kexec: should
# an attack not be refused, the switch still stops at its last phase and
# rolls back (and the scenario fails) instead of switching.
# One kernel switch in all; the other attempts roll back before the kexec.
export KUP_VM_LIFETIME=${KUP_VM_LIFETIME:-3600}
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../switch-lib.sh"

U=mallory
K=/boot/vmlinuz-$KV_NEW
# Checks that fail are collected and reported together at the end, so one
# run shows every attack's outcome.
FAILED=()
check_failed() {
	info "CHECK FAILED: $*"
	FAILED+=("$*")
}

vm_boot "$KV_OLD"
vm_wait_ssh 900 || fail "no ssh after the cold boot"

# --- the user, her tools, the watchers ------------------------------------------
vm_ssh "set -e
	useradd -m -s /bin/bash $U
	install -d -m 0700 -o $U -g $U ~$U/.ssh
	install -m 0600 -o $U -g $U /root/.ssh/authorized_keys ~$U/.ssh/authorized_keys
	printf '\n[plan]\nleave = kup-watch-*.service\n' >>/etc/kupgrade.conf
	touch /var/tmp/hostile-t0" || fail "cannot create the user $U"
UID_U=$(vm_ssh "id -u $U")
R=/run/user/$UID_U

# Her sessions source it, so that what she starts stays in the session's
# process tree (children of her shell); the planter unit runs it.
vm_ssh 'cat >/usr/local/bin/kup-hostile && chmod 0755 /usr/local/bin/kup-hostile' <<'EOF' || fail "cannot install kup-hostile"
#!/bin/bash
# kup-hostile: what an unprivileged user does (scenario 55). ". kup-hostile"
# defines hx; "hx ACTION [ARGS]" runs one; "kup-hostile ACTION" as a command.
hx_log() { echo "$(date +%s.%N) $*" >>"$HOME/attack.log"; }
# A process of this session holds each FILE open (fds 3...).
hx_hold() {
	local redir="" i=3 f
	for f; do
		redir+=" $i<'$f'"
		i=$((i + 1))
	done
	eval "( exec $redir; exec sleep 100000 ) &"
	echo $! >>"$HOME/pids"
}
# In the background: CMD once the worker has started (its images
# directory appears after its plan, before any dump).
hx_after_plan() {
	(
		while [ ! -e /run/kupgrade-images ]; do sleep 0.02; done
		sh -c "$1"
		hx_log "DONE $1"
	) &
	echo $! >>"$HOME/pids"
}
hx_grow() { # MiB late|now: private anonymous memory, touched
	python3 - "$1" "$2" "$HOME/grown" <<'PY' &
import ctypes, mmap, os, sys, time
n = int(sys.argv[1]) << 20
m = mmap.mmap(-1, n, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
if sys.argv[2] == "late":
    while not os.path.exists("/run/kupgrade-images"):
        time.sleep(0.02)
ctypes.memset(ctypes.addressof(ctypes.c_char.from_buffer(m)), 1, n)
with open(sys.argv[3], "w") as f:
    f.write("%d MiB at %.3f\n" % (n >> 20, time.time()))
time.sleep(10**7)
PY
	echo $! >>"$HOME/pids"
}
hx() {
	local R=/run/user/$(id -u) p
	case $1 in
	stop) # end every process started above, remove the files
		# (Each by its PID: her shell may run other jobs, a watcher.)
		for p in $(cat "$HOME/pids" 2>/dev/null); do
			kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
		done
		rm -rf "$HOME/pids" "$HOME/grown" "$R"/hx-* /dev/shm/hx-*
		;;
	swap-leaf) # the held file becomes a symlink to a root-only file
		echo leaf >"$R/hx-leaf"
		hx_hold "$R/hx-leaf"
		hx_after_plan "mv $R/hx-leaf $R/hx-leaf.orig && ln -s /etc/shadow $R/hx-leaf"
		;;
	swap-dir) # its directory becomes a symlink to an identical directory
		mkdir "$R/hx-dir" && echo dir >"$R/hx-dir/f"
		hx_hold "$R/hx-dir/f"
		hx_after_plan "mv $R/hx-dir $R/hx-dir.real && ln -s hx-dir.real $R/hx-dir"
		;;
	swap-fifo) # the held file becomes a FIFO
		echo fifo >"$R/hx-fifo"
		hx_hold "$R/hx-fifo"
		hx_after_plan "mv $R/hx-fifo $R/hx-fifo.orig && mkfifo $R/hx-fifo"
		;;
	grow-now | grow-late)
		hx_grow "$2" "${1#grow-}"
		;;
	carry-ok) # files carried and put back as they are: the control
		mkdir -p /dev/shm/hx-ok && chmod 0750 /dev/shm/hx-ok
		echo ok1 >/dev/shm/hx-ok/f && chmod 0640 /dev/shm/hx-ok/f
		echo ok2 >"$R/hx-ok" && chmod 0600 "$R/hx-ok"
		hx_hold /dev/shm/hx-ok /dev/shm/hx-ok/f "$R/hx-ok"
		;;
	carry-pb-dir) # put back below a directory she will turn into a symlink to /etc
		mkdir /dev/shm/hx-pb-dir && echo pb-dir >/dev/shm/hx-pb-dir/kup-hostile-f
		hx_hold /dev/shm/hx-pb-dir/kup-hostile-f
		;;
	carry-pb-leaf) # put back where she will plant a symlink to /etc/kup-hostile-leaf
		echo pb-leaf >/dev/shm/hx-pb-leaf
		hx_hold /dev/shm/hx-pb-leaf
		;;
	carry-pb-fifo) # put back where she will plant a FIFO
		echo pb-fifo >/dev/shm/hx-pb-fifo
		hx_hold /dev/shm/hx-pb-fifo
		;;
	carry-pb-run) # in her /run/user/UID, below a directory she will make a symlink to /etc
		mkdir "$R/hx-pb" && echo pb-run >"$R/hx-pb/kup-hostile-f"
		hx_hold "$R/hx-pb/kup-hostile-f"
		;;
	plant) # on the new boot, before the restore (kup-hostile-plant.service)
		ln -s /etc /dev/shm/hx-pb-dir && hx_log "PLANTED /dev/shm/hx-pb-dir -> /etc"
		ln -s /etc/kup-hostile-leaf /dev/shm/hx-pb-leaf &&
			hx_log "PLANTED /dev/shm/hx-pb-leaf -> /etc/kup-hostile-leaf"
		mkfifo /dev/shm/hx-pb-fifo && hx_log "PLANTED FIFO /dev/shm/hx-pb-fifo"
		ln -s /etc "$R/hx-pb" && hx_log "PLANTED $R/hx-pb -> /etc"
		;;
	*)
		echo "hx: unknown action $1" >&2
		return 64
		;;
	esac
}
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	hx "$@"
	exit 0
fi
EOF

# Watchers, left alone by the plan (kup-watch-*.service): until the kexec
# stops them, one as root notes every mode and owner under the places the
# images go, and parses the staged initrd; one as mallory tries to read them.
vm_ssh 'cat >/usr/local/bin/kup-watch-root && chmod 0755 /usr/local/bin/kup-watch-root' <<'EOF' || fail "cannot install the root watcher"
#!/usr/bin/python3
# Scenario 55: modes and owners of everything holding images, every 0.2 s.
import os, re, stat, sys, time
out = open(sys.argv[1], "a", buffering=1)
TOPS = ["/run/kupgrade-images", "/run/kupgrade-stage", "/var/lib/kupgrade/images",
        "/var/lib/kupgrade/pending.manifest", "/run/log/kupgrade", "/run/kupgrade-upgrade"]
HDR = re.compile(rb"070701([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})[0-9A-F]{72}kupgrade-images")
noted, samples, initrd = set(), 0, None
def note(line):
    if line not in noted:
        noted.add(line)
        out.write("%.3f %s\n" % (time.time(), line))
def look(p, top):
    try:
        st = os.lstat(p)
    except OSError:
        return
    mode = stat.S_IMODE(st.st_mode)
    if top:
        # What guards the rest: root's, and nobody else's.
        ok = st.st_uid == 0 and (mode & 0o077) == 0
        note("%s %s %04o uid=%d" % ("TOP" if ok else "VIOLATION", p, mode, st.st_uid))
    elif st.st_uid != 0:
        note("VIOLATION %s uid=%d" % (p, st.st_uid))
    elif mode & 0o077:
        note("INNER-OPEN-MODE %04o (e.g. %s)" % (mode, p))
def parse(fd):
    data = b""
    while True:
        chunk = os.read(fd, 1 << 24)
        if not chunk:
            break
        data += chunk
    n = bad = 0
    for m in HDR.finditer(data):
        n += 1
        mode, uid, gid = int(m.group(2), 16), int(m.group(3), 16), int(m.group(4), 16)
        if uid or gid or (stat.S_ISDIR(mode) and mode & 0o077):
            bad += 1
    note("INITRD bytes=%d entries=%d bad=%d" % (len(data), n, bad))
while True:
    for top in TOPS:
        look(top, True)
        if os.path.isdir(top):
            for d, dirs, files in os.walk(top):
                for x in dirs + files:
                    look(os.path.join(d, x), False)
    p = "/run/kupgrade-stage/initrd.img"
    if initrd is None and os.path.exists(p):
        try:
            initrd = os.open(p, os.O_RDONLY)
            st = os.fstat(initrd)
            note("STAGED %s %04o uid=%d" % (p, stat.S_IMODE(st.st_mode), st.st_uid))
            if st.st_uid != 0 or stat.S_IMODE(st.st_mode) & 0o077:
                note("VIOLATION %s" % p)
            size = -1
            while size != os.fstat(initrd).st_size:
                size = os.fstat(initrd).st_size
                time.sleep(1)
            parse(initrd)
        except OSError as e:
            note("INITRD error %s" % e)
    samples += 1
    if samples % 25 == 0:
        out.write("%.3f SAMPLES %d\n" % (time.time(), samples))
    time.sleep(0.2)
EOF
vm_ssh 'cat >/usr/local/bin/kup-watch-user && chmod 0755 /usr/local/bin/kup-watch-user' <<'EOF' || fail "cannot install the user watcher"
#!/bin/bash
# Scenario 55: what an unprivileged user can read of the images, every 0.2 s.
out=$1
n=0
while :; do
	for p in /run/kupgrade-images /run/kupgrade-stage /run/kupgrade /var/lib/kupgrade/images \
		/run/log/kupgrade /run/kupgrade-upgrade /var/lib/kupgrade/reports; do
		[ -d "$p" ] && ls "$p" >/dev/null 2>&1 && echo "$(date +%s.%N) READ-DIR $p" >>"$out"
	done
	for p in /run/kupgrade-images/manifest /run/kupgrade/manifest /run/kupgrade-stage/initrd.img \
		/var/lib/kupgrade/pending.manifest /var/lib/kupgrade/reports/last; do
		[ -e "$p" ] && head -c1 "$p" >/dev/null 2>&1 && echo "$(date +%s.%N) READ $p" >>"$out"
	done
	for f in $(find /run/kupgrade-images /run/kupgrade /run/kupgrade-stage -type f -readable 2>/dev/null | head -3); do
		echo "$(date +%s.%N) READ $f" >>"$out"
	done
	n=$((n + 1))
	((n % 25)) || echo "$(date +%s.%N) SAMPLES $n" >>"$out"
	sleep 0.2
done
EOF

# Nothing may be left behind by a refused or rolled back switch.
clean_state() {
	vm_ssh '
		set -e
		[ "$(cat /sys/kernel/kexec_loaded)" = 0 ] || { echo "a kernel is still loaded"; exit 1; }
		! nft list table inet kupgrade >/dev/null 2>&1 || { echo "the lock table remains"; exit 1; }
		! nft list tables | grep -q CRIU || { echo "a CRIU lock table remains"; exit 1; }
		[ ! -e /run/kupgrade-images ] || { echo "images remain in /run/kupgrade-images"; exit 1; }
		[ ! -e /var/lib/kupgrade/images ] || { echo "images went to /var/lib/kupgrade/images"; exit 1; }
		[ ! -e /run/kupgrade-stage/initrd.img ] || { echo "a staged initrd remains"; exit 1; }
		[ ! -e /var/lib/kupgrade/pending.manifest ] || { echo "a pending manifest remains"; exit 1; }
		for s in /proc/[0-9]*/status; do
			st=$(awk "/^State:/ {print \$2}" "$s" 2>/dev/null) || continue
			[ "$st" != T ] || { echo "stopped: $s"; exit 1; }
		done
		! grep -lx 1 $(find /sys/fs/cgroup -name cgroup.freeze) || { echo "a frozen cgroup"; exit 1; }
		sha256sum -c /var/tmp/hostile-shadow.sum >/dev/null || { echo "/etc/shadow changed"; exit 1; }
	'
}
vm_ssh 'sha256sum /etc/shadow >/var/tmp/hostile-shadow.sum' || fail "cannot record /etc/shadow"

switch_counter_start
OPLOG=$SW_LOG

# --- (1) kupgrade run by the user --------------------------------------------------
vm_ssh "runuser -u $U -- mkdir -p /tmp/hx-from" || fail "cannot make the user's directory"
# verb and arguments; expected exit (a regex); what the message must say (a regex)
while IFS=';' read -r args want msg; do
	[[ -n $args ]] || continue
	out=$(vm_ssh "cd /tmp && runuser -u $U -- kupgrade $args 2>&1 </dev/null; echo \"RC=\$?\"" </dev/null) || true
	rc=$(sed -n 's/^RC=//p' <<<"$out" | tail -n1)
	text=$(grep -v '^RC=' <<<"$out" | tr '\n' ' ')
	info "as $U: kupgrade $args -> exit $rc: $text"
	[[ $rc =~ ^($want)$ ]] || check_failed "as $U, 'kupgrade $args' exited $rc, not $want: $text"
	grep -qiE "$msg" <<<"$text" || check_failed "as $U, 'kupgrade $args' does not say /$msg/: $text"
done <<EOF
--kernel $K --yes;77;must run as root
upgrade --kernel $K --yes;77;must run as root
checkpoint --to /tmp/hx-ckpt;77;must run as root
restore;77;must run as root
restore --from /tmp/hx-from;77;must run as root
lock --from /tmp/hx-from;77;must run as root
stage --from /tmp/hx-from --kernel $K;77;must run as root
restore-unit --from /tmp/hx-from ssh.service;77;must run as root
upgrade-worker --kernel $K;77;must run as root
plan;77;must run as root
check --kernel $K;2;not running as root
status;0|77;no kernel switch has been reported|permission denied
EOF
out=$(clean_state) || check_failed "kupgrade run by $U left state behind: $out"
vm_ssh 'test ! -e /tmp/hx-ckpt && test ! -e /run/kupgrade.lock && test ! -e /run/kupgrade-stage &&
	! systemctl is-active -q kupgrade-upgrade.service' ||
	check_failed "kupgrade run by $U created something"

# Her sessions: "ma" only is (dumped first, so every rollback below also
# restores a session in place), "m0" is where she does the rest.
VM_SESSION_USER=$U vm_session_open ma
VM_SESSION_USER=$U vm_session_open m0
# What a session printed after byte OFFSET of its log, its lines joined:
# tsline cuts a line in two when its end comes over a second later (seen
# under load: "R" / "C_alloc-late=70"), and every wait must see only what
# the command it waits for printed.
log_size() { stat -c %s "$(vm_session_log "$1")"; }
joined_since() { tail -c +$(($2 + 1)) "$(vm_session_log "$1")" | sed 's/^[^|]*| //' | tr -d '\r\n'; }
expect_since() { # NAME OFFSET REGEX TIMEOUT
	local t0=$SECONDS
	until joined_since "$1" "$2" | grep -aqE -- "$3"; do
		if ((SECONDS - t0 >= $4)); then
			echo "expect_since: '$3' not seen in session $1 within $4 s; its log tail:" >&2
			tail -n 20 "$(vm_session_log "$1")" >&2
			return 1
		fi
		sleep 0.5
	done
}
UA_N=0
uattack() { # SESSION ACTION...: typed into her session, waited for
	local s=$1 off
	shift
	UA_N=$((UA_N + 1))
	off=$(log_size "$s")
	vm_session_send "$s" ". kup-hostile; hx $*; echo \"DONE_\$((40+2))_$UA_N\"\n"
	expect_since "$s" "$off" "DONE_42_$UA_N" 120 || fail "hx $* did not finish in session $s"
}
# op_switch TAG [ENV...]: kupgrade typed into the operator's session with
# the images in memory; sets RC (its exit) and SECS, and the worker's
# journal of this attempt in $KUP_LOG_DIR/worker-TAG.txt.
op_switch() {
	local tag=$1 t0 since off
	shift
	since=$(vm_ssh 'date +%s')
	t0=$(kup_now)
	off=$(log_size op)
	vm_session_send op "$* KUPGRADE_KEXEC_NO_CHECKS=1 kupgrade --kernel $K --yes; echo \"RC_$tag=\$?\"\n"
	expect_since op "$off" "RC_$tag=[0-9]" 900 || fail "kupgrade never returned ($tag)"
	SECS=$(kup_since "$t0")
	RC=$(joined_since op "$off" | grep -aoE "RC_$tag=[0-9]+" | tail -n1 | cut -d= -f2)
	vm_ssh "journalctl --since @$since --no-pager -o cat" >"$KUP_LOG_DIR/worker-$tag.txt" 2>&1 || true
	measure "attempt_${tag//-/_}_s" "$SECS"
}
alive_after() { # TAG: the operator's counter and the user's session still run
	local before
	before=$(grep -ac ' tick ' "$OPLOG")
	sleep 2
	(($(grep -ac ' tick ' "$OPLOG") > before)) || check_failed "$1: the operator's counter stopped"
	for s in ma m0; do
		off=$(log_size $s)
		vm_session_send $s "echo \"ALIVE_\$((40+2))_$1\"\n"
		expect_since $s "$off" "ALIVE_42_$1" 60 || check_failed "$1: the user's session $s stopped answering"
	done
}

# --- (2) a huge allocation ------------------------------------------------------
run_avail=$(vm_ssh "df -B1M --output=avail /run | tail -n1 | tr -d ' '")
mem_avail=$(vm_ssh "awk '/^MemAvailable/ {print int(\$2/1024)}' /proc/meminfo")
big=$((run_avail + 256))
info "/run has $run_avail MiB free, $mem_avail MiB available: the user takes $big MiB"
((big + 600 < mem_avail)) || fail "cannot size the allocation: /run $run_avail MiB, memory $mem_avail MiB"
measure user_alloc_mib "$big"
uattack m0 grow-now "$big"
off=$(log_size m0)
vm_session_send m0 'until [ -s ~/grown ]; do sleep 0.5; done; cat ~/grown\n'
expect_since m0 "$off" "$big MiB at" 300 || fail "the user's allocation did not finish"
out=$(vm_ssh "KUPGRADE_KEXEC_NO_CHECKS=1 kupgrade check --kernel $K 2>&1; echo RC=\$?") || true
info "check with $big MiB allocated: $(tr '\n' ' ' <<<"$out")"
grep -q '^RC=2$' <<<"$out" || check_failed "kupgrade check did not refuse with exit 2 under the allocation"
op_switch alloc
info "switch with $big MiB allocated: exit $RC in $SECS s"
[[ $RC == 2 ]] || check_failed "the switch under a $big MiB allocation exited $RC, not 2 (refused by the preflight)"
grep -aqE 'images|MiB' <(tail -n 40 "$OPLOG") || check_failed "the refusal does not say why (images, MiB)"
grep -qi 'started kupgrade-upgrade' "$KUP_LOG_DIR/worker-alloc.txt" && check_failed "a worker started under the allocation"
out=$(clean_state) || check_failed "the refused switch (allocation) left state behind: $out"
alive_after alloc
uattack m0 stop

# The allocation made only once the worker runs, after its plan: the dump
# cannot fit in /run; the switch must roll back (or go on in memory, which
# the fault at its last phase then rolls back); never the disk.
uattack m0 grow-late "$big"
op_switch alloc-late KUPGRADE_FAULT=kexec
grown=$(vm_ssh "cat ~$U/grown 2>/dev/null" || true)
[[ -n $grown ]] || check_failed "the late allocation was never made (did the worker reach its dump?)"
info "switch with $big MiB allocated after the plan ($grown): exit $RC in $SECS s"
grep -E 'rror|refus|fail|MiB' "$KUP_LOG_DIR/worker-alloc-late.txt" | grep -i kupgrade | tail -n 8 >&2 || true
[[ $RC != 0 ]] || check_failed "the switch under a late allocation exited 0 despite KUPGRADE_FAULT=kexec"
if grep -qi "phase 'kexec'" "$KUP_LOG_DIR/worker-alloc-late.txt"; then
	info "late allocation: the dump went on in memory; stopped by the injected fault"
	measure late_alloc_outcome 1
else
	info "late allocation: the switch failed before the kexec phase and rolled back"
	measure late_alloc_outcome 0
fi
out=$(clean_state) || check_failed "the switch with a late allocation left state behind: $out"
vm_ssh "test \$(df -B1M --output=avail /run | tail -n1) -ge $((run_avail - 64))" ||
	check_failed "/run did not get its space back after the late allocation"
alive_after alloc-late
uattack m0 stop

# --- (3) carried files swapped between the plan and the dump ----------------------
for attack in swap-leaf swap-dir swap-fifo; do
	uattack m0 "$attack"
	op_switch "$attack" KUPGRADE_FAULT=kexec
	w=$KUP_LOG_DIR/worker-$attack.txt
	info "$attack: exit $RC in $SECS s; $(grep -a 'refusing to carry' "$w" | head -n1)"
	vm_ssh "grep -q 'DONE mv' ~$U/attack.log" || check_failed "$attack: the swap was not made before the dump"
	[[ $RC == 70 ]] || check_failed "$attack: the switch exited $RC, not 70 (refused and rolled back)"
	grep -qi "phase 'kexec'" "$w" && check_failed "$attack: the swapped file did not stop the switch (it reached the kexec phase)"
	grep -q "refusing to carry $R/hx-" "$w" || check_failed "$attack: the worker does not say it refused to carry the file"
	grep -q 'hx-' <(grep 'carrying' "$w") && check_failed "$attack: the worker carried the swapped file"
	out=$(clean_state) || check_failed "$attack left state behind: $out"
	alive_after "$attack"
	uattack m0 stop
	vm_ssh "rm -f ~$U/attack.log"
done

# --- (4), (5): the switch ----------------------------------------------------------
# Her sessions: m0 (control: files carried and put back as they are, and a
# watcher reading as her through the switch), m1..m4 (files her planted
# links and FIFO will meet at the put-back).
uattack m0 carry-ok
vm_session_send m0 "kup-watch-user ~/watch-session.log &\n"
i=1
for what in pb-dir pb-leaf pb-fifo pb-run; do
	VM_SESSION_USER=$U vm_session_open "m$i"
	uattack "m$i" "carry-$what"
	i=$((i + 1))
done
vm_ssh "cat >/etc/systemd/system/kup-hostile-plant.service && systemctl daemon-reload && systemctl enable -q kup-hostile-plant.service" <<EOF || fail "cannot install the planter"
# Test only (scenario 55): a process of $U that runs on the boot after a
# switch before the restore (as a lingering user's could), in /dev/shm and in
# her /run/user/$UID_U (made as user-runtime-dir@ would make it).
[Unit]
Description=kupgrade test: an unprivileged user plants links before the restore
DefaultDependencies=no
ConditionPathExists=/run/kupgrade/manifest
After=local-fs.target kupgrade-netlock.service
Before=kupgrade-restore.service shutdown.target
Conflicts=shutdown.target

[Service]
Type=oneshot
User=$U
ExecStartPre=+/bin/sh -c 'mkdir -p /run/user && install -d -m 0700 -o $U -g $U $R'
ExecStart=/usr/local/bin/kup-hostile plant

[Install]
WantedBy=kupgrade-restore.service
EOF
vm_ssh "rm -f /var/tmp/kup-watch-root.log ~$U/watch-service.log
	systemd-run --quiet --unit=kup-watch-root /usr/local/bin/kup-watch-root /var/tmp/kup-watch-root.log &&
	systemd-run --quiet --uid=$U --unit=kup-watch-user /usr/local/bin/kup-watch-user ~$U/watch-service.log" ||
	fail "cannot start the watchers"
plan=$(vm_ssh 'kupgrade plan 2>/dev/null')
grep -q 'kup-watch-root.service.*leave' <<<"$plan" || fail "the root watcher is not left alone by the plan"
# (The plan's exit status does not matter here, its document does.)
ncarried=$(vm_ssh 'kupgrade plan --json 2>/dev/null || true' | python3 -c '
import json, sys
p = json.load(sys.stdin)
units = p["units"] if isinstance(p, dict) else p
print(sum(1 for u in units if u["decision"] == "checkpoint"
          for e in u.get("externals", []) if "tmpfs" in e.get("what", "")))') || ncarried="none (no plan)"
info "the plan carries $ncarried files on a tmpfs"
# m0: a directory and two files; m1..m4: one file each.
[[ $ncarried =~ ^[0-9]+$ ]] && ((ncarried >= 7)) || fail "the plan carries $ncarried tmpfs files, not the 7 of the user's sessions"

boot0=$(vm_boot_id)
t0=$(kup_now)
off=$(log_size op)
vm_session_send op "KUPGRADE_KEXEC_NO_CHECKS=1 kupgrade --kernel $K --yes; echo \"RC_switch=\$?\"\n"
waited=0
until vm_serial_time 'Run /init as init process' "$t0" >/dev/null; do
	((waited++ < 1800)) || fail "the new kernel never started"
	vm_alive || fail "qemu died"
	sleep 0.5
done
expect_since op "$off" 'RC_switch=[0-9]' 1500 || fail "kupgrade never returned in the operator's session"
vm_wait_ssh 600 "$boot0" || fail "no ssh after the switch"
measure switch_total_s "$(kup_since "$t0")"
[[ $(vm_ssh uname -r) == "$KV_NEW" ]] || fail "the kernel did not change"
RC=$(joined_since op "$off" | grep -aoE 'RC_switch=[0-9]+' | tail -n1 | cut -d= -f2)
info "the switch exited $RC"
vm_ssh 'journalctl -b -o cat --no-pager -u kupgrade-restore.service -u kupgrade-netlock.service -u kup-hostile-plant.service' \
	>"$KUP_LOG_DIR/restore-journal.txt" 2>&1 || true
vm_ssh 'kupgrade status --json' >"$KUP_LOG_DIR/status.json" 2>/dev/null || check_failed "kupgrade status --json failed"
vm_ssh "cat ~$U/attack.log" >"$KUP_LOG_DIR/attack-newboot.txt" 2>&1 || true
info "planted on the new boot:"
cat "$KUP_LOG_DIR/attack-newboot.txt" >&2
grep -c PLANTED "$KUP_LOG_DIR/attack-newboot.txt" | grep -qx 4 || check_failed "the planter did not plant all four links before the restore"

# Nothing created where she pointed, nothing of hers anywhere as root.
vm_ssh 'test ! -e /etc/kup-hostile-f && test ! -e /etc/kup-hostile-leaf' ||
	check_failed "a file was created in /etc through her links"
vm_ssh "find /etc /root /var/lib -newer /var/tmp/hostile-t0 \( -name 'kup-hostile-f' -o -name 'kup-hostile-leaf' -o -name 'hx-*' \) | grep ." &&
	check_failed "a file of hers was written outside her directories"
# Each attacked session refused at the put-back, the reason in the journal.
outcomes=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(" ".join(u["name"]+"="+u["outcome"] for u in m["units"]))' "$KUP_LOG_DIR/status.json") ||
	check_failed "kupgrade status --json is not JSON"
info "outcomes: $outcomes"
for p in /dev/shm/hx-pb-dir /dev/shm/hx-pb-leaf /dev/shm/hx-pb-fifo $R/hx-pb; do
	grep -q "refusing to put back $p" "$KUP_LOG_DIR/restore-journal.txt" ||
		check_failed "the restore does not say it refused to put back $p"
done
nfailed=$(grep -o '=failed' <<<"$outcomes" | wc -l)
measure sessions_refused_at_put_back "$nfailed"
((nfailed == 4)) || check_failed "$nfailed units failed, not the 4 attacked sessions"
[[ $RC == 70 ]] || check_failed "the switch exited $RC, not 70 (units failed)"
# The planted things are as she left them: links still links, FIFO a FIFO.
vm_ssh "test -L /dev/shm/hx-pb-dir && test -L /dev/shm/hx-pb-leaf && test -p /dev/shm/hx-pb-fifo && test -L $R/hx-pb" ||
	check_failed "something replaced her planted links"
# The control session: back, its files with her owner, modes and contents.
off=$(log_size op)
vm_session_send op 'echo "UNAME=$(uname -r)"\n'
expect_since op "$off" "UNAME=$KV_NEW" 120 || check_failed "the operator's shell is not on the new kernel"
off=$(log_size m0)
vm_session_send m0 "echo \"M0_\$((40+2))_\$(uname -r)\"\n"
expect_since m0 "$off" "M0_42_$KV_NEW" 120 || check_failed "the user's control session did not come back"
got=$(vm_ssh "stat -c '%n %U:%G %a' /dev/shm/hx-ok /dev/shm/hx-ok/f $R/hx-ok; cat /dev/shm/hx-ok/f $R/hx-ok" | tr '\n' ' ')
info "control files: $got"
[[ $got == "/dev/shm/hx-ok $U:$U 750 /dev/shm/hx-ok/f $U:$U 640 $R/hx-ok $U:$U 600 ok1 ok2 " ]] ||
	check_failed "the control session's files did not come back as they were: $got"

# The images: gone after the restore; root-only all along.
vm_ssh 'test -z "$(ls -A /run/kupgrade 2>/dev/null)" && test ! -e /var/lib/kupgrade/images && test ! -e /run/kupgrade-images' ||
	check_failed "images are left after the restore"
vm_ssh 'journalctl -b -1 -o cat --no-pager' >"$KUP_LOG_DIR/old-boot-journal.txt" 2>&1 || true
vm_ssh 'cat /var/tmp/kup-watch-root.log' >"$KUP_LOG_DIR/watch-root.txt" 2>&1 || true
vm_ssh "cat ~$U/watch-service.log ~$U/watch-session.log" >"$KUP_LOG_DIR/watch-user.txt" 2>&1 || true
info "root watcher:"
grep -v SAMPLES "$KUP_LOG_DIR/watch-root.txt" >&2 || true
rsamples=$(grep -o 'SAMPLES [0-9]*' "$KUP_LOG_DIR/watch-root.txt" | tail -n1 | cut -d' ' -f2)
usamples=$(grep -o 'SAMPLES [0-9]*' "$KUP_LOG_DIR/watch-user.txt" | awk '{s += $2} END {print s + 0}')
measure root_watch_samples "${rsamples:-0}"
grep -q VIOLATION "$KUP_LOG_DIR/watch-root.txt" && check_failed "an image path was not root-only: $(grep VIOLATION "$KUP_LOG_DIR/watch-root.txt" | head -n3)"
grep -q 'TOP /run/kupgrade-images 0700 uid=0' "$KUP_LOG_DIR/watch-root.txt" || check_failed "the root watcher never saw /run/kupgrade-images (0700, root)"
grep -q 'TOP /run/kupgrade-stage 0700 uid=0' "$KUP_LOG_DIR/watch-root.txt" || check_failed "the root watcher never saw /run/kupgrade-stage (0700, root)"
init=$(grep -o 'INITRD bytes=[0-9]* entries=[0-9]* bad=[0-9]*' "$KUP_LOG_DIR/watch-root.txt" | tail -n1)
[[ $init =~ entries=([0-9]+)\ bad=0$ ]] && ((BASH_REMATCH[1] > 0)) ||
	check_failed "the staged initrd was not seen with root-owned image entries: '${init:-not seen}'"
grep -q 'STAGED /run/kupgrade-stage/initrd.img 0600 uid=0' "$KUP_LOG_DIR/watch-root.txt" || check_failed "the staged initrd was not 0600 root"
measure user_watch_samples "$usamples"
((usamples > 0)) || check_failed "the user's watchers took no sample"
grep -q READ "$KUP_LOG_DIR/watch-user.txt" && check_failed "the user could read images: $(grep READ "$KUP_LOG_DIR/watch-user.txt" | head -n3)"
out=$(vm_ssh "runuser -u $U -- kupgrade status 2>&1; echo RC=\$?") || true
info "as $U after the switch: kupgrade status: $(tr '\n' ' ' <<<"$out")"
grep -q '^RC=77$' <<<"$out" || check_failed "the report was not refused to $U (it is root's)"

switch_counter_check
if ((${#FAILED[@]})); then
	printf '  - %s\n' "${FAILED[@]}" >&2
	fail "${#FAILED[@]} check(s) failed (above)"
fi
pass "non-root kupgrade refused; a $big MiB allocation refused by the preflight; 3 swaps of carried files refused and rolled back; 4 planted put-back traps refused, the control session and its files back; images root-only ($rsamples root / $usamples user samples), wiped"
