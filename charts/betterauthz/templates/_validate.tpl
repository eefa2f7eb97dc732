{{/*
What the chart refuses to render, each with a message that names the value and says what to write.

values.schema.json types every value, but a value's form (a duration, a URL, a name) JSON Schema
can state only as a regular expression, and Helm would print the expression. Those forms are
checked here instead, in betterauthz's own words (a config duration fails as betterauthz would
refuse it). deployment.yaml includes this first.
*/}}
{{- define "betterauthz.validate" -}}
{{- $v := .Values }}
{{- if and $v.configMap.create (not $v.betterAuthURL) (not (hasKey ($v.config | default dict) "issuers")) (not (include "betterauthz.envHasBetterAuthURL" .)) }}
{{- fail "betterAuthURL is required: set it to your Better Auth's base URL (--set betterAuthURL=https://auth.example.com), or list several Better Auths in config.issuers. Without it betterauthz would look for Better Auth at http://localhost:3000, load no keys and answer 503 to every check." }}
{{- end }}
{{- with $v.betterAuthURL }}
{{- include "betterauthz.checkURL" (list "betterAuthURL" .) }}
{{- end }}
{{- $durations := dict "shutdownDelay" $v.shutdownDelay "shutdownTimeout" $v.shutdownTimeout "grpc.maxConnectionAge" $v.grpc.maxConnectionAge "grpc.maxConnectionAgeGrace" $v.grpc.maxConnectionAgeGrace }}
{{- range $key := keys $durations | sortAlpha }}
{{- include "betterauthz.checkDuration" (list $key (get $durations $key) "^(0|(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$") }}
{{- end }}
{{- /* The config's durations (docs/config.schema.json: every property with a duration
pattern; charts/configschema_test.go fails when one is missing here). */}}
{{- range $path := list "jwksRefreshInterval" "maxKeyAge" "clockSkew" "sessions.lookupTTL" "apiKeys.ttl" }}
{{- $val := $v.config | default dict }}
{{- $found := true }}
{{- range $k := splitList "." $path }}
{{- if and $found (kindIs "map" $val) (hasKey $val $k) }}
{{- $val = index $val $k }}
{{- else }}
{{- $found = false }}
{{- end }}
{{- end }}
{{- if and $found (not (kindIs "invalid" $val)) }}
{{- include "betterauthz.checkDuration" (list (printf "config.%s" $path) $val "^[-+]?(0|(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$") }}
{{- end }}
{{- end }}
{{- $objectNames := dict "configMap.name" $v.configMap.name "caBundle.configMapName" $v.caBundle.configMapName "grpcTLS.secretName" $v.grpcTLS.secretName "grpcTLS.clientCASecretName" $v.grpcTLS.clientCASecretName }}
{{- range $key := keys $objectNames | sortAlpha }}
{{- $name := get $objectNames $key }}
{{- if and $name (not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$" $name)) }}
{{- fail (printf "%s: %q is not a Kubernetes object name (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit)" $key $name) }}
{{- end }}
{{- end }}
{{- $namespaces := $v.annotationPolicies.namespaces | default list }}
{{- with $v.istio.authorizationPolicy.namespace }}{{ $namespaces = append $namespaces . }}{{ end }}
{{- range $namespaces }}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" .) }}
{{- fail (printf "%q is not a namespace name (lowercase letters, digits and '-', starting and ending with a letter or digit): in annotationPolicies.namespaces or istio.authorizationPolicy.namespace" .) }}
{{- end }}
{{- end }}
{{- range $v.annotationPolicies.ingressClasses | default list }}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$" .) }}
{{- fail (printf "annotationPolicies.ingressClasses: %q is not an IngressClass name (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit)" .) }}
{{- end }}
{{- end }}
{{- range $v.annotationPolicies.gateways | default list }}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$" .) }}
{{- fail (printf "annotationPolicies.gateways: %q is not a Gateway (write it as NAMESPACE/NAME, e.g. istio-system/public)" .) }}
{{- end }}
{{- end }}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$" $v.annotationPolicies.clusterDomain) }}
{{- fail (printf "annotationPolicies.clusterDomain: %q is not a DNS domain (write it like cluster.local)" $v.annotationPolicies.clusterDomain) }}
{{- end }}
{{- $keys := dict "caBundle.key" $v.caBundle.key "grpcTLS.clientCAKey" $v.grpcTLS.clientCAKey }}
{{- range $key := keys $keys | sortAlpha }}
{{- if not (regexMatch "^[-._a-zA-Z0-9]+$" (get $keys $key)) }}
{{- fail (printf "%s: %q is not a key of a ConfigMap or Secret (letters, digits, '-', '_' and '.')" $key (get $keys $key)) }}
{{- end }}
{{- end }}
{{- with $v.image.digest }}
{{- if not (regexMatch "^[a-z0-9]+([+._-][a-z0-9]+)*:[a-fA-F0-9]{32,}$" .) }}
{{- fail (printf "image.digest: %q is not an image digest (write it like sha256: and 64 hexadecimal digits)" .) }}
{{- end }}
{{- end }}
{{- $pdb := $v.podDisruptionBudget }}
{{- range $key := list "minAvailable" "maxUnavailable" }}
{{- $n := get $pdb $key }}
{{- if and (kindIs "string" $n) (not (regexMatch "^[0-9]+%$" $n)) }}
{{- fail (printf "podDisruptionBudget.%s: %q is neither a number of pods nor a percentage (write it like 1 or 50%%)" $key $n) }}
{{- end }}
{{- end }}
{{- range $key := list "interval" "scrapeTimeout" }}
{{- $d := get $v.serviceMonitor $key }}
{{- if and $d (not (regexMatch "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$" $d)) }}
{{- fail (printf "serviceMonitor.%s: %q is not a Prometheus duration (write it like 30s, 1m or 1h30m)" $key $d) }}
{{- end }}
{{- end }}
{{- if not (regexMatch "^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$" $v.istio.timeout) }}
{{- fail (printf "istio.timeout: %q is not a duration (write it like 500ms or 1s)" $v.istio.timeout) }}
{{- end }}
{{- if not (regexMatch "^[1-5][0-9][0-9]$" $v.istio.statusOnError) }}
{{- fail (printf "istio.statusOnError: %q is not an HTTP status code (write it like \"503\")" $v.istio.statusOnError) }}
{{- end }}
{{- end }}

{{/*
checkDuration (list KEY VALUE PATTERN): VALUE, a string or a bare number, must match PATTERN (a
Go duration, as time.ParseDuration reads it).
*/}}
{{- define "betterauthz.checkDuration" -}}
{{- $key := index . 0 }}
{{- $val := toString (index . 1) }}
{{- if not (regexMatch (index . 2) $val) }}
{{- fail (printf "%s: %q is not a duration (write it like 30s, 5m or 1h)" $key $val) }}
{{- end }}
{{- end }}

{{/*
checkURL (list KEY VALUE): an absolute http:// or https:// URL without credentials, as betterauthz
requires of betterAuthURL.
*/}}
{{- define "betterauthz.checkURL" -}}
{{- $key := index . 0 }}
{{- $url := index . 1 }}
{{- if not (regexMatch "^https?://[^\\s/?#]+[^\\s]*$" $url) }}
{{- fail (printf "%s: %q must be an absolute http:// or https:// URL" $key $url) }}
{{- end }}
{{- if regexMatch "^https?://[^/?#]*@" $url }}
{{- fail (printf "%s: %q must not carry credentials" $key (regexReplaceAll "//[^/?#]*@" $url "//")) }}
{{- end }}
{{- end }}
