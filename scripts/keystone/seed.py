"""What the test rig's Keystone holds, made through its API; every step is a
no-op when its object is already there, so keystone-up.sh can run it each time.

- project `service` (Default) with users `neutron` (roles admin, service: the
  keystone-auth Neutron validates tokens with it) and `kuryr` (role admin: port
  binding needs it)
- domain `kuryr-rig` holding a second user `kuryr` and a second project
  `service` (other password, role admin): the same names in two domains, so a
  client that drops the domain gets the wrong user or project
- region RegionTwo and a `network` service whose endpoints make every wrong
  choice of interface or region land on a dead port:
      RegionOne public   LIVE             RegionTwo public    DEAD
      RegionOne internal LIVE + /v2.0     RegionTwo internal  DEAD
      RegionOne admin    DEAD             RegionTwo admin     LIVE + /
Standard library only (it runs under any python3). Arguments come from the
environment (see keystone-up.sh); nothing secret is printed.
"""

import json
import os
import sys
import urllib.error
import urllib.request

KS = os.environ["KS_URL"].rstrip("/")  # .../v3
LIVE = os.environ["KS_NETWORK_URL"].rstrip("/")
DEAD = os.environ["KS_DEAD_URL"].rstrip("/")
# Loopback only: never through an http_proxy from the environment.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(method, path, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(KS + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    try:
        with OPENER.open(req, timeout=20) as resp:
            raw = resp.read()
            return resp.status, resp.headers, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        sys.exit(f"seed: {method} {path} -> {e.code} {e.read()[:300]!r}")


def admin_token():
    body = {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"id": "default"},
            "password": os.environ["KS_ADMIN_PASSWORD"]}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
    _, headers, _ = call("POST", "/auth/tokens", body)
    return headers["X-Subject-Token"]


TOKEN = admin_token()


def find(collection, **filters):
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    _, _, body = call("GET", f"/{collection}?{query}", token=TOKEN)
    return body[collection][0] if body[collection] else None


def ensure(collection, key, body, **filters):
    found = find(collection, **filters)
    if found:
        return found
    _, _, made = call("POST", f"/{collection}", {key: body}, token=TOKEN)
    return made[key]


def password_works(user_id, password):
    body = {"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"id": user_id, "password": password}}}}}
    req = urllib.request.Request(KS + "/auth/tokens", data=json.dumps(body).encode(),
                                 method="POST")
    req.add_header("Content-Type", "application/json")
    try:
        with OPENER.open(req, timeout=20):
            return True
    except urllib.error.HTTPError as e:
        if e.code == 401:
            return False
        raise


def ensure_user(name, domain_id, password, project_id, roles):
    user = find("users", name=name, domain_id=domain_id)
    if user is None:
        user = ensure("users", "user", {
            "name": name, "domain_id": domain_id, "password": password,
            "default_project_id": project_id}, name=name, domain_id=domain_id)
    elif not password_works(user["id"], password):
        # Set only when it differs: a password change revokes the user's tokens.
        call("PATCH", f"/users/{user['id']}",
             {"user": {"password": password}}, token=TOKEN)
    for role in roles:
        role_id = find("roles", name=role)["id"]
        call("PUT", f"/projects/{project_id}/users/{user['id']}/roles/{role_id}",
             token=TOKEN)


def main():
    env = os.environ
    for role in ("admin", "service"):
        ensure("roles", "role", {"name": role}, name=role)
    service = ensure("projects", "project",
                     {"name": "service", "domain_id": "default"},
                     name="service", domain_id="default")
    ensure_user("neutron", "default", env["KS_NEUTRON_PASSWORD"], service["id"],
                ["admin", "service"])
    ensure_user("kuryr", "default", env["KS_KURYR_PASSWORD"], service["id"],
                ["admin"])
    rig = ensure("domains", "domain", {"name": "kuryr-rig"}, name="kuryr-rig")
    rig_service = ensure("projects", "project",
                         {"name": "service", "domain_id": rig["id"]},
                         name="service", domain_id=rig["id"])
    ensure_user("kuryr", rig["id"], env["KS_KURYR_RIG_PASSWORD"],
                rig_service["id"], ["admin"])

    _, _, regions = call("GET", "/regions", token=TOKEN)
    if "RegionTwo" not in {r["id"] for r in regions["regions"]}:
        call("POST", "/regions", {"region": {"id": "RegionTwo"}}, token=TOKEN)
    network = ensure("services", "service",
                     {"type": "network", "name": "neutron"}, type="network")
    want = {
        ("RegionOne", "public"): LIVE,
        ("RegionOne", "internal"): LIVE + "/v2.0",
        ("RegionOne", "admin"): DEAD,
        ("RegionTwo", "public"): DEAD,
        ("RegionTwo", "internal"): DEAD,
        ("RegionTwo", "admin"): LIVE + "/",
    }
    _, _, have = call("GET", f"/endpoints?service_id={network['id']}", token=TOKEN)
    by_key = {}
    for e in have["endpoints"]:
        key = (e["region_id"], e["interface"])
        if key in by_key or key not in want:
            # A duplicate or a stray would make the choice ambiguous.
            call("DELETE", f"/endpoints/{e['id']}", token=TOKEN)
        else:
            by_key[key] = e
    for (region, interface), url in want.items():
        e = by_key.get((region, interface))
        if e is None:
            call("POST", "/endpoints", {"endpoint": {
                "service_id": network["id"], "interface": interface,
                "region_id": region, "url": url}}, token=TOKEN)
        elif e["url"] != url:
            call("PATCH", f"/endpoints/{e['id']}", {"endpoint": {"url": url}},
                 token=TOKEN)
    print("seed: users, projects, domain kuryr-rig and the network catalog are in place",
          file=sys.stderr)


main()
