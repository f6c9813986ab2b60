#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The test command: installs what is missing, builds, runs every test
# (unit, fuzz-corpus replay, end-to-end against moto, the AWS CLI and
# botocore), then all of it again under ASan+UBSan, the daemon and the CLI
# included (a leak makes a daemon's exit status non-zero). Ends with
# "N passed, N failed"; exits non-zero when anything failed.
#   --quick       skip the sanitizer pass
#   -- ARGS       extra arguments for meson test (e.g. a test name)
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
set +e

sanitize=1
extra=()
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) sanitize=0 ;;
	--) shift; extra=("$@"); break ;;
	*) echo "usage: scripts/test.sh [--quick] [-- MESON-TEST-ARGS]" >&2; exit 2 ;;
	esac
	shift
done

cb_install_packages || exit 1
cb_find_python || exit 1
cb_build build || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }

logs=()
meson test -C build --print-errorlogs --num-processes 2 "${extra[@]}"
logs+=(build/meson-logs/testlog.json)

if [ "$sanitize" = 1 ]; then
	echo "== every suite again under ASan and UBSan"
	cb_build build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug \
		|| { echo "sanitized build failed"; echo "0 passed, 1 failed"; exit 1; }
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C build-asan --print-errorlogs --num-processes 2 "${extra[@]}"
	logs+=(build-asan/meson-logs/testlog.json)
fi

"$CB_PYTHON" - "${logs[@]}" <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        failed += 1
        continue
    for line in lines:
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed or passed == 0 else 0)
PY
