"""Signs one request with botocore's SigV4 signer (what the AWS CLI and SDKs use) and sends it.

    python sigv4_client.py METHOD URL --key AKID --secret SECRET [--body TEXT] [--presign]
                           [--skew SECONDS] [--tamper none|query|body|header] [--print-headers]

Prints {"status": N, "body": "..."} as JSON, or with --print-headers sends nothing and prints
the signed request's headers, one `Name: value` per line (benches/load.sh replays them). Used by
tests/access.rs; tests/run.sh installs botocore in tests/.venv.
"""

import argparse
import datetime
import json
import urllib.error
import urllib.request

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

parser = argparse.ArgumentParser()
parser.add_argument("method")
parser.add_argument("url")
parser.add_argument("--region", default="us-east-1")
parser.add_argument("--key", required=True)
parser.add_argument("--secret", required=True)
parser.add_argument("--body", default="")
parser.add_argument("--presign", action="store_true")
parser.add_argument("--skew", type=int, default=0, help="shift the signing clock by SECONDS")
parser.add_argument("--tamper", choices=["none", "query", "body", "header"], default="none")
parser.add_argument("--print-headers", action="store_true")
args = parser.parse_args()

if args.skew:
    real_now = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda: real_now() + datetime.timedelta(seconds=args.skew)

request = AWSRequest(
    method=args.method, url=args.url, data=args.body.encode(), headers={"x-test": "signed"}
)
credentials = Credentials(args.key, args.secret)
if args.presign:
    botocore.auth.SigV4QueryAuth(credentials, "execute-api", args.region, expires=60).add_auth(request)
else:
    botocore.auth.SigV4Auth(credentials, "execute-api", args.region).add_auth(request)
prepared = request.prepare()
url, body, headers = prepared.url, prepared.body or b"", dict(prepared.headers)
# urllib sets Content-Length from the body it sends (a tampered body changes it).
headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}

if args.print_headers:
    for name, value in headers.items():
        print(f"{name}: {value}")
    raise SystemExit(0)

if args.tamper == "query":
    url += ("&" if "?" in url else "?") + "extra=1"
elif args.tamper == "body":
    body = body + b"!"
elif args.tamper == "header":
    headers["x-test"] = "changed"

sent = urllib.request.Request(url, data=body or None, headers=headers, method=args.method)
try:
    with urllib.request.urlopen(sent, timeout=10) as reply:
        status, text = reply.status, reply.read().decode()
except urllib.error.HTTPError as error:
    status, text = error.code, error.read().decode()
print(json.dumps({"status": status, "body": text}))
