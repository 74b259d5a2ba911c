#!/usr/bin/python3
"""The README's ghz command lines, run as ghz would run them, against a real chunkcached serving
a datastore shaped like the demo's (datastore "demo", vm/100 at 2026-01-01T00:00:00Z, a 96 MiB
drive-scsi0.img.fidx).

ghz itself is packaged neither by Debian nor by npm, so this test does what ghz does with each
command line: it takes the method from --call, finds its input and output types by server
reflection (ghz needs no .proto file), checks that the -d data is valid JSON as ghz does before
anything else (a template must sit inside a JSON string), renders it as a Go template with ghz's
randomInt, parses the JSON into the request message (protojson rules), and makes the calls with
the -c concurrency (-z durations are cut to a few seconds). Every call must succeed and return
what the request asked for. A flag or template action this test does not understand fails it,
so a README change cannot slip past untested.

  readme_ghz_test.py --bin BUILD/bin --readme README.md [--scratch DIR]
"""

import argparse
import json
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from python_client import check, reflection_messages, report  # noqa: E402

ARCHIVE_SIZE = 96 << 20
MAX_SECONDS_PER_COMMAND = 3.0


def readme_ghz_commands(readme_path):
    """Every `ghz ...` command of the README's shell blocks: continuation lines joined, and
    lines inside a quoted argument kept, as the shell reads them."""
    commands, current = [], None
    in_shell = False
    for line in open(readme_path, encoding="utf-8"):
        stripped = line.rstrip("\n")
        if stripped.startswith("```"):
            in_shell = stripped in ("```sh", "```bash", "```shell") and not in_shell
            continue
        if not in_shell:
            continue
        if current is None and stripped.startswith("ghz "):
            current = ""
        if current is None:
            continue
        if stripped.endswith("\\"):  # a continued line
            current += stripped[:-1] + " "
            continue
        current += stripped + "\n"
        try:
            shlex.split(current)
        except ValueError:  # a quoted argument (the -d JSON) spans lines
            continue
        commands.append(current.strip())
        current = None
    return commands


def parse_ghz(command):
    """The options of one ghz command line; unknown flags are an error."""
    words = shlex.split(command)
    assert words[0] == "ghz"
    options, target, i = {}, None, 1
    with_value = {"--call": "call", "-c": "concurrency", "-z": "duration", "-n": "total",
                  "-d": "data"}
    while i < len(words):
        word = words[i]
        if word == "--insecure":
            options["insecure"] = True
        elif word in with_value:
            options[with_value[word]] = words[i + 1]
            i += 1
        elif word.startswith("-"):
            raise ValueError("flag %s is not one this test knows how ghz treats" % word)
        else:
            target = word
        i += 1
    options["target"] = target
    if "data" in options:
        check_data_is_json(options["data"])
    return options


def check_data_is_json(data):
    """ghz unmarshals -d as JSON before it renders templates, so an unquoted {{...}} action is
    refused there (`invalid character '{' looking for beginning of object key string`)."""
    try:
        json.loads(data)
    except json.JSONDecodeError as error:
        raise ValueError("ghz refuses -d that is not valid JSON before templating (%s): %s"
                         % (error, data)) from error


def render_template(data):
    """ghz renders -d as a Go text/template; only randomInt is used (and allowed) here.
    ghz's randomInt(min, max) returns an integer in [min, max)."""
    def random_int(match):
        low, high = int(match.group(1)), int(match.group(2))
        return str(random.randrange(low, high))
    rendered = re.sub(r"\{\{\s*randomInt\s+(\d+)\s+(\d+)\s*\}\}", random_int, data)
    if "{{" in rendered:
        raise ValueError("template action other than randomInt in: " + data)
    return rendered


def method_types(channel, full_method):
    """Input and output classes of `package.Service/Method`, from server reflection."""
    service_name, method_name = full_method.split("/")
    Request, Response = reflection_messages()
    call = channel.stream_stream(
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        request_serializer=Request.SerializeToString,
        response_deserializer=Response.FromString)
    reply = list(call(iter([Request(file_containing_symbol=service_name)]), timeout=30))[0]
    files = [descriptor_pb2.FileDescriptorProto.FromString(raw)
             for raw in reply.file_descriptor_response.file_descriptor_proto]
    pool = descriptor_pool.DescriptorPool()
    added = set()
    while len(added) < len(files):  # dependencies first
        for file_proto in files:
            if file_proto.name not in added and all(d in added for d in file_proto.dependency):
                pool.Add(file_proto)
                added.add(file_proto.name)
    method = pool.FindServiceByName(service_name).FindMethodByName(method_name)

    def message_class(descriptor):
        if hasattr(message_factory, "GetMessageClass"):
            return message_factory.GetMessageClass(descriptor)
        return message_factory.MessageFactory(pool).GetPrototype(descriptor)
    return method, message_class(method.input_type), message_class(method.output_type)


def run_command(channel, options):
    method, Request, Response = method_types(channel, options["call"])
    path = "/" + options["call"]
    concurrency = int(options.get("concurrency", "50"))
    total = int(options["total"]) if "total" in options else None
    if total is None and "duration" not in options:
        total = 200  # ghz's default -n
    deadline = time.monotonic() + MAX_SECONDS_PER_COMMAND
    lock = threading.Lock()
    results = {"ok": 0, "bad": []}
    started = [0]

    def one_call():
        request = json_format.Parse(render_template(options["data"]), Request())
        if method.server_streaming:
            call = channel.unary_stream(path, request_serializer=Request.SerializeToString,
                                        response_deserializer=Response.FromString)
            received, eof, expected_offset = 0, False, request.offset
            for message in call(request, timeout=60):
                if message.offset != expected_offset:
                    return "stream offset %d, expected %d" % (message.offset, expected_offset)
                expected_offset += len(message.data)
                received += len(message.data)
                eof = eof or message.eof
            want = request.length or ARCHIVE_SIZE - request.offset
            return None if received == want and eof else (
                "stream gave %d bytes (eof %s), expected %d" % (received, eof, want))
        call = channel.unary_unary(path, request_serializer=Request.SerializeToString,
                                   response_deserializer=Response.FromString)
        reply = call(request, timeout=60)
        want = min(request.length, ARCHIVE_SIZE - request.offset)
        if reply.offset != request.offset or len(reply.data) != want:
            return "reply at %d with %d bytes, expected %d at %d" % (
                reply.offset, len(reply.data), want, request.offset)
        return None

    def worker():
        while time.monotonic() < deadline:
            with lock:
                if total is not None and started[0] >= total:
                    return
                started[0] += 1
            try:
                problem = one_call()
            except grpc.RpcError as error:
                problem = "%s: %s" % (error.code(), error.details())
            except json_format.ParseError as error:
                problem = "data does not parse as %s: %s" % (Request.DESCRIPTOR.full_name, error)
            with lock:
                if problem:
                    results["bad"].append(problem)
                else:
                    results["ok"] += 1
            if problem:
                return

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def make_datastore(bin_dir, scratch):
    """A 96 MiB image (random blocks between zeros, like a sparse disk) as the demo's snapshot."""
    image = os.path.join(scratch, "disk.img")
    rng = random.Random(100)
    with open(image, "wb") as out:
        for block in range(ARCHIVE_SIZE // (1 << 20)):
            out.write(rng.randbytes(1 << 20) if block % 3 else bytes(1 << 20))
    store = os.path.join(scratch, "store")
    subprocess.run([os.path.join(bin_dir, "chunkcache"), "datastore", "create", "--path", store,
                    "--snapshot", "vm/100/2026-01-01T00:00:00Z", "--archive",
                    "drive-scsi0.img.fidx", "--image", image], check=True,
                   stdout=subprocess.DEVNULL)
    return store


def start_server(bin_dir, scratch, store):
    ports = os.path.join(scratch, "ports")
    log = open(os.path.join(scratch, "chunkcached.log"), "w")
    server = subprocess.Popen(
        [os.path.join(bin_dir, "chunkcached"), "--listen", "127.0.0.1:0", "--metrics-listen",
         "127.0.0.1:0", "--datastore", "demo=" + store, "--cache-dir",
         os.path.join(scratch, "cache"), "--cache-bytes", "256MiB", "--port-file", ports],
        stdout=log, stderr=log)
    for _ in range(300):
        if os.path.exists(ports) and os.path.getsize(ports) > 0:
            break
        time.sleep(0.1)
    values = dict(line.strip().split("=", 1) for line in open(ports) if "=" in line)
    return server, "127.0.0.1:" + values["grpc_port"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--readme", required=True)
    parser.add_argument("--scratch", help="work directory (default: a temporary one)")
    args = parser.parse_args()
    if args.scratch is None:
        with tempfile.TemporaryDirectory(prefix="readme-ghz-") as scratch:
            args.scratch = scratch
            return run(args)
    return run(args)


def run(args):
    try:  # what ghz answers to an unquoted template action in -d
        check_data_is_json('{"offset": {{randomInt 0 100}}, "length": 1}')
        check(False, "an unquoted template in -d is refused, as ghz refuses it")
    except ValueError:
        check(True, "an unquoted template in -d is refused, as ghz refuses it")
    commands = readme_ghz_commands(args.readme)
    check(len(commands) >= 2, "the README has ghz command lines (%d)" % len(commands))
    store = make_datastore(args.bin, args.scratch)
    server, address = start_server(args.bin, args.scratch, store)
    try:
        channel = grpc.insecure_channel(address, options=[
            ("grpc.max_receive_message_length", 64 << 20)])
        for command in commands:
            options = parse_ghz(command)
            print("     " + command[:100] + ("..." if len(command) > 100 else ""))
            check(options.get("insecure", False), "it uses --insecure (the demo has no TLS)")
            check(options["target"] == "127.0.0.1:7070",
                  "it targets chunkcached's default address (%s)" % options["target"])
            results = run_command(channel, options)
            check(not results["bad"] and results["ok"] > 0,
                  "%s: %d calls ok, failures: %s" % (options["call"], results["ok"],
                                                     results["bad"][:3]))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return report()


if __name__ == "__main__":
    sys.exit(main())
