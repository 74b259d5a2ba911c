#!/usr/bin/python3
"""libnbd (python3-libnbd) checks against a running chunkcached NBD export.

Run by nbd_interop_test.cc: nbd_interop.py CASE --port P --export NAME --image FILE [...]
Every check asserts; any failure exits non-zero with a traceback.
"""
import argparse
import errno
import socket
import struct
import sys

import nbd

MiB = 1 << 20
CHUNK = 4 * MiB


def connect(args, export=None, structured=True, meta=True):
    h = nbd.NBD()
    h.set_export_name(args.export if export is None else export)
    h.set_request_structured_replies(structured)
    if meta:
        h.add_meta_context(nbd.CONTEXT_BASE_ALLOCATION)
    h.connect_tcp("127.0.0.1", str(args.port))
    return h


def read_all(h, size, step=MiB):
    out = bytearray()
    for offset in range(0, size, step):
        out += h.pread(min(step, size - offset), offset)
    return bytes(out)


def expect_errno(fn, code):
    try:
        fn()
    except nbd.Error as e:
        assert e.errnum == code, (e.string, e.errnum, code)
        return
    raise AssertionError("no error, expected %s" % errno.errorcode[code])


def case_handshake(args):
    image = open(args.image, "rb").read()
    h = connect(args)
    assert h.get_size() == len(image), (h.get_size(), len(image))
    assert h.is_read_only()
    assert h.can_multi_conn()
    assert h.can_cache()
    assert h.can_df()
    assert not h.can_flush() and not h.can_trim() and not h.can_zero() and not h.can_fua()
    assert h.get_structured_replies_negotiated()
    assert h.can_meta_context(nbd.CONTEXT_BASE_ALLOCATION)
    assert h.get_block_size(nbd.SIZE_MINIMUM) == 1
    assert h.get_block_size(nbd.SIZE_PREFERRED) == CHUNK, h.get_block_size(nbd.SIZE_PREFERRED)
    assert h.get_block_size(nbd.SIZE_MAXIMUM) == args.max_block, h.get_block_size(nbd.SIZE_MAXIMUM)
    assert read_all(h, len(image)) == image
    # Unaligned reads across chunk boundaries.
    for offset, length in [(CHUNK - 7, 100), (1, 3 * MiB), (len(image) - 10, 10)]:
        assert h.pread(length, offset) == image[offset:offset + length]

    # Structured reads: a zero chunk (chunk 1) comes as a hole, the data around it as data.
    kinds = []

    def chunk(subbuf, offset, status, error):
        kinds.append((status, offset, len(subbuf)))
        return 0

    buf = h.pread_structured(2 * MiB, CHUNK - MiB, chunk)
    assert buf == image[CHUNK - MiB:CHUNK + MiB]
    assert (nbd.READ_HOLE, CHUNK, MiB) in kinds, kinds
    assert (nbd.READ_DATA, CHUNK - MiB, MiB) in kinds, kinds
    kinds.clear()
    h.pread_structured(2 * MiB, CHUNK - MiB, chunk, flags=nbd.CMD_FLAG_DF)
    assert kinds == [(nbd.READ_DATA, CHUNK - MiB, 2 * MiB)], kinds

    # Block status: zero chunks are HOLE|ZERO, data chunks 0; REQ_ONE gives one extent.
    extents = []

    def status(context, offset, entries, err):
        assert context == nbd.CONTEXT_BASE_ALLOCATION
        extents.append(list(entries))
        return 0

    h.block_status(3 * CHUNK, 0, status)
    assert extents[-1][:6] == [CHUNK, 0, CHUNK, 3, CHUNK, 0], extents
    h.block_status(3 * CHUNK, 0, status, flags=nbd.CMD_FLAG_REQ_ONE)
    assert extents[-1] == [CHUNK, 0], extents
    h.block_status(CHUNK, CHUNK + 5, status, flags=nbd.CMD_FLAG_REQ_ONE)
    assert extents[-1] == [CHUNK - 5, 3], extents

    # CACHE prefetches and succeeds; many reads in flight at once answer out of order.
    h.cache(len(image), 0)
    buffers = []
    for i in range(64):
        offset = (i * 333_333) % (len(image) - 65536)
        b = nbd.Buffer(65536)
        buffers.append((offset, b, h.aio_pread(b, offset)))
    while h.aio_in_flight() > 0:
        h.poll(-1)
    for offset, b, cookie in buffers:
        assert h.aio_command_completed(cookie)
        assert b.to_bytearray() == image[offset:offset + 65536]
    h.shutdown()
    print("handshake ok")


def case_simple(args):
    image = open(args.image, "rb").read()
    h = connect(args, structured=False)
    assert not h.get_structured_replies_negotiated()
    assert not h.can_df()
    assert not h.can_meta_context(nbd.CONTEXT_BASE_ALLOCATION)
    assert read_all(h, len(image), step=4 * MiB) == image
    h.set_strict_mode(0)
    expect_errno(lambda: h.pread(512, len(image)), errno.EINVAL)
    assert h.pread(16, 0) == image[:16]  # the connection is still usable
    h.shutdown()
    print("simple ok")


def case_refusals(args):
    bad = [
        "store/vm/100/2026-01-01T00:00:00Z/missing.img.fidx",  # no such archive
        "nostore/vm/100/2026-01-01T00:00:00Z/drive-scsi0.img.fidx",  # unknown datastore
        "store/vm/100/2026-01-01T00:00:00Z/../../etc/passwd",
        "store/vm/100/notatime/drive-scsi0.img.fidx",
        "store/vm/100/2026-01-01T00:00:00Z/index.json.blob",
        "store/../vm/100/2026-01-01T00:00:00Z/drive-scsi0.img.fidx",
        "",
        "x" * 4000,
    ]
    for name in bad:
        h = nbd.NBD()
        h.set_export_name(name)
        try:
            h.connect_tcp("127.0.0.1", str(args.port))
        except nbd.Error:
            continue
        raise AssertionError("connected to bad export %r" % name)

    h = connect(args)
    size = h.get_size()
    h.set_strict_mode(0)  # send what a polite client never sends
    expect_errno(lambda: h.pwrite(b"x" * 512, 0), errno.EPERM)
    expect_errno(lambda: h.trim(512, 0), errno.EPERM)
    expect_errno(lambda: h.zero(512, 0), errno.EPERM)
    expect_errno(lambda: h.pread(512, size - 100), errno.EINVAL)
    expect_errno(lambda: h.pread(512, 1 << 62), errno.EINVAL)
    expect_errno(lambda: h.pread(args.max_block + 1, 0), errno.EINVAL)
    expect_errno(lambda: h.cache(512, size), errno.EINVAL)
    expect_errno(lambda: h.block_status(512, size, lambda *a: 0), errno.EINVAL)
    assert len(h.pread(4096, 0)) == 4096  # still usable after every refusal
    h.shutdown()

    # Block status without the meta context negotiated.
    h = connect(args, meta=False)
    h.set_strict_mode(0)
    try:
        h.block_status(512, 0, lambda *a: 0)
        raise AssertionError("block status without a meta context")
    except nbd.Error:
        pass
    h.shutdown()
    print("refusals ok")


def case_options(args):
    h = nbd.NBD()
    h.set_opt_mode(True)
    h.connect_tcp("127.0.0.1", str(args.port))
    names = []
    h.opt_list(lambda name, description: names.append(name) or 0)
    for expected in args.listed:
        assert expected in names, (expected, names)
    contexts = []
    h.set_export_name(args.export)
    h.opt_list_meta_context(lambda name: contexts.append(name) or 0)
    assert contexts == [nbd.CONTEXT_BASE_ALLOCATION], contexts
    h.set_export_name("store/vm/100/2026-01-01T00:00:00Z/missing.img.fidx")
    try:
        h.opt_info()
        raise AssertionError("opt_info of a missing archive")
    except nbd.Error:
        pass
    h.set_export_name(args.export)
    h.set_full_info(True)
    h.opt_info()
    size = h.get_size()
    assert h.get_canonical_export_name() == args.export
    assert "archive" in h.get_export_description()
    h.opt_go()
    assert h.get_size() == size
    assert len(h.pread(512, 0)) == 512
    h.shutdown()

    h = nbd.NBD()
    h.set_opt_mode(True)
    h.connect_tcp("127.0.0.1", str(args.port))
    h.opt_abort()
    assert h.aio_is_closed() or h.aio_is_dead()
    print("options ok")


def case_corrupt(args):
    h = connect(args)
    expect_errno(lambda: h.pread(4096, args.bad_offset), errno.EIO)
    expect_errno(lambda: h.pread(4096, args.bad_offset), errno.EIO)  # never served, still bad
    assert len(h.pread(4096, args.good_offset)) == 4096
    h.shutdown()
    h = connect(args, structured=False)
    expect_errno(lambda: h.pread(4096, args.bad_offset), errno.EIO)
    assert len(h.pread(4096, args.good_offset)) == 4096
    h.shutdown()
    print("corrupt ok")


def raw_connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    greeting = b""
    while len(greeting) < 18:
        part = s.recv(18 - len(greeting))
        if not part:
            break
        greeting += part
    assert greeting[:16] == b"NBDMAGICIHAVEOPT", greeting
    return s


def case_hostile(args):
    # Truncated handshakes, unknown client flags, bad option magic, oversized options.
    for payload in [b"", b"\x00", b"\x00\x00\x00\x01IHAVE", b"\xff\xff\xff\xff",
                    b"\x00\x00\x00\x01" + b"XXXXXXXX" + b"\x00" * 8]:
        s = raw_connect(args.port)
        s.sendall(payload)
        s.close()
    s = raw_connect(args.port)
    s.sendall(struct.pack(">I", 1))
    # An option of 1 MiB: refused with NBD_REP_ERR_TOO_BIG after its data is skipped.
    s.sendall(b"IHAVEOPT" + struct.pack(">II", 7, MiB) + b"\x00" * MiB)
    reply = b""
    while len(reply) < 20:
        part = s.recv(20 - len(reply))
        assert part, "closed instead of answering"
        reply += part
    magic, option, kind, length = struct.unpack(">QIII", reply)
    assert magic == 0x3e889045565a9 and option == 7 and kind == 0x80000009, hex(kind)
    s.close()
    # An oversized NBD_OPT_EXPORT_NAME cannot be refused: the server hangs up.
    s = raw_connect(args.port)
    s.sendall(struct.pack(">I", 1) + b"IHAVEOPT" + struct.pack(">II", 1, 1 << 30))
    s.settimeout(30)
    assert s.recv(1) == b""
    s.close()
    # Many connections opened and dropped, some mid-greeting.
    for i in range(args.connections):
        s = socket.create_connection(("127.0.0.1", args.port), timeout=30)
        if i % 2:
            s.sendall(b"\x00\x00")
        s.close()
    h = connect(args)  # still serving
    assert len(h.pread(512, 0)) == 512
    h.shutdown()
    print("hostile ok")


def case_tls(args):
    """NBD_OPT_STARTTLS with the certificates in --certs (libnbd's layout: ca-cert.pem and
    optionally client-cert.pem, client-key.pem); --expect read | denied | handshake-fails.
    --certs "" connects without TLS."""
    h = nbd.NBD()
    h.set_export_name(args.export)
    if args.certs:
        h.set_tls(nbd.TLS_REQUIRE)
        h.set_tls_certificates(args.certs)
    else:
        h.set_tls(nbd.TLS_DISABLE)
    h.set_opt_mode(True)
    try:
        h.connect_tcp("127.0.0.1", str(args.port))
    except nbd.Error as e:
        assert args.expect == "handshake-fails", e.string
        print("tls ok: refused at the handshake:", e.string)
        return
    if args.expect == "handshake-fails":
        # TLS 1.3: the client finishes its side before the server has checked the client's
        # certificate; the server's alert then fails the next exchange.
        try:
            h.opt_go()
        except nbd.Error as e:
            print("tls ok: refused after the handshake:", e.string)
            return
        raise AssertionError("the TLS handshake succeeded and the export was served")
    listed = []
    try:
        h.opt_list(lambda name, description: listed.append(name) or 0)
    except nbd.Error as e:
        assert args.expect == "denied", e.string
    if args.expect == "read":
        assert h.get_tls_negotiated()
        assert args.export in listed, listed
        h.opt_go()
        image = open(args.image, "rb").read()
        assert h.pread(MiB, 0) == image[:MiB]
        assert h.pread(3 * MiB, CHUNK - MiB) == image[CHUNK - MiB:CHUNK + 2 * MiB]
        h.shutdown()
    else:
        assert args.export not in listed, listed
        try:
            h.opt_go()
        except nbd.Error as e:
            print("tls ok: refused:", e.string)
            return
        raise AssertionError("the export was served")
    print("tls ok")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("case")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--export", default="")
    parser.add_argument("--image", default="")
    parser.add_argument("--max-block", type=int, default=4 * MiB)
    parser.add_argument("--listed", action="append", default=[])
    parser.add_argument("--bad-offset", type=int, default=0)
    parser.add_argument("--good-offset", type=int, default=0)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--certs", default="")
    parser.add_argument("--expect", default="read")
    args = parser.parse_args()
    globals()["case_" + args.case](args)


if __name__ == "__main__":
    sys.exit(main())
