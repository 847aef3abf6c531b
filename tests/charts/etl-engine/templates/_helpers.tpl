{{- define "etl-engine.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "etl-engine.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "etl-engine.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: health-platform
{{- end }}

{{- define "etl-engine.selectorLabels" -}}
app.kubernetes.io/name: {{ include "etl-engine.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
