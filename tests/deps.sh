#!/bin/bash
# Install every Debian package that kupgrade's build, tests and demo need on
# a Debian 12 host. Idempotent: refreshes the package lists only when they
# are missing or older than a day, installs only what is missing. Run as root.
set -euo pipefail

PKGS=(
	# build
	build-essential pkg-config criu protobuf-c-compiler libprotobuf-c-dev
	libmount-dev libsystemd-dev scdoc
	# make format, make format-check
	clang-format
	# unit tests: the initramfs script run by the shell that runs it at boot
	klibc-utils
	# VM bench: guest image build
	debootstrap e2fsprogs cpio zstd coreutils util-linux
	# VM bench: running guests
	qemu-system-x86 qemu-utils openssh-client iproute2 procps
)

if [[ $(id -u) -ne 0 ]]; then
	echo "deps.sh: must run as root (it calls apt-get install)" >&2
	exit 77
fi
if ! command -v apt-get >/dev/null; then
	echo "deps.sh: apt-get not found: this script supports Debian 12 hosts only" >&2
	exit 69
fi

export DEBIAN_FRONTEND=noninteractive

missing=()
for p in "${PKGS[@]}"; do
	[[ $p == \#* ]] && continue
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[[ $st == installed ]] || missing+=("$p")
done

lists_fresh() {
	# Fresh = at least one Release file younger than 24 h.
	[[ -n $(find /var/lib/apt/lists -maxdepth 1 -name '*Release' -mmin -1440 2>/dev/null | head -n1) ]]
}

# The VM image builder asks apt-cache for the newest kernel packages, so the
# lists must be fresh even when nothing is missing.
if ! lists_fresh; then
	echo "deps.sh: package lists missing or older than a day, running apt-get update"
	apt-get update -q
fi

if ((${#missing[@]})); then
	echo "deps.sh: installing ${missing[*]}"
	apt-get install -y -q --no-install-recommends "${missing[@]}"
else
	echo "deps.sh: all ${#PKGS[@]} packages already installed"
fi
