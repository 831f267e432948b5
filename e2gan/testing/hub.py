"""A Hub-compatible server on loopback, for tests of publishing and pulling (no installable server takes
uploads: olah is read-only). It implements what the real ``huggingface_hub`` client calls to create a
repo, upload (inline "regular" files and the LFS path the real Hub uses for safetensors), read a
revision, list a tree, search models, and download files; anything else answers 501 naming the route.

    with HubServer(tmp_path) as hub:              # port 0: a free port
        os.environ["HF_ENDPOINT"] = hub.url
        ...                                       # HfApi().create_repo / upload_folder / snapshot_download

    python -m e2gan.testing.hub --port 18090 --root /tmp/hub   # by hand

Files are kept content-addressed under ``root/blobs``; repos, branches and commits in memory (a test's
lifetime). ``lfs_suffixes`` decides which paths the preupload answer sends through LFS.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _Repo:
    def __init__(self, repo_id: str, private: bool):
        self.id, self.private = repo_id, private
        self.commits: dict[str, dict] = {}  # oid -> {"files": {path: (sha256, size, lfs)}, "parent", "message", "time"}
        self.branches: dict[str, str | None] = {"main": None}

    def files(self, rev: str) -> tuple[str, dict] | None:
        oid = self.branches.get(rev, rev if rev in self.commits else None)
        if rev in self.branches and oid is None:
            return "0" * 40, {}
        if oid is None:
            return None
        return oid, self.commits[oid]["files"]


class HubServer:
    """Start with ``start()`` (or as a context manager); ``url`` is its endpoint."""

    def __init__(self, root, host: str = "127.0.0.1", port: int = 0, lfs_suffixes=(".safetensors", ".png")):
        self.root = Path(root)
        (self.root / "blobs").mkdir(parents=True, exist_ok=True)
        self.repos: dict[str, _Repo] = {}
        self.lfs_suffixes = tuple(lfs_suffixes)
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, for tests
        handler = type("Handler", (_Handler,), {"hub": self})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.url = f"http://{host}:{self.httpd.server_address[1]}"
        self._thread = None

    def start(self) -> "HubServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- storage -----------------------------------------------------------------------------
    def put_blob(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        path = self.root / "blobs" / sha
        if not path.exists():
            path.write_bytes(data)
        return sha

    def blob(self, sha: str) -> Path:
        return self.root / "blobs" / sha

    def tamper(self, repo_id: str, path: str, data: bytes, rev: str = "main") -> None:
        """Replace a stored file's bytes without changing what the repo says about it (tests of verification)."""
        oid, files = self.repos[repo_id].files(rev)
        sha = files[path][0]
        self.blob(sha).write_bytes(data)


class _Handler(BaseHTTPRequestHandler):
    hub: HubServer
    protocol_version = "HTTP/1.0"  # one request per connection: no client keeps a socket to a stopped server on a reused port

    def log_message(self, *args):  # quiet
        pass

    # -- plumbing ------------------------------------------------------------------------------
    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, code: int, obj=None, headers: dict | None = None, raw: bytes | None = None, head: bool = False):
        data = raw if raw is not None else (json.dumps(obj).encode() if obj is not None else b"")
        self.send_response(code)
        self.send_header("Content-Type", "application/json" if raw is None else "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def _unsupported(self):
        self._body()
        self._send(501, {"error": f"the e2gan test Hub does not implement {self.command} {urllib.parse.urlsplit(self.path).path}"})

    def _repo(self, org: str, name: str):
        return self.hub.repos.get(f"{org}/{name}")

    # -- routes --------------------------------------------------------------------------------
    def do_POST(self):
        self.hub.requests.append(("POST", self.path))
        path = urllib.parse.urlsplit(self.path).path
        if path == "/api/repos/create":
            return self._create()
        if path == "/api/validate-yaml":
            self._body()
            return self._send(200, {"errors": [], "warnings": []})
        m = re.fullmatch(r"/api/models/([^/]+)/([^/]+)/preupload/(.+)", path)
        if m:
            return self._preupload(*m.groups())
        m = re.fullmatch(r"/api/models/([^/]+)/([^/]+)/commit/(.+)", path)
        if m:
            return self._commit(*m.groups())
        m = re.fullmatch(r"/api/models/([^/]+)/([^/]+)/branch/(.+)", path)
        if m:
            return self._branch(*m.groups())
        m = re.fullmatch(r"/([^/]+)/([^/]+)\.git/info/lfs/objects/batch", path)
        if m:
            return self._lfs_batch(*m.groups())
        return self._unsupported()

    def do_PUT(self):
        self.hub.requests.append(("PUT", self.path))
        m = re.fullmatch(r"/lfs-upload/([0-9a-f]{64})", urllib.parse.urlsplit(self.path).path)
        if not m:
            return self._unsupported()
        data = self._body()
        if hashlib.sha256(data).hexdigest() != m.group(1):
            return self._send(400, {"error": "uploaded bytes do not match their sha256 oid"})
        self.hub.put_blob(data)
        return self._send(200, {})

    def do_GET(self):
        self._get(head=False)

    def do_HEAD(self):
        self._get(head=True)

    def _get(self, head: bool):
        self.hub.requests.append((self.command, self.path))
        url = urllib.parse.urlsplit(self.path)
        path, query = url.path, urllib.parse.parse_qs(url.query)
        m = re.fullmatch(r"/api/models/([^/]+)/([^/]+)/revision/(.+)", path)
        if m:
            return self._info(*m.groups(), head=head)
        m = re.fullmatch(r"/api/models/([^/]+)/([^/]+)/tree/([^/]+)(/.*)?", path)
        if m:
            return self._tree(*m.groups(), head=head)
        if path == "/api/models":
            return self._search(query, head)
        m = re.fullmatch(r"/([^/]+)/([^/]+)/resolve/([^/]+)/(.+)", path)
        if m:
            return self._resolve(*m.groups(), head=head)
        if path.startswith("/api/agent-harnesses"):
            return self._send(404, {"error": "not here"}, head=head)
        return self._send(501, {"error": f"the e2gan test Hub does not implement GET {path}"}, head=head)

    # -- write ---------------------------------------------------------------------------------
    def _create(self):
        body = json.loads(self._body() or b"{}")
        if body.get("type", "model") not in (None, "model"):
            return self._send(501, {"error": "the e2gan test Hub serves model repos only"})
        repo_id = f"{body.get('organization') or 'user'}/{body['name']}"
        url = f"{self.hub.url}/{repo_id}"
        with self.hub.lock:
            if repo_id in self.hub.repos:
                return self._send(409, {"error": "You already created this model repo", "url": url})
            self.hub.repos[repo_id] = _Repo(repo_id, bool(body.get("private")))
        return self._send(200, {"url": url, "name": repo_id, "id": repo_id})

    def _branch(self, org, name, branch):
        repo = self._repo(org, name)
        self._body()
        if repo is None:
            return self._send(404, {"error": f"Repository {org}/{name} not found"})
        branch = urllib.parse.unquote(branch)
        with self.hub.lock:
            if branch in repo.branches:
                return self._send(409, {"error": f"branch {branch} exists"})
            repo.branches[branch] = repo.branches.get("main")
        return self._send(200, {})

    def _preupload(self, org, name, rev):
        repo = self._repo(org, name)
        body = json.loads(self._body() or b"{}")
        if repo is None:
            return self._send(404, {"error": f"Repository {org}/{name} not found"})
        files = [{"path": f["path"], "uploadMode": "lfs" if f["path"].endswith(self.hub.lfs_suffixes) else "regular",
                  "shouldIgnore": False, "oid": None} for f in body.get("files", [])]
        return self._send(200, {"files": files, "commitOid": repo.branches.get(urllib.parse.unquote(rev))})

    def _lfs_batch(self, org, name):
        body = json.loads(self._body() or b"{}")
        objects = []
        for o in body.get("objects", []):
            entry = {"oid": o["oid"], "size": o["size"], "authenticated": True}
            if not self.hub.blob(o["oid"]).exists():
                entry["actions"] = {"upload": {"href": f"{self.hub.url}/lfs-upload/{o['oid']}", "header": {}}}
            objects.append(entry)
        return self._send(200, {"transfer": "basic", "objects": objects, "hash_algo": "sha256"})

    def _commit(self, org, name, rev):
        repo = self._repo(org, name)
        raw = self._body()
        if repo is None:
            return self._send(404, {"error": f"Repository {org}/{name} not found"})
        rev = urllib.parse.unquote(rev)
        if rev not in repo.branches:
            return self._send(404, {"error": f"Invalid rev id: {rev}"})
        with self.hub.lock:
            parent = repo.branches[rev]
            files = dict(repo.commits[parent]["files"]) if parent else {}
            summary = ""
            for line in raw.splitlines():
                if not line.strip():
                    continue
                item = json.loads(line)
                key, value = item["key"], item["value"]
                if key == "header":
                    summary = value.get("summary", "")
                elif key == "file":
                    data = base64.b64decode(value["content"]) if value.get("encoding", "base64") == "base64" else value["content"].encode()
                    files[value["path"]] = (self.hub.put_blob(data), len(data), False)
                elif key == "lfsFile":
                    if not self.hub.blob(value["oid"]).exists():
                        return self._send(400, {"error": f"LFS object {value['oid']} of {value['path']} was never uploaded"})
                    files[value["path"]] = (value["oid"], int(value["size"]), True)
                elif key == "deletedFile":
                    files.pop(value["path"], None)
                elif key == "deletedFolder":
                    prefix = value["path"].rstrip("/") + "/"
                    files = {p: f for p, f in files.items() if not p.startswith(prefix)}
                else:
                    return self._send(501, {"error": f"the e2gan test Hub does not implement commit operation {key!r}"})
            oid = hashlib.sha1(json.dumps([parent, sorted(files.items()), summary, time.time()]).encode()).hexdigest()
            repo.commits[oid] = {"files": files, "parent": parent, "message": summary, "time": time.time()}
            repo.branches[rev] = oid
        return self._send(200, {"commitUrl": f"{self.hub.url}/{org}/{name}/commit/{oid}", "commitOid": oid, "success": True})

    # -- read ----------------------------------------------------------------------------------
    def _card_data(self, files: dict) -> dict:
        if "README.md" not in files:
            return {}
        text = self.hub.blob(files["README.md"][0]).read_text(errors="replace")
        m = re.match(r"---\n(.*?)\n---", text, flags=re.S)
        if not m:
            return {}
        import yaml

        try:
            return yaml.safe_load(m.group(1)) or {}
        except yaml.YAMLError:
            return {}

    def _info(self, org, name, rev, head=False):
        repo = self._repo(org, name)
        found = repo and repo.files(urllib.parse.unquote(rev))
        if not found:
            return self._send(404, {"error": f"Revision Not Found for {org}/{name}@{rev}"}, head=head,
                              headers={"X-Error-Code": "RevisionNotFound" if repo else "RepoNotFound"})
        oid, files = found
        card = self._card_data(files)
        return self._send(200, {"id": repo.id, "modelId": repo.id, "sha": oid, "private": repo.private, "siblings": [{"rfilename": p} for p in sorted(files)],
                                "tags": card.get("tags", []), "library_name": card.get("library_name"), "cardData": card,
                                "pipeline_tag": card.get("pipeline_tag"), "lastModified": "2026-11-29T00:00:00.000Z"}, head=head)

    def _tree(self, org, name, rev, sub, head=False):
        repo = self._repo(org, name)
        found = repo and repo.files(urllib.parse.unquote(rev))
        if not found:
            return self._send(404, {"error": f"Revision Not Found for {org}/{name}@{rev}"}, head=head)
        _, files = found
        prefix = (sub or "").strip("/")
        out = []
        for p, (sha, size, lfs) in sorted(files.items()):
            if prefix and not p.startswith(prefix + "/"):
                continue
            entry = {"type": "file", "oid": hashlib.sha1(f"blob {size}\0".encode() + self.hub.blob(sha).read_bytes()).hexdigest(),
                     "size": size, "path": p}
            if lfs:
                entry["lfs"] = {"oid": sha, "size": size, "pointerSize": 134}
            out.append(entry)
        return self._send(200, out, head=head)

    def _search(self, query, head=False):
        search = (query.get("search") or [""])[0].lower()
        filters = [f for v in query.get("filter", []) for f in v.split(",")] + query.get("library", [])
        rows = []
        for repo in self.hub.repos.values():
            found = repo.files("main")
            card = self._card_data(found[1]) if found else {}
            tags = set(card.get("tags", [])) | ({card["library_name"]} if card.get("library_name") else set())
            if search and search not in repo.id.lower():
                continue
            if any(f not in tags for f in filters):
                continue
            rows.append({"id": repo.id, "modelId": repo.id, "tags": sorted(tags), "library_name": card.get("library_name"),
                         "private": repo.private, "sha": found[0] if found else None})
        return self._send(200, rows, head=head)

    def _resolve(self, org, name, rev, path, head=False):
        repo = self._repo(org, name)
        found = repo and repo.files(urllib.parse.unquote(rev))
        path = urllib.parse.unquote(path)
        if not found or path not in found[1]:
            return self._send(404, {"error": f"Entry Not Found: {path}"}, head=head,
                              headers={"X-Error-Code": "EntryNotFound" if found else "RevisionNotFound"})
        oid, files = found
        sha, size, lfs = files[path]
        data = self.hub.blob(sha).read_bytes()
        etag = sha if lfs else hashlib.sha1(f"blob {size}\0".encode() + data).hexdigest()
        headers = {"X-Repo-Commit": oid, "ETag": f'"{etag}"'}
        if lfs:
            headers.update({"X-Linked-Etag": f'"{sha}"', "X-Linked-Size": str(size)})
        return self._send(200, raw=data, headers=headers, head=head)


def main(argv=None):
    ap = argparse.ArgumentParser(description="A Hub-compatible server on loopback for tests (e2gan.testing.hub)")
    ap.add_argument("--port", type=int, default=18090)
    ap.add_argument("--root", default="e2gan-test-hub")
    a = ap.parse_args(argv)
    hub = HubServer(a.root, port=a.port).start()
    print(f"serving on {hub.url} (HF_ENDPOINT={hub.url}); Ctrl-C stops", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        hub.stop()


if __name__ == "__main__":
    main()
