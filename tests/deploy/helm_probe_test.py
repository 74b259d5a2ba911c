#!/usr/bin/python3
"""Runs the chart's exec probes, as rendered, against a real chunkcached serving TLS.

For each case (node tier with TLS, node tier with mutual TLS, tier 2 with TLS) it renders
helm/chunkcache with `helm template`, takes the pod's config (ConfigMap) and the exact
readiness and liveness command lines, and replaces only what exists in a cluster alone: files
under /etc/chunkcache/ become the test files of the Secret key the pod mounts there (a CA,
server and client certificates made with openssl), `chunkcache` this build's CLI, the port
the one chunkcached listens on, the datastore a copy of the shared PBS vector datastore. Then:

  * readiness and liveness exit 0;
  * the readiness command fails with a wrong --tls-server-name (the name is verified), and,
    under mutual TLS, without its client certificate (the certificate is needed);
  * once the datastore directory is gone, readiness fails while liveness still passes;
    with the directory back, readiness passes again.

  helm_probe_test.py --helm HELM --chart helm/chunkcache --bin BUILD/bin --shared ../shared
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from helm_render_test import mounted_file  # noqa: E402  (the render test's mount resolver)

FAILURES = []
# The Service names the chart documents for the certificates of each tier (release "rel" in
# namespace "cache"): the probes verify these by default.
NODE_NAME = "rel-chunkcache.cache.svc.cluster.local"
TIER2_NAME = "rel-chunkcache-tier2.cache.svc.cluster.local"
# chunkcached re-checks the datastores every 10 s.
HEALTH_WAIT_SECONDS = 40


def fail(message):
    print("FAIL:", message)
    FAILURES.append(message)


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_ca(work, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{work}/{name}.key", "-out", f"{work}/{name}.pem", "-days", "2",
            "-subj", f"/CN={name}")


def make_cert(work, ca, name, extensions):
    with open(f"{work}/{name}.ext", "w") as f:
        f.write(extensions + "\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{work}/{name}.key", "-out", f"{work}/{name}.csr", "-subj", f"/CN={name}")
    openssl("x509", "-req", "-in", f"{work}/{name}.csr", "-CA", f"{work}/{ca}.pem",
            "-CAkey", f"{work}/{ca}.key", "-CAcreateserial", "-out", f"{work}/{name}.pem",
            "-days", "2", "-extfile", f"{work}/{name}.ext")


def render(helm, chart, sets):
    cmd = [helm, "template", "rel", chart, "--namespace", "cache"]
    for item in sets:
        cmd += ["--set", item]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"helm template {sets}: {run.stderr}")
    return [doc for doc in yaml.safe_load_all(run.stdout) if doc]


def tier_pod(docs, tier):
    for doc in docs:
        if doc.get("kind") in ("DaemonSet", "Deployment"):
            template = doc["spec"]["template"]
            if template["metadata"]["labels"]["app.kubernetes.io/component"] == tier:
                return template["spec"]
    raise RuntimeError(f"no workload of tier {tier}")


def run_probe(command, timeout=20):
    run = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    return run.returncode, (run.stdout + run.stderr).strip()


def wait_probe(command, want_ok, seconds):
    """Runs the probe until it succeeds (want_ok) or fails; returns the last (code, output)."""
    deadline = time.monotonic() + seconds
    while True:
        code, output = run_probe(command)
        if (code == 0) == want_ok or time.monotonic() > deadline:
            return code, output
        time.sleep(1)


def run_case(args, case, files, work):
    name = case["name"]
    failures_before = len(FAILURES)
    print(f"--- {name}")
    docs = render(args.helm, args.chart, case["set"])
    pod = tier_pod(docs, case["tier"])
    container = pod["containers"][0]
    volumes = {v["name"]: v for v in pod["volumes"]}
    config_volume = volumes["config"]["configMap"]["name"]
    config_map = next(d for d in docs if d["kind"] == "ConfigMap"
                      and d["metadata"]["name"] == config_volume)
    config = json.loads(config_map["data"]["config.json"])
    port = int(config["listen"].rsplit(":", 1)[1])

    def local_file(path):
        """The test file of the Secret key the pod mounts at `path`."""
        source = mounted_file(pod, container, path, docs, True)
        if source not in files:
            raise RuntimeError(f"{name}: {path} is mounted from {source}, not a test Secret")
        return files[source]

    # The pod's config, with test files, a loopback port and a datastore copy to take away.
    case_dir = os.path.join(work, name)
    os.makedirs(case_dir)
    datastore = os.path.join(case_dir, "datastore")
    shutil.copytree(os.path.join(args.shared, "spec/vectors/datastore"), datastore)
    for ds in config["datastores"]:
        ds["path"] = datastore
    tls = config["tls"]
    for field in ("cert_file", "key_file", "client_ca_file"):
        if field in tls:
            tls[field] = local_file(tls[field])
    if case["mtls"] and not tls.get("require_client_cert"):
        fail(f"{name}: the rendered config does not require client certificates")
    config["listen"] = "127.0.0.1:0"
    config["metrics_listen"] = "none"
    config["cache"]["dir"] = os.path.join(case_dir, "cache")
    config_path = os.path.join(case_dir, "config.json")
    with open(config_path, "w") as f:
        json.dump(config, f)

    # The probe command lines, run here as the kubelet runs them in the container.
    probes = {}
    for probe_name in ("readinessProbe", "livenessProbe"):
        command = container[probe_name].get("exec", {}).get("command")
        if not command:
            fail(f"{name}: {probe_name} is not an exec probe: {container[probe_name]}")
            return
        probes[probe_name] = command
    print("readiness:", " ".join(probes["readinessProbe"]))
    print("liveness: ", " ".join(probes["livenessProbe"]))

    port_file = os.path.join(case_dir, "ports")
    log = open(os.path.join(case_dir, "chunkcached.log"), "w")
    daemon = subprocess.Popen([os.path.join(args.bin, "chunkcached"), "--config", config_path,
                               "--port-file", port_file], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not (os.path.exists(port_file) and "grpc_port=" in open(port_file).read()):
            if daemon.poll() is not None or time.monotonic() > deadline:
                log.flush()
                fail(f"{name}: chunkcached did not start: {open(log.name).read()}")
                return
            time.sleep(0.1)
        ports = dict(line.split("=", 1) for line in open(port_file).read().split())
        real_port = int(ports["grpc_port"])

        def local(command):
            out = []
            for arg in command:
                if arg == "chunkcache":
                    arg = os.path.join(args.bin, "chunkcache")
                elif arg == f"127.0.0.1:{port}":
                    arg = f"127.0.0.1:{real_port}"
                elif arg.startswith("/etc/chunkcache/"):
                    arg = local_file(arg)
                out.append(arg)
            return out

        readiness = local(probes["readinessProbe"])
        liveness = local(probes["livenessProbe"])
        if readiness[:4] != [os.path.join(args.bin, "chunkcache"), "health", "--server",
                             f"127.0.0.1:{real_port}"]:
            fail(f"{name}: the readiness probe does not ask the pod's own gRPC port: {readiness}")
            return

        code, output = wait_probe(readiness, True, 15)
        if code != 0:
            fail(f"{name}: readiness exits {code} on a healthy server: {output}")
        code, output = run_probe(liveness)
        if code != 0:
            fail(f"{name}: liveness exits {code} on a healthy server: {output}")

        # The server name and the client certificate the probes carry are both needed.
        wrong_name = list(readiness)
        wrong_name[wrong_name.index("--tls-server-name") + 1] = "wrong.example.org"
        code, output = run_probe(wrong_name)
        if code == 0:
            fail(f"{name}: readiness with --tls-server-name wrong.example.org passes")
        if case["mtls"]:
            if "--cert" not in readiness:
                fail(f"{name}: the readiness probe presents no client certificate")
            else:
                i = readiness.index("--cert")
                without_cert = readiness[:i] + readiness[i + 4:]
                code, output = run_probe(without_cert)
                if code == 0:
                    fail(f"{name}: the server accepts the probe without a client certificate")
                else:
                    print(f"without the client certificate: exit {code}: {output[-200:]}")

        # The datastore goes away (a failed mount): readiness fails, liveness does not.
        os.rename(datastore, datastore + ".gone")
        code, output = wait_probe(readiness, False, HEALTH_WAIT_SECONDS)
        if code == 0:
            fail(f"{name}: readiness still passes {HEALTH_WAIT_SECONDS} s after the datastore "
                 f"directory was removed")
        else:
            print(f"datastore gone: readiness exit {code}: {output[-200:]}")
        code, output = run_probe(liveness)
        if code != 0:
            fail(f"{name}: liveness exits {code} while only the datastore is gone: {output}")
        else:
            print("datastore gone: liveness exit 0")
        os.rename(datastore + ".gone", datastore)
        code, output = wait_probe(readiness, True, HEALTH_WAIT_SECONDS)
        if code != 0:
            fail(f"{name}: readiness still fails after the datastore came back: {output}")
        else:
            print("datastore back: readiness exit 0")
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        log.close()
        if len(FAILURES) > failures_before:
            print(open(log.name).read()[-3000:])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--helm", required=True)
    parser.add_argument("--chart", required=True)
    parser.add_argument("--bin", required=True, help="directory of chunkcached and chunkcache")
    parser.add_argument("--shared", required=True)
    args = parser.parse_args()
    for program in ("chunkcached", "chunkcache"):
        if not os.access(os.path.join(args.bin, program), os.X_OK):
            print(f"FAIL: {args.bin}/{program} is not built")
            return 1
    if not shutil.which("openssl"):
        print("FAIL: the openssl CLI is needed to make test certificates")
        return 1

    with tempfile.TemporaryDirectory(prefix="helm-probe-") as work:
        # One CA signs the servers' certificates (for the names the chart documents) and the
        # probes' client certificate, as a cert-manager issuer would.
        make_ca(work, "ca")
        make_cert(work, "ca", "node", f"subjectAltName=DNS:{NODE_NAME}\nextendedKeyUsage=serverAuth")
        make_cert(work, "ca", "tier2",
                  f"subjectAltName=DNS:{TIER2_NAME}\nextendedKeyUsage=serverAuth")
        make_cert(work, "ca", "probe", "extendedKeyUsage=clientAuth")
        # The Secrets the cases name: (Secret, key) -> test file.
        files = {
            ("node-tls", "tls.crt"): f"{work}/node.pem",
            ("node-tls", "tls.key"): f"{work}/node.key",
            ("node-tls", "ca.crt"): f"{work}/ca.pem",
            ("probe-client", "tls.crt"): f"{work}/probe.pem",
            ("probe-client", "tls.key"): f"{work}/probe.key",
            ("tier2-tls", "tls.crt"): f"{work}/tier2.pem",
            ("tier2-tls", "tls.key"): f"{work}/tier2.key",
            ("tier2-tls", "ca.crt"): f"{work}/ca.pem",
        }
        node_tls = ["tls.enabled=true", "tls.existingSecret=node-tls"]
        cases = [
            {"name": "node-tls", "tier": "node", "mtls": False, "set": node_tls},
            {"name": "node-mtls", "tier": "node", "mtls": True,
             "set": node_tls + ["tls.clientCa.enabled=true", "tls.requireClientCert=true",
                                "probes.tls.clientCertSecret=probe-client"]},
            {"name": "tier2-tls", "tier": "tier2", "mtls": False,
             "set": ["tier2.enabled=true", "tier2.tls.enabled=true",
                     "tier2.tls.existingSecret=tier2-tls"]},
        ]
        for case in cases:
            try:
                run_case(args, case, files, work)
            except (RuntimeError, subprocess.SubprocessError, OSError, KeyError) as error:
                fail(f"{case['name']}: {error}")
    print(f"{len(cases)} cases, {len(FAILURES)} failures")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
