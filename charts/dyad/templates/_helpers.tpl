{{/*
Names. fullname is cut to 40 characters so that "<fullname>-<component>" and the names KubeRay
derives from the RayService ("<name>-<hash>-head-xxxxx", "<name>-serve-svc") stay within 63.
*/}}
{{- define "dyad.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "dyad.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* "<fullname>-<suffix>": include "dyad.component" (list . "gateway") */}}
{{- define "dyad.component" -}}
{{- $ctx := index . 0 -}}
{{- printf "%s-%s" (include "dyad.fullname" $ctx) (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dyad.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object; component given: include "dyad.labels" (list . "gateway") */}}
{{- define "dyad.labels" -}}
{{- $ctx := index . 0 -}}
helm.sh/chart: {{ include "dyad.chart" $ctx }}
{{ include "dyad.selectorLabels" . }}
app.kubernetes.io/version: {{ $ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $ctx.Release.Service }}
app.kubernetes.io/part-of: dyad
{{- with $ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels that select a component's pods: include "dyad.selectorLabels" (list . "gateway") */}}
{{- define "dyad.selectorLabels" -}}
{{- $ctx := index . 0 -}}
app.kubernetes.io/name: {{ include "dyad.name" $ctx }}
app.kubernetes.io/instance: {{ $ctx.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* Labels every pod of the release carries (what NetworkPolicies call "Dyad pods"). */}}
{{- define "dyad.releaseSelector" -}}
app.kubernetes.io/name: {{ include "dyad.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
The Dyad image for a flavour: include "dyad.image" (list . "cpu"). image.tag defaults to the
chart's appVersion; the flavour ("cpu" or "cuda") is appended as "-<flavour>".
*/}}
{{- define "dyad.image" -}}
{{- $ctx := index . 0 -}}
{{- $flavour := index . 1 -}}
{{- $img := $ctx.Values.image -}}
{{- $tag := default $ctx.Chart.AppVersion $img.tag -}}
{{- if $img.digest -}}
{{- printf "%s:%s-%s@%s" $img.repository $tag $flavour (index $img.digest $flavour) -}}
{{- else -}}
{{- printf "%s:%s-%s" $img.repository $tag $flavour -}}
{{- end -}}
{{- end -}}

{{- define "dyad.serviceAccountName" -}}
{{- $ctx := index . 0 -}}
{{- if $ctx.Values.serviceAccount.create -}}
{{- include "dyad.component" (list $ctx (index . 1)) -}}
{{- else -}}
{{- default "default" $ctx.Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* ------------------------------------------------------------------ security contexts */}}

{{/* Pod security context of every Dyad pod (the image runs as UID/GID 10001). */}}
{{- define "dyad.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.fsGroup }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container security context of every container the chart writes. */}}
{{- define "dyad.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The writable directories of a read-only container: /var/lib/dyad (HOME, TMPDIR,
RAY_TMPDIR, caches in the image) and /tmp, both emptyDir. */}}
{{- define "dyad.writableVolumes" -}}
- name: var-lib-dyad
  emptyDir:
    {{- with .Values.scratch.sizeLimit }}
    sizeLimit: {{ . }}
    {{- end }}
- name: tmp
  emptyDir:
    {{- with .Values.scratch.sizeLimit }}
    sizeLimit: {{ . }}
    {{- end }}
{{- end -}}

{{- define "dyad.writableMounts" -}}
- name: var-lib-dyad
  mountPath: /var/lib/dyad
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* ------------------------------------------------------------------ Redis */}}

{{/* The Redis URL without credentials: in-chart Redis, else redis.url. */}}
{{- define "dyad.redis.url" -}}
{{- if .Values.redis.enabled -}}
{{- printf "redis://%s:6379/0" (include "dyad.component" (list . "redis")) -}}
{{- else -}}
{{- required "redis.url is required when redis.enabled=false (redis[s]://host:port/db, no password: see redis.auth)" .Values.redis.url -}}
{{- end -}}
{{- end -}}

{{- define "dyad.redis.parsed" -}}
{{- $u := urlParse (include "dyad.redis.url" .) -}}
{{- if not (has $u.scheme (list "redis" "rediss")) -}}
{{- fail (printf "redis.url: scheme must be redis or rediss, got %q" $u.scheme) -}}
{{- end -}}
{{- if $u.userinfo -}}
{{- fail "redis.url must not carry credentials: put the password in a Secret (redis.auth.existingSecret)" -}}
{{- end -}}
{{- $hostport := $u.host -}}
{{- if not (contains ":" $hostport) -}}
{{- $hostport = printf "%s:6379" $hostport -}}
{{- end -}}
{{- $db := trimPrefix "/" $u.path | default "0" -}}
{{- dict "scheme" $u.scheme "address" $hostport "db" $db "tls" (eq $u.scheme "rediss") | toJson -}}
{{- end -}}

{{- define "dyad.redis.secretName" -}}
{{- default (include "dyad.component" (list . "redis")) .Values.redis.auth.existingSecret -}}
{{- end -}}

{{/* Whether the chart generates the Redis password Secret. */}}
{{- define "dyad.redis.generateSecret" -}}
{{- if and .Values.redis.auth.enabled (not .Values.redis.auth.existingSecret) -}}
{{- if not .Values.redis.enabled -}}
{{- fail "redis.auth.enabled with an external Redis (redis.enabled=false) needs redis.auth.existingSecret" -}}
{{- end -}}
true
{{- end -}}
{{- end -}}

{{/* Env: DYAD_REDIS_PASSWORD (from the Secret) and DYAD_REDIS_URL built from it. */}}
{{- define "dyad.redis.env" -}}
{{- $r := include "dyad.redis.parsed" . | fromJson -}}
{{- if .Values.redis.auth.enabled }}
- name: DYAD_REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "dyad.redis.secretName" . }}
      key: {{ .Values.redis.auth.existingSecretPasswordKey }}
- name: DYAD_REDIS_URL
  value: {{ printf "%s://:$(DYAD_REDIS_PASSWORD)@%s/%s" $r.scheme $r.address $r.db | quote }}
{{- else }}
- name: DYAD_REDIS_URL
  value: {{ printf "%s://%s/%s" $r.scheme $r.address $r.db | quote }}
{{- end }}
{{- end -}}

{{/* ------------------------------------------------------------------ S3 / MinIO */}}

{{- define "dyad.s3.endpoint" -}}
{{- if .Values.s3.endpoint -}}
{{- .Values.s3.endpoint -}}
{{- else if .Values.minio.enabled -}}
{{- printf "%s:9000" (include "dyad.component" (list . "minio")) -}}
{{- else -}}
{{- fail "s3.endpoint is required when minio.enabled=false (host:port of the S3 service)" -}}
{{- end -}}
{{- end -}}

{{- define "dyad.s3.secretName" -}}
{{- if .Values.s3.existingSecret -}}
{{- .Values.s3.existingSecret -}}
{{- else if .Values.minio.enabled -}}
{{- include "dyad.component" (list . "s3") -}}
{{- else -}}
{{- fail "s3.existingSecret is required when minio.enabled=false (a Secret with the S3 access and secret keys)" -}}
{{- end -}}
{{- end -}}

{{- define "dyad.s3.storeUri" -}}
{{- $prefix := trimAll "/" .Values.s3.prefix -}}
{{- if $prefix -}}
{{- printf "s3://%s/%s" .Values.s3.bucket $prefix -}}
{{- else -}}
{{- printf "s3://%s" .Values.s3.bucket -}}
{{- end -}}
{{- end -}}

{{- define "dyad.s3.env" -}}
- name: DYAD_STORE_URI
  value: {{ include "dyad.s3.storeUri" . | quote }}
- name: DYAD_S3_ENDPOINT
  value: {{ include "dyad.s3.endpoint" . | quote }}
{{- with .Values.s3.publicEndpoint }}
- name: DYAD_S3_PUBLIC_ENDPOINT
  value: {{ . | quote }}
{{- end }}
- name: DYAD_S3_REGION
  value: {{ .Values.s3.region | quote }}
- name: DYAD_S3_SECURE
  value: {{ .Values.s3.secure | toString | quote }}
- name: DYAD_S3_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "dyad.s3.secretName" . }}
      key: {{ .Values.s3.accessKeyKey }}
- name: DYAD_S3_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "dyad.s3.secretName" . }}
      key: {{ .Values.s3.secretKeyKey }}
{{- end -}}

{{/* ------------------------------------------------------------------ tokens */}}

{{- define "dyad.tokens.secretName" -}}
{{- default (include "dyad.component" (list . "tokens")) .Values.tokens.existingSecret -}}
{{- end -}}

{{- define "dyad.tokens.volume" -}}
- name: gateway-tokens
  secret:
    secretName: {{ include "dyad.tokens.secretName" . }}
    defaultMode: 0440
    items:
      - key: {{ .Values.tokens.existingSecretKey }}
        path: tokens
{{- end -}}

{{- define "dyad.tokens.env" -}}
- name: DYAD_GATEWAY_TOKENS_FILE
  value: /etc/dyad/gateway/tokens
{{- end -}}

{{/* Mounted as a directory (no subPath) so a rotated Secret reaches the running pods;
the gateway re-reads the file when it changes. */}}
{{- define "dyad.tokens.mount" -}}
- name: gateway-tokens
  mountPath: /etc/dyad/gateway
  readOnly: true
{{- end -}}

{{/* ------------------------------------------------------------------ shared env */}}

{{/* What every Dyad process reads: logs, queue, Redis, the store. */}}
{{- define "dyad.commonEnv" -}}
- name: DYAD_LOG_JSON
  value: "true"
- name: DYAD_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: DYAD_QUEUE_PREFIX
  value: {{ .Values.queue.prefix | quote }}
- name: DYAD_QUEUE_VISIBILITY_TIMEOUT_S
  value: {{ .Values.queue.visibilityTimeoutS | toString | quote }}
- name: DYAD_QUEUE_MAX_DELIVERIES
  value: {{ .Values.queue.maxDeliveries | toString | quote }}
{{ include "dyad.redis.env" . | trim }}
{{ include "dyad.s3.env" . }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* ------------------------------------------------------------------ Ray Serve */}}

{{/* The Serve config (deploy/ray/serve_config.yaml through the files/deploy symlink). */}}
{{- define "dyad.serve.raw" -}}
{{- $raw := .Files.Get "files/deploy/ray/serve_config.yaml" -}}
{{- if not $raw -}}
{{- fail "files/deploy/ray/serve_config.yaml is missing: charts/dyad/files/deploy must link to the repository's deploy/ folder" -}}
{{- end -}}
{{- $raw -}}
{{- end -}}

{{/*
Deep merge of two maps as JSON: include "dyad.deepMerge" (list $base $override). Maps merge key
by key; anything else (numbers including 0, false, strings, lists) in the override replaces the
base value.
*/}}
{{- define "dyad.deepMerge" -}}
{{- $out := deepCopy (index . 0) -}}
{{- range $k, $v := index . 1 -}}
{{- $cur := get $out $k -}}
{{- if and (kindIs "map" $v) (kindIs "map" $cur) -}}
{{- $_ := set $out $k (include "dyad.deepMerge" (list $cur $v) | fromJson) -}}
{{- else -}}
{{- $_ := set $out $k $v -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/*
The Serve config as a map with ray.serveConfig.applicationOverrides applied: per application
(by name) a map merged onto it; its "deployments" key is a map by deployment name merged onto
each named deployment; "enabled: false" drops the application. Unknown names fail the render.
*/}}
{{- define "dyad.serve.config" -}}
{{- $cfg := include "dyad.serve.raw" . | fromYaml -}}
{{- $overrides := .Values.ray.serveConfig.applicationOverrides | default dict -}}
{{- $known := list -}}
{{- $apps := list -}}
{{- range $app := $cfg.applications -}}
{{- $known = append $known $app.name -}}
{{- $o := get $overrides $app.name | default dict -}}
{{- if not (eq (toString (get $o "enabled")) "false") -}}
{{- $depOverrides := get $o "deployments" | default dict -}}
{{- $appOnly := omit $o "deployments" "enabled" -}}
{{- $merged := include "dyad.deepMerge" (list (omit $app "deployments") $appOnly) | fromJson -}}
{{- $depNames := list -}}
{{- $deps := list -}}
{{- range $dep := $app.deployments -}}
{{- $depNames = append $depNames $dep.name -}}
{{- $deps = append $deps (include "dyad.deepMerge" (list $dep (get $depOverrides $dep.name | default dict)) | fromJson) -}}
{{- end -}}
{{- range $name, $_ := $depOverrides -}}
{{- if not (has $name $depNames) -}}
{{- fail (printf "ray.serveConfig.applicationOverrides.%s.deployments.%s: no such deployment in serve_config.yaml (has %s)" $app.name $name (join ", " $depNames)) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $merged "deployments" $deps -}}
{{- $apps = append $apps $merged -}}
{{- end -}}
{{- end -}}
{{- range $name, $_ := $overrides -}}
{{- if not (has $name $known) -}}
{{- fail (printf "ray.serveConfig.applicationOverrides.%s: no such application in serve_config.yaml (has %s)" $name (join ", " $known)) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $cfg "applications" $apps -}}
{{- toJson $cfg -}}
{{- end -}}

{{/* The text of spec.serveConfigV2: the file verbatim when nothing is overridden. */}}
{{- define "dyad.serve.configText" -}}
{{- if .Values.ray.serveConfig.applicationOverrides -}}
{{- include "dyad.serve.config" . | fromJson | toYaml -}}
{{- else -}}
{{- include "dyad.serve.raw" . -}}
{{- end -}}
{{- end -}}

{{- define "dyad.serve.grpcPort" -}}
{{- $cfg := include "dyad.serve.raw" . | fromYaml -}}
{{- $cfg.grpc_options.port | default 9000 | int -}}
{{- end -}}

{{- define "dyad.serve.httpPort" -}}
{{- $cfg := include "dyad.serve.raw" . | fromYaml -}}
{{- (($cfg.http_options | default dict).port) | default 8000 | int -}}
{{- end -}}

{{/* host:port the workers call for every stage (Ray Serve's gRPC proxy). */}}
{{- define "dyad.pipelineEndpoint" -}}
{{- if .Values.workers.pipelineEndpoint -}}
{{- .Values.workers.pipelineEndpoint -}}
{{- else -}}
{{- printf "%s:%s" (include "dyad.component" (list . "serve")) (include "dyad.serve.grpcPort" .) -}}
{{- end -}}
{{- end -}}

{{- define "dyad.rayServiceName" -}}
{{- include "dyad.fullname" . -}}
{{- end -}}

{{/* rayStartParams as a map of strings (KubeRay's type is map[string]string). */}}
{{- define "dyad.rayStartParams" -}}
{{- range $k, $v := . }}
{{ $k }}: {{ $v | toString | quote }}
{{- end }}
{{- end -}}

{{/* ------------------------------------------------------------------ KEDA */}}

{{/* "true" when some worker group is scaled by KEDA (KEDA's operator then reads Redis). */}}
{{- define "dyad.keda.enabled" -}}
{{- if or (and .Values.workers.enabled .Values.workers.keda.enabled) (and .Values.fitWorkers.enabled .Values.fitWorkers.keda.enabled) -}}
true
{{- end -}}
{{- end -}}
