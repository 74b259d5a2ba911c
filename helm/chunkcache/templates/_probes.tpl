{{/*
The readiness and liveness probes of one tier: (dict "root" $ "tier" "node"|"tier2") gives JSON
{"mode": M, "readiness": HANDLER, "liveness": HANDLER, "sources": [PROJECTED SOURCES]}, where
M is probes.mode with auto resolved, HANDLER a Kubernetes probe handler, and "sources" (exec
probes over TLS only) the Secret items of the volume mounted at /etc/chunkcache/probe/:
ca.crt, the CA that verifies the server certificate, and tls.crt/tls.key, the client
certificate presented to a server that requires one.

Readiness asks health service "" (SERVING while the datastores are readable), liveness
"liveness" (SERVING until shutdown). The kubelet's gRPC probes speak plaintext only, so a TLS
port is probed by `chunkcache health` run in the container against 127.0.0.1.
*/}}
{{- define "chunkcache.probes" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $isTier2 := eq .tier "tier2" -}}
{{- $tlsOn := $isTier2 | ternary $v.tier2.tls.enabled $v.tls.enabled -}}
{{- $tlsValue := $isTier2 | ternary "tier2.tls.enabled" "tls.enabled" -}}
{{- $port := int $v.ports.grpc -}}
{{- $mode := $v.probes.mode -}}
{{- if eq $mode "auto" -}}
{{- $mode = $tlsOn | ternary "exec" "grpc" -}}
{{- end -}}
{{- $out := dict "mode" $mode "sources" (list) -}}
{{- if eq $mode "grpc" -}}
{{- if $tlsOn -}}
{{- fail (printf "probes.mode grpc: the kubelet's gRPC probes speak plaintext only and %s is set; use probes.mode exec (or auto: chunkcache health over TLS in the pod) or tcp" $tlsValue) -}}
{{- end -}}
{{- $_ := set $out "readiness" (dict "grpc" (dict "port" $port)) -}}
{{- $_ := set $out "liveness" (dict "grpc" (dict "port" $port "service" "liveness")) -}}
{{- else if eq $mode "tcp" -}}
{{- $_ := set $out "readiness" (dict "tcpSocket" (dict "port" $port)) -}}
{{- $_ := set $out "liveness" (dict "tcpSocket" (dict "port" $port)) -}}
{{- else -}}
{{- $command := list "chunkcache" "health" "--server" (printf "127.0.0.1:%d" $port) -}}
{{- if $tlsOn -}}
{{- $sources := list -}}
{{- $serverName := "" -}}
{{- $clientCert := false -}}
{{- if $isTier2 -}}
{{- /* As the node caches verify tier 2: its Secret's ca.crt, the tier-2 Service's name. */ -}}
{{- $serverName = printf "%s.%s.svc.%s" (include "chunkcache.tierName" (dict "root" $root "tier" "tier2")) $root.Release.Namespace $v.clusterDomain -}}
{{- $sources = append $sources (dict "secret" (dict "name" $v.tier2.tls.existingSecret "items" (list (dict "key" "ca.crt" "path" "ca.crt")))) -}}
{{- else -}}
{{- $p := $v.probes.tls -}}
{{- $serverName = default (printf "%s.%s.svc.%s" (include "chunkcache.fullname" $root) $root.Release.Namespace $v.clusterDomain) $p.serverName -}}
{{- $caSecret := "" -}}
{{- $caKey := "ca.crt" -}}
{{- if and $p.caSecret $p.caPem -}}
{{- fail "probes.tls: set caSecret or caPem (the CA of the server certificate), not both" -}}
{{- else if $p.caSecret -}}
{{- $caSecret = $p.caSecret -}}
{{- $caKey = $p.caKey -}}
{{- else if $p.caPem -}}
{{- $caSecret = include "chunkcache.probeTlsSecret" $root -}}
{{- else if $v.tls.existingSecret -}}
{{- $caSecret = $v.tls.existingSecret -}}
{{- else -}}
{{- fail (printf "probes.mode %s with tls.enabled: the exec probes verify the server certificate, and inline tls.cert comes without its CA. Set probes.tls.caPem (the CA that signed tls.cert) or probes.tls.caSecret, or probes.mode tcp (readiness then no longer follows the datastores)" $v.probes.mode) -}}
{{- end -}}
{{- $sources = append $sources (dict "secret" (dict "name" $caSecret "items" (list (dict "key" $caKey "path" "ca.crt")))) -}}
{{- if $p.clientCertSecret -}}
{{- $clientCert = true -}}
{{- $sources = append $sources (dict "secret" (dict "name" $p.clientCertSecret "items" (list (dict "key" "tls.crt" "path" "tls.crt") (dict "key" "tls.key" "path" "tls.key")))) -}}
{{- else if and $v.tls.requireClientCert $v.tls.clientCa.enabled -}}
{{- fail (printf "probes.mode %s with tls.requireClientCert: the server refuses the exec probes without a client certificate. Set probes.tls.clientCertSecret (a kubernetes.io/tls Secret signed by the tls.clientCa CA), or probes.mode tcp (readiness then no longer follows the datastores)" $v.probes.mode) -}}
{{- end -}}
{{- end -}}
{{- $command = concat $command (list "--tls" "--ca" "/etc/chunkcache/probe/ca.crt" "--tls-server-name" $serverName) -}}
{{- if $clientCert -}}
{{- $command = concat $command (list "--cert" "/etc/chunkcache/probe/tls.crt" "--key" "/etc/chunkcache/probe/tls.key") -}}
{{- end -}}
{{- $_ := set $out "sources" $sources -}}
{{- end -}}
{{- $_ := set $out "readiness" (dict "exec" (dict "command" $command)) -}}
{{- $_ := set $out "liveness" (dict "exec" (dict "command" (concat $command (list "--service" "liveness")))) -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{- define "chunkcache.probeTlsSecret" -}}
{{- printf "%s-probe-tls" (include "chunkcache.fullname" .) -}}
{{- end -}}
