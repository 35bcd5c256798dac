{{- /*
The extension points both charts offer (extra volumes, containers, labels,
envFrom, scheduling, extraManifests) and the guards that keep them from
clashing with what the charts set. One file: dagster-code-location links to
it (templates/_extensions.tpl), and `helm package` stores its content.
*/ -}}

{{/* envFrom entries from {configMaps: [names], secrets: [names]}. */}}
{{- define "dagster-charts.envFrom" -}}
{{- range .configMaps }}
- configMapRef:
    name: {{ . | quote }}
{{- end }}
{{- range .secrets }}
- secretRef:
    name: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* User containers (initContainers, sidecarContainers) with the chart's
     container security context filling in whatever theirs leaves out.
     Call with (dict "containers" list "securityContext" map). */}}
{{- define "dagster-charts.containers" -}}
{{- range .containers }}
{{- $ctx := deepCopy (.securityContext | default dict) }}
{{- range $key, $value := $.securityContext }}
{{- if not (hasKey $ctx $key) }}{{ $_ := set $ctx $key (deepCopy $value) }}{{ end }}
{{- end }}
- {{ set (deepCopy .) "securityContext" $ctx | toYaml | nindent 2 | trim }}
{{- end }}
{{- end -}}

{{/* nodeSelector, affinity, tolerations, topologySpreadConstraints and
     priorityClassName of a pod spec: the component's own setting, else the
     default's (not merged). Call with (list component defaults). */}}
{{- define "dagster-charts.scheduling" -}}
{{- $own := index . 0 -}}
{{- $default := index . 1 -}}
{{- range $key := list "nodeSelector" "affinity" "tolerations" "topologySpreadConstraints" "priorityClassName" }}
{{- with get $own $key | default (get $default $key) }}
{{ $key }}:{{ if kindIs "string" . }} {{ . | quote }}{{ else }}{{ toYaml . | nindent 2 }}{{ end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Guards for one component's extras. Call with (dict "key" "webserver"
     (or "" for top-level values) "values" <its values> "labels" <the pod labels
     the chart sets> "volumes" <volume names it uses> "containers" <container names>). */}}
{{- define "dagster-charts.checkExtras" -}}
{{- $v := .values -}}
{{- $at := ternary (printf "%s." .key) "" (ne .key "") -}}
{{- range $label, $_ := $v.podLabels -}}
{{- if hasKey $.labels $label -}}
{{- fail (printf "%spodLabels must not set %q: the chart sets it (selectors and NetworkPolicies use it); chart labels: %s" $at $label (keys $.labels | sortAlpha | join ", ")) -}}
{{- end -}}
{{- end -}}
{{- $volumes := .volumes -}}
{{- range $v.volumes -}}
{{- if has .name $volumes -}}
{{- fail (printf "%svolumes: a volume named %q is already in the pod; names in use: %s" $at .name (join ", " $volumes)) -}}
{{- end -}}
{{- $volumes = append $volumes .name -}}
{{- end -}}
{{- $containers := .containers -}}
{{- range concat ($v.initContainers | default list) ($v.sidecarContainers | default list) -}}
{{- if has .name $containers -}}
{{- fail (printf "%sinitContainers/sidecarContainers: a container named %q is already in the pod; names in use: %s" $at .name (join ", " $containers)) -}}
{{- end -}}
{{- $containers = append $containers .name -}}
{{- end -}}
{{- end -}}

{{/* extraManifests: each item an object or a string, both passed through tpl. */}}
{{- define "dagster-charts.extraManifests" -}}
{{- range .Values.extraManifests }}
---
{{ tpl (ternary . (toYaml .) (kindIs "string" .)) $ }}
{{- end }}
{{- end -}}
