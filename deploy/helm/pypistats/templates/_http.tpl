{{/* An HTTP service: Deployment, Service, HPA and PDB. Call with (list $ "api" .Values.api readOnlyDb). */}}
{{- define "pypistats.httpService" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $v := index . 2 -}}
{{- $fullname := printf "%s-%s" (include "pypistats.fullname" $root) $name -}}
{{- $extra := merge (dict "PORT" (toString $v.port)) $v.env -}}
{{- if eq $name "auth" }}{{ $_ := set $extra "PUBLIC_URL" $v.publicUrl }}{{ end -}}
{{- $exports := and (eq $name "api") $root.Values.exports.enabled -}}
{{- if $exports }}{{ $_ := set $extra "EXPORT_DIR" $root.Values.exports.mountPath }}{{ end -}}
{{- $env := include "pypistats.env" (list $root $name $extra (index . 3)) -}}
{{- $hpa := dig "autoscaling" "enabled" false $v -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "pypistats.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
spec:
  {{- if not $hpa }}
  replicas: {{ $v.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "pypistats.selector" (list $root $name) | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "pypistats.selector" (list $root $name) | nindent 8 }}
      annotations:
        {{- include "pypistats.podAnnotations" $root | nindent 8 }}
        prometheus.io/port: {{ $v.port | quote }}
    spec:
      {{- include "pypistats.podCommon" (list $root $exports) | nindent 6 }}
      {{- include "pypistats.configCheck" (list $root $name $env) | nindent 6 }}
      containers:
        - name: {{ $name }}
          image: {{ include "pypistats.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          command: ["python", "-m", "services.{{ $name }}", "serve"]
          ports:
            - {name: http, containerPort: {{ $v.port }}, protocol: TCP}
          envFrom:
            {{- include "pypistats.envFrom" $root | nindent 12 }}
          env:
            {{- $env | nindent 12 }}
          {{- include "pypistats.probes" (list $root "http") | nindent 10 }}
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            - {name: tmp, mountPath: /tmp}
            {{- if $exports }}
            - {name: exports, mountPath: {{ $root.Values.exports.mountPath }}, readOnly: true}
            {{- end }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "pypistats.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
spec:
  type: ClusterIP
  selector:
    {{- include "pypistats.selector" (list $root $name) | nindent 4 }}
  ports:
    - {name: http, port: {{ $v.port }}, targetPort: http, protocol: TCP}
{{- if $hpa }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "pypistats.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ $fullname }}
  minReplicas: {{ $v.autoscaling.minReplicas }}
  maxReplicas: {{ $v.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $v.autoscaling.targetCPUUtilizationPercentage }}
{{- end }}
{{- include "pypistats.pdb" (list $root $name $v.pdb) }}
{{- end -}}

{{/* A PodDisruptionBudget: (list $ "api" .Values.api.pdb) */}}
{{- define "pypistats.pdb" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $pdb := index . 2 -}}
{{- if $pdb.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "pypistats.fullname" $root }}-{{ $name }}
  labels:
    {{- include "pypistats.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
spec:
  {{- if hasKey $pdb "minAvailable" }}
  minAvailable: {{ $pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ $pdb.maxUnavailable }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "pypistats.selector" (list $root $name) | nindent 6 }}
{{- end }}
{{- end -}}
