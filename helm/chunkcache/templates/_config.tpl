{{/*
chunkcached's config (proto/chunkcache/v1/config.proto, snake_case JSON) for one tier:
(dict "root" $ "tier" "node"|"tier2"). Every path in it is a mount of the pod template in
_pod.tpl.
*/}}
{{- define "chunkcache.config" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $tier := .tier -}}
{{- $cache := include "chunkcache.tierCache" . | fromJson -}}
{{- $config := dict
      "listen" (printf "0.0.0.0:%d" (int $v.ports.grpc))
      "log_level" $v.logLevel
      "shutdown_grace_seconds" $v.shutdownGraceSeconds -}}
{{- if $v.metrics.enabled -}}
{{- $_ := set $config "metrics_listen" (printf "0.0.0.0:%d" (int $v.ports.metrics)) -}}
{{- else -}}
{{- $_ := set $config "metrics_listen" "none" -}}
{{- end -}}

{{- /* Datastores: a mounted directory, or the tier-2 Service for the node tier. */ -}}
{{- $datastores := list -}}
{{- range $v.datastores -}}
{{- $entry := dict "name" .name -}}
{{- if and .pbs (include "chunkcache.mountsDatastores" (dict "root" $root "tier" $tier)) -}}
{{- /* Read from a PBS server; its token secret is a mounted Secret file. */ -}}
{{- $pbs := dict
      "url" .pbs.url
      "datastore" (default .name .pbs.datastore)
      "auth_id" .pbs.authId
      "secret_file" (printf "%s/secret" (include "chunkcache.pbsDir" .name)) -}}
{{- if .pbs.fingerprint -}}
{{- $_ := set $pbs "fingerprint" .pbs.fingerprint -}}
{{- end -}}
{{- if .pbs.caPem -}}
{{- $_ := set $pbs "ca_file" (printf "%s/ca.pem" (include "chunkcache.pbsDir" .name)) -}}
{{- end -}}
{{- $given := .pbs -}}
{{- range $field, $key := dict "timeout_seconds" "timeoutSeconds" "max_streams" "maxStreams" "max_sessions" "maxSessions" -}}
{{- if hasKey $given $key -}}
{{- $_ := set $pbs $field (get $given $key) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $entry "pbs" $pbs -}}
{{- else if include "chunkcache.mountsDatastores" (dict "root" $root "tier" $tier) -}}
{{- $_ := set $entry "path" (include "chunkcache.datastorePath" .name) -}}
{{- else -}}
{{- $remote := dict
      "target" (include "chunkcache.tier2Target" $root)
      "datastore" .name
      "token_file" "/etc/chunkcache/tier2/token"
      "timeout_seconds" $v.tier2.timeoutSeconds -}}
{{- if $v.tier2.tls.enabled -}}
{{- $_ := set $remote "ca_file" "/etc/chunkcache/tier2/ca.crt" -}}
{{- end -}}
{{- $_ := set $entry "remote" $remote -}}
{{- end -}}
{{- if include "chunkcache.hasKey" . -}}
{{- $_ := set $entry "keyfile" (printf "%s/keyfile.json" (include "chunkcache.keyDir" .name)) -}}
{{- if include "chunkcache.hasPassword" . -}}
{{- $_ := set $entry "password_file" (printf "%s/password" (include "chunkcache.keyDir" .name)) -}}
{{- end -}}
{{- end -}}
{{- $datastores = append $datastores $entry -}}
{{- end -}}
{{- $_ := set $config "datastores" $datastores -}}

{{- $cacheConfig := dict
      "dir" "/var/cache/chunkcache"
      "capacity" (printf "%sB" $cache.capacity)
      "persist" (default false $cache.persist) -}}
{{- if $cache.policy -}}
{{- $_ := set $cacheConfig "policy" $cache.policy -}}
{{- end -}}
{{- $_ := set $config "cache" $cacheConfig -}}

{{- /* Who may call: tier 2 serves the node tier's token; the node tier its clients. */ -}}
{{- $clients := list -}}
{{- if eq $tier "tier2" -}}
{{- $clients = append $clients (dict "name" "node-tier" "token_sha256" (include "chunkcache.tier2TokenSha256" $root) "allow" (list "*")) -}}
{{- if $v.tier2.tls.enabled -}}
{{- $_ := set $config "tls" (dict "cert_file" "/etc/chunkcache/tls/tls.crt" "key_file" "/etc/chunkcache/tls/tls.key") -}}
{{- end -}}
{{- else -}}
{{- if $v.auth.generateToken -}}
{{- $token := include "chunkcache.generatedToken" (dict "root" $root "secret" (include "chunkcache.clientTokenSecret" $root)) -}}
{{- $clients = append $clients (dict "name" "generated" "token_sha256" ($token | sha256sum) "allow" $v.auth.generatedTokenAllow) -}}
{{- end -}}
{{- range $v.auth.clients -}}
{{- $client := dict "name" .name "allow" .allow -}}
{{- if .token -}}
{{- $_ := set $client "token_sha256" (.token | sha256sum) -}}
{{- else if .tokenSha256 -}}
{{- $_ := set $client "token_sha256" (lower .tokenSha256) -}}
{{- end -}}
{{- if .certSubject -}}
{{- $_ := set $client "cert_subject" .certSubject -}}
{{- end -}}
{{- $clients = append $clients $client -}}
{{- end -}}
{{- if $v.tls.enabled -}}
{{- $tls := dict "cert_file" "/etc/chunkcache/tls/tls.crt" "key_file" "/etc/chunkcache/tls/tls.key" -}}
{{- if $v.tls.clientCa.enabled -}}
{{- $_ := set $tls "client_ca_file" "/etc/chunkcache/tls/ca.crt" -}}
{{- $_ := set $tls "require_client_cert" $v.tls.requireClientCert -}}
{{- else if $v.tls.requireClientCert -}}
{{- fail "tls.requireClientCert needs tls.clientCa.enabled (the CA that verifies client certificates)" -}}
{{- end -}}
{{- $_ := set $config "tls" $tls -}}
{{- else if or $v.tls.clientCa.enabled $v.tls.requireClientCert -}}
{{- fail "tls.clientCa and tls.requireClientCert need tls.enabled" -}}
{{- end -}}
{{- if and (not (include "chunkcache.nodeAuthConfigured" $root)) (not $v.auth.allowUnauthenticatedRemote) -}}
{{- fail "no client authentication: chunkcached refuses to serve a pod address without it. Keep auth.generateToken, add auth.clients (tokens or certificate subjects) or tls.requireClientCert, or set auth.allowUnauthenticatedRemote=true (INSECURE: anyone who reaches the pod reads every datastore)" -}}
{{- end -}}
{{- if $v.auth.allowUnauthenticatedRemote -}}
{{- $_ := set $config "allow_unauthenticated_remote" true -}}
{{- end -}}
{{- end -}}
{{- if $clients -}}
{{- $_ := set $config "clients" $clients -}}
{{- end -}}

{{- /* NBD export: node tier only (values nbd). */ -}}
{{- if and (ne $tier "tier2") $v.nbd.enabled -}}
{{- $mtls := and $v.tls.enabled $v.tls.clientCa.enabled -}}
{{- if and $clients (not $mtls) -}}
{{- fail "nbd.enabled: auth clients are configured (auth.generateToken or auth.clients) and NBD clients authenticate only with TLS client certificates: enable tls with tls.clientCa and give NBD clients a certSubject in auth.clients" -}}
{{- end -}}
{{- $nbd := dict -}}
{{- if eq $v.nbd.mode "hostPort" -}}
{{- if not (or $clients (and $v.tls.enabled $v.tls.requireClientCert) $v.nbd.allowUnauthenticatedRemote) -}}
{{- fail "nbd.mode=hostPort: NBD clients are not authenticated (auth.clients with certSubject and tls.clientCa, or tls.requireClientCert); use nbd.mode=socket or set nbd.allowUnauthenticatedRemote=true (INSECURE)" -}}
{{- end -}}
{{- $_ := set $nbd "listen" (printf "0.0.0.0:%d" (int $v.nbd.port)) -}}
{{- else -}}
{{- $_ := set $nbd "listen" "unix:/run/chunkcache-nbd/nbd.sock" -}}
{{- end -}}
{{- with $v.nbd.exports -}}
{{- $_ := set $nbd "exports" . -}}
{{- end -}}
{{- if $v.nbd.allowUnauthenticatedRemote -}}
{{- $_ := set $nbd "allow_unauthenticated_remote" true -}}
{{- end -}}
{{- $_ := set $config "nbd" $nbd -}}
{{- end -}}
{{- range list "listen" "metrics_listen" "datastores" "clients" "tls" "allow_unauthenticated_remote" "metricsListen" "allowUnauthenticatedRemote" "nbd" -}}
{{- if hasKey $v.extraConfig . -}}
{{- fail (printf "extraConfig.%s: set by the chart from its values (ports, datastores, auth, tls, nbd); change those instead" .) -}}
{{- end -}}
{{- end -}}
{{- if hasKey (default (dict) $v.extraConfig.cache) "dir" -}}
{{- fail "extraConfig.cache.dir: the cache directory is the mount /var/cache/chunkcache; choose its volume with cache.volume" -}}
{{- end -}}
{{- toPrettyJson (mergeOverwrite $config (deepCopy $v.extraConfig)) -}}
{{- end -}}
