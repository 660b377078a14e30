#!/usr/bin/env python3
"""Seed corpora for the fuzz targets from dockerd's recorded calls.

Reads tests/fixtures/dockerd/*.jsonl and writes corpus/plugin_calls/seed-* (each a
sequence of up to 16 calls in dockerd's order, one line per call: the route byte
b'A' + index into ROUTES of fuzz_targets/plugin_calls.rs, then the body) and
corpus/decode/seed-* (one body each). The fixture's fake plugin names are mapped to
the embedded backend's, so the sequences reach deep states. Run from anywhere.
"""
import glob, json, os, re

HERE = os.path.dirname(os.path.abspath(__file__))
ROUTES = ["/IpamDriver.RequestPool", "/IpamDriver.ReleasePool", "/IpamDriver.RequestAddress",
          "/IpamDriver.ReleaseAddress", "/NetworkDriver.GwAllocCheck",
          "/NetworkDriver.CreateNetwork", "/NetworkDriver.DeleteNetwork",
          "/NetworkDriver.AllocateNetwork", "/NetworkDriver.FreeNetwork",
          "/NetworkDriver.CreateEndpoint", "/NetworkDriver.DeleteEndpoint",
          "/NetworkDriver.EndpointOperInfo", "/NetworkDriver.Join", "/NetworkDriver.Leave",
          "/NetworkDriver.ProgramExternalConnectivity",
          "/NetworkDriver.RevokeExternalConnectivity", "/NetworkDriver.DiscoverNew",
          "/NetworkDriver.DiscoverDelete", "/Kuryr.Settle", "/Plugin.Activate",
          "/IpamDriver.GetDefaultAddressSpaces"]


def ours(text):
    text = text.replace("fakelocal", "no_address_space").replace("fakeglobal", "no_address_space")
    return re.sub(r"fakepool-([0-9a-f.:]+)_(\d+)", r"no_address_space/\1/\2", text)


def main():
    sequences, current = [], []
    for path in sorted(glob.glob(os.path.join(HERE, "..", "tests/fixtures/dockerd/*.jsonl"))):
        for line in open(path):
            call = json.loads(line)
            if "marker" in call:
                if current:
                    sequences.append(current)
                current = []
                continue
            if call.get("path") not in ROUTES or call.get("body") is None:
                continue
            body = ours(json.dumps(call["body"], separators=(",", ":")))
            current.append(bytes([ord("A") + ROUTES.index(call["path"])]) + body.encode())
    if current:
        sequences.append(current)
    out = {name: os.path.join(HERE, "corpus", name) for name in ("plugin_calls", "decode")}
    for d in out.values():
        os.makedirs(d, exist_ok=True)
    n = 0
    for seq in sequences:
        for i in range(0, len(seq), 16):
            with open(os.path.join(out["plugin_calls"], "seed-%03d" % n), "wb") as f:
                f.write(b"\n".join(seq[i:i + 16]))
            n += 1
    bodies = sorted({c[1:] for seq in sequences for c in seq})
    for i, body in enumerate(bodies):
        with open(os.path.join(out["decode"], "seed-%03d" % i), "wb") as f:
            f.write(body)
    print("%d plugin_calls seeds, %d decode seeds" % (n, len(bodies)))


main()
