{{/*
Standard names and labels. The fullname is "<release>-todo-frontend" unless the
release name already contains the chart name.
*/}}
{{- define "todo-frontend.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "todo-frontend.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "todo-frontend.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "todo-frontend.selectorLabels" -}}
app.kubernetes.io/name: {{ include "todo-frontend.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: frontend
{{- end }}

{{- define "todo-frontend.labels" -}}
helm.sh/chart: {{ include "todo-frontend.chart" . }}
{{ include "todo-frontend.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/part-of: {{ .Values.partOf }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* A digest wins over the tag, so a reused tag never leaves a stale image running. */}}
{{- define "todo-frontend.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{- define "todo-frontend.configMapName" -}}
{{- .Values.config.existingConfigMap | default (include "todo-frontend.fullname" .) }}
{{- end }}

{{/* A Secret exists when one is given, or when the chart has something to put in one. */}}
{{- define "todo-frontend.hasSecret" -}}
{{- if or .Values.secret.existingSecret .Values.secret.data .Values.secret.generate }}true{{ end }}
{{- end }}

{{- define "todo-frontend.secretName" -}}
{{- .Values.secret.existingSecret | default (include "todo-frontend.fullname" .) }}
{{- end }}

{{/* The todo-backend chart's fullname for this release, derived as that chart derives it. */}}
{{- define "todo-frontend.backendFullname" -}}
{{- if .Values.backend.serviceName }}
{{- .Values.backend.serviceName }}
{{- else if contains "todo-backend" .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-todo-backend" .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* backend.url, else the backend Service; the chart's ConfigMap carries it unless config.data does. */}}
{{- define "todo-frontend.backendUrl" -}}
{{- .Values.backend.url | default (printf "http://%s:%d" (include "todo-frontend.backendFullname" .) (int .Values.backend.port)) }}
{{- end }}

{{- define "todo-frontend.env" -}}
envFrom:
  - configMapRef:
      name: {{ include "todo-frontend.configMapName" . }}
  {{- if include "todo-frontend.hasSecret" . }}
  - secretRef:
      name: {{ include "todo-frontend.secretName" . }}
  {{- end }}
env:
  {{- with .Values.backend.url }}
  # Given explicitly, so it wins over the ConfigMap's.
  - name: BACKEND_URL
    value: {{ . | quote }}
  {{- end }}
  - name: PORT
    value: {{ .Values.containerPort | quote }}
  # Next.js standalone binds to HOSTNAME, which Kubernetes sets to the pod name.
  - name: HOSTNAME
    value: "0.0.0.0"
  {{- with .Values.extraEnv }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}

{{/* policy/v1 exists from Kubernetes 1.21; helm template reports it for every version, so check both. */}}
{{- define "todo-frontend.pdbApiVersion" -}}
{{- if and (.Capabilities.APIVersions.Has "policy/v1") (semverCompare ">=1.21-0" .Capabilities.KubeVersion.Version) -}}
policy/v1
{{- else -}}
policy/v1beta1
{{- end }}
{{- end }}

{{/* autoscaling/v2 exists from Kubernetes 1.23; v2beta2 has the same shape. */}}
{{- define "todo-frontend.hpaApiVersion" -}}
{{- if and (.Capabilities.APIVersions.Has "autoscaling/v2") (semverCompare ">=1.23-0" .Capabilities.KubeVersion.Version) -}}
autoscaling/v2
{{- else -}}
autoscaling/v2beta2
{{- end }}
{{- end }}

{{/* A value whose name or shape says it is secret never goes into the ConfigMap. */}}
{{- define "todo-frontend.checkConfig" -}}
{{- range $key, $value := .Values.config.data }}
{{- if or (regexMatch "(?i)(SECRET|PASSWORD|TOKEN|KEY|CREDENTIAL)" $key) (eq $key "DATABASE_URL") (regexMatch "^[a-zA-Z][a-zA-Z0-9+.-]*://[^/@]+@" (toString $value)) }}
{{- fail (printf "config.data.%s looks secret: move it to secret.data (or to the Secret named by secret.existingSecret)" $key) }}
{{- end }}
{{- end }}
{{- end }}
