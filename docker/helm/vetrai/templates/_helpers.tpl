{{/* Names, labels and the pieces every VetrAI container shares. */}}

{{- define "vetrai.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "vetrai.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: pass (dict "root" $ "component" "auth"). */}}
{{- define "vetrai.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "vetrai.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "vetrai.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-env" (include "vetrai.fullname" .)) -}}
{{- end -}}

{{- define "vetrai.databaseSecretName" -}}
{{- .Values.secrets.existingDatabaseSecret | default .Values.secrets.existingSecret | default (printf "%s-database" (include "vetrai.fullname" .)) -}}
{{- end -}}

{{- define "vetrai.jwtKeysSecretName" -}}
{{- .Values.secrets.jwtKeys.existingSecret | default (printf "%s-jwt-keys" (include "vetrai.fullname" .)) -}}
{{- end -}}

{{/* Settings from the ConfigMap and the Secret, as environment variables. */}}
{{- define "vetrai.envFrom" -}}
- configMapRef:
    name: {{ include "vetrai.fullname" . }}-env
- secretRef:
    name: {{ include "vetrai.secretName" . }}
{{- end -}}

{{- define "vetrai.podSpec" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Readiness and liveness on the process's /health (it checks PostgreSQL and Redis). */}}
{{- define "vetrai.httpProbes" -}}
readinessProbe:
  httpGet:
    path: /health
    port: http
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 3
livenessProbe:
  httpGet:
    path: /health
    port: http
  initialDelaySeconds: 20
  periodSeconds: 15
  timeoutSeconds: 5
  failureThreshold: 6
{{- end -}}

{{/* The logins: one per subgraph and the worker's outbox relay. */}}
{{- define "vetrai.logins" -}}
{{- range .Values.subgraphs }}{{ .name }} {{ end }}outbox
{{- end -}}

{{/* The variable of a login's URL: pass its name. */}}
{{- define "vetrai.loginVariable" -}}
{{- printf "%s_DATABASE_URL" (upper .) -}}
{{- end -}}

{{/* The login URLs a Secret holds: pass the root; each is required. */}}
{{- define "vetrai.loginData" -}}
{{- $logins := .Values.database.logins | default dict }}
{{- range splitList " " (include "vetrai.logins" .) }}
{{ include "vetrai.loginVariable" . }}: {{ required (printf "database.logins.%s is required (or secrets.existingSecret)" .) (get $logins .) | quote }}
{{- end }}
{{- end -}}

{{/* Environment entries of the login URLs ``names`` from Secret ``secret``. */}}
{{- define "vetrai.loginEnv" -}}
{{- $secret := .secret }}
{{- range .names }}
- name: {{ include "vetrai.loginVariable" . }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ include "vetrai.loginVariable" . }}
{{- end }}
{{- end -}}
