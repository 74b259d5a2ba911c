"""Read-only access to PBS datastore directories, as the test PBS server needs it.

Layout and formats follow ../shared/spec/pbs-formats.md: snapshots at
`[ns/<a>/ns/<b>/...]<type>/<id>/<RFC 3339 time>/`, chunks at `.chunks/<4 hex>/<64 hex>`,
fixed (.fidx) and dynamic (.didx) indexes with a 4096-byte header, DataBlob manifests.
Nothing here caches file contents: tests delete and corrupt files while a server runs.

    store = Datastore("store1", "/tmp/ds")
    snap = store.snapshot_dir(parse_namespace("a/b"), "vm", "100", 1767225600)
    digests = index_digests(open(snap + "/drive-scsi0.img.fidx", "rb").read())
"""

import calendar
import json
import os
import re
import subprocess
import time

SAFE_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._\-]*$")
DIGEST_HEX = re.compile(r"^[a-f0-9]{64}$")
BACKUP_TYPES = ("vm", "ct", "host")
MAX_NAMESPACE_DEPTH = 7  # root is depth 0 (pbs-reader-protocol.md §3.2)
MAX_NAMESPACE_LENGTH = 256

INDEX_HEADER_SIZE = 4096
FIXED_INDEX_MAGIC = bytes([47, 127, 65, 237, 145, 253, 15, 205])
DYNAMIC_INDEX_MAGIC = bytes([28, 145, 78, 165, 25, 186, 179, 205])
BLOB_MAGIC_PLAIN = bytes([66, 171, 56, 7, 190, 131, 112, 161])
BLOB_MAGIC_ZSTD = bytes([49, 185, 88, 66, 111, 182, 163, 127])
BLOB_HEADER_SIZE = 12

ARCHIVE_EXTENSIONS = (".fidx", ".didx", ".blob")


class IndexFormatError(Exception):
    """An index file that a PBS reader would refuse; the text is PBS's reason."""


def os_error_text(error):
    """An OSError the way Rust's std::io::Error prints it, as PBS's error bodies carry it."""
    if error.errno is None:
        return str(error)
    return f"{os.strerror(error.errno)} (os error {error.errno})"


def quoted_path(path):
    """A path as Rust's `{:?}` prints it inside PBS error messages."""
    return json.dumps(path)


def parse_namespace(text):
    """The components of a namespace name "a/b" ("" is the root); ValueError names the fault."""
    if text is None or text == "":
        return []
    if len(text) > MAX_NAMESPACE_LENGTH:
        raise ValueError(f"namespace length exceeds {MAX_NAMESPACE_LENGTH} characters")
    components = text.split("/")
    for component in components:
        if not SAFE_ID.match(component):
            raise ValueError(f"invalid namespace component '{component}'")
    if len(components) > MAX_NAMESPACE_DEPTH:
        raise ValueError(f"namespace depth exceeds the maximum of {MAX_NAMESPACE_DEPTH}")
    return components


def namespace_relative_path(components):
    """Namespace "a/b" lives below `ns/a/ns/b` (not `a/b`) in a datastore."""
    return os.path.join(*[part for c in components for part in ("ns", c)]) if components else ""


def snapshot_time_name(epoch):
    """The snapshot directory name of a backup time: RFC 3339 UTC, second precision, `Z`."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def parse_snapshot_time_name(name):
    """The epoch of a snapshot directory name, or None if it is not one."""
    try:
        parsed = time.strptime(name, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return None
    return calendar.timegm(parsed)


def index_digests(data):
    """The hex digests an index references, in index order (repeats kept).

    Checks what upstream's FixedIndexReader/DynamicIndexReader check when they open a file,
    raising IndexFormatError with their wording."""
    if len(data) < INDEX_HEADER_SIZE:
        raise IndexFormatError(f"index too small ({len(data)})")
    magic = data[:8]
    if magic == FIXED_INDEX_MAGIC:
        size = int.from_bytes(data[64:72], "little")
        chunk_size = int.from_bytes(data[72:80], "little")
        if chunk_size == 0 or chunk_size & (chunk_size - 1):
            raise IndexFormatError("got non-power-of-two chunk size")
        count = (size + chunk_size - 1) // chunk_size
        expected = INDEX_HEADER_SIZE + 32 * count
        if len(data) != expected:
            raise IndexFormatError(f"got unexpected file size ({len(data)} != {expected})")
        return [
            data[offset:offset + 32].hex()
            for offset in range(INDEX_HEADER_SIZE, len(data), 32)
        ]
    if magic == DYNAMIC_INDEX_MAGIC:
        if (len(data) - INDEX_HEADER_SIZE) % 40:
            raise IndexFormatError("got unexpected file size")
        return [
            data[offset + 8:offset + 40].hex()
            for offset in range(INDEX_HEADER_SIZE, len(data), 40)
        ]
    raise IndexFormatError("got unknown magic number")


def decode_plain_blob(data):
    """The payload of an unencrypted DataBlob (plain or zstd), or None if it is not one.

    zstd frames are decoded with Debian's `zstd` CLI (no Python binding is packaged); the
    server only decodes manifests, for the snapshot listing."""
    if len(data) < BLOB_HEADER_SIZE:
        return None
    if data[:8] == BLOB_MAGIC_PLAIN:
        return data[BLOB_HEADER_SIZE:]
    if data[:8] == BLOB_MAGIC_ZSTD:
        try:
            result = subprocess.run(["zstd", "-d", "-c", "-q"], input=data[BLOB_HEADER_SIZE:],
                                    capture_output=True, timeout=30, check=True)
        except (OSError, subprocess.SubprocessError):
            return None
        return result.stdout
    return None


class Datastore:
    """One served datastore: a name (the `store` parameter) and its root directory."""

    def __init__(self, name, root):
        self.name = name
        self.root = os.path.abspath(root)

    def namespace_dir(self, ns_components):
        return os.path.join(self.root, namespace_relative_path(ns_components))

    def snapshot_dir(self, ns_components, backup_type, backup_id, backup_time):
        return os.path.join(self.namespace_dir(ns_components), backup_type, backup_id,
                            snapshot_time_name(backup_time))

    def chunk_path(self, digest_hex):
        return os.path.join(self.root, ".chunks", digest_hex[:4], digest_hex)

    def list_namespaces(self, parent_components, max_depth):
        """`parent_components` and the namespaces below it, at most `max_depth` levels down,
        parents before children (each `ns/<name>` directory is a child namespace)."""
        found = [list(parent_components)]
        level = [list(parent_components)]
        for _ in range(max_depth):
            below = []
            for ns in level:
                for child in sorted(_subdirs(os.path.join(self.namespace_dir(ns), "ns"))):
                    below.append(ns + [child])
            found.extend(below)
            level = below
        return found

    def list_snapshots(self, ns_components, backup_type=None, backup_id=None):
        """Finished snapshots (those with an index.json.blob) of one namespace, as PBS's
        `GET /api2/json/admin/datastore/{store}/snapshots` lists them (`SnapshotListItem`)."""
        base = self.namespace_dir(ns_components)
        items = []
        for kind in BACKUP_TYPES:
            if backup_type and kind != backup_type:
                continue
            kind_dir = os.path.join(base, kind)
            for group in sorted(_subdirs(kind_dir)):
                if backup_id and group != backup_id:
                    continue
                group_dir = os.path.join(kind_dir, group)
                owner = _read_first_line(os.path.join(group_dir, "owner"))
                for name in sorted(_subdirs(group_dir)):
                    epoch = parse_snapshot_time_name(name)
                    snap_dir = os.path.join(group_dir, name)
                    if epoch is None or not os.path.isfile(os.path.join(snap_dir,
                                                                        "index.json.blob")):
                        continue
                    items.append(_snapshot_list_item(snap_dir, kind, group, epoch, owner))
        return items


def _snapshot_list_item(snap_dir, backup_type, backup_id, epoch, owner):
    manifest = None
    try:
        with open(os.path.join(snap_dir, "index.json.blob"), "rb") as f:
            payload = decode_plain_blob(f.read())
        manifest = json.loads(payload) if payload is not None else None
    except (OSError, ValueError):
        manifest = None
    files, listed = [], set()
    for entry in (manifest or {}).get("files", []):
        files.append({"filename": entry.get("filename"),
                      "crypt-mode": entry.get("crypt-mode", "none"),
                      "size": entry.get("size")})
        listed.add(entry.get("filename"))
    for name in sorted(os.listdir(snap_dir)):
        if name not in listed and name.endswith(ARCHIVE_EXTENSIONS):
            files.append({"filename": name})  # not in the manifest: no size, no crypt-mode
    item = {
        "backup-type": backup_type,
        "backup-id": backup_id,
        "backup-time": epoch,
        "files": files,
        "size": sum(f.get("size") or 0 for f in files),
        "protected": os.path.exists(os.path.join(snap_dir, ".protected")),
    }
    if owner:
        item["owner"] = owner
    fingerprint = ((manifest or {}).get("unprotected") or {}).get("key-fingerprint")
    if fingerprint:
        item["fingerprint"] = fingerprint
    notes = ((manifest or {}).get("unprotected") or {}).get("notes")
    if notes:
        item["comment"] = notes.splitlines()[0]
    return item


def _subdirs(path):
    try:
        return [e.name for e in os.scandir(path) if e.is_dir() and (
            SAFE_ID.match(e.name) or parse_snapshot_time_name(e.name) is not None)]
    except OSError:
        return []


def _read_first_line(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.readline().strip() or None
    except OSError:
        return None
