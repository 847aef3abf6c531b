{{/* Chart name, truncated to the DNS label limit. */}}
{{- define "pulse-os.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* chart label: name-version */}}
{{- define "pulse-os.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The image every component runs: <registry>/<image>:<version>. */}}
{{- define "pulse-os.image" -}}
{{- printf "%s/%s:%s" .Values.azure_container_registry.endpoint .Values.azure_container_registry.image (toString .Values.version) }}
{{- end }}

{{/* Labels every resource carries. */}}
{{- define "pulse-os.labels" -}}
helm.sh/chart: {{ include "pulse-os.chart" . }}
app.kubernetes.io/part-of: pulse-os
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Selector labels for one component; call with (dict "ctx" $ "component" "api"). */}}
{{- define "pulse-os.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pulse-os.name" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
