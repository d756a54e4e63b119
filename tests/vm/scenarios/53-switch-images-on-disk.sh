#!/bin/bash
# kup-cost: 260
# kup-timeout: 1800
# The other way the images cross, for when memory is short: one switch
# with --images-on-disk, typed into an ssh session
# printing a counter. The images cross in /var/lib/kupgrade/images (root
# only, 0700), not in the initrd: the same connection, shell and counter
# survive, the shell prints the new uname -r, the report says transport
# disk, and after the restore the images are wiped from the disk and
# nothing came through /run/kupgrade. /var/lib/kupgrade is a file system of
# its own here (a loop file in fstab), mounted after the generators ran, as
# a separate /var would be: the services are restored all the same.
# Then --detach, as tools switch: a rolled-back switch and one back to the
# first kernel, each told by "kupgrade status --id ID --wait".
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../switch-lib.sh"

DISK=/var/lib/kupgrade/images
WATCH=/var/lib/kup-disk-watch.log
vm_boot "$KV_OLD"
vm_wait_ssh 900 || fail "no ssh after the cold boot"

# A watcher outside every checkpointed unit (left alone by the plan) notes
# what the images directory looks like on disk until the kexec stops it:
# its mode, owner and number of files, each change once, synced.
vm_ssh "printf '\n[plan]\nleave = kup-disk-watch.service\n' >>/etc/kupgrade.conf" ||
	fail "cannot configure the plan"
vm_ssh 'cat >/usr/local/sbin/kup-disk-watch && chmod 0755 /usr/local/sbin/kup-disk-watch' <<EOF ||
#!/bin/bash
prev=
while :; do
	if [ -d $DISK ]; then
		s="\$(stat -c '%a %U:%G' $DISK) files=\$(find $DISK -type f | wc -l) others=\$(find $DISK -perm /o+rwx | wc -l)"
		if [ "\$s" != "\$prev" ]; then
			echo "\$(date +%s.%N) \$s" >>$WATCH
			sync $WATCH
			prev=\$s
		fi
	fi
	sleep 0.1
done
EOF
	fail "cannot install the watcher"
vm_ssh 'systemd-run --quiet --unit=kup-disk-watch /usr/local/sbin/kup-disk-watch' || fail "cannot start the watcher"
vm_ssh "test ! -e $DISK" || fail "$DISK exists before the switch"
vm_ssh 'set -e
	truncate -s 512M /var/kup-late.img
	mkfs.ext4 -q /var/kup-late.img
	mkdir -p /var/lib/kupgrade /mnt/kup-late
	mount -o loop /var/kup-late.img /mnt/kup-late
	cp -a /var/lib/kupgrade/. /mnt/kup-late/
	umount /mnt/kup-late
	echo "/var/kup-late.img /var/lib/kupgrade ext4 loop 0 0" >>/etc/fstab
	systemctl daemon-reload
	mount /var/lib/kupgrade
	findmnt -n /var/lib/kupgrade' || fail "cannot mount /var/lib/kupgrade from a loop file"
# A service to restore through its unit once /var/lib/kupgrade is there.
vm_ssh 'cat >/etc/systemd/system/kup53-counter.service <<"EOF"
[Service]
ExecStart=/bin/bash -c "n=0; while :; do n=$$((n+1)); echo $$n >/run/kup53-counter; sleep 0.5; done"
EOF
	systemctl daemon-reload && systemctl start kup53-counter.service' || fail "cannot start the counter service"

switch_counter_start
switch "$KV_NEW" new --images-on-disk

# On disk during the switch: the watcher saw the directory, root-only, with
# the images in it; the worker and the report say so.
seen=$(vm_ssh "cat $WATCH" 2>/dev/null) || fail "the watcher never saw $DISK during the switch"
info "$DISK during the switch:"; echo "$seen" >&2
last=$(tail -n1 <<<"$seen")
# (The files inside keep the modes CRIU gave them; the directory guards them.)
[[ $last =~ \ 700\ root:root\ files=([0-9]+)\ others=[0-9]+$ ]] ||
	fail "$DISK was not a root-only 0700 directory before the kexec: $last"
((BASH_REMATCH[1] > 0)) || fail "$DISK held no files before the kexec: $last"
grep -v ' 700 root:root ' <<<"$seen" && fail "$DISK was seen with another mode or owner"
# (The client in the session goes quiet before the stage: the worker's
# journal on the old boot says where the images went.)
vm_ssh 'journalctl -b -1 -u kupgrade-upgrade.service --no-pager' >"$KUP_LOG_DIR/worker-journal.txt" 2>&1 || true
grep -q "Staged .* of images on disk in $DISK\." "$KUP_LOG_DIR/worker-journal.txt" ||
	fail "the worker's journal does not say it staged the images in $DISK"
transport=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["transport"])' "$KUP_LOG_DIR/status-new.json")
[[ $transport == disk ]] || fail "the report says transport '$transport', not disk"
grep -q '^  transport: *disk$' "$KUP_LOG_DIR/status-new.txt" || fail "kupgrade status does not say transport disk"
# No initramfs script ran for them: kupgrade-netlock kept the boot's new
# PIDs above the checkpointed ones.
# (With /var/lib/kupgrade mounted late, kupgrade-late-images.service's own
# lock comes first and does it.)
vm_ssh 'journalctl -b -u kupgrade-netlock.service -u kupgrade-late-images.service --no-pager' >"$KUP_LOG_DIR/netlock-journal.txt" 2>&1 || true
grep -q 'New PIDs start above [0-9]*, clear of the checkpointed ones' "$KUP_LOG_DIR/netlock-journal.txt" ||
	fail "neither kupgrade-late-images nor kupgrade-netlock raised ns_last_pid for the images on disk"

# /var/lib/kupgrade came late: the generator saw no images, the late unit
# reloaded systemd once it was mounted, and the services were restored.
vm_ssh 'findmnt -n /var/lib/kupgrade' || fail "/var/lib/kupgrade is not mounted on the new boot"
# (Its state is not the witness: a later reload may look at it again.)
late=$(vm_ssh 'journalctl -b -o cat -u kupgrade-late-images.service --no-pager' 2>&1)
grep -q '^Finished kupgrade-late-images.service' <<<"$late" ||
	fail "kupgrade-late-images.service did not run to its end on the new boot: $late"
vm_ssh 'journalctl -b -o short-precise --no-pager' >"$KUP_LOG_DIR/journal-new-boot.txt" 2>&1 || true
t_mount=$(grep -m1 'Mounted var-lib-kupgrade.mount' "$KUP_LOG_DIR/journal-new-boot.txt" | awk '{print $3}')
t_late=$(grep -m1 'Finished kupgrade-late-images.service' "$KUP_LOG_DIR/journal-new-boot.txt" | awk '{print $3}')
info "/var/lib/kupgrade mounted at $t_mount, kupgrade-late-images.service done at $t_late"
svc=$(python3 -c 'import json, sys
m = json.load(open(sys.argv[1]))
print(" ".join(u["name"] + "=" + u["outcome"] for u in m["units"]
               if u["name"].endswith(".service") and u.get("processes", 0) > 0))' "$KUP_LOG_DIR/status-new.json")
info "services: $svc"
[[ -n $svc ]] || fail "the report names no checkpointed service"
[[ $svc != *=failed* && $svc != *=restarted-fresh* ]] || fail "a service was not restored: $svc"

# After the restore: the images wiped (the directory gone), nothing in /run/kupgrade.
vm_ssh "test ! -e $DISK" || fail "$DISK still exists after the restore: $(vm_ssh "ls -la $DISK")"
vm_ssh 'test ! -e /run/kupgrade' || fail "/run/kupgrade exists: something came through the initrd"
outcome=$(unit_field new outcome)
[[ $outcome == restored || $outcome == restored-new-pidns ]] || fail "the session unit's outcome is '$outcome'"
info "session unit: $outcome $(unit_field new outcome_reason)"
vm_session_send op 'echo "SUM=$((20+22))"\n'
vm_session_expect op 'SUM=42' 60 || fail "the restored shell stopped answering"

switch_counter_check

# The way tools switch: "--detach" in a plain ssh command returns at once
# with the upgrade id, and "status --id ID --wait" tells later how that
# switch ended. First one rolled back by a fault (70, the attempt's record),
# then the switch back to the first kernel (0, its report, asked on the new
# boot).
t0=$(kup_now)
out=$(vm_ssh "KUPGRADE_KEXEC_NO_CHECKS=1 KUPGRADE_FAULT=write-manifest kupgrade --kernel /boot/vmlinuz-$KV_OLD --yes --detach --json") ||
	fail "kupgrade --detach failed: $out"
json_field() { python3 -c 'import json, sys; print(json.loads(sys.argv[1]).get(sys.argv[2]))' "$1" "$2"; }
[[ $(json_field "$out" outcome) == started ]] || fail "--detach --json did not say the switch started: $out"
id=$(json_field "$out" upgrade_id)
info "--detach returned in $(kup_since "$t0") s with upgrade $id"
rc=0
st=$(vm_ssh "kupgrade status --id $id --wait --json") || rc=$?
[[ $rc == 70 && $(json_field "$st" outcome) == rolled-back && $(json_field "$st" upgrade_id) == "$id" ]] ||
	fail "status --id $id --wait after a rolled-back switch: exit $rc, $st"
vm_ssh "$VM_NOTHING_LEFT_SH" || fail "the rolled-back detached switch left something behind"

boot0=$(vm_boot_id)
out=$(vm_ssh "KUPGRADE_KEXEC_NO_CHECKS=1 kupgrade --kernel /boot/vmlinuz-$KV_OLD --yes --detach" 2>&1) ||
	fail "kupgrade --detach failed: $out"
id=$(grep -o '(upgrade [0-9a-f]*) in the background' <<<"$out" | cut -d' ' -f2 | tr -d ')')
[[ -n $id ]] || fail "--detach did not print the upgrade id: $out"
vm_wait_ssh 900 "$boot0" || fail "no new boot after the detached switch $id"
rc=0
st=$(vm_ssh "kupgrade status --id $id --wait --json") || rc=$?
[[ $rc == 0 && $(json_field "$st" upgrade_id) == "$id" && $(json_field "$st" kernel_to) == "$KV_OLD" ]] ||
	fail "status --id $id --wait after the detached switch: exit $rc, $st"
[[ $(vm_ssh uname -r) == "$KV_OLD" ]] || fail "the detached switch did not end on $KV_OLD"
vm_session_send op 'echo "UNAME=$(uname -r)"\n'
vm_session_expect op "UNAME=$(kup_re_quote "$KV_OLD")" 120 || fail "the operator's shell did not follow the detached switch"
pass "images crossed on disk ($DISK, 0700, wiped after restore): session $outcome, same client port $SW_PORT0, counter unbroken; --detach and status --id --wait: a rolled-back switch (70) and a switch back to $KV_OLD (0)"
