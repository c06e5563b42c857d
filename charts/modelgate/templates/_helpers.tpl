{{/* Names, labels and the image reference shared by every template. */}}

{{- define "modelgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "modelgate.fullname" -}}
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

{{- define "modelgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "modelgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: webhook
{{- end }}

{{- define "modelgate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "modelgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: modelgate
{{- end }}

{{- define "modelgate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "modelgate.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository@digest when a digest is given, else repository:tag (tag defaults to appVersion). */}}
{{- define "modelgate.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "modelgate.tlsSecretName" -}}
{{- printf "%s-tls" (include "modelgate.fullname" .) }}
{{- end }}

{{/* DNS names the serving certificate covers. */}}
{{- define "modelgate.serviceDnsNames" -}}
{{- $svc := include "modelgate.fullname" . }}
{{- $ns := .Release.Namespace }}
{{- list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) | toJson }}
{{- end }}

{{/* Whether the webhook talks to the Kubernetes API at all (then its token is mounted). */}}
{{- define "modelgate.needsApi" -}}
{{- if or (eq .Values.certificates.mode "webhook") .Values.webhook.namespaceModeLabel .Values.registry.k8sPullSecrets .Values.signers.keyRefs }}true{{- end }}
{{- end }}

{{- define "modelgate.policyDataConfigMap" -}}
{{- if .Values.policy.existingDataConfigMap }}{{ .Values.policy.existingDataConfigMap }}{{- else if .Values.policy.data }}{{ printf "%s-policy-data" (include "modelgate.fullname" .) }}{{- end }}
{{- end }}

{{- define "modelgate.trustConfigMap" -}}
{{- if .Values.trust.existingConfigMap }}{{ .Values.trust.existingConfigMap }}{{- else if .Values.trust.trustedRoot }}{{ printf "%s-trust-root" (include "modelgate.fullname" .) }}{{- end }}
{{- end }}

{{/* The rules and selectors both webhook configurations share. */}}
{{- define "modelgate.webhookMatch" -}}
admissionReviewVersions: ["v1"]
sideEffects: None
timeoutSeconds: {{ .Values.webhook.timeoutSeconds }}
matchPolicy: Equivalent
rules:
  - apiGroups: ["serving.kserve.io"]
    apiVersions: ["v1beta1"]
    resources: ["inferenceservices"]
    operations: ["CREATE", "UPDATE"]
    scope: Namespaced
  - apiGroups: ["serving.kserve.io"]
    apiVersions: ["v1alpha1"]
    resources: ["trainedmodels"]
    operations: ["CREATE", "UPDATE"]
    scope: Namespaced
  - apiGroups: ["serving.kserve.io"]
    apiVersions: ["v1alpha1", "v1alpha2"]
    resources: ["llminferenceservices"]
    operations: ["CREATE", "UPDATE"]
    scope: Namespaced
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values: {{ .Values.webhook.excludedNamespaces | concat (list .Release.Namespace) | uniq | toJson }}
    {{- with .Values.webhook.optOutLabel }}
    - key: {{ . }}
      operator: NotIn
      values: ["true"]
    {{- end }}
    {{- with .Values.webhook.namespaceSelectorExpressions }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
objectSelector: {{ .Values.webhook.objectSelector | toJson }}
{{- end }}
