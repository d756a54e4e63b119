#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# docs/ARCHITECTURE.md's file tables name every source file of kupgrade/ (a
# module's header goes with its .c) and no file that is gone. Prints each
# mismatch; exits 1 if there is one.
set -euo pipefail
cd "$(dirname "$0")/.."

doc=docs/ARCHITECTURE.md
bad=0
for f in kupgrade/*.[ch] kupgrade/cli/*.[ch] kupgrade/basic/*.[ch]; do
	[[ $f == *.h && -e ${f%.h}.c ]] && continue
	grep -q "\`$(basename "$f")\`" "$doc" ||
		{ echo "check-architecture: $f is not in $doc's tables" >&2; bad=1; }
done
for name in $(grep -o '`[a-z0-9][a-z0-9-]*\.[ch]`' "$doc" | tr -d '`' | sort -u); do
	[[ -e kupgrade/$name || -e kupgrade/cli/$name || -e kupgrade/basic/$name ]] ||
		{ echo "check-architecture: $doc names $name, which is not in kupgrade/" >&2; bad=1; }
done
((bad == 0)) && echo "check-architecture: $doc's tables match kupgrade/."
exit $bad
