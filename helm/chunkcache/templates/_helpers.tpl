{{/* Names, labels and selectors. */}}
{{- define "chunkcache.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "chunkcache.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "chunkcache.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels of one tier: (dict "root" $ "tier" "node"|"tier2"). */}}
{{- define "chunkcache.selectorLabels" -}}
app.kubernetes.io/name: {{ include "chunkcache.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .tier }}
{{- end -}}

{{/* Common labels; with "tier" also the tier's selector labels. */}}
{{- define "chunkcache.labels" -}}
{{- $root := .root | default . -}}
helm.sh/chart: {{ include "chunkcache.chart" $root }}
app.kubernetes.io/name: {{ include "chunkcache.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
{{- if .tier }}
app.kubernetes.io/component: {{ .tier }}
{{- end }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
app.kubernetes.io/part-of: chunkcache
{{- end -}}

{{- define "chunkcache.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "chunkcache.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "chunkcache.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Name of a tier's objects: <fullname> for the node tier, <fullname>-tier2 for tier 2. */}}
{{- define "chunkcache.tierName" -}}
{{- if eq .tier "tier2" -}}
{{- printf "%s-tier2" (include "chunkcache.fullname" .root | trunc 57 | trimSuffix "-") -}}
{{- else -}}
{{- include "chunkcache.fullname" .root -}}
{{- end -}}
{{- end -}}

{{/* The tier-2 Service address the node caches dial: HOST:PORT. */}}
{{- define "chunkcache.tier2Target" -}}
{{- printf "%s.%s.svc.%s:%d" (include "chunkcache.tierName" (dict "root" . "tier" "tier2")) .Release.Namespace .Values.clusterDomain (int .Values.ports.grpc) -}}
{{- end -}}

{{/* A Kubernetes binary quantity (N, NMi, NGi, NTi) in MiB. */}}
{{- define "chunkcache.mib" -}}
{{- $q := toString . -}}
{{- if not (regexMatch "^[0-9]+(Mi|Gi|Ti)$" $q) -}}
{{- fail (printf "%q is not a size in Mi, Gi or Ti (e.g. 4Gi)" $q) -}}
{{- end -}}
{{- $n := regexFind "^[0-9]+" $q | int64 -}}
{{- if hasSuffix "Ti" $q -}}{{ mul $n 1048576 }}{{- else if hasSuffix "Gi" $q -}}{{ mul $n 1024 }}{{- else -}}{{ $n }}{{- end -}}
{{- end -}}

{{/* The cache volume's sizeLimit for a cache block: explicit, or capacity plus a margin. */}}
{{- define "chunkcache.cacheSizeLimit" -}}
{{- $capacity := include "chunkcache.mib" .capacity | int64 -}}
{{- if .volume.emptyDir.sizeLimit -}}
{{- $limit := include "chunkcache.mib" .volume.emptyDir.sizeLimit | int64 -}}
{{- if lt $limit $capacity -}}
{{- fail (printf "cache volume sizeLimit %s is smaller than the cache capacity %s" .volume.emptyDir.sizeLimit .capacity) -}}
{{- end -}}
{{- .volume.emptyDir.sizeLimit -}}
{{- else -}}
{{- $margin := div (mul $capacity (int64 .volume.marginPercent)) 100 -}}
{{- printf "%dMi" (add $capacity (max $margin 256)) -}}
{{- end -}}
{{- end -}}

{{/*
A bearer token generated once per release and kept across upgrades (read back from its
Secret). Cached in the values for the rest of this render, so the Secret and the hash in the
config agree: (dict "root" $ "secret" NAME).
*/}}
{{- define "chunkcache.generatedToken" -}}
{{- $root := .root -}}
{{- if not (hasKey $root.Values "chunkcacheGeneratedTokens") -}}
{{- $_ := set $root.Values "chunkcacheGeneratedTokens" (dict) -}}
{{- end -}}
{{- $cache := index $root.Values "chunkcacheGeneratedTokens" -}}
{{- if not (hasKey $cache .secret) -}}
{{- $token := randAlphaNum 48 -}}
{{- $existing := lookup "v1" "Secret" $root.Release.Namespace .secret -}}
{{- if and $existing $existing.data -}}
{{- if hasKey $existing.data "token" -}}
{{- $token = index $existing.data "token" | b64dec -}}
{{- end -}}
{{- end -}}
{{- $_ := set $cache .secret $token -}}
{{- end -}}
{{- index $cache .secret -}}
{{- end -}}

{{- define "chunkcache.clientTokenSecret" -}}
{{- printf "%s-client-token" (include "chunkcache.fullname" .) -}}
{{- end -}}
{{- define "chunkcache.clientTokensSecret" -}}
{{- printf "%s-client-tokens" (include "chunkcache.fullname" .) -}}
{{- end -}}
{{- define "chunkcache.tier2TokenSecret" -}}
{{- default (printf "%s-tier2-token" (include "chunkcache.fullname" .)) .Values.tier2.existingSecret -}}
{{- end -}}
{{- define "chunkcache.tlsSecret" -}}
{{- default (printf "%s-tls" (include "chunkcache.fullname" .)) .Values.tls.existingSecret -}}
{{- end -}}
{{- define "chunkcache.pbsTokensSecret" -}}
{{- printf "%s-pbs-tokens" (include "chunkcache.fullname" .) -}}
{{- end -}}
{{- define "chunkcache.keysSecret" -}}
{{- printf "%s-datastore-keys" (include "chunkcache.fullname" .) -}}
{{- end -}}

{{/* The node tier's tier-2 token, plain (generated or given). */}}
{{- define "chunkcache.tier2Token" -}}
{{- if .Values.tier2.token -}}
{{- .Values.tier2.token -}}
{{- else -}}
{{- include "chunkcache.generatedToken" (dict "root" . "secret" (include "chunkcache.tier2TokenSecret" .)) -}}
{{- end -}}
{{- end -}}

{{/* SHA-256 (hex) of the token tier 2 accepts from the node tier. */}}
{{- define "chunkcache.tier2TokenSha256" -}}
{{- if .Values.tier2.existingSecret -}}
{{- required "tier2.tokenSha256 is required with tier2.existingSecret (chunkcached --print-token-hash < token)" .Values.tier2.tokenSha256 | lower -}}
{{- else -}}
{{- include "chunkcache.tier2Token" . | sha256sum -}}
{{- end -}}
{{- end -}}

{{/* Paths inside the container. */}}
{{- define "chunkcache.datastorePath" -}}/datastores/{{ . }}{{- end -}}
{{- define "chunkcache.keyDir" -}}/etc/chunkcache/keys/{{ . }}{{- end -}}
{{- define "chunkcache.pbsDir" -}}/etc/chunkcache/pbs/{{ . }}{{- end -}}

{{/* Does a datastore entry carry a key (from a Secret or inline)? */}}
{{- define "chunkcache.hasKey" -}}
{{- if or .keySecret .key -}}true{{- end -}}
{{- end -}}
{{- define "chunkcache.hasPassword" -}}
{{- if .keySecret -}}{{- if .keySecret.passwordKey -}}true{{- end -}}
{{- else if .key -}}{{- if .key.password -}}true{{- end -}}
{{- end -}}
{{- end -}}

{{/* Cache values of a tier. */}}
{{- define "chunkcache.tierCache" -}}
{{- if eq .tier "tier2" -}}{{- toJson .root.Values.tier2.cache -}}{{- else -}}{{- toJson .root.Values.cache -}}{{- end -}}
{{- end -}}

{{/* Whether this tier mounts the datastores itself (tier 2, or the node tier without it). */}}
{{- define "chunkcache.mountsDatastores" -}}
{{- if or (eq .tier "tier2") (not .root.Values.tier2.enabled) -}}true{{- end -}}
{{- end -}}

{{/* Does the node tier authenticate clients? */}}
{{- define "chunkcache.nodeAuthConfigured" -}}
{{- if or .Values.auth.generateToken .Values.auth.clients (and .Values.tls.enabled .Values.tls.requireClientCert) -}}true{{- end -}}
{{- end -}}
