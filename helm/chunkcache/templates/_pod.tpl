{{/*
The pod template of one tier: (dict "root" $ "tier" "node"|"tier2"). Mount points:
  /etc/chunkcache/config.json        the rendered config (ConfigMap)
  /var/cache/chunkcache              the cache arena (emptyDir or hostPath)
  /datastores/<name>                 each datastore, read-only (tiers that read them)
  /etc/chunkcache/keys/<name>/       keyfile.json and password of an encrypted datastore
  /etc/chunkcache/pbs/<name>/        secret (API token secret) and ca.pem of a datastore on PBS
  /etc/chunkcache/tls/               tls.crt, tls.key, ca.crt of the gRPC port
  /etc/chunkcache/tier2/             token and ca.crt the node tier uses to reach tier 2
  /etc/chunkcache/probe/             ca.crt (and tls.crt, tls.key) of exec probes over TLS
  /tmp                               a small emptyDir (the root filesystem is read-only)
*/}}
{{- define "chunkcache.podTemplate" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
{{- $tier := .tier -}}
{{- $ctx := dict "root" $root "tier" $tier -}}
{{- $isTier2 := eq $tier "tier2" -}}
{{- $nbdOn := and (not $isTier2) $v.nbd.enabled -}}
{{- $nbdSocket := and $nbdOn (eq $v.nbd.mode "socket") -}}
{{- $cache := include "chunkcache.tierCache" $ctx | fromJson -}}
{{- $mountsDatastores := include "chunkcache.mountsDatastores" $ctx -}}
{{- $podAnnotations := $isTier2 | ternary $v.tier2.podAnnotations $v.podAnnotations -}}
{{- $tlsOn := $isTier2 | ternary $v.tier2.tls.enabled $v.tls.enabled -}}
{{- $probes := include "chunkcache.probes" $ctx | fromJson -}}
metadata:
  labels:
    {{- include "chunkcache.labels" $ctx | nindent 4 }}
    {{- with $v.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include "chunkcache.config" $ctx | sha256sum }}
    {{- if and $v.prometheusScrapeAnnotations $v.metrics.enabled }}
    prometheus.io/scrape: "true"
    prometheus.io/port: {{ $v.ports.metrics | quote }}
    prometheus.io/path: /metrics
    {{- end }}
    {{- with $podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "chunkcache.serviceAccountName" $root }}
  automountServiceAccountToken: false
  enableServiceLinks: false
  terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
  {{- with $v.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- with $v.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    runAsNonRoot: true
    runAsUser: {{ $v.securityContext.runAsUser }}
    runAsGroup: {{ $v.securityContext.runAsGroup }}
    fsGroup: {{ $v.securityContext.fsGroup }}
    fsGroupChangePolicy: OnRootMismatch
    seccompProfile:
      type: RuntimeDefault
  {{- $cacheChown := and (eq $cache.volume.type "hostPath") $cache.volume.hostPath.initChown }}
  {{- if or $cacheChown $nbdSocket }}
  initContainers:
  {{- end }}
  {{- if $nbdSocket }}
    # chunkcached (not root) creates the NBD socket in the node directory kubelet made.
    - name: nbd-socket-dir-owner
      image: {{ include "chunkcache.image" $root }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      command: ["chown", "{{ $v.securityContext.runAsUser }}:{{ $v.securityContext.runAsGroup }}", "/run/chunkcache-nbd"]
      securityContext:
        runAsNonRoot: false
        runAsUser: 0
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities:
          drop: ["ALL"]
          add: ["CHOWN"]
      volumeMounts:
        - name: nbd-socket
          mountPath: /run/chunkcache-nbd
  {{- end }}
  {{- if $cacheChown }}
    - name: cache-dir-owner
      image: {{ include "chunkcache.image" $root }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      command: ["chown", "{{ $v.securityContext.runAsUser }}:{{ $v.securityContext.runAsGroup }}", "/var/cache/chunkcache"]
      securityContext:
        runAsNonRoot: false
        runAsUser: 0
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities:
          drop: ["ALL"]
          add: ["CHOWN"]
      volumeMounts:
        - name: cache
          mountPath: /var/cache/chunkcache
  {{- end }}
  containers:
    - name: chunkcached
      image: {{ include "chunkcache.image" $root }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      command: ["chunkcached"]
      args:
        - --config
        - /etc/chunkcache/config.json
        {{- range $v.extraArgs }}
        - {{ . | quote }}
        {{- end }}
      {{- with $v.extraEnv }}
      env:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      ports:
        - name: grpc
          containerPort: {{ $v.ports.grpc }}
          protocol: TCP
          {{- if and (not $isTier2) $v.hostPort.enabled }}
          hostPort: {{ $v.hostPort.port }}
          {{- end }}
        {{- if $v.metrics.enabled }}
        - name: metrics
          containerPort: {{ $v.ports.metrics }}
          protocol: TCP
        {{- end }}
        {{- if and $nbdOn (eq $v.nbd.mode "hostPort") }}
        - name: nbd
          containerPort: {{ $v.nbd.port }}
          hostPort: {{ $v.nbd.port }}
          protocol: TCP
        {{- end }}
      {{- /* gRPC probes by the kubelet, or chunkcache health in the pod on a TLS port. */}}
      readinessProbe:
        {{- toYaml $probes.readiness | nindent 8 }}
        {{- toYaml $v.readinessProbe | nindent 8 }}
      livenessProbe:
        {{- toYaml $probes.liveness | nindent 8 }}
        {{- toYaml $v.livenessProbe | nindent 8 }}
      resources:
        {{- toYaml ($isTier2 | ternary $v.tier2.resources $v.resources) | nindent 8 }}
      securityContext:
        runAsNonRoot: true
        runAsUser: {{ $v.securityContext.runAsUser }}
        runAsGroup: {{ $v.securityContext.runAsGroup }}
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        privileged: false
        capabilities:
          drop: ["ALL"]
        seccompProfile:
          type: RuntimeDefault
      volumeMounts:
        - name: config
          mountPath: /etc/chunkcache/config.json
          subPath: config.json
          readOnly: true
        - name: cache
          mountPath: /var/cache/chunkcache
        - name: tmp
          mountPath: /tmp
        {{- if $nbdSocket }}
        - name: nbd-socket
          mountPath: /run/chunkcache-nbd
        {{- end }}
        {{- range $i, $ds := $v.datastores }}
        {{- if and $mountsDatastores $ds.pbs }}
        - name: pbs-{{ $i }}
          mountPath: {{ include "chunkcache.pbsDir" $ds.name }}
          readOnly: true
        {{- else if $mountsDatastores }}
        - name: datastore-{{ $i }}
          mountPath: {{ include "chunkcache.datastorePath" $ds.name }}
          readOnly: true
          {{- with $ds.subPath }}
          subPath: {{ . }}
          {{- end }}
        {{- end }}
        {{- if include "chunkcache.hasKey" $ds }}
        - name: key-{{ $i }}
          mountPath: {{ include "chunkcache.keyDir" $ds.name }}
          readOnly: true
        {{- end }}
        {{- end }}
        {{- if $tlsOn }}
        - name: tls
          mountPath: /etc/chunkcache/tls
          readOnly: true
        {{- end }}
        {{- if not $mountsDatastores }}
        - name: tier2-client
          mountPath: /etc/chunkcache/tier2
          readOnly: true
        {{- end }}
        {{- if $probes.sources }}
        - name: probe-tls
          mountPath: /etc/chunkcache/probe
          readOnly: true
        {{- end }}
  {{- $nodeSelector := $isTier2 | ternary $v.tier2.nodeSelector $v.nodeSelector }}
  {{- with $nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- $tolerations := $isTier2 | ternary $v.tier2.tolerations $v.tolerations }}
  {{- with $tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- $affinity := $isTier2 | ternary $v.tier2.affinity $v.affinity }}
  {{- with $affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "chunkcache.tierName" $ctx }}-config
    - name: cache
      {{- if eq $cache.volume.type "hostPath" }}
      hostPath:
        path: {{ $cache.volume.hostPath.path }}
        type: DirectoryOrCreate
      {{- else }}
      emptyDir:
        sizeLimit: {{ include "chunkcache.cacheSizeLimit" $cache }}
      {{- end }}
    - name: tmp
      emptyDir:
        sizeLimit: 64Mi
    {{- if $nbdSocket }}
    - name: nbd-socket
      hostPath:
        path: {{ $v.nbd.socketDir }}
        type: DirectoryOrCreate
    {{- end }}
    {{- range $i, $ds := $v.datastores }}
    {{- if and $mountsDatastores $ds.pbs }}
    - name: pbs-{{ $i }}
      {{- if and $ds.pbs.caPem $ds.pbs.tokenSecret }}
      projected:
        defaultMode: 0440
        sources:
          - secret:
              name: {{ $ds.pbs.tokenSecret.name }}
              items:
                - key: {{ default "secret" $ds.pbs.tokenSecret.key }}
                  path: secret
          - secret:
              name: {{ include "chunkcache.pbsTokensSecret" $root }}
              items:
                - key: {{ $ds.name }}.ca.pem
                  path: ca.pem
      {{- else }}
      secret:
        defaultMode: 0440
        {{- if $ds.pbs.tokenSecret }}
        secretName: {{ $ds.pbs.tokenSecret.name }}
        items:
          - key: {{ default "secret" $ds.pbs.tokenSecret.key }}
            path: secret
        {{- else }}
        secretName: {{ include "chunkcache.pbsTokensSecret" $root }}
        items:
          - key: {{ $ds.name }}.secret
            path: secret
          {{- if $ds.pbs.caPem }}
          - key: {{ $ds.name }}.ca.pem
            path: ca.pem
          {{- end }}
        {{- end }}
      {{- end }}
    {{- else if $mountsDatastores }}
    - name: datastore-{{ $i }}
      {{- if $ds.volume.hostPath }}
      hostPath:
        path: {{ $ds.volume.hostPath.path }}
        type: {{ default "Directory" $ds.volume.hostPath.type }}
      {{- else if $ds.volume.persistentVolumeClaim }}
      persistentVolumeClaim:
        claimName: {{ $ds.volume.persistentVolumeClaim.claimName }}
        readOnly: true
      {{- else if $ds.volume.nfs }}
      nfs:
        server: {{ $ds.volume.nfs.server }}
        path: {{ $ds.volume.nfs.path }}
        readOnly: true
      {{- else }}
      {{- fail (printf "datastores[%d] (%s): volume needs hostPath, persistentVolumeClaim or nfs" $i $ds.name) }}
      {{- end }}
    {{- end }}
    {{- if include "chunkcache.hasKey" $ds }}
    - name: key-{{ $i }}
      secret:
        defaultMode: 0440
        {{- if $ds.keySecret }}
        secretName: {{ $ds.keySecret.name }}
        items:
          - key: {{ default "keyfile.json" $ds.keySecret.keyfileKey }}
            path: keyfile.json
          {{- if $ds.keySecret.passwordKey }}
          - key: {{ $ds.keySecret.passwordKey }}
            path: password
          {{- end }}
        {{- else }}
        secretName: {{ include "chunkcache.keysSecret" $root }}
        items:
          - key: {{ $ds.name }}.keyfile.json
            path: keyfile.json
          {{- if $ds.key.password }}
          - key: {{ $ds.name }}.password
            path: password
          {{- end }}
        {{- end }}
    {{- end }}
    {{- end }}
    {{- if and $isTier2 $v.tier2.tls.enabled }}
    - name: tls
      secret:
        secretName: {{ required "tier2.tls.existingSecret is required with tier2.tls.enabled" $v.tier2.tls.existingSecret }}
        defaultMode: 0440
        items:
          - key: tls.crt
            path: tls.crt
          - key: tls.key
            path: tls.key
    {{- else if and (not $isTier2) $v.tls.enabled }}
    - name: tls
      secret:
        secretName: {{ include "chunkcache.tlsSecret" $root }}
        defaultMode: 0440
        items:
          - key: tls.crt
            path: tls.crt
          - key: tls.key
            path: tls.key
          {{- if $v.tls.clientCa.enabled }}
          - key: ca.crt
            path: ca.crt
          {{- end }}
    {{- end }}
    {{- if not $mountsDatastores }}
    - name: tier2-client
      projected:
        defaultMode: 0440
        sources:
          - secret:
              name: {{ include "chunkcache.tier2TokenSecret" $root }}
              items:
                - key: token
                  path: token
          {{- if $v.tier2.tls.enabled }}
          - secret:
              name: {{ $v.tier2.tls.existingSecret }}
              items:
                - key: ca.crt
                  path: ca.crt
          {{- end }}
    {{- end }}
    {{- with $probes.sources }}
    - name: probe-tls
      projected:
        defaultMode: 0440
        sources:
          {{- toYaml . | nindent 10 }}
    {{- end }}
{{- end -}}
