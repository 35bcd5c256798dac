{{- define "dagster-code-location.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "dagster-code-%s" .Values.location.name | lower | replace "_" "-" | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels. component=code-location and dagster-platform/release are the
     contract with the dagster-platform chart's NetworkPolicies. */}}
{{- define "dagster-code-location.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: code-location
{{- end -}}

{{- define "dagster-code-location.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "dagster-code-location.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: dagster-platform
dagster-platform/release: {{ .Values.platform.releaseName }}
dagster-platform/location: {{ .Values.location.name | quote }}
{{- end -}}

{{/* The code server's ServiceAccount: global.serviceAccountName, else
     serviceAccount.name, else the fullname. */}}
{{- define "dagster-code-location.serviceAccount" -}}
{{- (.Values.global | default dict).serviceAccountName | default .Values.serviceAccount.name | default (include "dagster-code-location.fullname" .) -}}
{{- end -}}

{{- define "dagster-code-location.image" -}}
{{- $img := .Values.image -}}
{{- if $img.digest -}}
{{- printf "%s/%s@%s" $img.registry $img.repository $img.digest -}}
{{- else -}}
{{- printf "%s/%s:%s" $img.registry $img.repository $img.tag -}}
{{- end -}}
{{- end -}}

{{/* DAGSTER_CONTAINER_CONTEXT: read by `dagster api grpc` and handed to
     the K8sRunLauncher with every run of this location, which merges it over the
     launcher's own config (lists are appended, maps merged key by key). It gives
     the location's runs its credentials Secret and bucket: the launcher's own
     config holds no credential.
     runK8sConfig's keys are dagster_k8s' run_k8s_config keys in camelCase, as in
     Dagster's chart; runResources is its container_config.resources. */}}
{{- define "dagster-code-location.containerContext" -}}
{{- $k8s := dict "labels" (dict "dagster-platform/location" .Values.location.name) -}}
{{- with .Values.envFrom.configMaps }}{{ $_ := set $k8s "env_config_maps" . }}{{ end -}}
{{- $_ := set $k8s "env_secrets" (prepend (.Values.envFrom.secrets | default list) (include "dagster-code-location.credentialsSecret" .)) -}}
{{- $envVars := list -}}
{{- range $k, $v := include "dagster-code-location.bucketEnv" . | fromJson }}{{ $envVars = append $envVars (printf "%s=%s" $k $v) }}{{ end -}}
{{- range $k, $v := .Values.env }}{{ $envVars = append $envVars (printf "%s=%v" $k $v) }}{{ end -}}
{{- $_ := set $k8s "env_vars" $envVars -}}
{{- with .Values.imagePullSecrets }}{{ $_ := set $k8s "image_pull_secrets" . }}{{ end -}}
{{- with .Values.runServiceAccountName }}{{ $_ := set $k8s "service_account_name" . }}{{ end -}}
{{- with .Values.volumes }}{{ $_ := set $k8s "volumes" . }}{{ end -}}
{{- with .Values.volumeMounts }}{{ $_ := set $k8s "volume_mounts" . }}{{ end -}}
{{- $run := dict -}}
{{- range $key, $snake := dict "containerConfig" "container_config" "podSpecConfig" "pod_spec_config" "podTemplateSpecMetadata" "pod_template_spec_metadata" "jobSpecConfig" "job_spec_config" "jobMetadata" "job_metadata" }}
{{- with get ($.Values.runK8sConfig | default dict) $key }}{{ $_ := set $run $snake (deepCopy .) }}{{ end }}
{{- end -}}
{{- with .Values.runResources }}{{ $_ := set $run "container_config" (set (get $run "container_config" | default dict) "resources" .) }}{{ end -}}
{{- with $run }}{{ $_ := set $k8s "run_k8s_config" . }}{{ end -}}
{{- toJson (dict "k8s" $k8s) -}}
{{- end -}}

{{/* The location's credentials Secret: credentials.existingSecret, else the one the
     platform release generates for it. */}}
{{- define "dagster-code-location.credentialsSecret" -}}
{{- .Values.credentials.existingSecret | default (printf "dagster-code-%s-credentials" (.Values.location.name | replace "_" "-")) -}}
{{- end -}}

{{- define "dagster-code-location.dataBucket" -}}
{{- .Values.dataBucket | default (printf "dagster-data-%s" (.Values.location.name | replace "_" "-")) -}}
{{- end -}}

{{/* The buckets the chart sets, as a JSON map of env var to bucket: DATA_BUCKET (its
     own) and <NAME>_BUCKET for every other location in objectStore.reads/writes,
     as platformctl.credentials gives them under compose. */}}
{{- define "dagster-code-location.bucketEnv" -}}
{{- $store := .Values.objectStore | default dict -}}
{{- $env := dict "DATA_BUCKET" (include "dagster-code-location.dataBucket" .) -}}
{{- range concat ($store.reads | default list) ($store.writes | default list) -}}
{{- if ne . "landing" -}}
{{- $_ := set $env (printf "%s_BUCKET" (upper .)) (get ($store.bucketNames | default dict) . | default (printf "dagster-data-%s" (. | replace "_" "-"))) -}}
{{- end -}}
{{- end -}}
{{- toJson $env -}}
{{- end -}}
