#!/bin/bash
# kup-cost: 79
# 20-plan-covers-ps: `kupgrade plan --json` in the guest accounts for every
# process `ps -e` lists, exactly once; a live ssh login is a session scope
# decided checkpoint; journald is restarted; PID 1 and kernel threads are
# left; a unit talking to the D-Bus system bus, a PrivateTmp= unit and
# ssh.service with a login not yet authenticated (sshd's sandboxed child) are
# reported with those blockers;
# a malformed /etc/kupgrade.conf is refused with FILE:LINE.
. "$(dirname "$0")/../lib.sh"

vm_boot
vm_wait_ssh 400 || fail "guest ssh did not come up"

# The image carries `make install` of this tree; a bench image built from an
# older tree may lack the verb, so fall back to this tree's build.
KUP=/usr/sbin/kupgrade
if ! vm_ssh "$KUP help 2>/dev/null | grep -qw plan"; then
	[[ -x $KUP_REPO/build/kupgrade ]] || fail "no kupgrade with 'plan' in the guest and no build/kupgrade here"
	vm_scp_to "$KUP_REPO/build/kupgrade" /root/kupgrade
	KUP=/root/kupgrade
fi
info "using $KUP in the guest"

# A login that stays open during the plan: a session scope of its own.
vm_session_open login
vm_session_send login 'echo "SESSION_SHELL=$$"\n'
vm_session_expect login 'SESSION_SHELL=[0-9]+' 30 || fail "no shell pid from the ssh session"
SHELL_PID=$(grep -aoE 'SESSION_SHELL=[0-9]+' "$(vm_session_log login)" | tail -1 | cut -d= -f2)
info "ssh session shell: pid $SHELL_PID"

# A service holding a connection to the system bus: must be blocked.
vm_ssh "systemd-run --unit=kup-t20-dbus python3 -c 'import socket, time
s = socket.socket(socket.AF_UNIX)
s.connect(\"/run/dbus/system_bus_socket\")
time.sleep(3600)'" || fail "cannot start the D-Bus test unit"
# A login that has not authenticated yet (its banner sent, no key exchange):
# sshd's pre-authentication child, sandboxed to one open file, which CRIU
# cannot dump: ssh.service must list it as a blocker.
vm_ssh "systemd-run --unit=kup-t20-preauth python3 -c 'import socket, time
s = socket.create_connection((\"127.0.0.1\", 22))
s.sendall(b\"SSH-2.0-kup20\\r\\n\")
s.recv(256)
time.sleep(3600)'" || fail "cannot start the pre-authentication login"
# A sandboxed service (own mount namespace): criu 3.17 cannot dump it.
vm_ssh "systemd-run --unit=kup-t20-ptmp -p PrivateTmp=yes sleep 3600" || fail "cannot start the PrivateTmp test unit"
sleep 2

# ps, plan, ps: a process must be in the plan if it was alive in both listings.
vm_ssh "set -e
ps -e -o pid= >/tmp/ps1
t0=\$(date +%s.%N)
$KUP plan --json >/tmp/plan.json 2>/tmp/plan.err
t1=\$(date +%s.%N)
ps -e -o pid= >/tmp/ps2
echo \"\$t0 \$t1\" >/tmp/plan.time" || fail "kupgrade plan --json failed: $(vm_ssh cat /tmp/plan.err)"

vm_ssh "SHELL_PID=$SHELL_PID python3 -" <<'PY' || fail "plan does not match ps (see above)"
import json, os, sys

def pids(path):
    return {int(l) for l in open(path) if l.strip()}

ps1, ps2 = pids("/tmp/ps1"), pids("/tmp/ps2")
stable = ps1 & ps2
plan = json.load(open("/tmp/plan.json"))
errors = []

if plan.get("version") != 1:
    errors.append("version is %r, expected 1" % plan.get("version"))

owner = {}
for u in plan["units"]:
    for key in ("name", "kind", "decision", "reason", "forced", "main_pid", "cgroup", "service_type",
                "processes", "roots", "blockers", "externals", "est_image_bytes"):
        if key not in u:
            errors.append("unit %s lacks %s" % (u.get("name"), key))
    unit_pids = {p["pid"] for p in u["processes"]}
    for p in u["processes"]:
        if p["pid"] in owner:
            errors.append("pid %d is in both %s and %s" % (p["pid"], owner[p["pid"]]["name"], u["name"]))
        owner[p["pid"]] = u
    for r in u["roots"]:
        ppid = next(p["ppid"] for p in u["processes"] if p["pid"] == r)
        if ppid in unit_pids:
            errors.append("%s: root %d has its parent %d inside the unit" % (u["name"], r, ppid))
    if not u["roots"]:
        errors.append("%s has no root" % u["name"])

missing = sorted(stable - owner.keys())
if missing:
    errors.append("in ps before and after but not in the plan: %s" % missing)
extra = sorted(owner.keys() - ps1 - ps2)
selfs = [u for u in plan["units"] if u["kind"] == "self"]
self_pids = {p["pid"] for u in selfs for p in u["processes"]}
if len(selfs) != 1 or len(self_pids) != 1:
    errors.append("expected one 'self' unit with kupgrade's process, got %r" % [u["name"] for u in selfs])
unexplained = [p for p in extra if p not in self_pids]

t = plan["totals"]
if t["processes"] != len(owner):
    errors.append("totals.processes %d != %d listed" % (t["processes"], len(owner)))
if t["checkpoint"] + t["restart"] + t["leave"] != len(plan["units"]):
    errors.append("decision counts do not add up to the units")

def unit_of(pid):
    return owner.get(pid, {"name": None, "kind": None, "decision": None})

u = unit_of(1)
if u["kind"] != "init" or u["decision"] != "leave":
    errors.append("PID 1 is in %s (%s, %s), expected init/leave" % (u["name"], u["kind"], u["decision"]))
u = unit_of(2)
if u["kind"] != "kernel" or u["decision"] != "leave":
    errors.append("kthreadd is in %s (%s, %s), expected kernel/leave" % (u["name"], u["kind"], u["decision"]))

shell = int(os.environ["SHELL_PID"])
u = unit_of(shell)
if u["kind"] != "session" or u["decision"] != "checkpoint" or not u["name"].startswith("session-"):
    errors.append("ssh shell %d is in %s (%s, %s), expected a session scope to checkpoint"
                  % (shell, u["name"], u["kind"], u["decision"]))

names = {u["name"]: u for u in plan["units"]}
j = names.get("systemd-journald.service")
if not j or j["decision"] != "restart" or j["kind"] != "service":
    errors.append("systemd-journald.service: %r" % (j and (j["kind"], j["decision"])))
elif j["main_pid"] not in {p["pid"] for p in j["processes"]}:
    errors.append("journald's MainPID %d is not among its processes" % j["main_pid"])
if names.get("ssh.service", {}).get("service_type") != "notify":
    errors.append("ssh.service Type should be notify (Debian bookworm)")
d = names.get("kup-t20-dbus.service")
if not d or d["decision"] != "restart" or not any(
        b.startswith("connected to the D-Bus system bus, which restarts fresh") for b in d["blockers"]):
    errors.append("kup-t20-dbus.service not blocked by its bus connection: %r"
                  % (d and (d["decision"], d["blockers"])))

d = names.get("ssh.service")
if not d or not any("RLIMIT_NOFILE 1," in b for b in d["blockers"]):
    errors.append("ssh.service: its pre-authentication child is no blocker: %r" % (d and d["blockers"]))

d = names.get("kup-t20-ptmp.service")
if not d or d["decision"] != "restart" or not any("own mount namespace" in b for b in d["blockers"]):
    errors.append("kup-t20-ptmp.service not blocked by its mount namespace: %r"
                  % (d and (d["decision"], d["blockers"])))

kinds = {}
for u in plan["units"]:
    kinds[u["kind"]] = kinds.get(u["kind"], 0) + 1
print("units %d (%s), processes %d, threads %d, rss %.1f MiB, est. image %.1f MiB; "
      "stable %d, born/died between listings %d, in plan only %d"
      % (len(plan["units"]), ", ".join("%s %d" % kv for kv in sorted(kinds.items())), t["processes"],
         t["threads"], t["rss_bytes"] / 2**20, t["est_image_bytes"] / 2**20, len(stable),
         len(ps1 ^ ps2), len(unexplained)))
for e in errors:
    print("ERROR:", e)
sys.exit(1 if errors else 0)
PY

read -r t0 t1 < <(vm_ssh cat /tmp/plan.time)
measure plan_json_seconds "$(kup_since "$t0" "$t1")"
measure plan_processes "$(vm_ssh "python3 -c 'import json; print(json.load(open(\"/tmp/plan.json\"))[\"totals\"][\"processes\"])'")"

# The human table runs too.
vm_ssh "$KUP plan >/tmp/plan.txt" || fail "kupgrade plan (table) failed"
vm_ssh "grep -q '^systemd-journald.service .* restart ' /tmp/plan.txt" || fail "table lacks journald/restart"

# A malformed configuration: exit 65, FILE:LINE, nothing printed on stdout.
rc=0
out=$(vm_ssh "printf '[plan]\ncheckpoint = a.service\nrestart a.service\n' >/tmp/bad.conf
$KUP plan --json --config /tmp/bad.conf 2>/tmp/bad.err") || rc=$?
[[ $rc == 65 ]] || fail "malformed config: exit $rc, expected 65"
[[ -z $out ]] || fail "malformed config still printed a plan"
vm_ssh "grep -q '/tmp/bad.conf:3:' /tmp/bad.err" || fail "no FILE:LINE in: $(vm_ssh cat /tmp/bad.err)"

# A forcing configuration is honoured and marked.
vm_ssh "printf '[plan]\ncheckpoint = kup-t20-*.service\n' >/tmp/good.conf
$KUP plan --json --config /tmp/good.conf >/tmp/forced.json" || fail "plan with a valid config failed"
vm_ssh "python3 -c 'import json, sys
u = [u for u in json.load(open(\"/tmp/forced.json\"))[\"units\"] if u[\"name\"] == \"kup-t20-dbus.service\"][0]
sys.exit(0 if u[\"forced\"] and u[\"decision\"] == \"checkpoint\" and \"good.conf:2\" in u[\"reason\"] else 1)'" ||
	fail "config did not force kup-t20-dbus.service to checkpoint"

vm_ssh "systemctl stop kup-t20-dbus.service kup-t20-ptmp.service" || true
vm_session_close login
vm_stop
pass "plan covers every process once; session checkpoint, journald restart, D-Bus blocker, config errors"
