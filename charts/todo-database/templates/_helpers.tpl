{{/*
Standard names and labels. The fullname is "<release>-todo-database" unless the
release name already contains the chart name; the backend chart derives the
Secret name the same way, so keep the two in step.
*/}}
{{- define "todo-database.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "todo-database.fullname" -}}
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

{{- define "todo-database.headlessName" -}}
{{- printf "%s-hl" (include "todo-database.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "todo-database.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "todo-database.selectorLabels" -}}
app.kubernetes.io/name: {{ include "todo-database.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: database
{{- end }}

{{- define "todo-database.labels" -}}
helm.sh/chart: {{ include "todo-database.chart" . }}
{{ include "todo-database.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/part-of: {{ .Values.partOf }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* A digest wins over the tag. */}}
{{- define "todo-database.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{- define "todo-database.secretName" -}}
{{- .Values.auth.existingSecret | default (include "todo-database.fullname" .) }}
{{- end }}

{{/*
pg_isready over TCP on loopback: the Debian-built image hoist substitutes has
it on PATH too, and TCP proves what the Service will reach.
*/}}
{{- define "todo-database.isReady" -}}
exec:
  command:
    - sh
    - -c
    - exec pg_isready --host=127.0.0.1 --port={{ .Values.containerPort }} --username="$POSTGRES_USER" --dbname="$POSTGRES_DB" --quiet
{{- end }}

{{/* hoist's objects carry POSTGRES_*; otherwise the chart's auth Secret does. */}}
{{- define "todo-database.env" -}}
{{- if .Values.secret.existingSecret }}
envFrom:
  {{- with .Values.config.existingConfigMap }}
  - configMapRef:
      name: {{ . }}
  {{- end }}
  - secretRef:
      name: {{ .Values.secret.existingSecret }}
{{- end }}
env:
  {{- if not .Values.secret.existingSecret }}
  - name: POSTGRES_USER
    valueFrom:
      secretKeyRef:
        name: {{ include "todo-database.secretName" . }}
        key: {{ .Values.auth.secretKeys.username }}
  - name: POSTGRES_PASSWORD
    valueFrom:
      secretKeyRef:
        name: {{ include "todo-database.secretName" . }}
        key: {{ .Values.auth.secretKeys.password }}
  - name: POSTGRES_DB
    valueFrom:
      secretKeyRef:
        name: {{ include "todo-database.secretName" . }}
        key: {{ .Values.auth.secretKeys.database }}
  {{- end }}
  # A subdirectory, because the volume's root may hold lost+found, which initdb refuses.
  - name: PGDATA
    value: {{ printf "%s/pgdata" .Values.persistence.mountPath | quote }}
  {{- with .Values.extraEnv }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}
