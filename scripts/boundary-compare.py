#!/usr/bin/env python3
"""Send the boundary table of malformed requests (tests/validation.rs, dumped with
`KURYR_BAD_REQUESTS=F cargo test --test validation -- --ignored dump_bad_requests`)
to one or more running plugins over TCP, and print each one's status per request.

    scripts/boundary-compare.py F ours=http://127.0.0.1:23751 py=http://127.0.0.1:23750

Only for loopback plugins the caller started. Output: a markdown table."""
import json
import sys
import urllib.error
import urllib.request


def post(base, path, body):
    data = json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method="POST")
    request.add_header("Accept", "application/vnd.docker.plugins.v1.2+json")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return str(reply.status)
    except urllib.error.HTTPError as error:
        return str(error.code)
    except Exception as error:  # a plugin that hangs up is a result too
        return type(error).__name__


def main():
    cases = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    plugins = [arg.split("=", 1) for arg in sys.argv[2:]]
    print("| request | bad field | " + " | ".join(name for name, _ in plugins) + " |")
    print("|---|---|" + "---|" * len(plugins))
    for case in cases:
        statuses = [post(url, case["path"], case["body"]) for _, url in plugins]
        method = case["path"].split(".", 1)[1]
        print(f"| {method} | {case['field']} | " + " | ".join(statuses) + " |")


if __name__ == "__main__":
    main()
