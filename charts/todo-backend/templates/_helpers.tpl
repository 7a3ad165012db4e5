{{/*
Standard names and labels. The fullname is "<release>-todo-backend" unless the
release name already contains the chart name; the frontend chart derives the
backend Service name the same way, so keep the two in step.
*/}}
{{- define "todo-backend.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "todo-backend.fullname" -}}
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

{{- define "todo-backend.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "todo-backend.selectorLabels" -}}
app.kubernetes.io/name: {{ include "todo-backend.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: backend
{{- end }}

{{- define "todo-backend.labels" -}}
helm.sh/chart: {{ include "todo-backend.chart" . }}
{{ include "todo-backend.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/part-of: {{ .Values.partOf }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* A digest wins over the tag, so a reused tag never leaves a stale image running. */}}
{{- define "todo-backend.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{- define "todo-backend.configMapName" -}}
{{- .Values.config.existingConfigMap | default (include "todo-backend.fullname" .) }}
{{- end }}

{{/* A Secret exists when one is given, or when the chart has something to put in one. */}}
{{- define "todo-backend.hasSecret" -}}
{{- if or .Values.secret.existingSecret .Values.secret.data .Values.secret.generate }}true{{ end }}
{{- end }}

{{- define "todo-backend.secretName" -}}
{{- .Values.secret.existingSecret | default (include "todo-backend.fullname" .) }}
{{- end }}

{{/* The todo-database chart's fullname for this release, derived as that chart derives it. */}}
{{- define "todo-backend.databaseFullname" -}}
{{- if contains "todo-database" .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-todo-database" .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* DATABASE_URL comes from the database chart's Secret unless secret.data provides it. */}}
{{- define "todo-backend.databaseUrlFromSecret" -}}
{{- if and .Values.database.fromSecret.enabled (not (hasKey .Values.secret.data "DATABASE_URL")) }}true{{ end }}
{{- end }}

{{- define "todo-backend.env" -}}
envFrom:
  - configMapRef:
      name: {{ include "todo-backend.configMapName" . }}
  {{- if include "todo-backend.hasSecret" . }}
  - secretRef:
      name: {{ include "todo-backend.secretName" . }}
  {{- end }}
{{- if or (include "todo-backend.databaseUrlFromSecret" .) .Values.extraEnv }}
env:
  {{- if include "todo-backend.databaseUrlFromSecret" . }}
  - name: DATABASE_URL
    valueFrom:
      secretKeyRef:
        name: {{ .Values.database.fromSecret.name | default (include "todo-backend.databaseFullname" .) }}
        key: {{ .Values.database.fromSecret.key }}
  {{- end }}
  {{- with .Values.extraEnv }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}
{{- end }}

{{/*
Waits for TCP on the host and port of DATABASE_URL, so that a first install
(where Helm starts every tier at once) does not crash-loop the backend. It
prints the host, never the URL, which carries the password.
*/}}
{{- define "todo-backend.waitForDatabaseScript" -}}
import os, socket, sys, time, urllib.parse
url = os.environ.get("DATABASE_URL", "")
if not url:
    sys.exit("DATABASE_URL is not set: give it in the backend Secret or enable database.fromSecret")
parts = urllib.parse.urlsplit(url)
host, port = parts.hostname, parts.port or 5432
while True:
    try:
        socket.create_connection((host, port), timeout=3).close()
        print(f"database {host}:{port} accepts connections", flush=True)
        break
    except OSError as error:
        print(f"waiting for database {host}:{port}: {error}", flush=True)
        time.sleep(2)
{{- end }}

{{/* policy/v1 exists from Kubernetes 1.21; helm template reports it for every version, so check both. */}}
{{- define "todo-backend.pdbApiVersion" -}}
{{- if and (.Capabilities.APIVersions.Has "policy/v1") (semverCompare ">=1.21-0" .Capabilities.KubeVersion.Version) -}}
policy/v1
{{- else -}}
policy/v1beta1
{{- end }}
{{- end }}

{{/* autoscaling/v2 exists from Kubernetes 1.23; v2beta2 has the same shape. */}}
{{- define "todo-backend.hpaApiVersion" -}}
{{- if and (.Capabilities.APIVersions.Has "autoscaling/v2") (semverCompare ">=1.23-0" .Capabilities.KubeVersion.Version) -}}
autoscaling/v2
{{- else -}}
autoscaling/v2beta2
{{- end }}
{{- end }}

{{/* A value whose name or shape says it is secret never goes into the ConfigMap. */}}
{{- define "todo-backend.checkConfig" -}}
{{- range $key, $value := .Values.config.data }}
{{- if or (regexMatch "(?i)(SECRET|PASSWORD|TOKEN|KEY|CREDENTIAL)" $key) (eq $key "DATABASE_URL") (regexMatch "^[a-zA-Z][a-zA-Z0-9+.-]*://[^/@]+@" (toString $value)) }}
{{- fail (printf "config.data.%s looks secret: move it to secret.data (or to the Secret named by secret.existingSecret)" $key) }}
{{- end }}
{{- end }}
{{- end }}
