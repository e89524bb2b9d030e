{{- define "flashsale-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "flashsale-operator.labels" -}}
app.kubernetes.io/name: flashsale-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "flashsale-operator.selectorLabels" -}}
app.kubernetes.io/name: flashsale-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "flashsale-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ default (include "flashsale-operator.fullname" .) .Values.serviceAccount.name }}{{- else -}}{{ default "default" .Values.serviceAccount.name }}{{- end -}}
{{- end -}}

{{- define "flashsale-operator.connection" -}}
{{- if .conn.value }}
value: {{ .conn.value | quote }}
{{- else }}
valueFrom:
  secretKeyRef:
    name: {{ .conn.secretRef.name }}
    key: {{ .conn.secretRef.key }}
{{- end }}
{{- end -}}
