#!/bin/bash
# tests/vm/image.sh OUTDIR
#
# Builds the guest disk for one test run into OUTDIR:
#   OUTDIR/disk.img                   raw ext4 root file system (4G, sparse)
#   OUTDIR/vmlinuz-$KV, initrd.img-$KV for KV_OLD and KV_NEW (qemu -kernel/-initrd)
#   OUTDIR/id_ed25519                 root's ssh key for the guest (0600)
#   OUTDIR/image.env                  KV_OLD, KV_NEW, ... (sourced by lib.sh)
#
# Two stages:
#  1. the base rootfs (debootstrap of the Debian release KUP_DISTRO + two
#     kernel packages), cached under $KUP_CACHE/<distro>-<key>/ (default
#     /var/cache/kupgrade-tests),
#     keyed by a hash of the base-building code of this script, the package
#     lists and the kernel versions, so a warm run never debootstraps again;
#  2. per run (cheap): copy of the cached rootfs, `make install DESTDIR=
#     TEST_HOOKS=1` (the test build) of the work tree this script lives in,
#     update-initramfs for both kernels (so kupgrade's initramfs hooks are in
#     every initrd), mkfs.ext4 -d.
#
# KUP_DISTRO (default bookworm) is the guest's Debian release:
#   bookworm  Debian 12: kernels linux-image-6.1.0-NN-cloud-amd64
#   trixie    Debian 13: kernels linux-image-6.12.NN+deb13-cloud-amd64
# Kernels: the two newest cloud kernels of that release's archive; override
# with KV_OLD=... KV_NEW=...  For the host's own release they are the ones
# the host's apt knows (run `make deps` first); for another release, the
# host's apt sources are read at run time and rewritten for that release into
# a private apt state ($KUP_CACHE/apt-<distro>/, apt -o Dir::State etc.), so
# the host's apt configuration is never changed. debootstrap and the guest
# use the same archive (the host's, for the guest's release); no mirror is
# named here.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${KUP_CACHE:-/var/cache/kupgrade-tests}
KUP_DISTRO=${KUP_DISTRO:-bookworm}
case $KUP_DISTRO in
bookworm)
	SUITE=bookworm
	KERNEL_RE='^linux-image-6\.1\.0-[0-9]+-cloud-amd64$'
	DISTRO_PKGS=()
	;;
trixie)
	SUITE=trixie
	# Release strings hold a '+': 6.12.118+deb13-cloud-amd64.
	KERNEL_RE='^linux-image-6\.12\.[0-9]+\+deb13(\.[0-9]+)?-cloud-amd64$'
	# libcriu.so.2 (kupgrade links it) is no longer in the criu package;
	# e2fsprogs (mkfs.ext4, scenario 53's late /var/lib/kupgrade) is no
	# longer in minbase.
	DISTRO_PKGS=(libcriu2 e2fsprogs)
	;;
*)
	echo "image.sh: KUP_DISTRO=$KUP_DISTRO: unknown (bookworm or trixie)" >&2
	exit 64
	;;
esac
HOST_CODENAME=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")

GUEST_PKGS=(
	systemd systemd-sysv udev dbus libpam-systemd openssh-server
	criu kexec-tools nftables iptables initramfs-tools zstd cpio
	iproute2 procps python3 netbase strace less
	nginx lighttpd
	"${DISTRO_PKGS[@]}"
)
# Daemons the service scenarios start with their own configuration; off
# otherwise, so the other scenarios see the same machine as before.
DISABLED_UNITS=(nginx.service lighttpd.service)
INITRD_MODULES=(virtio_pci virtio_blk virtio_net ext4 crc32c_generic)
# Units that only cost boot time or wake up at random in a test guest.
MASK_UNITS=(
	systemd-networkd-wait-online.service apt-daily.timer
	apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service
	fstrim.timer getty@tty1.service
)

msg() { printf '[image %(%T)T] %s\n' -1 "$*" >&2; }
die() {
	printf 'image.sh: %s\n' "$*" >&2
	exit 1
}
now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# --- chroot mounts, always undone -------------------------------------------
MOUNTS=()
chroot_mount() { # ROOT: proc, sys, dev (not recursive: nothing under /dev/pts)
	local root=$1
	mount -t proc proc "$root/proc" && MOUNTS+=("$root/proc")
	mount -t sysfs sysfs "$root/sys" && MOUNTS+=("$root/sys")
	mount --bind /dev "$root/dev" && MOUNTS+=("$root/dev")
}
bind_mount() { # SRC DST
	mkdir -p "$2"
	mount --bind "$1" "$2" && MOUNTS+=("$2")
}
unmount_all() {
	local i
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}" ||
			echo "image.sh: cannot unmount ${MOUNTS[i]}" >&2
	done
	MOUNTS=()
}
TMP_BASE=
cleanup() {
	unmount_all
	if [[ -n $TMP_BASE && -d $TMP_BASE ]]; then
		rm -rf --one-file-system "$TMP_BASE"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_chroot() { # ROOT CMD...
	local root=$1
	shift
	DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		chroot "$root" "$@"
}

# --- apt sources for the guest's release ----------------------------------------
host_apt_files() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[[ -s $f ]] && echo "$f"
	done
	return 0
}

# The host's Debian entries (suites HOST_CODENAME, HOST_CODENAME-*) rewritten
# for SUITE, one-line format; other repositories are left out.
derive_sources() {
	local files
	mapfile -t files < <(host_apt_files)
	((${#files[@]})) || return 0
	awk -v FROM="$HOST_CODENAME" -v TO="$SUITE" '
	function emit(types, uris, suites, comps, signed,   nt, nu, ns, i, j, k, sfx, opt, T, U, S) {
		nt = split(types, T, /[ \t]+/); nu = split(uris, U, /[ \t]+/); ns = split(suites, S, /[ \t]+/)
		opt = signed != "" ? " [signed-by=" signed "]" : ""
		for (i = 1; i <= nt; i++) {
			if (T[i] != "deb") continue
			for (j = 1; j <= nu; j++) for (k = 1; k <= ns; k++) {
				if (S[k] == FROM) sfx = ""
				else if (index(S[k], FROM "-") == 1) sfx = substr(S[k], length(FROM) + 1)
				else continue
				print "deb" opt " " U[j] " " TO sfx " " comps
			}
		}
	}
	function flush() {
		if (types != "") emit(types, uris, suites, comps, signed)
		types = uris = suites = comps = signed = ""
	}
	FNR == 1 { flush(); deb822 = FILENAME ~ /\.sources$/ }
	/^[ \t]*#/ { next }
	deb822 && /^[ \t]*$/ { flush(); next }
	deb822 {
		key = $1; sub(/:$/, "", key); val = $0; sub(/^[^:]*:[ \t]*/, "", val)
		if (key == "Types") types = val; else if (key == "URIs") uris = val
		else if (key == "Suites") suites = val; else if (key == "Components") comps = val
		else if (key == "Signed-By") signed = val
		next
	}
	$1 == "deb" {
		opts = ""; i = 2
		if ($2 ~ /^\[/) { while (i <= NF) { opts = opts " " $i; if ($i ~ /\]$/) break; i++ }; i++ }
		sb = ""; if (match(opts, /signed-by=[^] ]+/)) sb = substr(opts, RSTART + 10, RLENGTH - 10)
		c = ""; for (j = i + 2; j <= NF; j++) c = c (c == "" ? "" : " ") $j
		emit("deb", $i, $(i + 1), c, sb)
	}
	END { flush() }' "${files[@]}"
}

# apt-cache over the private apt state of SUITE (refreshed once a day).
APT_PRIV=()
private_apt() {
	local d=$CACHE/apt-$SUITE
	mkdir -p "$d/state/lists/partial" "$d/cache/archives/partial" "$d/parts"
	APT_PRIV=(-o "Dir::State=$d/state" -o "Dir::State::status=$d/status" -o "Dir::Cache=$d/cache"
		-o "Dir::Etc::sourcelist=$d/sources.list" -o "Dir::Etc::sourceparts=$d/parts")
	(
		flock 8
		derive_sources >"$d/sources.list.new"
		[[ -s $d/sources.list.new ]] ||
			die "no Debian entry for $HOST_CODENAME in the host's apt sources to derive $SUITE's from; set KV_OLD and KV_NEW"
		touch "$d/status"
		if ! cmp -s "$d/sources.list.new" "$d/sources.list" ||
			[[ -z $(find "$d/state/lists" -maxdepth 1 -name '*Release' -mmin -1440 2>/dev/null | head -n1) ]]; then
			mv "$d/sources.list.new" "$d/sources.list"
			msg "apt-get update of $SUITE's package lists in $d (the host's apt is untouched)"
			apt-get -q "${APT_PRIV[@]}" update >"$d/update.log" 2>&1 || {
				tail -n 20 "$d/update.log" >&2
				die "apt-get update for $SUITE failed"
			}
		fi
		rm -f "$d/sources.list.new"
	) 8>"$d.lock" || exit 1
}

# --- kernel choice ------------------------------------------------------------
pick_kernels() {
	if [[ -n ${KV_OLD:-} && -n ${KV_NEW:-} ]]; then
		[[ $KV_OLD != "$KV_NEW" ]] || die "KV_OLD and KV_NEW are both $KV_OLD: they must differ"
		return
	fi
	local kvs
	[[ $SUITE == "$HOST_CODENAME" ]] || private_apt
	mapfile -t kvs < <(apt-cache "${APT_PRIV[@]}" search --names-only "$KERNEL_RE" |
		awk '{ sub(/^linux-image-/, "", $1); print $1 }' | sort -V | tail -n 2)
	((${#kvs[@]} == 2)) ||
		die "apt knows fewer than two $SUITE cloud kernels ($KERNEL_RE); run 'make deps' (it refreshes the package lists) or set KV_OLD and KV_NEW"
	KV_OLD=${kvs[0]} KV_NEW=${kvs[1]}
}

# --- stage 1: the cached base rootfs -----------------------------------------
copy_host_apt_sources() { # ROOT
	local root=$1 f k found=0
	if [[ $SUITE != "$HOST_CODENAME" ]]; then
		# Another release than the host's: its entries, rewritten.
		derive_sources >"$TMP_BASE/sources.list"
		if [[ -s $TMP_BASE/sources.list ]]; then
			rm -f "$root/etc/apt/sources.list.d/debian.sources"
			install -D -m 0644 "$TMP_BASE/sources.list" "$root/etc/apt/sources.list"
		else
			msg "host has no Debian apt sources to derive $SUITE's from; keeping debootstrap's"
		fi
		for k in $(grep -oE 'signed-by=[^] ]+' "$root/etc/apt/sources.list" | sed 's/^signed-by=//' | sort -u); do
			[[ -f $k && ! -e $root$k ]] && install -D -m 0644 "$k" "$root$k"
		done
		return 0
	fi
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[[ -s $f ]] || continue
		grep -qE '^[[:space:]]*(deb|Types:)' "$f" || continue
		found=1
	done
	if ((found == 0)); then
		msg "host has no apt sources; keeping debootstrap's"
		return
	fi
	rm -f "$root/etc/apt/sources.list"
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[[ -s $f ]] || continue
		install -D -m 0644 "$f" "$root$f"
	done
	for f in /etc/apt/trusted.gpg /etc/apt/trusted.gpg.d/* /etc/apt/keyrings/*; do
		[[ -f $f ]] && install -D -m 0644 "$f" "$root$f"
	done
	# Keyrings named by Signed-By that the guest does not have yet.
	for k in $(grep -rhoE '(Signed-By:|signed-by=)[[:space:]]*/[^] ]+' \
		"$root/etc/apt/sources.list" "$root/etc/apt/sources.list.d/" 2>/dev/null |
		sed -E 's/^(Signed-By:|signed-by=)[[:space:]]*//' | sort -u); do
		[[ -f $k && ! -e $root$k ]] && install -D -m 0644 "$k" "$root$k"
	done
	return 0
}

configure_guest() { # ROOT
	local root=$1 u
	echo kupgrade-guest >"$root/etc/hostname"
	printf '127.0.0.1\tlocalhost\n127.0.1.1\tkupgrade-guest\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
		>"$root/etc/hosts"
	printf '/dev/vda\t/\text4\trw,errors=remount-ro\t0\t0\n' >"$root/etc/fstab"
	# The guest sends nothing anywhere: no name server.
	rm -f "$root/etc/resolv.conf"
	: >"$root/etc/resolv.conf"

	mkdir -p "$root/etc/systemd/network"
	cat >"$root/etc/systemd/network/10-virtio.network" <<-'EOF'
		[Match]
		Type=ether
		Name=en* eth*

		[Network]
		Address=10.0.2.15/24
		Gateway=10.0.2.2
		LinkLocalAddressing=no
		IPv6AcceptRA=no
	EOF
	systemctl --root="$root" enable systemd-networkd.service >/dev/null 2>&1
	for u in "${MASK_UNITS[@]}"; do
		systemctl --root="$root" mask "$u" >/dev/null 2>&1
	done
	for u in "${DISABLED_UNITS[@]}"; do
		systemctl --root="$root" disable "$u" >/dev/null 2>&1
	done
	# Persistent journal, so vm_journal can show the boots before a kexec.
	mkdir -p "$root/var/log/journal"

	mkdir -p "$root/etc/ssh/sshd_config.d"
	cat >"$root/etc/ssh/sshd_config.d/kupgrade-tests.conf" <<-'EOF'
		PermitRootLogin prohibit-password
		PasswordAuthentication no
		UseDNS no
	EOF
	install -d -m 0700 "$root/root/.ssh"
	install -m 0600 "$TMP_BASE/id_ed25519.pub" "$root/root/.ssh/authorized_keys"

	# The tests decide when to kexec; kexec-tools must not load on reboot.
	printf 'LOAD_KEXEC=false\nUSE_GRUB_CONFIG=false\n' >"$root/etc/default/kexec"

	# Small initrds: only the drivers a virtio guest needs (about 5 MB).
	sed -i 's/^MODULES=.*/MODULES=list/' "$root/etc/initramfs-tools/initramfs.conf"
	printf '%s\n' "${INITRD_MODULES[@]}" >"$root/etc/initramfs-tools/modules"
}

build_base() { # KEYDIR
	local dst=$1 t rootfs
	TMP_BASE=$dst.tmp.$$
	rootfs=$TMP_BASE/rootfs
	rm -rf --one-file-system "$TMP_BASE"
	# Downloaded packages, one directory per release.
	local debs=$CACHE/debs
	[[ $SUITE == bookworm ]] || debs=$CACHE/debs-$SUITE
	mkdir -p "$TMP_BASE" "$debs"
	ssh-keygen -q -t ed25519 -N '' -C kupgrade-tests -f "$TMP_BASE/id_ed25519"
	chmod 0600 "$TMP_BASE/id_ed25519"

	t=$(now)
	msg "debootstrap $SUITE (minbase + ${#GUEST_PKGS[@]} packages) into $rootfs"
	local inc
	inc=$(
		IFS=,
		echo "${GUEST_PKGS[*]}"
	)
	# The archive the host's apt sources name (debootstrap's default if none).
	local mirror
	mirror=$(derive_sources | awk -v s="$SUITE" '{ for (i = 2; i < NF; i++) if ($i ~ /^[a-z]+:\/\// && $(i + 1) == s) { print $i; exit } }')
	debootstrap --variant=minbase --include="$inc" --cache-dir="$debs" \
		"$SUITE" "$rootfs" ${mirror:+"$mirror"} >"$TMP_BASE/debootstrap.log" 2>&1 || {
		tail -n 30 "$TMP_BASE/debootstrap.log" >&2
		die "debootstrap failed (full log above the tail: $TMP_BASE/debootstrap.log)"
	}
	msg "debootstrap: $(since "$t") s"

	t=$(now)
	echo force-unsafe-io >"$rootfs/etc/dpkg/dpkg.cfg.d/kupgrade-build-unsafe-io"
	configure_guest "$rootfs"
	copy_host_apt_sources "$rootfs"
	chroot_mount "$rootfs"
	bind_mount "$debs" "$rootfs/var/cache/apt/archives"
	cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
	in_chroot "$rootfs" apt-get -q update >"$TMP_BASE/apt.log" 2>&1 &&
		in_chroot "$rootfs" apt-get -q -y --no-install-recommends install \
			"linux-image-$KV_OLD" "linux-image-$KV_NEW" >>"$TMP_BASE/apt.log" 2>&1 || {
		tail -n 30 "$TMP_BASE/apt.log" >&2
		die "installing linux-image-$KV_OLD and linux-image-$KV_NEW in the guest failed"
	}
	unmount_all
	: >"$rootfs/etc/resolv.conf"
	rm -f "$rootfs/etc/dpkg/dpkg.cfg.d/kupgrade-build-unsafe-io"
	rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
	[[ -f $rootfs/boot/vmlinuz-$KV_OLD && -f $rootfs/boot/vmlinuz-$KV_NEW ]] ||
		die "kernel images missing in the guest after install (see $TMP_BASE/apt.log)"
	msg "kernels $KV_OLD and $KV_NEW: $(since "$t") s"

	printf 'KV_OLD=%s\nKV_NEW=%s\nbuilt=%(%F %T)T\n' "$KV_OLD" "$KV_NEW" -1 >"$TMP_BASE/base.env"
	mv "$TMP_BASE" "$dst"
	TMP_BASE=
}

# Drop cached bases not used for three days (other keys come from other
# versions of this script, e.g. other work trees).
prune_cache() {
	local d
	for d in "$CACHE"/*/; do
		d=${d%/}
		[[ -f $d/base.env && $d != "$1" ]] || continue
		if [[ -z $(find "$d/last-used" -mmin -4320 2>/dev/null) ]]; then
			msg "pruning unused cached base $d"
			rm -rf --one-file-system "$d"
		fi
	done
}

# --- stage 2: the per-run disk -------------------------------------------------
prepare_run() { # BASEDIR OUTDIR
	local base=$1 out=$2 t rootfs=$2/rootfs kv
	t=$(now)
	rm -rf --one-file-system "$rootfs"
	cp -a "$base/rootfs" "$rootfs"
	install -m 0600 "$base/id_ed25519" "$out/id_ed25519"
	msg "copied the cached rootfs: $(since "$t") s"

	# TEST_HOOKS=1: the scenarios inject faults (KUPGRADE_FAULT, ...), which
	# only a test build reads (docs/fault-injection.md).
	msg "make install DESTDIR=$rootfs TEST_HOOKS=1 (from $REPO)"
	# One make at a time in the work tree: two image builds at once (both
	# releases, tests/vm/suite.sh) compiled the same objects into the same
	# files, and a guest got a kupgrade that dumped nothing and said nothing.
	mkdir -p "$REPO/build"
	flock "$REPO/build/.make.lock" \
		make -s -C "$REPO" install DESTDIR="$rootfs" TEST_HOOKS=1 >"$out/make-install.log" 2>&1 || {
		tail -n 30 "$out/make-install.log" >&2
		die "make install into the guest rootfs failed"
	}
	[[ $(head -c 4 "$rootfs/usr/sbin/kupgrade" | od -An -c | tr -d ' ') == '177ELF' ]] ||
		die "the kupgrade installed into the guest rootfs is not an ELF program"

	chroot_mount "$rootfs"
	in_chroot "$rootfs" update-initramfs -u -k all >"$out/update-initramfs.log" 2>&1 || {
		tail -n 30 "$out/update-initramfs.log" >&2
		die "update-initramfs in the guest rootfs failed"
	}
	unmount_all
	msg "make install + update-initramfs: $(since "$t") s"
	for kv in "$KV_OLD" "$KV_NEW"; do
		cp "$rootfs/boot/vmlinuz-$kv" "$rootfs/boot/initrd.img-$kv" "$out/"
	done

	rm -f "$out/disk.img"
	mkfs.ext4 -q -F -L kupgrade-root -d "$rootfs" "$out/disk.img" 4G ||
		die "mkfs.ext4 -d $rootfs failed"
	rm -rf --one-file-system "$rootfs"

	cat >"$out/image.env" <<-EOF
		KV_OLD=$KV_OLD
		KV_NEW=$KV_NEW
		KUP_IMAGE_DIR=$out
		KUP_IMAGE_KEY=$KEY
		KUP_DISTRO=$KUP_DISTRO
		KUP_IMAGE_REV=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)
	EOF
	msg "per-run disk $out/disk.img: $(since "$t") s (initrds: $(du -h "$out"/initrd.img-* | awk '{ printf "%s ", $1 }'))"
}

main() {
	local out=${1:-}
	[[ -n $out ]] || die "usage: image.sh OUTDIR"
	[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap, chroot, mount)"
	for c in debootstrap mkfs.ext4 ssh-keygen make apt-cache; do
		command -v "$c" >/dev/null || die "$c not found; run 'make deps' first"
	done
	mkdir -p "$out" "$CACHE"
	out=$(cd "$out" && pwd)

	pick_kernels
	# The key covers what goes into the base (not the per-run stage).
	KEY=$({
		declare -f build_base configure_guest copy_host_apt_sources
		declare -f derive_sources
		declare -p SUITE GUEST_PKGS INITRD_MODULES MASK_UNITS DISABLED_UNITS
		echo "$KV_OLD $KV_NEW"
	} | sha256sum | cut -c1-16)
	# The distro in the name: a base per release, easy to tell apart.
	KEY=$KUP_DISTRO-$KEY
	local base=$CACHE/$KEY t
	t=$(now)

	# One builder per key; concurrent runs wait and then share the result.
	exec 9>"$CACHE/$KEY.lock"
	flock 9
	if [[ -f $base/base.env ]]; then
		msg "cached base $base (kernels $KV_OLD, $KV_NEW)"
	else
		msg "no cached base for key $KEY: building (cold, about 2 min)"
		build_base "$base"
		msg "cold base build: $(since "$t") s"
	fi
	touch "$base/last-used"
	prune_cache "$base"
	flock -u 9
	prepare_run "$base" "$out"
	msg "image ready in $(since "$t") s: $out"
}

main "$@"
