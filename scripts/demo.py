# SPDX-License-Identifier: MIT
"""The demo's walk-through (run by scripts/demo.sh after set-up and build, and
by the test suite as the `demo` test): moto as the AWS account, a broker, a
consultant enrolled with TOTP, read-only credentials, the AWS CLI through
credential_process, the audit log. Needs CREDBROKERD, CREDBROKER and tests/lib on
PYTHONPATH; AWS_BIN names the aws to use (default: Debian's v2)."""
import datetime, json, os, re, shutil, signal, socket, subprocess, sys, tempfile, time
from cbbroker import deadline_poll
from cbmoto import Moto

CREDBROKERD = os.environ["CREDBROKERD"]
CREDBROKER = os.environ["CREDBROKER"]
AWS = os.environ.get("AWS_BIN") or ("/usr/bin/aws" if os.path.exists("/usr/bin/aws") else shutil.which("aws"))
ROOT = os.environ.get("CB_ROOT") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = re.compile(r'("?(SecretAccessKey|SessionToken|secret_access_key|session_token|'
                    r'AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN)"?\s*[:=]\s*["\']?)([^"\',\s]+)')


def answers(path):
    """Does a broker accept connections on the unix socket path?"""
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(path)
        return True
    except OSError:
        return False


def say(text):
    print(f"\n== {text}", flush=True)


def mask(text):
    return SECRET.sub(lambda m: m.group(1) + m.group(3)[:4] + "…(hidden)", text)


def run(args, shown=None, input=None, env=None, check=True, quiet=False):
    """Run a command, echoing it like a shell would, with secrets masked."""
    print("$ " + (shown or " ".join(args)), flush=True)
    r = subprocess.run(args, input=input, env=env, capture_output=True, text=True, timeout=120)
    if not quiet:
        for line in (r.stdout + r.stderr).splitlines():
            print("    " + mask(line))
    if check and r.returncode != 0:
        sys.exit(f"demo: that failed (exit {r.returncode}); see above")
    return r


work = tempfile.mkdtemp(prefix="credbroker-demo-")
# The CLI's session cache lives in $XDG_RUNTIME_DIR/credbroker; give the demo
# its own, which the AWS CLI's credential_process child inherits.
os.environ["XDG_RUNTIME_DIR"] = os.path.join(work, "run")
os.makedirs(os.environ["XDG_RUNTIME_DIR"], mode=0o700)
broker = None
try:
    say("1. A local AWS account: moto on a loopback port, standing in for AWS")
    with Moto(load_managed_policies=True) as moto:
        print(f"moto listens at {moto.endpoint}")
        key = moto.create_broker_user("credbroker")
        role = moto.create_role("ConsultantReadOnly", trusted=key)
        moto.allow_assume(key, role)
        moto.enable_auth()
        print(f"As the AWS administrator we created the IAM user {key.arn} with an access key\n"
              f"({key.access_key_id}; its secret is never shown), and the role {role}, whose trust\n"
              "policy lets that user assume it and set a SourceIdentity. From now on moto checks\n"
              "every request's signature and the caller's IAM permissions, as AWS does.")

        say("2. The broker's configuration: one profile, read-only, narrowed further")
        cfg_path = os.path.join(work, "credbroker.json")
        cfg = {
            "state_dir": os.path.join(work, "state"),
            "socket": os.path.join(work, "broker.sock"),
            "admins": [os.getuid()],
            "vault": {"key_file": os.path.join(work, "vault.key")},
            "aws": {"region": "us-east-1", "sts_endpoint": moto.endpoint, "iam_endpoint": moto.endpoint},
            "audit": {"path": os.path.join(work, "state", "audit.jsonl")},
            "profiles": {"consultant-readonly": {
                "role_arn": role,
                "key": "main",
                "policy_arns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
                "policy": os.path.join(ROOT, "policies", "deny-secret-data.json"),
                "confidential_buckets": ["payroll-exports"],
                "max_duration": "1h",
                "source_identity": True,
            }},
        }
        with open(cfg_path, "w") as f:
            json.dump(cfg, f, indent=2)
        print(json.dumps(cfg["profiles"], indent=2))
        print("The session will be ReadOnlyAccess minus secret data (policies/deny-secret-data.json),\n"
              "with every S3 action on the payroll-exports bucket denied, for at most one hour.")
        run([CREDBROKERD, "check", "--config", cfg_path], "credbrokerd check --config credbroker.json")

        say("3. Initialise the broker: a state directory (0700) and an empty encrypted vault")
        run([CREDBROKERD, "init", "--config", cfg_path, "--key-file", cfg["vault"]["key_file"]],
            "credbrokerd init --config credbroker.json --key-file vault.key")

        say("4. Start the broker (in the background for this demo; normally under systemd)")
        print("$ credbrokerd run --config credbroker.json &")
        log = open(os.path.join(work, "broker.log"), "w+")
        broker = subprocess.Popen([CREDBROKERD, "run", "--config", cfg_path], stderr=log)
        cli = [CREDBROKER, "--socket", cfg["socket"]]
        deadline_poll(lambda: broker.poll() is not None or answers(cfg["socket"]), 20,
                      "the broker's socket")
        if broker.poll() is not None:
            log.seek(0)
            sys.exit("demo: the broker did not start:\n" + log.read())
        print(f"serving on {cfg['socket']}")

        say("5. The administrator gives the broker its IAM key. STS says whose key it is;\n"
            "   a root-account key would be refused here.")
        run(cli + ["admin", "key", "add", "main"], "credbroker admin key add main  < key.txt",
            input=f"{key.access_key_id} {key.secret_access_key}\n")
        run(cli + ["admin", "key", "list"], "credbroker admin key list")

        say("6. Enroll the consultant 'alice': bound to this machine's uid, read-only, for 30 days")
        until = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
        r = run(cli + ["admin", "user", "add", "alice", "--profiles", "consultant-readonly",
                       "--uid", str(os.getuid()), "--expires", until],
                f"credbroker admin user add alice --profiles consultant-readonly --uid {os.getuid()} "
                f"--expires {until}", quiet=True)
        uri = next(l for l in r.stdout.splitlines() if l.startswith("otpauth://"))
        print("    " + uri)
        print("Alice scans this URI (a QR code on a terminal) into her authenticator app.\n"
              "It holds her TOTP secret: the only copy besides the broker's encrypted vault.")
        secret = re.search(r"secret=([A-Z2-7]+)", uri).group(1)

        say("7. Alice fetches read-only credentials: her uid is the first factor, a TOTP code the second")
        code = subprocess.run(["oathtool", "--totp", "-b", secret], capture_output=True, text=True,
                              check=True).stdout.strip()
        print(f"$ oathtool --totp -b <secret>      # her authenticator app shows: {code}")
        run(cli + ["--user", "alice", "get", "consultant-readonly", "--code", code],
            f"credbroker --user alice get consultant-readonly --code {code}")
        print("The broker assumed the role with alice as RoleSessionName and SourceIdentity, the session\n"
              "policy above, a one-hour limit, and wrote an audit record before answering.")

        say("8. A stolen code is worth nothing: each TOTP time step is accepted once, ever.\n"
            "   (Wipe the cached session first, so the code really goes to the broker.)")
        run(cli + ["--user", "alice", "logout"], "credbroker --user alice logout")
        run(cli + ["--user", "alice", "get", "consultant-readonly", "--code", code],
            f"credbroker --user alice get consultant-readonly --code {code}", check=False)
        code2 = subprocess.run(["oathtool", "--totp", "-b", secret, "-N", "now + 30 seconds"],
                               capture_output=True, text=True, check=True).stdout.strip()
        print(f"The next code ({code2}) works:")
        run(cli + ["--user", "alice", "get", "consultant-readonly", "--code", code2, "--format", "env"],
            f"credbroker --user alice get consultant-readonly --code {code2} --format env")

        say("9. The AWS CLI uses the broker through credential_process (no keys in ~/.aws)")
        home = os.path.join(work, "home")
        os.makedirs(os.path.join(home, ".aws"))
        stanza = run(cli + ["--user", "alice", "aws-config", "consultant-readonly", "--region", "us-east-1"],
                     "credbroker --user alice aws-config consultant-readonly --region us-east-1 "
                     ">> ~/.aws/config").stdout
        with open(os.path.join(home, ".aws", "config"), "w") as f:
            f.write(stanza)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(HOME=home, AWS_CONFIG_FILE=os.path.join(home, ".aws", "config"),
                   AWS_SHARED_CREDENTIALS_FILE=os.path.join(home, ".aws", "credentials"))
        run([AWS, "sts", "get-caller-identity", "--profile", "consultant-readonly",
             "--endpoint-url", moto.endpoint],
            f"aws sts get-caller-identity --profile consultant-readonly --endpoint-url {moto.endpoint}",
            env=env)
        print("The AWS CLI got the session from credbroker's cache (no second code needed) and AWS\n"
              "sees the assumed role with alice's name on it.")

        say("10. The audit log: one JSON line per action, chained with a keyed MAC")
        with open(cfg["audit"]["path"]) as f:
            for line in f:
                rec = json.loads(line)
                short = {k: rec[k] for k in ("seq", "time", "event", "user", "profile", "duration",
                                            "access_key_id", "outcome", "reason", "detail") if k in rec}
                print("    " + json.dumps(short))
        run(cli + ["admin", "audit", "verify"], "credbroker admin audit verify")

        say("11. Stopping the broker and moto")
        broker.send_signal(signal.SIGTERM)
        broker.wait(timeout=20)
        print(f"credbrokerd exited with status {broker.returncode}")
        broker = None
    print("\nDemo finished. To run credbroker against real AWS, read docs/quickstart.md.")
finally:
    if broker is not None:
        broker.kill()
        broker.wait()
    shutil.rmtree(work, ignore_errors=True)
