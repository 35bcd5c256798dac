{{/* Names */}}
{{- define "dagster-platform.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dagster-platform.fullname" -}}
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

{{- define "dagster-platform.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels. `dagster-platform/release` is the contract with code-location
     releases and run pods: NetworkPolicies select on it. */}}
{{- define "dagster-platform.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dagster-platform.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "dagster-platform.labels" -}}
helm.sh/chart: {{ include "dagster-platform.chart" . }}
{{ include "dagster-platform.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: dagster-platform
dagster-platform/release: {{ .Release.Name }}
{{- end -}}

{{/* Component selector: call with (dict "ctx" $ "component" "webserver") */}}
{{- define "dagster-platform.componentSelector" -}}
{{ include "dagster-platform.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "dagster-platform.componentLabels" -}}
{{ include "dagster-platform.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Object names */}}
{{- define "dagster-platform.instanceConfigMap" -}}{{ include "dagster-platform.fullname" . }}-instance{{- end -}}
{{- define "dagster-platform.workspaceConfigMap" -}}{{ include "dagster-platform.fullname" . }}-workspace{{- end -}}
{{- define "dagster-platform.envConfigMap" -}}{{ include "dagster-platform.fullname" . }}-env{{- end -}}
{{- define "dagster-platform.postgresName" -}}{{ include "dagster-platform.fullname" . }}-postgres{{- end -}}
{{- define "dagster-platform.pgbouncerName" -}}{{ include "dagster-platform.fullname" . }}-pgbouncer{{- end -}}

{{/* The webserver's and daemon's ServiceAccount: global.serviceAccountName (shared
     with other releases, never created here), else serviceAccount.name, else the fullname. */}}
{{- define "dagster-platform.serviceAccount" -}}
{{- (.Values.global | default dict).serviceAccountName | default .Values.serviceAccount.name | default (include "dagster-platform.fullname" .) -}}
{{- end -}}
{{- define "dagster-platform.runServiceAccount" -}}
{{- .Values.serviceAccount.run.name | default (printf "%s-run" (include "dagster-platform.fullname" .)) -}}
{{- end -}}

{{/* The Postgres superuser's Secret: only the bundled Postgres and the init Job read it. */}}
{{- define "dagster-platform.postgresSecret" -}}
{{- if .Values.postgres.existingSecret -}}
{{- .Values.postgres.existingSecret -}}
{{- else -}}
{{- include "dagster-platform.postgresName" . -}}
{{- end -}}
{{- end -}}

{{/* Principals: the platform (webserver and daemon) and one per code location,
     each with a Secret of its own holding DAGSTER_PG_USER, DAGSTER_PG_PASSWORD
     and optionally AWS keys (the contract with platformctl.init and the
     dagster-code-location chart). A JSON list of {name, secret, generated}. */}}
{{- define "dagster-platform.principals" -}}
{{- $own := .Values.platformCredentials.existingSecret -}}
{{- $list := list (dict "name" "platform" "secret" ($own | default (printf "%s-platform-credentials" (include "dagster-platform.fullname" .))) "generated" (not $own)) -}}
{{- range .Values.codeLocations -}}
{{- $list = append $list (dict "name" .name "secret" (include "dagster-platform.locationSecret" .) "generated" (not .credentialsSecret)) -}}
{{- end -}}
{{- toJson $list -}}
{{- end -}}

{{/* A codeLocations entry's Secret: credentialsSecret, else the one this chart
     generates, dagster-code-<name>-credentials (the location chart's default). */}}
{{- define "dagster-platform.locationSecret" -}}
{{- .credentialsSecret | default (printf "dagster-code-%s-credentials" (.name | replace "_" "-")) -}}
{{- end -}}

{{- define "dagster-platform.platformSecret" -}}
{{- (index (include "dagster-platform.principals" . | fromJsonArray) 0).secret -}}
{{- end -}}

{{/* A codeLocations entry's own bucket: dataBucket, else dagster-data-<name> (S3 names take no "_"). */}}
{{- define "dagster-platform.dataBucket" -}}
{{- .dataBucket | default (printf "dagster-data-%s" (.name | replace "_" "-")) -}}
{{- end -}}

{{/* init's grants.json (platformctl.init): the principals, each location's
     warehouse schemas, and the buckets init creates when it has an admin key. */}}
{{- define "dagster-platform.grants" -}}
{{- $locations := list -}}
{{- $buckets := list .Values.s3.logsBucket .Values.s3.landingBucket -}}
{{- range .Values.codeLocations -}}
{{- $warehouse := .warehouse | default dict -}}
{{- $locations = append $locations (dict "name" .name "warehouse_writes" ($warehouse.writes | default list) "warehouse_reads" ($warehouse.reads | default list)) -}}
{{- $buckets = append $buckets (include "dagster-platform.dataBucket" .) -}}
{{- end -}}
{{- $principals := list -}}
{{- range include "dagster-platform.principals" . | fromJsonArray -}}
{{- $principals = append $principals .name -}}
{{- end -}}
{{- toPrettyJson (dict "principals" $principals "locations" $locations "buckets" $buckets) -}}
{{- end -}}

{{- define "dagster-platform.postgresHost" -}}
{{- if .Values.postgres.bundled.enabled -}}
{{- include "dagster-platform.postgresName" . -}}
{{- else -}}
{{- .Values.postgres.host -}}
{{- end -}}
{{- end -}}

{{/* An image reference from {registry, repository, tag, digest}: the digest wins. */}}
{{- define "dagster-platform.imageRef" -}}
{{- if .digest -}}
{{- printf "%s/%s@%s" .registry .repository .digest -}}
{{- else -}}
{{- printf "%s/%s:%s" .registry .repository .tag -}}
{{- end -}}
{{- end -}}

{{- define "dagster-platform.image" -}}{{ include "dagster-platform.imageRef" .Values.image }}{{- end -}}

{{/* Where Dagster's processes reach Postgres: PgBouncer's Service when it runs,
     else Postgres itself. The init Job always goes to Postgres (postgresHost). */}}
{{- define "dagster-platform.databaseHost" -}}
{{- if .Values.pgbouncer.enabled -}}
{{- include "dagster-platform.pgbouncerName" . -}}
{{- else -}}
{{- include "dagster-platform.postgresHost" . -}}
{{- end -}}
{{- end -}}

{{- define "dagster-platform.databasePort" -}}
{{- ternary 6432 .Values.postgres.port .Values.pgbouncer.enabled -}}
{{- end -}}

{{/* The Secret with the password of PgBouncer's lookup login (pgbouncer.existingSecret,
     else the one this chart generates). */}}
{{- define "dagster-platform.pgbouncerSecret" -}}
{{- .Values.pgbouncer.existingSecret | default (include "dagster-platform.pgbouncerName" .) -}}
{{- end -}}

{{/* pgbouncer.ini: compose's (platformctl.credentials.pgbouncer_ini) with this
     release's Postgres and pool sizes; tests/helm compares the two. */}}
{{- define "dagster-platform.pgbouncerIni" -}}
{{- $pgb := .Values.pgbouncer -}}
[databases]
* = host={{ include "dagster-platform.postgresHost" . }} port={{ .Values.postgres.port }}

[pgbouncer]
listen_addr = 0.0.0.0
listen_port = 6432
unix_socket_dir =
auth_type = scram-sha-256
auth_file = /run/secrets/platform/userlist.txt
auth_user = dagster_pgbouncer
auth_query = SELECT usename, passwd FROM pgbouncer.get_auth($1)
pool_mode = session
server_reset_query = DISCARD ALL
max_client_conn = {{ $pgb.maxClientConn }}
default_pool_size = {{ $pgb.defaultPoolSize }}
max_db_connections = {{ $pgb.maxDbConnections }}
server_idle_timeout = 60
server_lifetime = 3600
; After a failed server login (Postgres restarting), retry in 1 s, not 15: Dagster's own
; connection retries give up after about 6 s, and a refused login reaches its client at once.
server_login_retry = 1
ignore_startup_parameters = extra_float_digits
log_connections = 0
log_disconnections = 0
{{- end -}}

{{/* Non-secret environment shared by webserver, daemon, init and (through
     env_config_maps) run pods. Names are the contract with docker/compose.yaml
     (x-platform-env, and dagster.yaml's run_launcher env_vars). A location's own
     bucket (DATA_BUCKET) comes from its release, never from here. */}}
{{- define "dagster-platform.envData" -}}
DAGSTER_HOME: {{ .Values.dagsterHome | quote }}
DAGSTER_PLATFORM_ENV: {{ .Values.platformEnv | quote }}
DAGSTER_PG_HOST: {{ include "dagster-platform.databaseHost" . | quote }}
DAGSTER_PG_PORT: {{ include "dagster-platform.databasePort" . | quote }}
DAGSTER_PG_DB: {{ .Values.postgres.database | quote }}
WAREHOUSE_DB: {{ .Values.postgres.warehouseDatabase | quote }}
DAGSTER_LOGS_BUCKET: {{ .Values.s3.logsBucket | quote }}
LANDING_BUCKET: {{ .Values.s3.landingBucket | quote }}
AWS_REGION: {{ .Values.s3.region | quote }}
{{- /* One glibc malloc arena per process, as in docker/compose.yaml (docs/performance.md). */}}
MALLOC_ARENA_MAX: "1"
{{- /* A ranged run's per-partition materializations in one INSERT per output (docker/compose.yaml). */}}
DAGSTER_EVENT_BATCH_SIZE: "1000"
{{- if .Values.s3.endpointUrl }}
S3_ENDPOINT_URL: {{ .Values.s3.endpointUrl | quote }}
{{- end }}
{{- range $k, $v := .Values.extraEnv }}
{{ $k }}: {{ $v | quote }}
{{- end }}
{{- end -}}

{{/* init's credentials as a container `env` list: the superuser, each principal's
     login and password (platformctl.init names: <P>_PG_USER, <P>_PG_PASSWORD,
     <P>_PG_PASSWORD_PREVIOUS while a rotation keeps the old slot), and the
     object store's admin key when s3.existingSecret names one. */}}
{{- define "dagster-platform.initSecretEnv" -}}
- name: DAGSTER_PG_USER
  valueFrom:
    secretKeyRef:
      name: {{ include "dagster-platform.postgresSecret" . }}
      key: {{ .Values.postgres.secretKeys.username }}
- name: DAGSTER_PG_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "dagster-platform.postgresSecret" . }}
      key: {{ .Values.postgres.secretKeys.password }}
{{- range include "dagster-platform.principals" . | fromJsonArray }}
{{- $prefix := upper .name }}
- name: {{ $prefix }}_PG_USER
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: DAGSTER_PG_USER
- name: {{ $prefix }}_PG_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: DAGSTER_PG_PASSWORD
- name: {{ $prefix }}_PG_PASSWORD_PREVIOUS
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: DAGSTER_PG_PASSWORD_PREVIOUS
      optional: true
{{- end }}
{{- if .Values.pgbouncer.enabled }}
# init gives PgBouncer's lookup login this password and creates its lookup function.
- name: PGBOUNCER_AUTH_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "dagster-platform.pgbouncerSecret" . }}
      key: {{ .Values.pgbouncer.secretKeys.password }}
{{- end }}
{{- if .Values.s3.existingSecret }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ .Values.s3.existingSecret }}
      key: {{ .Values.s3.secretKeys.accessKeyId }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.s3.existingSecret }}
      key: {{ .Values.s3.secretKeys.secretAccessKey }}
{{- end }}
{{- end -}}

{{/* dagster.yaml, generated from values. Secrets and hosts are `env:` references.
     The same as compose's dagster.yaml but for the run launcher and where
     tests/helm/test_helm_consistency.py names a difference. */}}
{{- define "dagster-platform.instanceYaml" -}}
storage:
  postgres:
    should_autocreate_tables: false
    postgres_db:
      hostname: {env: DAGSTER_PG_HOST}
      port: {env: DAGSTER_PG_PORT}
      username: {env: DAGSTER_PG_USER}
      password: {env: DAGSTER_PG_PASSWORD}
      db_name: {env: DAGSTER_PG_DB}
run_coordinator:
  module: platform_services.run_queue
  class: HalfSecondQueuedRunCoordinator
  config:
    max_concurrent_runs: {{ .Values.runCoordinator.maxConcurrentRuns }}
    dequeue_interval_seconds: 0.5
    dequeue_use_threads: true
    dequeue_num_workers: 4
    {{- with .Values.runCoordinator.tagConcurrencyLimits }}
    tag_concurrency_limits:
      {{- toYaml . | nindent 6 }}
    {{- end }}
sensors:
  use_threads: true
  num_workers: 4
schedules:
  use_threads: true
  num_workers: 4
run_launcher:
  module: dagster_k8s
  class: K8sRunLauncher
  config:
    service_account_name: {{ include "dagster-platform.runServiceAccount" . }}
    instance_config_map: {{ include "dagster-platform.instanceConfigMap" . }}
    dagster_home: {{ .Values.dagsterHome | quote }}
    job_namespace: {{ .Release.Namespace }}
    load_incluster_config: true
    image_pull_policy: {{ .Values.image.pullPolicy }}
    {{- with .Values.imagePullSecrets }}
    image_pull_secrets:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    env_config_maps:
      - {{ include "dagster-platform.envConfigMap" . }}
      {{- range .Values.runLauncher.envFrom.configMaps }}
      - {{ . | quote }}
      {{- end }}
    # No credential here: each location's container context adds its own Secret
    # to its runs (dagster-code-location credentials.existingSecret).
    {{- with .Values.runLauncher.envFrom.secrets }}
    env_secrets:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- with .Values.runLauncher.volumes }}
    volumes:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- with .Values.runLauncher.volumeMounts }}
    volume_mounts:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    fail_pod_on_run_failure: {{ .Values.runLauncher.failPodOnRunFailure }}
    # NetworkPolicies select run pods by this label plus
    # app.kubernetes.io/component=run_worker, which dagster_k8s sets itself.
    labels:
      dagster-platform/release: {{ .Release.Name }}
      {{- with .Values.runLauncher.podLabels }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
    run_k8s_config:
      container_config:
        resources:
          {{- toYaml .Values.runLauncher.runResources | nindent 10 }}
        security_context:
          run_as_non_root: true
          allow_privilege_escalation: false
          capabilities:
            drop: [ALL]
          seccomp_profile:
            type: RuntimeDefault
      pod_spec_config:
        automount_service_account_token: false
        security_context:
          run_as_non_root: true
          run_as_user: {{ .Values.podSecurityContext.runAsUser }}
          seccomp_profile:
            type: RuntimeDefault
        {{- with include "dagster-charts.scheduling" (list .Values.runLauncher dict) }}{{ . | trim | nindent 8 }}{{ end }}
      {{- with .Values.runLauncher.podAnnotations }}
      pod_template_spec_metadata:
        annotations:
          {{- toYaml . | nindent 10 }}
      {{- end }}
      {{- if not (kindIs "invalid" .Values.runLauncher.jobTtlSecondsAfterFinished) }}
      job_spec_config:
        ttl_seconds_after_finished: {{ .Values.runLauncher.jobTtlSecondsAfterFinished }}
      {{- end }}
compute_logs:
  # dagster-aws's S3ComputeLogManager without the rest of dagster-aws (platform_services.compute_logs)
  module: platform_services.compute_logs
  class: S3ComputeLogManager
  config:
    bucket: {env: DAGSTER_LOGS_BUCKET}
    prefix: {{ .Values.s3.logsPrefix | quote }}
    region: {env: AWS_REGION}
    local_dir: /tmp/dagster-compute-logs
    {{- if .Values.s3.endpointUrl }}
    endpoint_url: {env: S3_ENDPOINT_URL}
    {{- end }}
    upload_interval: 10
run_monitoring:
  enabled: {{ .Values.runMonitoring.enabled }}
  start_timeout_seconds: {{ .Values.runMonitoring.startTimeoutSeconds }}
  poll_interval_seconds: {{ .Values.runMonitoring.pollIntervalSeconds }}
  max_resume_run_attempts: {{ .Values.runMonitoring.maxResumeRunAttempts }}
  max_runtime_seconds: {{ .Values.runMonitoring.maxRuntimeSeconds }}
# Re-execute runs whose worker crashed (pod evicted, OOM), not runs whose own
# code failed, as in compose.
run_retries:
  enabled: true
  max_retries: 2
  retry_on_asset_or_op_failure: false
# Tick history, as in compose (Dagster keeps most ticks forever). Run history:
# the housekeeping location's run_retention_schedule.
retention:
  schedule:
    purge_after_days: 90
  sensor:
    purge_after_days:
      skipped: 7
      failure: 30
      success: 90
telemetry:
  enabled: false
{{- end -}}

{{/* workspace.yaml: one grpc_server entry per code location. */}}
{{- define "dagster-platform.workspaceYaml" -}}
load_from:
{{- range .Values.codeLocations }}
  - grpc_server:
      host: {{ .host | quote }}
      port: {{ .port }}
      location_name: {{ .name | quote }}
{{- else }} []
{{- end }}
{{- end -}}

{{/* Volumes every platform pod mounts: DAGSTER_HOME (writable emptyDir, with the
     two config files mounted into it) and /tmp. */}}
{{- define "dagster-platform.volumes" -}}
- name: dagster-home
  emptyDir: {}
- name: tmp
  emptyDir: {}
- name: instance
  configMap:
    name: {{ include "dagster-platform.instanceConfigMap" . }}
- name: workspace
  configMap:
    name: {{ include "dagster-platform.workspaceConfigMap" . }}
{{- end -}}

{{- define "dagster-platform.volumeMounts" -}}
- name: dagster-home
  mountPath: {{ .Values.dagsterHome }}
- name: tmp
  mountPath: /tmp
- name: instance
  mountPath: {{ .Values.dagsterHome }}/dagster.yaml
  subPath: dagster.yaml
  readOnly: true
- name: workspace
  mountPath: {{ .Values.dagsterHome }}/workspace.yaml
  subPath: workspace.yaml
  readOnly: true
{{- end -}}

{{/* Rolls webserver and daemon pods when any config they read changes. */}}
{{- define "dagster-platform.configChecksum" -}}
{{- $cfg := dict "instance" (include "dagster-platform.instanceYaml" .) "workspace" (include "dagster-platform.workspaceYaml" .) "env" (include "dagster-platform.envData" .) "credentials" (include "dagster-platform.platformSecret" .) -}}
{{- toJson $cfg | sha256sum -}}
{{- end -}}


{{/* A Secret this chart generates and keeps: an existing Secret of that name is
     read back whole (`lookup`), so upgrades keep its values and whatever an
     operator added; `defaults` (base64) fill only the keys it lacks. Kept on
     uninstall. The init hook reads these Secrets and hooks run before the
     release's ordinary objects exist, so one that does not exist yet is created
     by a hook just before init; it carries Helm's ownership annotations, so the
     next upgrade adopts it as an ordinary object of the release.
     Call with (dict "ctx" $ "name" <name> "labels" <map> "defaults" <map>). */}}
{{- define "dagster-platform.keptSecret" -}}
{{- $existing := lookup "v1" "Secret" .ctx.Release.Namespace .name -}}
{{- $data := dict -}}
{{- if and $existing $existing.data -}}
{{- $data = deepCopy $existing.data -}}
{{- end -}}
{{- range $key, $value := .defaults -}}
{{- if not (get $data $key) -}}{{- $_ := set $data $key $value -}}{{- end -}}
{{- end }}
apiVersion: v1
kind: Secret
metadata:
  name: {{ .name }}
  labels:
    {{- toYaml .labels | nindent 4 }}
  annotations:
    helm.sh/resource-policy: keep
    {{- if not $existing }}
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "-20"
    meta.helm.sh/release-name: {{ .ctx.Release.Name }}
    meta.helm.sh/release-namespace: {{ .ctx.Release.Namespace }}
    {{- end }}
type: Opaque
data:
  {{- toYaml $data | nindent 2 }}
{{- end -}}
