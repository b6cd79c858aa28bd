{{/*
Names. Kubernetes names are at most 63 characters where they become DNS labels.
*/}}
{{- define "pruneguard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "pruneguard.fullname" -}}
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

{{- define "pruneguard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "pruneguard.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding the webhook's serving certificate (cert-manager's or pruneguard's own). */}}
{{- define "pruneguard.tlsSecretName" -}}
{{- printf "%s-webhook-tls" (include "pruneguard.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The Lease the serve replicas elect their pruner with. */}}
{{- define "pruneguard.leaseName" -}}
{{- printf "%s-leader" (include "pruneguard.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The headless Service a StatefulSet names its pods under. */}}
{{- define "pruneguard.headlessServiceName" -}}
{{- printf "%s-headless" (include "pruneguard.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "pruneguard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "pruneguard.labels" -}}
helm.sh/chart: {{ include "pruneguard.chart" . }}
app.kubernetes.io/name: {{ include "pruneguard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: pruneguard
{{- end }}

{{/* Labels that select the serve pods; never change them, selectors are immutable. */}}
{{- define "pruneguard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pruneguard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end }}

{{- define "pruneguard.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Whether to strip fixed user and group IDs for OpenShift's restricted SCC. */}}
{{- define "pruneguard.adaptForOpenShift" -}}
{{- $mode := .Values.openshift.adaptSecurityContext }}
{{- if or (eq $mode "force") (and (eq $mode "auto") (.Capabilities.APIVersions.Has "security.openshift.io/v1")) }}true{{ end }}
{{- end }}

{{/* A security context (passed as "ctx") with fixed IDs removed when adapting for OpenShift. */}}
{{- define "pruneguard.securityContext" -}}
{{- $ctx := deepCopy .ctx }}
{{- if include "pruneguard.adaptForOpenShift" .root }}
{{- $ctx = omit $ctx "runAsUser" "runAsGroup" "fsGroup" }}
{{- end }}
{{- toYaml $ctx }}
{{- end }}

{{/* Whether the workload is a StatefulSet (one PVC per replica) rather than a Deployment. */}}
{{- define "pruneguard.statefulSet" -}}
{{- if eq .Values.storage.type "pvc" }}true{{ end }}
{{- end }}

{{/*
Pruning policy flags shared by `serve` (continuous mode) and `prune images` (cronjob mode), with
the same names and meaning as oc adm prune images. Rendered as a YAML list of arguments.
*/}}
{{- define "pruneguard.policyArgs" -}}
{{- $p := .Values.pruning }}
{{- if $p.confirm }}
- --confirm
{{- end }}
{{- if $p.pruneOverSizeLimit }}
- --prune-over-size-limit
{{- else }}
- --keep-tag-revisions={{ $p.keepTagRevisions }}
- --keep-younger-than={{ $p.keepYoungerThan }}
{{- end }}
- --all={{ $p.all }}
{{- with $p.namespace }}
- --namespace={{ . }}
{{- end }}
- --prune-registry={{ $p.pruneRegistry }}
{{- with $p.registryURL }}
- --registry-url={{ . }}
{{- end }}
{{- if $p.caBundle }}
- --certificate-authority=/etc/pruneguard/registry-ca/ca.crt
{{- end }}
{{- if $p.forceInsecure }}
- --force-insecure
{{- end }}
- --ignore-invalid-refs={{ $p.ignoreInvalidRefs }}
- --num-workers={{ $p.numWorkers }}
{{- end }}

{{/* Refuse value combinations that oc itself refuses, at render time. */}}
{{- define "pruneguard.validate" -}}
{{- $p := .Values.pruning }}
{{- if and $p.caBundle $p.forceInsecure }}
{{- fail "pruning.caBundle and pruning.forceInsecure exclude each other: a CA bundle is only used to verify the registry" }}
{{- end }}
{{- if and $p.caBundle (hasPrefix "http://" $p.registryURL) }}
{{- fail "pruning.caBundle is set but pruning.registryURL is http://: use an https:// URL or drop the CA bundle" }}
{{- end }}
{{- if and (eq $p.mode "cronjob") (eq .Values.pruning.cronJob.serviceAccountName (include "pruneguard.serviceAccountName" .)) }}
{{- fail "pruning.cronJob.serviceAccountName must differ from the serve ServiceAccount: the job has its own, narrower role" }}
{{- end }}
{{- end }}
