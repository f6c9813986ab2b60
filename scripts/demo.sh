#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job, end to end on this machine: a local AWS account (moto, with
# signature and permission checks on), a broker holding its IAM key, a
# consultant enrolled with TOTP, read-only credentials fetched with a code from
# oathtool, the AWS CLI using them through credential_process, and the audit
# log. Everything it starts is stopped at the end; nothing is left running.
# Secrets are masked in what it prints, except the consultant's enrollment URI,
# which an administrator would hand over to the consultant.
#   CB_DEMO_BUILD=DIR   build directory (default: build)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

build=${CB_DEMO_BUILD:-build}
echo "== Installing what is missing and building credbroker into $build/"
cb_install_packages
cb_find_python
cb_build "$build"

AWS_V2=/usr/bin/aws
[ -x "$AWS_V2" ] || AWS_V2=$(command -v aws)

CREDBROKERD="$CB_ROOT/$build/broker/credbrokerd" CREDBROKER="$CB_ROOT/$build/cli/credbroker" \
	AWS_BIN="$AWS_V2" PYTHONPATH="$CB_ROOT/tests/lib" exec "$CB_PYTHON" "$CB_ROOT/scripts/demo.py"
