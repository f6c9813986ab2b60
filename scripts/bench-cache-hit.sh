#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The cache-hit benchmark of docs/performance.md: `credbroker
# credential-process PROFILE` served from the session cache, against the floor
# "start a process and read one small file" (cat of that same cache file).
# No broker is needed: a valid session file is written where the CLI looks.
#   scripts/bench-cache-hit.sh [CREDBROKER] [RUNS]
set -euo pipefail
CLI=${1:-build/cli/credbroker}
RUNS=${2:-2000}
command -v hyperfine >/dev/null || { echo "bench: needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/cb-bench-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -m 0700 "$tmp/run" "$tmp/run/credbroker"
socket="$tmp/broker.sock"
# The entry name is BLAKE2b-128 of "broker\0user\0profile\0" (cli/cache.c).
file=$(python3 - "$tmp/run/credbroker" "$socket" <<'PY'
import hashlib, json, os, sys, time
d, broker = sys.argv[1], sys.argv[2]
h = hashlib.blake2b(b"%s\0alice\0ro\0" % broker.encode(), digest_size=16).hexdigest()
exp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 12 * 3600))
s = {"access_key_id": "ASIA" + "X" * 16, "secret_access_key": "s" * 40, "session_token": "T" * 800,
     "expiration": exp, "duration": 43200, "profile": "ro", "role_arn": "arn:aws:iam::123456789012:role/R",
     "assumed_role_arn": "arn:aws:sts::123456789012:assumed-role/R/alice", "region": "eu-west-1",
     "broker": broker, "user": "alice", "code_hash": "0" * 32}
p = os.path.join(d, h + ".json")
fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
os.write(fd, json.dumps(s, separators=(",", ":")).encode())
os.close(fd)
print(p)
PY
)
export XDG_RUNTIME_DIR="$tmp/run"
"$CLI" --socket "$socket" --user alice credential-process ro >/dev/null ||
	{ echo "bench: the cache hit did not work" >&2; exit 1; }
hyperfine -N --warmup 200 --runs "$RUNS" --export-json "$tmp/h.json" \
	"$CLI --socket $socket --user alice credential-process ro" "cat $file" >/dev/null
python3 - "$tmp/h.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
for x in r:
    print(f"{x['command'].split()[0].split('/')[-1]:<12} median {x['median']*1e3:.3f} ms  "
          f"mean {x['mean']*1e3:.3f} ms  user {x['user']*1e3:.2f} ms  sys {x['system']*1e3:.2f} ms")
print(f"ratio (median) {r[0]['median'] / r[1]['median']:.2f}")
PY
