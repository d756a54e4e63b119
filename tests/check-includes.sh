#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The layering of kupgrade/, checked from the #include lines (see
# docs/ARCHITECTURE.md, "The dependency rule"):
#   1. kupgrade/basic/ includes only basic/ (and system headers);
#   2. the domain, kupgrade/*.[ch], includes nothing of the command line:
#      no header of kupgrade/cli/, no "verbs.h", no "args.h";
#   3. no include cycle between modules. A module is foo.c with foo.h (and
#      any foo-*.c that includes foo-internal.h); module A depends on module
#      B when a file of A includes B's header.
# Quoted includes are resolved as the compiler does: the including file's
# directory, then -Ikupgrade -Ikupgrade/basic -Ikupgrade/cli; "*.pb-c.h" are
# generated from images/*.proto.
#
# Usage: tests/check-includes.sh [TREE]   (TREE: the source tree, default
# this script's). Prints every problem and exits 1 if there is one.

set -euo pipefail
shopt -s nullglob

root=${1:-"$(dirname "$0")/.."}
cd "$root"

declare -A module_of   # file -> its module ("plan", "basic/log", "cli/args")
declare -A includes    # "file name" -> 1 for each quoted include
declare -A edge_via    # "A B" -> 'file includes "header"' (A depends on B)
declare -A deps        # A -> space-separated modules A depends on
problems=0

problem() {
	echo "check-includes: $*" >&2
	problems=$((problems + 1))
}

# $REPLY: kupgrade/basic/log.c -> basic/log; kupgrade/plan-build.c ->
# plan-build, or plan when it includes plan-internal.h.
module_name() {
	local f=$1 rel=${1#kupgrade/} dir stem base
	dir=${rel%/*}
	[[ $dir == "$rel" ]] && dir=""
	stem=${rel##*/}
	stem=${stem%.[ch]}
	base=${stem%%-*}
	if [[ $stem == *-internal ]]; then
		stem=${stem%-internal}
	elif [[ $stem == *-* && -n ${includes["$f $base-internal.h"]:-} ]]; then
		stem=$base
	fi
	REPLY=${dir:+$dir/}$stem
}

# $REPLY: the file a quoted include of $2 in file $1 names, "" if none.
resolve() {
	local from=$1 name=$2 d
	for d in "${from%/*}" kupgrade kupgrade/basic kupgrade/cli; do
		if [[ -f $d/$name ]]; then
			REPLY=$d/$name
			# "dir/../x" -> "x", "./x" -> "x": the names module_of knows.
			while [[ $REPLY =~ ^(.*/)?[^/.][^/]*/\.\./(.*)$ ]]; do
				REPLY=${BASH_REMATCH[1]}${BASH_REMATCH[2]}
			done
			REPLY=${REPLY//\/.\//\/}
			return
		fi
	done
	REPLY=""
	[[ $name == *.pb-c.h ]] && REPLY=build/images/$name
	return 0
}

files=(kupgrade/*.[ch] kupgrade/basic/*.[ch] kupgrade/cli/*.[ch])
if [[ ${#files[@]} -eq 0 ]]; then
	echo "check-includes: no sources under $root/kupgrade" >&2
	exit 1
fi
# "file name" per quoted include, in one pass over every file.
mapfile -t lines < <(awk 'match($0, /^[ \t]*#[ \t]*include[ \t]*"[^"]+"/) {
	s = substr($0, RSTART, RLENGTH); sub(/^[^"]*"/, "", s); sub(/"$/, "", s)
	print FILENAME " " s }' "${files[@]}")
for l in "${lines[@]}"; do
	includes[$l]=1
done
for f in "${files[@]}"; do
	module_name "$f"
	module_of[$f]=$REPLY
done

for l in "${lines[@]}"; do
	f=${l%% *}
	name=${l#* }
	a=${module_of[$f]}
	resolve "$f" "$name"
	h=$REPLY
	case $f in
	kupgrade/basic/*)
		if [[ $h != kupgrade/basic/* ]]; then
			problem "basic/ includes only basic/: $f includes \"$name\"${h:+ ($h)}"
		fi ;;
	kupgrade/cli/*) ;;
	*)
		if [[ $h == kupgrade/cli/* || ${name##*/} == verbs.h || ${name##*/} == args.h ]]; then
			problem "the domain does not include the command line: $f includes \"$name\""
		fi ;;
	esac
	[[ -n $h && -n ${module_of[$h]:-} ]] || continue
	b=${module_of[$h]}
	[[ $a != "$b" ]] || continue
	if [[ -z ${edge_via["$a $b"]:-} ]]; then
		edge_via["$a $b"]="$f includes \"$name\""
		deps[$a]="${deps[$a]:-} $b"
	fi
done

# Depth-first search; a dependency on a module still on the stack closes a
# cycle: print it from that module round to itself, with the includes.
declare -A state # module -> "open" while on the stack, "closed" after
stack=()

visit() {
	local a=$1 b i via path
	local -a cycle
	state[$a]=open
	stack+=("$a")
	for b in ${deps[$a]:-}; do
		if [[ ${state[$b]:-} == open ]]; then
			for ((i = 0; i < ${#stack[@]}; i++)); do
				[[ ${stack[i]} == "$b" ]] && break
			done
			cycle=("${stack[@]:i}" "$b")
			via=""
			for ((i = 0; i + 1 < ${#cycle[@]}; i++)); do
				via+="${via:+; }${edge_via["${cycle[i]} ${cycle[i + 1]}"]}"
			done
			path="${cycle[*]}"
			problem "include cycle: ${path// / -> } ($via)"
		elif [[ -z ${state[$b]:-} ]]; then
			visit "$b"
		fi
	done
	unset 'stack[${#stack[@]}-1]'
	state[$a]=closed
}

for a in $(printf '%s\n' "${module_of[@]}" | sort -u); do
	[[ -n ${state[$a]:-} ]] || visit "$a"
done

if ((problems > 0)); then
	echo "check-includes: $problems problem(s); see docs/ARCHITECTURE.md, \"The dependency rule\"." >&2
	exit 1
fi
echo "check-includes: basic/, domain and cli/ layered, no include cycle."
