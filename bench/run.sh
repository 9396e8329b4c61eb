#!/bin/sh
# run.sh - runs every benchmark program of the release build (make bench builds it first).
#
# Builds nothing: `make bench` has already built the release preset into
# build/release. Every executable found in build/release/bench/ is run in
# turn (sutra-bench-store, -net, -ann and -graph today; benchmarks of other
# modules are picked up when they appear), each appending JSON lines to
# bench/results/<name>.jsonl where <name> is the program name without its
# "sutra-bench-" prefix.
# FULL=1 in the environment passes --full (full sizes); extra arguments are
# passed to every program. The exit status is the first failure's, if any.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
bindir="$root/build/release/bench"
results="$root/bench/results"
mkdir -p "$results"

if [ ! -d "$bindir" ]; then
	echo "run.sh: $bindir not found; run 'make bench' (or build the release preset)" >&2
	exit 2
fi
full=""
case "${FULL:-0}" in
0 | "") ;;
*) full="--full" ;;
esac

status=0
found=0
for prog in "$bindir"/sutra-bench-*; do
	if [ ! -f "$prog" ] || [ ! -x "$prog" ]; then
		continue
	fi
	found=1
	name=$(basename "$prog")
	echo "=== $name${full:+ $full}${*:+ $*}"
	"$prog" $full --results "$results/${name#sutra-bench-}.jsonl" "$@"
	rc=$?
	if [ "$rc" -ne 0 ] && [ "$status" -eq 0 ]; then
		status=$rc
	fi
	echo
done
if [ "$found" -eq 0 ]; then
	echo "run.sh: no benchmark programs in $bindir" >&2
	exit 2
fi
exit "$status"
