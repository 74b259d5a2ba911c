#!/usr/bin/python3
"""An independent client of chunkcached: Python grpcio with stubs generated from the .proto at
test time, plus the health and reflection services used the way grpcurl uses them (their
message classes are built here from descriptors, since their .proto files are not installed).

Run by service_python_client_test.cc against a chunkcached serving the shared vectors datastore
(with its key) under the name given by --datastore. Exits 0 when every check passed; prints one
line per check.
"""

import argparse
import hashlib
import os
import subprocess
import sys

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

VM_IMAGE_SHA256 = "9d37bbe0cea57a36b1d915f7b6821be1f04947ea96dd774ace7413e0796c4061"
VM_IMAGE_SIZE = 16782216
CHUNK = 4194304
PXAR_SIZE = 104859232
MAX_MESSAGE = 64 << 20

failures = []


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what, flush=True)
    if not condition:
        failures.append(what)


def report():
    """The verdict of every check() so far, as an exit code (0: all passed)."""
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all checks passed")
    return 0


def generate_stubs(proto_root, out_dir):
    """grpc_tools.protoc, as a user of the published API would run it."""
    os.makedirs(out_dir, exist_ok=True)
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", proto_root,
                    "--python_out=" + out_dir, "--grpc_python_out=" + out_dir,
                    "chunkcache/v1/chunkcache.proto"], check=True)
    sys.path.insert(0, out_dir)
    from chunkcache.v1 import chunkcache_pb2, chunkcache_pb2_grpc  # noqa: E402
    return chunkcache_pb2, chunkcache_pb2_grpc


def message_classes(file_proto, names):
    """Message classes for `names` of a FileDescriptorProto built in code."""
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_proto)
    classes = []
    for name in names:
        descriptor = pool.FindMessageTypeByName(file_proto.package + "." + name)
        if hasattr(message_factory, "GetMessageClass"):
            classes.append(message_factory.GetMessageClass(descriptor))
        else:
            classes.append(message_factory.MessageFactory(pool).GetPrototype(descriptor))
    return classes


def add_field(message, name, number, field_type, label=None, type_name=None, oneof=None):
    field = message.field.add()
    if oneof is not None:
        field.oneof_index = oneof
    field.name = name
    field.number = number
    field.type = field_type
    field.label = label or descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
    if type_name:
        field.type_name = type_name


def proto3_file(name, package):
    """An empty proto3 FileDescriptorProto, to describe a standard service's messages in."""
    file_proto = descriptor_pb2.FileDescriptorProto()
    file_proto.name = name
    file_proto.package = package
    file_proto.syntax = "proto3"
    return file_proto


def reflection_messages():
    """The subset of grpc.reflection.v1alpha (reflection.proto) that a grpcurl-style client
    needs: list services and fetch the file that defines a symbol."""
    F = descriptor_pb2.FieldDescriptorProto
    fp = proto3_file("test_reflection_subset.proto", "grpc.reflection.v1alpha")
    request = fp.message_type.add(name="ServerReflectionRequest")
    # A oneof, as in reflection.proto: list_services="" must still be sent.
    request.oneof_decl.add(name="message_request")
    add_field(request, "host", 1, F.TYPE_STRING)
    add_field(request, "file_by_filename", 3, F.TYPE_STRING, oneof=0)
    add_field(request, "file_containing_symbol", 4, F.TYPE_STRING, oneof=0)
    add_field(request, "list_services", 7, F.TYPE_STRING, oneof=0)
    fdr = fp.message_type.add(name="FileDescriptorResponse")
    add_field(fdr, "file_descriptor_proto", 1, F.TYPE_BYTES, F.LABEL_REPEATED)
    service = fp.message_type.add(name="ServiceResponse")
    add_field(service, "name", 1, F.TYPE_STRING)
    services = fp.message_type.add(name="ListServiceResponse")
    add_field(services, "service", 1, F.TYPE_MESSAGE, F.LABEL_REPEATED,
              ".grpc.reflection.v1alpha.ServiceResponse")
    error = fp.message_type.add(name="ErrorResponse")
    add_field(error, "error_code", 1, F.TYPE_INT32)
    add_field(error, "error_message", 2, F.TYPE_STRING)
    response = fp.message_type.add(name="ServerReflectionResponse")
    add_field(response, "valid_host", 1, F.TYPE_STRING)
    add_field(response, "file_descriptor_response", 4, F.TYPE_MESSAGE, None,
              ".grpc.reflection.v1alpha.FileDescriptorResponse")
    add_field(response, "list_services_response", 6, F.TYPE_MESSAGE, None,
              ".grpc.reflection.v1alpha.ListServiceResponse")
    add_field(response, "error_response", 7, F.TYPE_MESSAGE, None,
              ".grpc.reflection.v1alpha.ErrorResponse")
    return message_classes(fp, ["ServerReflectionRequest", "ServerReflectionResponse"])


def health_messages():
    """grpc.health.v1 HealthCheckRequest/Response (health.proto)."""
    F = descriptor_pb2.FieldDescriptorProto
    fp = proto3_file("test_health_subset.proto", "grpc.health.v1")
    request = fp.message_type.add(name="HealthCheckRequest")
    add_field(request, "service", 1, F.TYPE_STRING)
    response = fp.message_type.add(name="HealthCheckResponse")
    add_field(response, "status", 1, F.TYPE_INT32)  # enum ServingStatus on the wire
    return message_classes(fp, ["HealthCheckRequest", "HealthCheckResponse"])


def check_reflection(channel):
    Request, Response = reflection_messages()
    call = channel.stream_stream(
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        request_serializer=Request.SerializeToString,
        response_deserializer=Response.FromString)
    requests = [Request(list_services=""),
                Request(file_containing_symbol="chunkcache.v1.ChunkCache")]
    responses = list(call(iter(requests), timeout=30))
    check(len(responses) == 2, "reflection answers both requests")
    listed = sorted(s.name for s in responses[0].list_services_response.service)
    print("     services: " + ", ".join(listed))
    for name in ("chunkcache.v1.ChunkCache", "grpc.health.v1.Health",
                 "grpc.reflection.v1alpha.ServerReflection"):
        check(name in listed, "reflection lists " + name)

    files = {}
    for raw in responses[1].file_descriptor_response.file_descriptor_proto:
        fdp = descriptor_pb2.FileDescriptorProto.FromString(raw)
        files[fdp.name] = fdp
    api = files.get("chunkcache/v1/chunkcache.proto")
    check(api is not None, "reflection returns chunkcache/v1/chunkcache.proto")
    if api is None:
        return
    methods = {m.name: m for s in api.service if s.name == "ChunkCache" for m in s.method}
    check(set(methods) >= {"ReadRange", "StreamRange", "StatSnapshot", "Prefetch"},
          "ChunkCache describes its four methods")
    read_range = methods.get("ReadRange")
    check(read_range is not None and read_range.input_type == ".chunkcache.v1.ReadRangeRequest",
          "ReadRange takes chunkcache.v1.ReadRangeRequest")
    check(methods.get("StreamRange") is not None and methods["StreamRange"].server_streaming,
          "StreamRange is server-streaming")
    request_type = [m for m in api.message_type if m.name == "ReadRangeRequest"]
    fields = {f.name: f.number for f in request_type[0].field} if request_type else {}
    check(fields == {"snapshot": 1, "offset": 2, "length": 3},
          "ReadRangeRequest is described as snapshot=1 offset=2 length=3: %s" % fields)


def check_health(channel):
    Request, Response = health_messages()
    check_call = channel.unary_unary("/grpc.health.v1.Health/Check",
                                     request_serializer=Request.SerializeToString,
                                     response_deserializer=Response.FromString)
    for service in ("", "chunkcache.v1.ChunkCache"):
        status = check_call(Request(service=service), timeout=10).status
        check(status == 1, "health of '%s' is SERVING (%d)" % (service, status))


def ref(pb2, datastore, namespace, backup_type, backup_id, backup_time, archive):
    return pb2.SnapshotRef(datastore=datastore, namespace=namespace, backup_type=backup_type,
                           backup_id=backup_id, backup_time=backup_time, archive=archive)


def read_all_unary(stub, pb2, snapshot, size, piece):
    digest = hashlib.sha256()
    offset = 0
    eof = False
    while offset < size:
        reply = stub.ReadRange(pb2.ReadRangeRequest(snapshot=snapshot, offset=offset,
                                                    length=piece), timeout=60)
        if reply.offset != offset or not reply.data:
            return None, False
        digest.update(reply.data)
        offset += len(reply.data)
        eof = reply.eof
    return digest.hexdigest(), eof and offset == size


def expect_code(what, call, code, text=None):
    try:
        call()
        check(False, "%s fails with %s (it succeeded)" % (what, code.name))
    except grpc.RpcError as error:
        ok = error.code() == code and (text is None or text in error.details())
        check(ok, "%s fails with %s: %s %s" % (what, code.name, error.code().name,
                                                 error.details()))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--proto-root", required=True)
    parser.add_argument("--scratch", required=True)
    parser.add_argument("--datastore", required=True)
    args = parser.parse_args()

    pb2, pb2_grpc = generate_stubs(args.proto_root, os.path.join(args.scratch, "stubs"))
    channel = grpc.insecure_channel(args.server, options=[
        ("grpc.max_receive_message_length", MAX_MESSAGE)])
    stub = pb2_grpc.ChunkCacheStub(channel)

    plain = ref(pb2, args.datastore, "", "vm", "100", 1767225600, "drive-scsi0.img.fidx")
    encrypted = ref(pb2, args.datastore, "enc", "vm", "100", 1767312000, "drive-scsi0.img.fidx")
    pxar = ref(pb2, args.datastore, "", "host", "pxar-payload", 1715091951,
               "backup-client-pxar-data.ppxar.didx")

    info = stub.StatSnapshot(pb2.StatSnapshotRequest(snapshot=plain), timeout=30)
    check(info.size == VM_IMAGE_SIZE and info.chunk_size == CHUNK and info.chunk_count == 5,
          "StatSnapshot: size %d chunk_size %d chunks %d" % (info.size, info.chunk_size,
                                                            info.chunk_count))
    check(info.crypt_mode == "none", "plain image crypt_mode none")
    info = stub.StatSnapshot(pb2.StatSnapshotRequest(snapshot=encrypted), timeout=30)
    check(info.crypt_mode == "encrypt", "encrypted image crypt_mode encrypt")

    for name, snapshot in (("plain", plain), ("encrypted", encrypted)):
        sha, eof = read_all_unary(stub, pb2, snapshot, VM_IMAGE_SIZE, CHUNK)
        check(sha == VM_IMAGE_SHA256 and eof, "%s image by ReadRange: sha256 %s" % (name, sha))
        digest = hashlib.sha256()
        total = 0
        last_eof = False
        in_order = True
        largest = 0
        for reply in stub.StreamRange(pb2.ReadRangeRequest(snapshot=snapshot, offset=0,
                                                           length=0), timeout=120):
            in_order = in_order and reply.offset == total
            largest = max(largest, len(reply.data))
            digest.update(reply.data)
            total += len(reply.data)
            last_eof = reply.eof
        check(in_order and largest <= CHUNK, "%s StreamRange messages in order, each at most "
              "max_read_bytes (largest %d)" % (name, largest))
        check(digest.hexdigest() == VM_IMAGE_SHA256 and total == VM_IMAGE_SIZE and last_eof,
              "%s image by StreamRange(length 0): sha256 %s" % (name, digest.hexdigest()))

    # A read across the boundary of chunks 1 and 2, and the short read at the end.
    reply = stub.ReadRange(pb2.ReadRangeRequest(snapshot=plain, offset=2 * CHUNK - 100,
                                                length=200), timeout=30)
    check(len(reply.data) == 200 and reply.offset == 2 * CHUNK - 100 and not reply.eof,
          "read across a chunk boundary")
    reply = stub.ReadRange(pb2.ReadRangeRequest(snapshot=plain, offset=VM_IMAGE_SIZE - 10,
                                                length=100), timeout=30)
    check(len(reply.data) == 10 and reply.eof, "short read at the end has eof")
    reply = stub.ReadRange(pb2.ReadRangeRequest(snapshot=pxar, offset=PXAR_SIZE - 1, length=1),
                           timeout=30)
    check(reply.data == b"\x00" and reply.eof, "last byte of the dynamic pxar archive")
    reply = stub.ReadRange(pb2.ReadRangeRequest(snapshot=pxar, offset=1048608 - 16, length=32),
                           timeout=30)
    check(len(reply.data) == 32, "read across a dynamic chunk boundary")

    expect_code("offset at the end", lambda: stub.ReadRange(
        pb2.ReadRangeRequest(snapshot=plain, offset=VM_IMAGE_SIZE, length=1), timeout=30),
        grpc.StatusCode.OUT_OF_RANGE)
    expect_code("length 0", lambda: stub.ReadRange(
        pb2.ReadRangeRequest(snapshot=plain, offset=0, length=0), timeout=30),
        grpc.StatusCode.INVALID_ARGUMENT)
    expect_code("path traversal in backup_id", lambda: stub.ReadRange(
        pb2.ReadRangeRequest(snapshot=ref(pb2, args.datastore, "", "vm", "../100", 1767225600,
                                          "drive-scsi0.img.fidx"), offset=0, length=1),
        timeout=30), grpc.StatusCode.INVALID_ARGUMENT)

    check_health(channel)
    check_reflection(channel)

    return report()


if __name__ == "__main__":
    sys.exit(main())
