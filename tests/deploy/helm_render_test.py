#!/usr/bin/python3
"""Renders helm/chunkcache with `helm template` and checks what a cluster would run.

For each case (values file plus overrides) it checks the objects present, the pods' security
contexts, probes, ports, volumes and mounts, the monitors' selectors, the dashboard ConfigMap,
and above all the JSON config in the ConfigMap each pod reads: every field is a config.proto
field, its ports are the container's and the probes', its capacity and datastores are the
values', its datastore paths and key/token/TLS files are mounts of that pod, a remote datastore
targets the tier-2 Service. With --chunkcached, `chunkcached --check-config` must accept each
rendered config (file paths rewritten to test files: the shared PBS vector datastore, its
password-protected key, a generated certificate).

  helm_render_test.py --helm HELM --chart helm/chunkcache --values-dir tests/deploy \
      --proto proto/chunkcache/v1/config.proto --shared ../shared [--chunkcached BIN]
"""
import argparse
import base64
import copy
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

FAILURES = []
CHECKS = [0]


def check(condition, message):
    CHECKS[0] += 1
    if not condition:
        FAILURES.append(message)
    return condition


def deep_merge(base, override):
    result = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def flatten_sets(overrides, prefix=""):
    """{"a": {"b": 1}} -> ["a.b=1"] for helm --set (scalars only)."""
    out = []
    for key, value in overrides.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out += flatten_sets(value, name + ".")
        else:
            out.append(f"{name}={json.dumps(value) if isinstance(value, bool) else value}")
    return out


UNITS = {"": 1, "B": 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40,
         "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}


def size_bytes(text):
    match = re.fullmatch(r"([0-9]+)([KMGT]i(?:B)?|B)?", str(text))
    if not match:
        raise ValueError(f"not a size: {text!r}")
    return int(match.group(1)) * UNITS[match.group(2) or ""]


# --- config.proto: message name -> {json field name -> message type or None} ---------------
SCALARS = {"string", "bool", "double", "float", "int32", "int64", "uint32", "uint64", "bytes"}


def parse_proto(path):
    text = re.sub(r"//[^\n]*", "", open(path, encoding="utf-8").read())
    messages = {}
    for match in re.finditer(r"message\s+(\w+)\s*\{([^}]*)\}", text):
        fields = {}
        for field in re.finditer(
                r"(?:optional\s+|repeated\s+)?([\w.]+)\s+(\w+)\s*=\s*\d+\s*;", match.group(2)):
            ftype, fname = field.groups()
            fields[fname] = None if ftype in SCALARS else ftype
        messages[match.group(1)] = fields
    return messages


def check_fields(obj, message, messages, where):
    fields = messages.get(message)
    if not check(fields is not None, f"{where}: config.proto has no message {message}"):
        return
    for key, value in obj.items():
        if not check(key in fields, f"{where}.{key}: not a field of {message} in config.proto"):
            continue
        sub = fields[key]
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            if sub is not None:
                if check(isinstance(item, dict), f"{where}.{key}: expected an object"):
                    check_fields(item, sub, messages, f"{where}.{key}[{i}]")
            else:
                check(not isinstance(item, dict), f"{where}.{key}: scalar field holds an object")


# --- Kubernetes helpers ---------------------------------------------------------------------
def selects(selector, labels):
    """Does a LabelSelector (matchLabels + matchExpressions) match these labels?"""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def helm_template(args, case, chart, values_dir):
    cmd = [args.helm, "template", "rel", chart, "--namespace", "cache"]
    if case.get("values_file"):
        cmd += ["-f", os.path.join(values_dir, case["values_file"])]
    for item in flatten_sets(case.get("set", {})):
        cmd += ["--set", item]
    for path, value in case.get("set_json", {}).items():  # lists of objects: --set-json
        cmd += ["--set-json", f"{path}={json.dumps(value)}"]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if not check(run.returncode == 0, f"{case['name']}: helm template failed: {run.stderr}"):
        return None
    return [doc for doc in yaml.safe_load_all(run.stdout) if doc]


def by_kind(docs, kind):
    return [d for d in docs if d.get("kind") == kind]


def find(docs, kind, name):
    for doc in docs:
        if doc.get("kind") == kind and doc["metadata"]["name"] == name:
            return doc
    return None


def secret_value(docs, name, key):
    secret = find(docs, "Secret", name)
    if secret is None or key not in (secret.get("data") or {}):
        return None
    return base64.b64decode(secret["data"][key]).decode()


def mounted_file(pod, container, path, docs, ns_secrets_external):
    """Is `path` a file that one of the container's mounts provides? Returns the source."""
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in container.get("volumeMounts", []):
        mount_path = mount["mountPath"].rstrip("/")
        if not path.startswith(mount_path + "/"):
            continue
        relative = path[len(mount_path) + 1:]
        volume = volumes.get(mount["name"], {})
        sources = []
        if "secret" in volume:
            sources = [volume["secret"]]
        elif "projected" in volume:
            sources = [s["secret"] for s in volume["projected"]["sources"] if "secret" in s]
        for source in sources:
            items = source.get("items")
            if items is None or any(item["path"] == relative for item in items):
                name = source.get("secretName") or source.get("name")
                key = next((item["key"] for item in items or [] if item["path"] == relative),
                           relative)
                return (name, key)
    return None


def probe_mode(values, tls_on):
    """probes.mode with auto resolved: gRPC probes on a plaintext port, exec ones on TLS."""
    mode = values["probes"]["mode"]
    if mode == "auto":
        mode = "exec" if tls_on else "grpc"
    return mode


def probe_tls_expectations(values, is_tier2):
    """(CA (secret, key), server name, client certificate Secret or None) of exec probes."""
    if is_tier2:
        return ((values["tier2"]["tls"]["existingSecret"], "ca.crt"),
                f"rel-chunkcache-tier2.cache.svc.{values['clusterDomain']}", None)
    probe_tls = values["probes"]["tls"]
    if probe_tls["caSecret"]:
        ca = (probe_tls["caSecret"], probe_tls["caKey"])
    elif probe_tls["caPem"]:
        ca = ("rel-chunkcache-probe-tls", "ca.crt")
    else:
        ca = (values["tls"]["existingSecret"], "ca.crt")
    name = probe_tls["serverName"] or f"rel-chunkcache.cache.svc.{values['clusterDomain']}"
    return ca, name, probe_tls["clientCertSecret"] or None


def option(command, flag):
    """The value after `flag` in an argv list, or None."""
    return command[command.index(flag) + 1] if flag in command[:-1] else None


def check_probes(wname, pod, container, values, is_tier2, tls_on, docs):
    """Readiness asks health service "" (the datastores are readable), liveness "liveness"
    (the process answers), so a storage outage does not restart the pod: as kubelet gRPC
    probes on a plaintext port, as `chunkcache health` over TLS in the container on a TLS
    port (the kubelet's gRPC probes speak plaintext only), or TCP connects if chosen."""
    grpc_port = values["ports"]["grpc"]
    mode = probe_mode(values, tls_on)
    handler = {"grpc": "grpc", "exec": "exec", "tcp": "tcpSocket"}[mode]
    for probe_name in ("readinessProbe", "livenessProbe"):
        liveness = probe_name == "livenessProbe"
        probe = container.get(probe_name, {})
        check(not {"httpGet", "tcpSocket", "exec", "grpc"} - {handler} & set(probe),
              f"{wname}: {probe_name} has another handler than {handler}: {probe}")
        timings = values["livenessProbe" if liveness else "readinessProbe"]
        check({k: v for k, v in probe.items() if k != handler} == timings,
              f"{wname}: {probe_name} timings {probe}, expected {timings}")
        if mode in ("grpc", "tcp"):
            check(probe.get(handler, {}).get("port") == grpc_port,
                  f"{wname}: {probe_name} is not a {handler} probe on the gRPC port: {probe}")
            wanted = "liveness" if liveness and mode == "grpc" else None
            check(probe.get(handler, {}).get("service") == wanted,
                  f"{wname}: {probe_name} asks service {probe.get(handler, {}).get('service')!r}, "
                  f"not {wanted!r}")
            continue
        command = probe.get("exec", {}).get("command", [])
        if not check(command[:4] == ["chunkcache", "health", "--server", f"127.0.0.1:{grpc_port}"],
                     f"{wname}: {probe_name} command {command}"):
            continue
        check(option(command, "--service") == ("liveness" if liveness else None),
              f"{wname}: {probe_name} asks service {option(command, '--service')!r}")
        check(("--tls" in command) == tls_on, f"{wname}: {probe_name} --tls with TLS {tls_on}")
        if not tls_on:
            check(len(command) == (6 if liveness else 4), f"{wname}: {probe_name} {command}")
            continue
        ca, name, client = probe_tls_expectations(values, is_tier2)
        ca_source = mounted_file(pod, container, option(command, "--ca") or "", docs, True)
        check(ca_source == ca, f"{wname}: {probe_name} --ca from {ca_source}, expected {ca}")
        if ca[0] == "rel-chunkcache-probe-tls":
            check(secret_value(docs, *ca) == values["probes"]["tls"]["caPem"],
                  f"{wname}: probes.tls.caPem not stored in {ca[0]}")
        check(option(command, "--tls-server-name") == name,
              f"{wname}: {probe_name} --tls-server-name {option(command, '--tls-server-name')}, "
              f"expected {name}")
        for flag, key in (("--cert", "tls.crt"), ("--key", "tls.key")):
            source = mounted_file(pod, container, option(command, flag) or "", docs, True)
            check(source == ((client, key) if client else None),
                  f"{wname}: {probe_name} {flag} from {source}, client certificate Secret {client}")
        mount = next((m for m in container["volumeMounts"] if m["name"] == "probe-tls"), {})
        check(mount.get("readOnly") is True, f"{wname}: probe-tls mount is not read-only")


# --- the checks of one render ---------------------------------------------------------------
def check_pbs_datastore(dname, pbs, ds_values, pod, container, docs):
    """A `pbs` datastore's config: the values' URL, store, auth id, fingerprint and limits,
    its secret (and CA) files mounted from the Secret the values name or the chart's own."""
    given = ds_values.get("pbs")
    if not check(given is not None, f"{dname}: pbs without pbs values"):
        return
    check(pbs.get("url") == given["url"], f"{dname}: pbs.url {pbs.get('url')}")
    check(pbs.get("datastore") == given.get("datastore", ds_values["name"]),
          f"{dname}: pbs.datastore {pbs.get('datastore')}")
    check(pbs.get("auth_id") == given["authId"], f"{dname}: pbs.auth_id {pbs.get('auth_id')}")
    check(pbs.get("fingerprint", "") == given.get("fingerprint", ""), f"{dname}: pbs.fingerprint")
    for field, key in (("timeout_seconds", "timeoutSeconds"), ("max_streams", "maxStreams"),
                       ("max_sessions", "maxSessions")):
        check(pbs.get(field) == given.get(key), f"{dname}: pbs.{field} {pbs.get(field)}")
    check("secret_env" not in pbs, f"{dname}: secret_env instead of a mounted secret_file")
    source = mounted_file(pod, container, pbs.get("secret_file", ""), docs, True)
    if "tokenSecret" in given:
        expected = (given["tokenSecret"]["name"], given["tokenSecret"].get("key", "secret"))
        check(source == expected, f"{dname}: secret_file from {source}, expected {expected}")
    elif check(source is not None, f"{dname}: secret_file {pbs.get('secret_file')} not mounted"):
        check(secret_value(docs, source[0], source[1]) == given["token"],
              f"{dname}: the mounted token is not pbs.token")
    if "caPem" in given:
        ca = mounted_file(pod, container, pbs.get("ca_file", ""), docs, True)
        if check(ca is not None, f"{dname}: ca_file {pbs.get('ca_file')} not mounted"):
            check(secret_value(docs, ca[0], ca[1]) == given["caPem"], f"{dname}: ca_file content")
    else:
        check("ca_file" not in pbs, f"{dname}: ca_file without pbs.caPem")
    mount = next((m for m in container["volumeMounts"]
                  if pbs.get("secret_file", "").startswith(m["mountPath"] + "/")), {})
    check(mount.get("readOnly") is True, f"{dname}: the PBS secret is mounted read-write")


def check_render(case, docs, values, messages, out_dir):
    name = case["name"]
    kinds = sorted({d["kind"] for d in docs})
    check(set(case["kinds"]) == set(kinds), f"{name}: kinds {kinds}, expected {case['kinds']}")
    uid = values["securityContext"]["runAsUser"]
    workloads = by_kind(docs, "DaemonSet") + by_kind(docs, "Deployment")
    check(by_kind(docs, values["kind"]), f"{name}: no {values['kind']} for kind={values['kind']}")
    tier2_on = values["tier2"]["enabled"]
    configs = {}
    pods = []
    for workload in workloads:
        wname = f"{name}: {workload['kind']} {workload['metadata']['name']}"
        tier = workload["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
        is_tier2 = tier == "tier2"
        tier_values = values["tier2"] if is_tier2 else values
        spec = workload["spec"]
        template = spec["template"]
        pod = template["spec"]
        pods.append((tier, template))
        check(selects(spec["selector"], template["metadata"]["labels"]),
              f"{wname}: selector does not match the pod labels")
        if workload["kind"] == "Deployment":
            expected = values["tier2"]["replicas"] if is_tier2 else values["replicas"]
            check(spec.get("replicas") == expected, f"{wname}: replicas {spec.get('replicas')}")
        # Security.
        psc = pod.get("securityContext", {})
        check(psc.get("runAsNonRoot") is True, f"{wname}: pod runAsNonRoot is not true")
        check(psc.get("runAsUser") == uid and uid != 0, f"{wname}: pod runAsUser {psc.get('runAsUser')}")
        check(psc.get("runAsGroup") == values["securityContext"]["runAsGroup"],
              f"{wname}: pod runAsGroup")
        check(psc.get("fsGroup") == values["securityContext"]["fsGroup"], f"{wname}: fsGroup")
        check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
              f"{wname}: pod seccompProfile is not RuntimeDefault")
        check(pod.get("automountServiceAccountToken") is False,
              f"{wname}: automountServiceAccountToken is not false")
        check(not pod.get("hostNetwork") and not pod.get("hostPID"), f"{wname}: host namespaces")
        containers = pod["containers"]
        check(len(containers) == 1, f"{wname}: {len(containers)} containers")
        container = containers[0]
        csc = container.get("securityContext", {})
        check(csc.get("allowPrivilegeEscalation") is False, f"{wname}: allowPrivilegeEscalation")
        check(csc.get("readOnlyRootFilesystem") is True, f"{wname}: readOnlyRootFilesystem")
        check(csc.get("capabilities", {}).get("drop") == ["ALL"], f"{wname}: capabilities.drop")
        check(not csc.get("capabilities", {}).get("add"), f"{wname}: capabilities added")
        check(csc.get("runAsNonRoot") is True and csc.get("runAsUser", uid) == uid,
              f"{wname}: container user")
        check(not csc.get("privileged"), f"{wname}: privileged")
        for init in pod.get("initContainers", []):
            isc = init.get("securityContext", {})
            check(isc.get("capabilities", {}).get("drop") == ["ALL"] and
                  set(isc.get("capabilities", {}).get("add", [])) <= {"CHOWN"},
                  f"{wname}: init container {init['name']} capabilities")
            check(isc.get("allowPrivilegeEscalation") is False, f"{wname}: init escalation")
        tag = values["image"]["tag"] or "0.1.0"
        check(container["image"] == f"{values['image']['repository']}:{tag}",
              f"{wname}: image {container['image']}")
        check(container.get("imagePullPolicy") == values["image"]["pullPolicy"], f"{wname}: pullPolicy")
        # The command line.
        args = container.get("args", [])
        check(container.get("command") == ["chunkcached"], f"{wname}: command")
        check(args[:2] == ["--config", "/etc/chunkcache/config.json"], f"{wname}: args {args}")
        check(args[2:] == values["extraArgs"], f"{wname}: extraArgs {args[2:]}")
        # The config this container reads.
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        config_mount = mounts.get("/etc/chunkcache/config.json")
        if not check(config_mount is not None, f"{wname}: no mount at /etc/chunkcache/config.json"):
            continue
        config_volume = volumes[config_mount["name"]]
        check(config_mount.get("subPath") == "config.json", f"{wname}: config subPath")
        cm = find(docs, "ConfigMap", config_volume["configMap"]["name"])
        if not check(cm is not None, f"{wname}: ConfigMap {config_volume['configMap']['name']} missing"):
            continue
        try:
            config = json.loads(cm["data"]["config.json"])
        except (KeyError, ValueError) as error:
            check(False, f"{wname}: config.json is not JSON: {error}")
            continue
        configs[tier] = config
        with open(os.path.join(out_dir, f"{name}-{tier}.json"), "w") as f:
            json.dump(config, f, indent=2)
        check_fields(config, "Config", messages, f"{wname}: config")
        check(template["metadata"].get("annotations", {}).get("checksum/config") ==
              hashlib.sha256(cm["data"]["config.json"].rstrip("\n").encode()).hexdigest(),
              f"{wname}: checksum/config is not the config's SHA-256")
        # Ports: listen, container ports, probes.
        grpc_port = values["ports"]["grpc"]
        metrics_port = values["ports"]["metrics"]
        ports = {p["name"]: p for p in container.get("ports", [])}
        check(config.get("listen") == f"0.0.0.0:{grpc_port}", f"{wname}: listen {config.get('listen')}")
        check(ports.get("grpc", {}).get("containerPort") == int(config["listen"].rsplit(":", 1)[1]),
              f"{wname}: grpc containerPort differs from listen")
        if values["metrics"]["enabled"]:
            check(config.get("metrics_listen") == f"0.0.0.0:{metrics_port}",
                  f"{wname}: metrics_listen {config.get('metrics_listen')}")
            check(ports.get("metrics", {}).get("containerPort") ==
                  int(config["metrics_listen"].rsplit(":", 1)[1]),
                  f"{wname}: metrics containerPort differs from metrics_listen")
        else:
            check(config.get("metrics_listen") == "none" and "metrics" not in ports,
                  f"{wname}: metrics off but served")
        if not is_tier2 and values["hostPort"]["enabled"]:
            check(ports["grpc"].get("hostPort") == values["hostPort"]["port"], f"{wname}: hostPort")
        else:
            check("hostPort" not in ports.get("grpc", {}), f"{wname}: unexpected hostPort")
        # NBD: the node tier's config `nbd`, on the node's port or a socket in a node directory.
        nbd = values["nbd"]
        if not is_tier2 and nbd["enabled"]:
            nbd_config = config.get("nbd", {})
            check(nbd_config.get("exports", []) == nbd["exports"], f"{wname}: nbd.exports")
            if nbd["mode"] == "hostPort":
                check(nbd_config.get("listen") == f"0.0.0.0:{nbd['port']}",
                      f"{wname}: nbd listen {nbd_config.get('listen')}")
                check(ports.get("nbd", {}).get("containerPort") == nbd["port"] and
                      ports["nbd"].get("hostPort") == nbd["port"], f"{wname}: nbd port")
            else:
                check(nbd_config.get("listen") == "unix:/run/chunkcache-nbd/nbd.sock",
                      f"{wname}: nbd listen {nbd_config.get('listen')}")
                socket_mount = mounts.get("/run/chunkcache-nbd")
                check(socket_mount is not None and
                      volumes[socket_mount["name"]].get("hostPath", {}).get("path") ==
                      nbd["socketDir"], f"{wname}: nbd socket directory is not nbd.socketDir")
                check(any(i["name"] == "nbd-socket-dir-owner" for i in pod.get("initContainers", [])),
                      f"{wname}: nobody chowns the nbd socket directory")
                check("nbd" not in ports, f"{wname}: nbd port with a socket")
        else:
            check("nbd" not in config and "nbd" not in ports, f"{wname}: unexpected nbd")
        tls_on = values["tier2"]["tls"]["enabled"] if is_tier2 else values["tls"]["enabled"]
        check_probes(wname, pod, container, values, is_tier2, tls_on, docs)
        check(pod.get("terminationGracePeriodSeconds", 30) > config.get("shutdown_grace_seconds", 10),
              f"{wname}: terminationGracePeriodSeconds does not exceed shutdown_grace_seconds")
        check(config.get("log_level") == values["logLevel"], f"{wname}: log_level")
        # Resources.
        resources = container.get("resources", {})
        check(resources == tier_values["resources"], f"{wname}: resources {resources}")
        check(resources.get("limits", {}).get("memory") and
              resources.get("requests", {}).get("memory"), f"{wname}: no memory request/limit")
        # Scheduling.
        for key in ("nodeSelector", "tolerations", "affinity"):
            check(pod.get(key, type(tier_values[key])()) == tier_values[key], f"{wname}: {key}")
        if values["priorityClassName"]:
            check(pod.get("priorityClassName") == values["priorityClassName"], f"{wname}: priorityClassName")
        # The cache directory.
        cache_values = tier_values["cache"]
        cache = config.get("cache", {})
        check(cache.get("capacity") == cache_values["capacity"] + "B",
              f"{wname}: cache.capacity {cache.get('capacity')} for {cache_values['capacity']}")
        check(cache.get("policy", "") == cache_values["policy"], f"{wname}: cache.policy")
        check(cache.get("persist", False) == cache_values["persist"], f"{wname}: cache.persist")
        cache_mount = mounts.get(cache.get("dir"))
        if check(cache_mount is not None and not cache_mount.get("readOnly"),
                 f"{wname}: cache.dir {cache.get('dir')} is not a writable mount"):
            cache_volume = volumes[cache_mount["name"]]
            if cache_values["volume"]["type"] == "emptyDir":
                limit = cache_volume.get("emptyDir", {}).get("sizeLimit")
                check(limit is not None and size_bytes(limit) >= size_bytes(cache["capacity"]),
                      f"{wname}: emptyDir sizeLimit {limit} below capacity {cache['capacity']}")
                check(cache_volume["emptyDir"].get("medium", "") != "Memory",
                      f"{wname}: cache on tmpfs")
            else:
                check(cache_volume.get("hostPath", {}).get("path") ==
                      cache_values["volume"]["hostPath"]["path"], f"{wname}: cache hostPath")
        check("/tmp" in mounts, f"{wname}: no writable /tmp with a read-only root")
        # Datastores.
        datastores = config.get("datastores", [])
        check([d["name"] for d in datastores] == [d["name"] for d in values["datastores"]],
              f"{wname}: datastore names")
        for ds_values, ds in zip(values["datastores"], datastores):
            dname = f"{wname}: datastore {ds['name']}"
            check(sum(k in ds for k in ("path", "remote", "pbs")) == 1,
                  f"{dname}: needs exactly one of path, remote, pbs")
            if "pbs" in ds_values:
                check("path" not in ds, f"{dname}: a pbs datastore read as a path")
            if "pbs" in ds:
                check(is_tier2 or not tier2_on, f"{dname}: node tier reads PBS with tier 2 on")
                check_pbs_datastore(dname, ds["pbs"], ds_values, pod, container, docs)
            elif "path" in ds:
                check(is_tier2 or not tier2_on, f"{dname}: node tier reads a path with tier 2 on")
                mount = mounts.get(ds["path"])
                if check(mount is not None, f"{dname}: path {ds['path']} is not a mount"):
                    check(mount.get("readOnly") is True, f"{dname}: mounted read-write")
                    check(mount.get("subPath", "") == ds_values.get("subPath", ""), f"{dname}: subPath")
                    volume = volumes[mount["name"]]
                    source = ds_values["volume"]
                    if "hostPath" in source:
                        check(volume.get("hostPath", {}).get("path") == source["hostPath"]["path"],
                              f"{dname}: hostPath volume {volume}")
                    elif "persistentVolumeClaim" in source:
                        pvc = volume.get("persistentVolumeClaim", {})
                        check(pvc.get("claimName") == source["persistentVolumeClaim"]["claimName"]
                              and pvc.get("readOnly") is True, f"{dname}: PVC volume {volume}")
                    elif "nfs" in source:
                        nfs = volume.get("nfs", {})
                        check(nfs.get("server") == source["nfs"]["server"] and
                              nfs.get("path") == source["nfs"]["path"] and
                              nfs.get("readOnly") is True, f"{dname}: NFS volume {volume}")
            else:
                check(not is_tier2 and tier2_on, f"{dname}: remote without tier 2")
                remote = ds["remote"]
                svc_name = f"rel-chunkcache-tier2"
                svc = find(docs, "Service", svc_name)
                if check(svc is not None, f"{dname}: no tier-2 Service {svc_name}"):
                    svc_port = next(p["port"] for p in svc["spec"]["ports"] if p["name"] == "grpc")
                    check(remote.get("target") ==
                          f"{svc_name}.cache.svc.{values['clusterDomain']}:{svc_port}",
                          f"{dname}: remote.target {remote.get('target')}")
                check(remote.get("datastore") == ds["name"], f"{dname}: remote.datastore")
                check(remote.get("timeout_seconds") == values["tier2"]["timeoutSeconds"],
                      f"{dname}: remote.timeout_seconds")
                token = mounted_file(pod, container, remote.get("token_file", ""), docs, True)
                if check(token is not None, f"{dname}: token_file {remote.get('token_file')} not mounted"):
                    plain = secret_value(docs, token[0], token[1])
                    if plain is not None:
                        check(hashlib.sha256(plain.encode()).hexdigest() ==
                              case["tier2_hash"](docs), f"{dname}: tier-2 token hash differs")
                if values["tier2"]["tls"]["enabled"]:
                    check(mounted_file(pod, container, remote.get("ca_file", ""), docs, True) ==
                          (values["tier2"]["tls"]["existingSecret"], "ca.crt"),
                          f"{dname}: ca_file {remote.get('ca_file')} not the tier-2 CA")
                else:
                    check("ca_file" not in remote, f"{dname}: ca_file without tier-2 TLS")
            encrypted = "keySecret" in ds_values or "key" in ds_values
            check(("keyfile" in ds) == encrypted, f"{dname}: keyfile {ds.get('keyfile')}")
            if "keyfile" in ds:
                source = mounted_file(pod, container, ds["keyfile"], docs, True)
                if "keySecret" in ds_values:
                    expected = (ds_values["keySecret"]["name"], ds_values["keySecret"]["keyfileKey"])
                    check(source == expected, f"{dname}: keyfile from {source}, expected {expected}")
                else:
                    check(source is not None and
                          secret_value(docs, source[0], source[1]) == ds_values["key"]["keyfile"],
                          f"{dname}: inline keyfile not mounted from the chart's Secret")
            has_password = bool(ds_values.get("keySecret", {}).get("passwordKey") or
                                ds_values.get("key", {}).get("password"))
            check(("password_file" in ds) == has_password, f"{dname}: password_file")
            if "password_file" in ds:
                check(mounted_file(pod, container, ds["password_file"], docs, True) is not None,
                      f"{dname}: password_file not mounted")
        # TLS and clients.
        tls = config.get("tls", {})
        check(bool(tls) == tls_on, f"{wname}: tls {tls}")
        for field in ("cert_file", "key_file", "client_ca_file"):
            if field in tls:
                check(mounted_file(pod, container, tls[field], docs, True) is not None,
                      f"{wname}: tls.{field} {tls[field]} is not a mounted file")
        if not is_tier2 and tls_on:
            check(("client_ca_file" in tls) == values["tls"]["clientCa"]["enabled"],
                  f"{wname}: client_ca_file")
        clients = config.get("clients", [])
        if is_tier2:
            check(len(clients) == 1 and clients[0]["allow"] == ["*"] and
                  clients[0]["token_sha256"] == case["tier2_hash"](docs),
                  f"{wname}: tier-2 clients {clients}")
        else:
            expected = []
            if values["auth"]["generateToken"]:
                token = secret_value(docs, "rel-chunkcache-client-token", "token")
                check(token is not None and len(token) >= 32, f"{wname}: generated token missing")
                expected.append({"name": "generated", "allow": values["auth"]["generatedTokenAllow"],
                                 "token_sha256": hashlib.sha256((token or "").encode()).hexdigest()})
            for client in values["auth"]["clients"]:
                entry = {"name": client["name"], "allow": client["allow"]}
                if "token" in client:
                    stored = secret_value(docs, "rel-chunkcache-client-tokens", client["name"])
                    check(stored == client["token"], f"{wname}: token of {client['name']} not stored")
                    entry["token_sha256"] = hashlib.sha256(client["token"].encode()).hexdigest()
                if "tokenSha256" in client:
                    entry["token_sha256"] = client["tokenSha256"].lower()
                if "certSubject" in client:
                    entry["cert_subject"] = client["certSubject"]
                expected.append(entry)
            check(clients == expected, f"{wname}: clients {clients}, expected {expected}")
            authenticated = bool(clients) or tls.get("require_client_cert", False)
            check(authenticated or config.get("allow_unauthenticated_remote") is True,
                  f"{wname}: serves 0.0.0.0 without authentication or the explicit override")
            check(config.get("allow_unauthenticated_remote", False) ==
                  values["auth"]["allowUnauthenticatedRemote"], f"{wname}: allow_unauthenticated_remote")
        for key, value in values["extraConfig"].items():
            check(config.get(key) == value if not isinstance(value, dict)
                  else all(config.get(key, {}).get(k) == v for k, v in value.items()),
                  f"{wname}: extraConfig {key} not merged")
    check(("tier2" in configs) == tier2_on, f"{name}: tier-2 config presence")
    check("node" in configs, f"{name}: no node-tier workload")

    # Services select pods and name their ports.
    services = by_kind(docs, "Service")
    for svc in services:
        sname = f"{name}: Service {svc['metadata']['name']}"
        matched = [t for _, t in pods if selects({"matchLabels": svc["spec"]["selector"]},
                                                   t["metadata"]["labels"])]
        if not check(len(matched) == 1, f"{sname}: selects {len(matched)} workloads"):
            continue
        container_ports = {p["name"]: p["containerPort"] for p in matched[0]["spec"]["containers"][0]["ports"]}
        for port in svc["spec"]["ports"]:
            check(port["targetPort"] in container_ports, f"{sname}: targetPort {port['targetPort']}")
            check(port["port"] == container_ports.get(port["targetPort"]),
                  f"{sname}: port {port['port']} differs from the container's")
    check(any(s["spec"].get("clusterIP") == "None" for s in services) ==
          values["headlessService"]["enabled"], f"{name}: headless Service presence")
    main = find(docs, "Service", "rel-chunkcache")
    if check(main is not None, f"{name}: no Service rel-chunkcache"):
        expected = values["service"]["internalTrafficPolicy"] or (
            "Local" if values["kind"] == "DaemonSet" else "Cluster")
        check(main["spec"].get("internalTrafficPolicy") == expected, f"{name}: internalTrafficPolicy")

    # Monitors.
    for monitor in by_kind(docs, "ServiceMonitor"):
        mname = f"{name}: ServiceMonitor"
        chosen = [s for s in services if selects(monitor["spec"]["selector"], s["metadata"]["labels"])]
        names = sorted(s["metadata"]["name"] for s in chosen)
        expected = sorted(["rel-chunkcache"] + (["rel-chunkcache-tier2"] if tier2_on else []))
        check(names == expected, f"{mname}: selects {names}, expected {expected}")
        for endpoint in monitor["spec"]["endpoints"]:
            check(endpoint.get("path") == "/metrics", f"{mname}: path")
            for svc in chosen:
                check(endpoint["port"] in [p["name"] for p in svc["spec"]["ports"]],
                      f"{mname}: port {endpoint['port']} not on {svc['metadata']['name']}")
        check(monitor["spec"]["namespaceSelector"]["matchNames"] == ["cache"], f"{mname}: namespace")
    for monitor in by_kind(docs, "PodMonitor"):
        mname = f"{name}: PodMonitor"
        chosen = [t for _, t in pods if selects(monitor["spec"]["selector"], t["metadata"]["labels"])]
        check(len(chosen) == len(pods), f"{mname}: selects {len(chosen)} of {len(pods)} pod templates")
        for endpoint in monitor["spec"]["podMetricsEndpoints"]:
            check(endpoint.get("path") == "/metrics", f"{mname}: path")
            for template in chosen:
                check(endpoint["port"] in [p["name"] for p in template["spec"]["containers"][0]["ports"]],
                      f"{mname}: port {endpoint['port']} not a container port")
    check(bool(by_kind(docs, "ServiceMonitor")) == values["metrics"]["serviceMonitor"]["enabled"],
          f"{name}: ServiceMonitor presence")
    check(bool(by_kind(docs, "PodMonitor")) == values["metrics"]["podMonitor"]["enabled"],
          f"{name}: PodMonitor presence")

    # Dashboard.
    dashboard = find(docs, "ConfigMap", "rel-chunkcache-dashboard")
    check((dashboard is not None) == values["dashboard"]["enabled"], f"{name}: dashboard presence")
    if dashboard is not None:
        for key, value in values["dashboard"]["labels"].items():
            check(dashboard["metadata"]["labels"].get(key) == value, f"{name}: dashboard label {key}")
        check(dashboard["metadata"]["namespace"] == (values["dashboard"]["namespace"] or "cache"),
              f"{name}: dashboard namespace")
        try:
            board = json.loads(dashboard["data"]["chunkcache.json"])
            check(isinstance(board.get("panels"), list) and board["panels"] and board.get("title"),
                  f"{name}: dashboard has no title or panels")
        except ValueError as error:
            check(False, f"{name}: dashboard is not JSON: {error}")
    return configs


# --- chunkcached --check-config -------------------------------------------------------------
def make_pem(work):
    cert, key = os.path.join(work, "test.crt"), os.path.join(work, "test.key")
    if not os.path.exists(cert):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=test",
                        "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def check_config_accepted(chunkcached, label, config, shared, work):
    """Rewrites the files the config names to test files and runs --check-config on it.

    A keyfile with a password_file becomes the vectors' pbkdf2 key and a file with its
    password; a keyfile alone the vectors' kdf-none key."""
    config = copy.deepcopy(config)
    datastore = os.path.join(shared, "spec/vectors/datastore")
    keyfile = os.path.join(shared, "spec/vectors/keys/key-pbkdf2.json")
    password = os.path.join(work, "password")
    with open(password, "w") as f:
        f.write("pbs-vector-password\n")
    token = os.path.join(work, "token")
    with open(token, "w") as f:
        f.write("tier2-test-token\n")
    cert, key = make_pem(work)
    for ds in config.get("datastores", []):
        if "path" in ds:
            ds["path"] = datastore
        if "password_file" in ds:
            ds["password_file"] = password
            ds["keyfile"] = keyfile
        elif "keyfile" in ds:
            ds["keyfile"] = os.path.join(shared, "spec/vectors/keys/key-none.json")
        pbs = ds.get("pbs", {})
        if "secret_file" in pbs:
            pbs["secret_file"] = token
        if "ca_file" in pbs:
            pbs["ca_file"] = cert
        remote = ds.get("remote", {})
        if "token_file" in remote:
            remote["token_file"] = token
        if "ca_file" in remote:
            remote["ca_file"] = cert
    tls = config.get("tls", {})
    for field, path in (("cert_file", cert), ("key_file", key), ("client_ca_file", cert)):
        if field in tls:
            tls[field] = path
    config.setdefault("cache", {})["dir"] = os.path.join(work, "cache-" + label)
    path = os.path.join(work, label + ".json")
    with open(path, "w") as f:
        json.dump(config, f)
    run = subprocess.run([chunkcached, "--config", path, "--check-config"],
                         capture_output=True, text=True, timeout=60)
    check(run.returncode == 0 and "configuration OK" in run.stdout,
          f"{label}: chunkcached --check-config rejects the rendered config "
          f"(exit {run.returncode}): {run.stdout}{run.stderr}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--helm", required=True)
    parser.add_argument("--chart", required=True)
    parser.add_argument("--values-dir", required=True)
    parser.add_argument("--proto", required=True)
    parser.add_argument("--shared", required=True)
    parser.add_argument("--chunkcached", default="")
    parser.add_argument("--readme", default="")
    args = parser.parse_args()

    if args.chunkcached and not os.path.exists(args.chunkcached):
        print(f"note: {args.chunkcached} is not built: --check-config not run")
        args.chunkcached = ""
    messages = parse_proto(args.proto)
    defaults = yaml.safe_load(open(os.path.join(args.chart, "values.yaml")))

    def generated_tier2_hash(docs):
        token = secret_value(docs, "rel-chunkcache-tier2-token", "token")
        return hashlib.sha256((token or "").encode()).hexdigest()

    base_kinds = ["ServiceAccount", "Secret", "ConfigMap", "Service"]
    cases = [
        {"name": "default", "kinds": base_kinds + ["DaemonSet"]},
        {"name": "all", "values_file": "helm_values_all.yaml",
         "kinds": base_kinds + ["Deployment", "ServiceMonitor", "PodMonitor"]},
        {"name": "all-daemonset", "values_file": "helm_values_all.yaml",
         "set": {"kind": "DaemonSet", "tier2": {"enabled": False}},
         "kinds": base_kinds + ["DaemonSet", "ServiceMonitor", "PodMonitor"]},
        {"name": "tier2-daemonset", "set": {"tier2": {"enabled": True}},
         "kinds": base_kinds + ["DaemonSet", "Deployment"]},
        {"name": "insecure-override",
         "set": {"kind": "Deployment", "auth": {"generateToken": False, "allowUnauthenticatedRemote": True},
                 "metrics": {"enabled": False}, "dashboard": {"enabled": False},
                 "cache": {"volume": {"emptyDir": {"sizeLimit": "5Gi"}}}},
         "kinds": ["ServiceAccount", "ConfigMap", "Service", "Deployment"]},
        # Probes: exec over TLS (auto), with a client certificate for mTLS, from another CA
        # Secret, plaintext exec, and TCP connects chosen explicitly.
        {"name": "tls-exec", "set": {"tls": {"enabled": True, "existingSecret": "node-tls"}},
         "kinds": base_kinds + ["DaemonSet"]},
        {"name": "tls-mtls-exec",
         "set": {"tls": {"enabled": True, "existingSecret": "node-tls",
                         "clientCa": {"enabled": True}, "requireClientCert": True},
                 "probes": {"mode": "exec", "tls": {"clientCertSecret": "probe-client",
                                                     "serverName": "cache.example.org"}}},
         "kinds": base_kinds + ["DaemonSet"]},
        {"name": "tls-ca-secret",
         "set": {"tls": {"enabled": True, "existingSecret": "node-tls"},
                 "probes": {"tls": {"caSecret": "corp-ca", "caKey": "root.pem"}}},
         "kinds": base_kinds + ["DaemonSet"]},
        {"name": "exec-plaintext", "set": {"probes": {"mode": "exec"}},
         "kinds": base_kinds + ["DaemonSet"]},
        {"name": "tls-tcp",
         "set": {"tls": {"enabled": True, "existingSecret": "node-tls",
                         "clientCa": {"enabled": True}, "requireClientCert": True},
                 "tier2": {"enabled": True, "tls": {"enabled": True, "existingSecret": "t2-tls"}},
                 "probes": {"mode": "tcp"}},
         "kinds": base_kinds + ["DaemonSet", "Deployment"]},
        # NBD with mTLS clients: on a socket in a node directory, and on the node's port.
        {"name": "nbd-socket",
         "set": {"tls": {"enabled": True, "existingSecret": "node-tls", "clientCa": {"enabled": True}},
                 "nbd": {"enabled": True, "socketDir": "/run/restore"}},
         "set_json": {"auth.clients": [{"name": "hv", "certSubject": "CN=hv", "allow": ["*"]}],
                      "nbd.exports": ["store1/vm/100/2026-01-01T00:00:00Z/drive-scsi0.img.fidx"]},
         "kinds": base_kinds + ["DaemonSet"]},
        {"name": "nbd-hostport",
         "set": {"tls": {"enabled": True, "existingSecret": "node-tls", "clientCa": {"enabled": True}},
                 "nbd": {"enabled": True, "mode": "hostPort", "port": 10810}},
         "set_json": {"auth.clients": [{"name": "hv", "certSubject": "CN=hv", "allow": ["*"]}]},
         "kinds": base_kinds + ["DaemonSet"]},
        {"name": "tier2-tls-auto",
         "set": {"tier2": {"enabled": True, "tls": {"enabled": True, "existingSecret": "t2-tls"}}},
         "kinds": base_kinds + ["DaemonSet", "Deployment"]},
        # Datastores read from PBS servers: by the node tier, or by tier 2 only.
        {"name": "pbs", "values_file": "helm_values_pbs.yaml",
         "kinds": base_kinds + ["DaemonSet"]},
        {"name": "pbs-tier2", "values_file": "helm_values_pbs.yaml",
         "set": {"tier2": {"enabled": True}},
         "kinds": base_kinds + ["DaemonSet", "Deployment"]},
    ]
    for case in cases:
        case.setdefault("tier2_hash", generated_tier2_hash)

    with tempfile.TemporaryDirectory(prefix="helm-render-") as work:
        for case in cases:
            case_values = {}
            if case.get("values_file"):
                case_values = yaml.safe_load(open(os.path.join(args.values_dir, case["values_file"])))
            values = deep_merge(defaults, case_values)
            values = deep_merge(values, case.get("set", {}))
            for path, value in case.get("set_json", {}).items():
                nested = value
                for key in reversed(path.split(".")):
                    nested = {key: nested}
                values = deep_merge(values, nested)
            docs = helm_template(args, case, args.chart, args.values_dir)
            if docs is None:
                continue
            configs = check_render(case, docs, values, messages, work)
            if args.chunkcached:
                for tier, config in configs.items():
                    check_config_accepted(args.chunkcached, f"{case['name']}-{tier}", config,
                                          args.shared, work)
    if args.readme:
        # README.md "Deploy with Helm" has a row for every top-level value.
        text = open(args.readme, encoding="utf-8").read()
        section = text.split("## Deploy with Helm", 1)[-1].split("\n## ", 1)[0]
        rows = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
        documented = set(re.findall(r"`([A-Za-z0-9]+)`", " ".join(rows)))
        for key in defaults:
            check(key in documented, f"README.md, Deploy with Helm: no row for value {key}")
    for failure in FAILURES:
        print("FAIL:", failure)
    print(f"{CHECKS[0]} checks, {len(FAILURES)} failed"
          + ("" if args.chunkcached else " (no chunkcached build: --check-config not run)"))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
