"""Writes small PBS datastores for tests, from the format spec (pbs-formats.md): uncompressed
DataBlobs with their CRC32, fixed and dynamic indexes, a manifest, the group's owner file.

    snap = SnapshotWriter("/tmp/ds", "team/a", "vm", "100", 1767225600)
    digests = snap.fixed_index("drive-scsi0.img.fidx", image_bytes, chunk_size=65536)
    snap.finish()                                  # writes index.json.blob
"""

import hashlib
import json
import os
import subprocess
import time
import uuid
import zlib

FIXED_INDEX_MAGIC = bytes([47, 127, 65, 237, 145, 253, 15, 205])
DYNAMIC_INDEX_MAGIC = bytes([28, 145, 78, 165, 25, 186, 179, 205])
BLOB_MAGIC_PLAIN = bytes([66, 171, 56, 7, 190, 131, 112, 161])
BLOB_MAGIC_ZSTD = bytes([49, 185, 88, 66, 111, 182, 163, 127])
DEFAULT_CHUNK_SIZE = 64 * 1024


def data_blob(payload):
    """An unencrypted, uncompressed DataBlob: magic, CRC32 (LE) of the payload, payload."""
    return BLOB_MAGIC_PLAIN + zlib.crc32(payload).to_bytes(4, "little") + payload


def pseudo_random(seed, size):
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}/{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def time_dir(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class SnapshotWriter:
    """Writes one snapshot of a datastore: chunks, index files, manifest, group owner."""

    def __init__(self, root, ns, backup_type, backup_id, backup_time, owner="root@pam"):
        self.root = root
        prefix = "".join(f"ns/{c}/" for c in ns.split("/")) if ns else ""
        self.group_dir = os.path.join(root, f"{prefix}{backup_type}/{backup_id}")
        self.dir = os.path.join(self.group_dir, time_dir(backup_time))
        os.makedirs(self.dir)
        with open(os.path.join(self.group_dir, "owner"), "w") as f:
            f.write(f"{owner}\n")
        self.manifest = {"backup-type": backup_type, "backup-id": backup_id,
                         "backup-time": backup_time, "files": [], "unprotected": {},
                         "signature": None}

    def chunk(self, data):
        digest = hashlib.sha256(data).hexdigest()
        directory = os.path.join(self.root, ".chunks", digest[:4])
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, digest), "wb") as f:
            f.write(data_blob(data))
        return digest

    def fixed_index(self, name, image, chunk_size=DEFAULT_CHUNK_SIZE):
        digests = [self.chunk(image[i:i + chunk_size]) for i in range(0, len(image), chunk_size)]
        body = b"".join(bytes.fromhex(d) for d in digests)
        csum = hashlib.sha256(body).digest()
        header = (FIXED_INDEX_MAGIC + uuid.uuid4().bytes + int(time.time()).to_bytes(8, "little")
                  + csum + len(image).to_bytes(8, "little") + chunk_size.to_bytes(8, "little"))
        self._write(name, header.ljust(4096, b"\0") + body, len(image), csum.hex())
        return digests

    def dynamic_index(self, name, pieces):
        entries, end, digests = b"", 0, []
        for piece in pieces:
            end += len(piece)
            digests.append(self.chunk(piece))
            entries += end.to_bytes(8, "little") + bytes.fromhex(digests[-1])
        csum = hashlib.sha256(entries).digest()
        header = (DYNAMIC_INDEX_MAGIC + uuid.uuid4().bytes
                  + int(time.time()).to_bytes(8, "little") + csum)
        self._write(name, header.ljust(4096, b"\0") + entries, end, csum.hex())
        return digests

    def blob_file(self, name, payload):
        data = data_blob(payload)
        self._write(name, data, len(data), hashlib.sha256(data).hexdigest())

    def finish(self):
        with open(os.path.join(self.dir, "index.json.blob"), "wb") as f:
            f.write(data_blob(json.dumps(self.manifest, indent=2, sort_keys=True).encode()))
        return self

    def path(self, name):
        return os.path.join(self.dir, name)

    def _write(self, name, data, size, csum):
        with open(self.path(name), "wb") as f:
            f.write(data)
        self.manifest["files"].append({"filename": name, "crypt-mode": "none", "size": size,
                                       "csum": csum})


def chunk_file(root, digest):
    return os.path.join(root, ".chunks", digest[:4], digest)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def decode_plain_blob(blob):
    """The payload of an unencrypted DataBlob, plain or zstd (through the zstd CLI)."""
    if blob[:8] == BLOB_MAGIC_PLAIN:
        return blob[12:]
    if blob[:8] == BLOB_MAGIC_ZSTD:
        return subprocess.run(["zstd", "-d", "-c", "-q"], input=blob[12:], capture_output=True,
                              check=True, timeout=60).stdout
    raise AssertionError(f"not a plain blob: {blob[:8].hex()}")
