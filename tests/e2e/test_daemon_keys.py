# SPDX-License-Identifier: MIT
"""The broker daemon and its IAM keys, end to end, against moto with
signature checking on:

- `credbroker admin key add` with 'AKID SECRET' and with the JSON of
  create-access-key; `key list` shows name, key id and the IAM user's ARN;
  the secret appears nowhere (CLI output, the daemon's stderr, any file in
  the state dir or audit log: the vault is encrypted); `key remove`.
- a key with a wrong secret, or an unknown key id, is refused with STS's
  reason; a ROOT key (from a local STS stand-in, since moto has none) is
  refused with root_key_refused and nothing is stored (the vault unchanged
  byte for byte).
- a uid not in admins gets not_admin (and cannot even connect while the
  socket keeps its 0660 mode).
- restart keeps the key; a flipped vault byte, or the wrong key file, stop
  `credbrokerd run` with a one-line reason, and the daemon starts again once
  the vault/key is right; `credbrokerd check` names file and field; a second
  `run` on a live socket refuses; SIGHUP adds a profile, and a broken config
  on SIGHUP keeps the old one serving.
"""
import json
import os
import subprocess
import sys

from cbbroker import Broker, CREDBROKERD, check
from cbmoto import Moto
from root_sts_standin import RootStsStandin, ROOT_ARN

NOBODY = 65534


def files_under(*dirs):
    """Regular files (not the socket) under dirs."""
    for d in dirs:
        for root, _, names in os.walk(d):
            for n in names:
                p = os.path.join(root, n)
                if os.path.isfile(p):
                    yield p


def assert_nowhere(secret, b, outputs, what):
    """secret is in no CLI output, not in the daemon's stderr, and in no
    file of the broker's temp dir (state dir, vault, users, audit)."""
    s = secret.encode()
    for o in outputs:
        assert secret not in o, f"{what}: the secret appears in CLI output"
    assert secret not in b.stderr(), f"{what}: the secret appears in the daemon's stderr"
    found = [p for p in files_under(b.tmp) if s in open(p, "rb").read()]
    assert not found, f"{what}: the secret appears in {found}"
    check(True, f"{what}: the secret is in no output, log or file ({len(list(files_under(b.tmp)))} files)")


def main():
    with Moto() as moto:
        iam = moto.client("iam")
        key = moto.create_broker_user("credbroker")
        # A second key of the same IAM user, as `aws iam create-access-key` prints it.
        ak2 = iam.create_access_key(UserName="credbroker")["AccessKey"]
        ak2_json = json.dumps({"AccessKey": {
            "UserName": ak2["UserName"], "AccessKeyId": ak2["AccessKeyId"], "Status": ak2["Status"],
            "SecretAccessKey": ak2["SecretAccessKey"], "CreateDate": ak2["CreateDate"].isoformat()}},
            indent=4)
        role = moto.create_role("ConsultantReadOnly", trusted=key)
        moto.enable_auth()  # from here on every call must be signed by a key moto knows

        profiles = {"consultant-readonly": {"role_arn": role}}
        with Broker(moto, profiles=profiles) as b:
            outputs = []

            def cli(*args, **kw):
                r = b.cli(*args, **kw)
                outputs.extend([r.stdout, r.stderr])
                return r

            r = cli("admin", "key", "list", check=True)
            check("no keys" in r.stdout, "key list on an empty vault says so")

            r = cli("admin", "key", "add", "main",
                    input=f"{key.access_key_id} {key.secret_access_key}\n", check=True)
            check(key.arn in r.stdout and key.access_key_id in r.stdout,
                  f"key add (AKID SECRET form) prints the IAM identity: {r.stdout.strip()}")

            r = cli("admin", "key", "add", "second", input=ak2_json, check=True)
            check(key.arn in r.stdout and ak2["AccessKeyId"] in r.stdout,
                  "key add accepts the create-access-key JSON")

            r = cli("admin", "key", "add", "main",
                    input=f"{key.access_key_id} {key.secret_access_key}", check=False)
            check("(exists)" in r.stderr and r.stderr.count("\n") == 1,
                  f"a second key named main is refused: {r.stderr.strip()}")

            r = cli("admin", "key", "list", check=True)
            lines = r.stdout.splitlines()
            check(any(l.split()[:2] == ["main", key.access_key_id] and key.arn in l for l in lines) and
                  any(l.split()[:2] == ["second", ak2["AccessKeyId"]] and key.arn in l for l in lines),
                  "key list shows name, key id and IAM ARN of both keys")
            keys = json.loads(cli("admin", "key", "list", "--json", check=True).stdout)
            check(sorted(k["name"] for k in keys) == ["main", "second"] and
                  all(set(k) == {"name", "access_key_id", "arn", "account", "added"} for k in keys),
                  "key list --json has exactly name, access_key_id, arn, account, added")
            raw = b.request({"op": "admin.key.list"}, raw=True).decode()
            check(key.secret_access_key not in raw and ak2["SecretAccessKey"] not in raw,
                  "the raw admin.key.list answer holds no secret")

            r = cli("admin", "key", "remove", "second", check=True)
            keys = json.loads(cli("admin", "key", "list", "--json", check=True).stdout)
            check([k["name"] for k in keys] == ["main"], "key remove: only main is left")
            r = cli("admin", "key", "remove", "second", check=False)
            check("(key_unknown)" in r.stderr, f"removing it again: {r.stderr.strip()}")

            # A wrong secret for a real key id: AWS's reason comes back.
            vault_before = open(b.vault, "rb").read()
            wrong = key.secret_access_key[:-4] + ("AAAA" if not key.secret_access_key.endswith("AAAA") else "BBBB")
            r = cli("admin", "key", "add", "bad", input=f"{key.access_key_id} {wrong}", check=False)
            check(r.returncode == 6 and "(sts_denied)" in r.stderr and
                  ("SignatureDoesNotMatch" in r.stderr or "InvalidClientTokenId" in r.stderr) and
                  r.stderr.count("\n") == 1 and wrong not in r.stderr,
                  f"a wrong secret is refused with STS's reason: {r.stderr.strip()}")
            r = cli("admin", "key", "add", "bad", input=f"AKIAXXXXXXXXXXXXXXXX {wrong}", check=False)
            check("(sts_denied)" in r.stderr and "InvalidClientTokenId" in r.stderr,
                  f"an unknown key id is refused: {r.stderr.strip()}")
            check(open(b.vault, "rb").read() == vault_before, "refused keys leave the vault unchanged")

            r = cli("admin", "key", "add", "x", input="just-one-word", check=False)
            check(r.returncode == 1 and "ACCESS_KEY_ID SECRET_ACCESS_KEY" in r.stderr,
                  "stdin without a key pair is refused before the broker is asked")
            r = cli("admin", "key", "add", "x", input="A" * 9000, check=False)
            check(r.returncode == 1 and "more than" in r.stderr and "A" * 20 not in r.stderr,
                  "stdin over the cap is refused, and not echoed")

            # Not an admin. First the socket's own mode keeps other uids out...
            st = os.stat(b.socket)
            check(st.st_mode & 0o777 == 0o660, "the socket is mode 0660")
            r = cli("admin", "key", "list", uid=NOBODY, check=False)
            check("(broker_unreachable)" in r.stderr and "ermission denied" in r.stderr,
                  "uid 65534 cannot connect to the 0660 socket")
            # ...then, with the socket opened up, the daemon's peer-uid check.
            os.chmod(b.socket, 0o666)
            r = cli("admin", "key", "list", uid=NOBODY, check=False)
            check(r.returncode == 5 and "(not_admin)" in r.stderr and "65534" in r.stderr,
                  f"uid 65534 gets not_admin: {r.stderr.strip()}")
            r = cli("admin", "user", "add", "mallory", "--profiles", "consultant-readonly",
                    "--uid", str(NOBODY), uid=NOBODY, check=False)
            check("(not_admin)" in r.stderr, "a non-admin cannot add itself as a user")
            users = json.loads(cli("admin", "user", "list", "--json", check=True).stdout)
            check(users == [], "and no user was added")
            os.chmod(b.socket, 0o660)

            assert_nowhere(key.secret_access_key, b, outputs, "main's secret")
            assert_nowhere(ak2["SecretAccessKey"], b, outputs, "second's secret")

            # The command line: --help everywhere, usage errors are one line and exit 2.
            for args in (("admin", "--help"), ("admin", "key", "add", "--help"), ("admin", "key", "list", "-h"),
                         ("admin", "user", "add", "--help"), ("admin", "user", "unlock", "--help"),
                         ("admin", "revoke-sessions", "--help"), ("admin", "audit", "verify", "--help")):
                r = cli(*args)
                assert r.returncode == 0 and "usage: credbroker admin" in r.stdout and r.stderr == "", args
            check(True, "every admin (sub)command answers --help with exit 0")
            for args in (("admin",), ("admin", "frob"), ("admin", "key", "frob"), ("admin", "key", "remove"),
                         ("admin", "user", "add", "x"), ("admin", "user", "add", "x", "--profiles", "p",
                                                         "--uid", "12ab"), ("admin", "audit", "verify", "x")):
                r = cli(*args)
                assert r.returncode == 2 and r.stderr.count("\n") <= 1 and r.stdout == "", (args, r)
            check(True, "usage errors exit 2 with at most one line on stderr")

            # On a terminal, user add prints the QR code after the URI.
            r = subprocess.run(["script", "-qec", " ".join([b.cli_path(), "--socket", b.socket, "admin", "user",
                                "add", "qrtest", "--profiles", "consultant-readonly", "--uid", "4243"]),
                                "/dev/null"], capture_output=True, text=True, timeout=60)
            out = r.stdout.splitlines()
            check(r.returncode == 0 and out[0].startswith("otpauth://totp/credbroker:qrtest?secret=") and
                  len(out) > 10, f"on a terminal user add prints the URI and a {len(out) - 2}-line QR code")
            cli("admin", "user", "remove", "qrtest", check=True)

            # Restart: the key survives.
            b.restart()
            keys = json.loads(cli("admin", "key", "list", "--json", check=True).stdout)
            check([(k["name"], k["access_key_id"], k["arn"]) for k in keys] ==
                  [("main", key.access_key_id, key.arn)], "after a restart the key is still there")

            # A second broker on the same state refuses (two copies of the TOTP
            # state would accept a code twice), the first keeps serving.
            r = b.run_daemon()
            check(r.returncode != 0 and "another credbrokerd is running on this state directory" in r.stderr
                  and r.stderr.count("\n") == 1, f"a second run on the same state refuses: {r.stderr.strip()}")
            # ...and one with a state of its own on the live socket refuses too.
            other = json.loads(json.dumps(b.config))
            other["state_dir"] = os.path.join(b.tmp, "state2")
            other["audit"] = {"path": os.path.join(b.tmp, "state2", "audit.jsonl")}
            other_path = os.path.join(b.tmp, "other.json")
            with open(other_path, "w") as f:
                json.dump(other, f)
            subprocess.run([CREDBROKERD, "init", "--config", other_path], check=True, capture_output=True)
            r = subprocess.run([CREDBROKERD, "run", "--config", other_path], capture_output=True, text=True,
                               timeout=30)
            check(r.returncode != 0 and "another broker" in r.stderr and r.stderr.count("\n") == 1,
                  f"a second run on a live socket refuses: {r.stderr.strip()}")
            check(b.request({"op": "ping"})["ok"], "the first broker still answers")

            # SIGHUP: a new profile appears.
            r = cli("admin", "user", "add", "bob", "--profiles", "billing", "--uid", "4242", check=False)
            check("(profile_unknown)" in r.stderr, "before the reload there is no billing profile")
            cfg = json.loads(json.dumps(b.config))
            cfg["profiles"]["billing"] = {"role_arn": "arn:aws:iam::123456789012:role/Billing", "key": "main",
                                          "policy_arns": ["arn:aws:iam::aws:policy/AWSBillingReadOnlyAccess"]}
            b.write_config(cfg)
            out = b.reload()
            check("reloaded" in out and "2 profiles" in out, f"SIGHUP reloads: {out.strip()}")
            cli("admin", "user", "add", "bob", "--profiles", "billing", "--uid", "4242", check=True)
            st = b.request({"op": "status", "user": "bob"})
            check(st["ok"] and [g["profile"] for g in st["grants"]] == ["billing"] and
                  st["grants"][0]["role_arn"].endswith("role/Billing"),
                  "the new profile is in status after the reload")

            # A broken config on SIGHUP keeps the old one serving.
            with open(b.config_path, "w") as f:
                f.write('{"state_dir": ')
            out = b.reload()
            check("reload failed" in out and b.config_path in out,
                  f"a broken config on SIGHUP is reported: {out.strip().splitlines()[0]}")
            st = b.request({"op": "status", "user": "bob"})
            check(b.request({"op": "ping"})["ok"] and st["ok"] and st["grants"][0]["role_arn"].endswith("role/Billing"),
                  "and the old config keeps serving")

            # credbrokerd check: a bad field is named with its file.
            bad = json.loads(json.dumps(cfg))
            bad["profiles"]["billing"]["role_arn"] = "not-an-arn"
            bad_path = os.path.join(b.tmp, "bad.json")
            with open(bad_path, "w") as f:
                json.dump(bad, f)
            r = subprocess.run([CREDBROKERD, "check", "--config", bad_path], capture_output=True,
                               text=True, timeout=30)
            check(r.returncode != 0 and bad_path in r.stderr and "profiles.billing.role_arn" in r.stderr,
                  f"check names file and field: {r.stderr.strip()}")
            b.write_config(cfg)
            r = subprocess.run([CREDBROKERD, "check", "--config", b.config_path], capture_output=True,
                               text=True, timeout=30)
            check(r.returncode == 0 and "OK" in r.stdout, "check passes the good config")

            # A flipped byte in the vault: refused at start, with the reason.
            b.stop()
            data = bytearray(open(b.vault, "rb").read())
            mid = len(data) // 2
            data[mid] ^= 0x01
            open(b.vault, "wb").write(bytes(data))
            r = b.run_daemon()
            lines = r.stderr.strip().splitlines()
            check(r.returncode != 0 and len(lines) == 1 and b.vault in lines[0] and
                  ("authentication failed" in lines[0] or "tampered" in lines[0]),
                  f"a flipped vault byte stops the start: {r.stderr.strip()}")
            check(not os.path.exists(b.socket), "and no socket is left")
            data[mid] ^= 0x01
            open(b.vault, "wb").write(bytes(data))
            b.start()
            check(len(json.loads(cli("admin", "key", "list", "--json", check=True).stdout)) == 1,
                  "with the byte restored the broker starts and has the key")

            # The wrong key file: refused likewise.
            b.stop()
            other = os.path.join(b.tmp, "other.key")
            with open(other, "wb") as f:
                f.write(os.urandom(32))
            os.chmod(other, 0o600)
            cfg_other = json.loads(json.dumps(cfg))
            cfg_other["vault"]["key_file"] = other
            b.write_config(cfg_other)
            r = b.run_daemon()
            lines = r.stderr.strip().splitlines()
            check(r.returncode != 0 and len(lines) == 1 and b.vault in lines[0] and
                  ("authentication failed" in lines[0] or "wrong key" in lines[0]),
                  f"the wrong key file stops the start: {r.stderr.strip()}")
            b.write_config(cfg)
            b.start()
            check(b.request({"op": "ping"})["ok"], "with the right key file it starts again")

        # A root key: refused, nothing stored. moto has no root keys, so the
        # STS here is a local stand-in that always answers the root ARN.
        with RootStsStandin() as sts, Broker(sts_endpoint=sts.endpoint, profiles=profiles) as b:
            vault_before = open(b.vault, "rb").read()
            r = b.cli("admin", "key", "add", "root",
                      input="AKIAROOTROOTROOTROOT abcdefghijklmnopqrstuvwxyz0123456789ABCD", check=False)
            check(r.returncode == 1 and "(root_key_refused)" in r.stderr and ROOT_ARN in r.stderr and
                  "root" in r.stderr.split("(root_key_refused)")[0] and r.stderr.count("\n") == 1,
                  f"a root key is refused, saying why: {r.stderr.strip()}")
            check(sts.actions == ["GetCallerIdentity"], "the broker asked STS who the key is")
            check(json.loads(b.cli("admin", "key", "list", "--json", check=True).stdout) == [],
                  "nothing was stored: key list is empty")
            check(open(b.vault, "rb").read() == vault_before, "the vault file is unchanged byte for byte")
            check("abcdefghijklmnopqrstuvwxyz0123456789ABCD" not in b.stderr(),
                  "the root key's secret is not in the daemon's stderr")
    print("daemon-keys: all checks passed")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # one line of context, then the traceback
        print(f"FAIL: {e}", file=sys.stderr)
        raise
