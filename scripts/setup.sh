#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what credbroker needs on a fresh Debian machine (when missing),
# finds a Python that has moto and boto3, and builds into ./build.
# Sourced by scripts/demo.sh, scripts/test.sh and .ci/run.
set -euo pipefail

CB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CB_ROOT

# Debian packages: build tools, the chosen libraries, and the real peers
# the tests use (oathtool, the AWS CLI v2).
CB_PACKAGES=(meson ninja-build pkg-config gcc clang libclang-rt-14-dev
  libssl-dev libcurl4-openssl-dev libsodium-dev liboath-dev libcjson-dev
  libexpat1-dev libqrencode-dev oathtool awscli python3 openssl)

cb_install_packages() {
	local missing=()
	for p in "${CB_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "setup: installing Debian packages: ${missing[*]}"
		local sudo=""
		[ "$(id -u)" -eq 0 ] || sudo=sudo
		$sudo apt-get update -qq
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
}

# moto (the local AWS account) and boto3 live in a Python of their own on
# these machines; find the first python3 that imports both.
cb_find_python() {
	local c
	for c in "${CB_PYTHON:-}" python3 /root/.pyenv/shims/python3 /root/.pyenv/versions/*/bin/python3 /usr/bin/python3; do
		[ -n "$c" ] || continue
		command -v "$c" >/dev/null 2>&1 || continue
		if "$c" -c 'import moto, boto3, botocore' >/dev/null 2>&1; then
			CB_PYTHON=$(command -v "$c")
			export CB_PYTHON
			# moto_server and the pip aws v1 live beside that Python.
			PATH="$(dirname "$CB_PYTHON"):$PATH"
			export PATH
			return 0
		fi
	done
	echo "setup: no python3 with moto and boto3 found (set CB_PYTHON)" >&2
	return 1
}

cb_build() {
	local dir=${1:-build}
	shift || true
	cd "$CB_ROOT"
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" -Dpython_for_tests="$CB_PYTHON" >/dev/null
	fi
	meson compile -C "$dir" >/dev/null
}
