{{/*
Chart name, truncated to 63 characters (a label value limit).
*/}}
{{- define "betterauthz.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: <release>-<chart>, or the release name when it already contains the
chart name. Truncated to 63 characters (DNS label limit of Service names).
*/}}
{{- define "betterauthz.fullname" -}}
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

{{/*
Chart name and version for the helm.sh/chart label.
*/}}
{{- define "betterauthz.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels: stable for the life of the release (a Deployment's selector is immutable).
*/}}
{{- define "betterauthz.selectorLabels" -}}
app.kubernetes.io/name: {{ include "betterauthz.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Common labels (the Kubernetes recommended set).
*/}}
{{- define "betterauthz.labels" -}}
helm.sh/chart: {{ include "betterauthz.chart" . }}
{{ include "betterauthz.selectorLabels" . }}
app.kubernetes.io/version: {{ (.Values.image.tag | default .Chart.AppVersion) | toString | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/component: ext-authz
app.kubernetes.io/part-of: betterauthz
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
ServiceAccount name.
*/}}
{{- define "betterauthz.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "betterauthz.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Name of the ConfigMap that holds config.yaml.
*/}}
{{- define "betterauthz.configMapName" -}}
{{- if .Values.configMap.name }}
{{- .Values.configMap.name }}
{{- else if .Values.configMap.create }}
{{- include "betterauthz.fullname" . }}
{{- else }}
{{- fail "configMap.name is required when configMap.create is false: name the ConfigMap (with a config.yaml key) that betterauthz should watch" }}
{{- end }}
{{- end }}

{{/*
Container image: repository@digest when a digest is set, else repository:tag (tag defaults to the
chart's appVersion).
*/}}
{{- define "betterauthz.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) }}
{{- end }}
{{- end }}

{{/*
Name shared by the annotations ClusterRole and its bindings. ClusterRoles are cluster-wide, so the
release namespace is part of the name: the same release name in two namespaces must not collide.
*/}}
{{- define "betterauthz.annotationsRBACName" -}}
{{- printf "%s-%s-annotations" (include "betterauthz.fullname" .) .Release.Namespace | trunc 253 | trimSuffix "-" }}
{{- end }}

{{/*
In-cluster DNS name of the Service.
*/}}
{{- define "betterauthz.serviceFQDN" -}}
{{- printf "%s.%s.svc.%s" (include "betterauthz.fullname" .) .Release.Namespace (.Values.annotationPolicies.clusterDomain | trimSuffix ".") }}
{{- end }}

{{/*
The config.yaml betterauthz reads: `config`, plus betterAuthURL and the annotations section from
their first-class values. Rendered with toYaml, so every part of the config schema (routes,
claims, ...) passes through unchanged.
*/}}
{{- define "betterauthz.configYAML" -}}
{{- $cfg := deepCopy (.Values.config | default dict) }}
{{- if hasKey $cfg "betterAuthURL" }}
{{- fail "config.betterAuthURL is not allowed: set the top-level value betterAuthURL instead" }}
{{- end }}
{{- if hasKey $cfg "annotations" }}
{{- fail "config.annotations is not allowed: use the annotationPolicies values (enabled, namespaces, allowPublic, clusterDomain, ingressClasses, gateways) instead, which also set the RBAC to match" }}
{{- end }}
{{- if hasKey $cfg "issuers" }}
{{- if .Values.betterAuthURL }}
{{- fail "betterAuthURL and config.issuers cannot both be set: with several issuers, give each its betterAuthURL in config.issuers" }}
{{- end }}
{{- range $k := list "basePath" "jwksURL" "issuer" "audiences" "algorithms" }}
{{- if hasKey $cfg $k }}
{{- fail (printf "config.%s and config.issuers cannot both be set: move %s into the entries of config.issuers" $k $k) }}
{{- end }}
{{- end }}
{{- end }}
{{- if .Values.betterAuthURL }}
{{- $_ := set $cfg "betterAuthURL" .Values.betterAuthURL }}
{{- end }}
{{- $ap := .Values.annotationPolicies }}
{{- $_ := set $cfg "annotations" (dict "enabled" $ap.enabled "namespaces" (($ap.namespaces | default list) | uniq) "allowPublic" $ap.allowPublic "clusterDomain" $ap.clusterDomain "ingressClasses" (($ap.ingressClasses | default list) | uniq) "gateways" (($ap.gateways | default list) | uniq)) }}
{{- toYaml $cfg }}
{{- end }}

{{/*
Whether the extra env sets BETTER_AUTH_URL (then an empty betterAuthURL is deliberate).
*/}}
{{- define "betterauthz.envHasBetterAuthURL" -}}
{{- range .Values.extraEnv }}
{{- if eq (.name | default "") "BETTER_AUTH_URL" }}true{{ end }}
{{- end }}
{{- end }}
