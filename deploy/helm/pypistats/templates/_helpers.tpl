{{/* Names, labels and the pieces every workload shares. */}}

{{- define "pypistats.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "pypistats.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: include "pypistats.selector" (list $ "api") */}}
{{- define "pypistats.selector" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ $root.Chart.Name }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "pypistats.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "pypistats.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "pypistats.fullname" .)) -}}
{{- end -}}

{{/* env of a service container: list $ "api" (dict of extra env) readOnly */}}
{{- define "pypistats.env" -}}
{{- $root := index . 0 -}}
{{- $extra := index . 2 -}}
{{- $readOnly := index . 3 -}}
{{- $secret := include "pypistats.secretName" $root -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ if $readOnly }}{{ $root.Values.secrets.readOnlyKey }}{{ else }}DATABASE_URL{{ end }}
{{- if $readOnly }}
{{- /* A read replica: optional, so without the key api and web read DATABASE_URL. */}}
- name: READ_DATABASE_URL
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: {{ $root.Values.secrets.readReplicaKey }}, optional: true}
{{- end }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: REDIS_URL}
- name: NATS_URL
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: NATS_URL}
{{- range (index . 1 | eq "auth" | ternary (list "SESSION_SECRET" "GITHUB_CLIENT_ID" "GITHUB_CLIENT_SECRET") (index . 1 | eq "web" | ternary (list "SESSION_SECRET") list)) }}
- name: {{ . }}
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: {{ . }}, optional: true}
{{- end }}
{{- range $name, $value := $extra }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{- define "pypistats.envFrom" -}}
- configMapRef:
    name: {{ include "pypistats.fullname" . }}-config
{{- end -}}

{{/* Init container checking the settings: list $ "api" envBlock */}}
{{- define "pypistats.configCheck" -}}
{{- $root := index . 0 -}}
{{- if $root.Values.configCheck.enabled }}
initContainers:
  - name: config-check
    image: {{ include "pypistats.image" $root }}
    imagePullPolicy: {{ $root.Values.image.pullPolicy }}
    command: ["python", "-m", "shared.config", "check", "--service", {{ index . 1 | quote }}]
    envFrom:
      {{- include "pypistats.envFrom" $root | nindent 6 }}
    env:
      {{- index . 2 | nindent 6 }}
    securityContext:
      {{- toYaml $root.Values.securityContext | nindent 6 }}
    resources:
      requests: {cpu: 10m, memory: 64Mi}
      limits: {cpu: 200m, memory: 128Mi}
{{- end }}
{{- end -}}

{{/* Liveness on /health, readiness on /ready, on the named container port. */}}
{{- define "pypistats.probes" -}}
{{- $root := index . 0 -}}
livenessProbe:
  httpGet: {path: /health, port: {{ index . 1 }}}
  {{- toYaml $root.Values.probes.liveness | nindent 2 }}
readinessProbe:
  httpGet: {path: /ready, port: {{ index . 1 }}}
  {{- toYaml $root.Values.probes.readiness | nindent 2 }}
{{- end -}}

{{/* Pod-level fields shared by every workload. */}}
{{- /* The pod spec's common part. Call with the root, or with (list $ true) for a pod that mounts the
bulk exports' volume (aggregator and api). */ -}}
{{- define "pypistats.podCommon" -}}
{{- $root := . -}}
{{- $exports := false -}}
{{- if kindIs "slice" . }}{{ $root = index . 0 }}{{ $exports = index . 1 }}{{ end -}}
automountServiceAccountToken: false
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  - name: tmp
    emptyDir: {}
{{- if and $exports $root.Values.exports.enabled }}
  - name: exports
    persistentVolumeClaim:
      claimName: {{ include "pypistats.exportsClaim" $root }}
{{- end }}
{{- end -}}

{{- define "pypistats.exportsClaim" -}}
{{- .Values.exports.existingClaim | default (printf "%s-exports" (include "pypistats.fullname" .)) -}}
{{- end -}}

{{- define "pypistats.podAnnotations" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- if not .Values.secrets.existingSecret }}
checksum/secrets: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}
prometheus.io/scrape: "true"
prometheus.io/path: /metrics
{{- end -}}
