{{/*
The umbrella renders no objects of its own: each tier chart names and labels
its objects. This only checks that the tiers' settings agree.
*/}}
{{- define "todo-chatbot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "todo-chatbot.validate" -}}
{{- $database := index .Values "todo-database" }}
{{- $backend := index .Values "todo-backend" }}
{{- if and (not $database.enabled) $backend.database.fromSecret.enabled (not $backend.database.fromSecret.name) }}
{{- fail "todo-database.enabled is false, so the backend's DATABASE_URL must come from elsewhere: set todo-backend.database.fromSecret.enabled=false and give DATABASE_URL in todo-backend.secret.data or in the Secret named by todo-backend.secret.existingSecret" }}
{{- end }}
{{- end }}
