package charts_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/betterauthz/betterauthz/internal/config"
	"github.com/betterauthz/betterauthz/internal/config/schema"
)

// TestRefusesWithoutBetterAuth: without betterAuthURL and without config.issuers betterauthz
// would look for Better Auth at http://localhost:3000, load no keys and answer 503 to every
// check, so the chart refuses to render, saying what to set. The ways to name Better Auth
// otherwise render.
func TestRefusesWithoutBetterAuth(t *testing.T) {
	_, err := helm(t, "template", "rel", chart)
	if err == nil || !strings.Contains(err.Error(), "betterAuthURL is required: set it to your Better Auth's base URL (--set betterAuthURL=https://auth.example.com), or list several Better Auths in config.issuers") {
		t.Fatalf("rendered without betterAuthURL, or without saying why: %v", err)
	}
	issuers := filepath.Join(t.TempDir(), "issuers.yaml")
	os.WriteFile(issuers, []byte("config:\n  issuers:\n    - name: main\n      betterAuthURL: https://auth.example.com\n"), 0o644)
	for name, args := range map[string][]string{
		"betterAuthURL":                   withAuthURL,
		"config.issuers":                  {"-f", issuers},
		"a ConfigMap of the user's own":   {"--set", "configMap.create=false", "--set", "configMap.name=mine"},
		"BETTER_AUTH_URL in the extraEnv": {"--set", "extraEnv[0].name=BETTER_AUTH_URL", "--set", "extraEnv[0].value=https://auth.example.com"},
	} {
		if _, err := helm(t, append([]string{"template", "rel", chart}, args...)...); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestTypedValuesInOwnWords: a value of the right type but the wrong form fails with a
// message that names it and says what to write — for the config's durations, the words
// betterauthz itself uses — never with the regular expression that checks it.
func TestTypedValuesInOwnWords(t *testing.T) {
	cases := map[string]struct {
		set  []string
		want string
	}{
		"shutdownDelay":              {[]string{"shutdownDelay=5 seconds"}, `shutdownDelay: "5 seconds" is not a duration (write it like 30s, 5m or 1h)`},
		"shutdownTimeout":            {[]string{"shutdownTimeout=-1s"}, `shutdownTimeout: "-1s" is not a duration (write it like 30s, 5m or 1h)`},
		"grpc.maxConnectionAge":      {[]string{"grpc.maxConnectionAge=forever"}, `grpc.maxConnectionAge: "forever" is not a duration`},
		"grpc.maxConnectionAgeGrace": {[]string{"grpc.maxConnectionAgeGrace=30"}, `grpc.maxConnectionAgeGrace: "30" is not a duration`},
		"betterAuthURL":              {[]string{"betterAuthURL=auth.example.com"}, `betterAuthURL: "auth.example.com" must be an absolute http:// or https:// URL`},
		"betterAuthURL credentials":  {[]string{"betterAuthURL=https://user:hunter2@auth.example.com"}, `betterAuthURL: "https://auth.example.com" must not carry credentials`},
		"configMap.name":             {[]string{"configMap.name=My_Config"}, `configMap.name: "My_Config" is not a Kubernetes object name`},
		"caBundle.configMapName":     {[]string{"caBundle.configMapName=-ca"}, `caBundle.configMapName: "-ca" is not a Kubernetes object name`},
		"caBundle.key":               {[]string{"caBundle.configMapName=ca", "caBundle.key=ca/crt"}, `caBundle.key: "ca/crt" is not a key of a ConfigMap or Secret`},
		"grpcTLS.secretName":         {[]string{"grpcTLS.secretName=TLS"}, `grpcTLS.secretName: "TLS" is not a Kubernetes object name`},
		"namespace":                  {[]string{"annotationPolicies.namespaces[0]=Shop"}, `"Shop" is not a namespace name`},
		"ingressClasses":             {[]string{"annotationPolicies.ingressClasses[0]=Nginx"}, `annotationPolicies.ingressClasses: "Nginx" is not an IngressClass name`},
		"gateways":                   {[]string{"annotationPolicies.gateways[0]=public"}, `annotationPolicies.gateways: "public" is not a Gateway (write it as NAMESPACE/NAME`},
		"clusterDomain":              {[]string{"annotationPolicies.clusterDomain=cluster_local"}, `annotationPolicies.clusterDomain: "cluster_local" is not a DNS domain`},
		"image.digest":               {[]string{"image.digest=latest"}, `image.digest: "latest" is not an image digest`},
		"podDisruptionBudget":        {[]string{"podDisruptionBudget.minAvailable=half"}, `podDisruptionBudget.minAvailable: "half" is neither a number of pods nor a percentage (write it like 1 or 50%)`},
		"serviceMonitor.interval":    {[]string{"serviceMonitor.interval=5 mins"}, `serviceMonitor.interval: "5 mins" is not a Prometheus duration`},
		"istio.timeout":              {[]string{"istio.timeout=1 second"}, `istio.timeout: "1 second" is not a duration`},
		"istio.statusOnError":        {[]string{"istio.statusOnError=5xx"}, `istio.statusOnError: "5xx" is not an HTTP status code`},
	}
	// Every duration of the config, as docs/config.schema.json marks them, with the message
	// betterauthz gives for the same value (without its line number).
	for _, path := range configDurations(t) {
		doc := nestedYAML(path, "30 seconds")
		_, err := config.Parse([]byte(doc), func(string) string { return "" })
		if err == nil {
			t.Fatalf("betterauthz accepts %q", doc)
		}
		own := regexp.MustCompile(` \(line \d+\)$`).ReplaceAllString(strings.Split(err.Error(), "\n")[0], "")
		cases["config."+path] = struct {
			set  []string
			want string
		}{[]string{"config." + path + "=30 seconds"}, "config." + own}
		cases["config."+path+" as a bare number"] = struct {
			set  []string
			want string
		}{[]string{"config." + path + "=300"}, `config.` + path + `: "300" is not a duration (write it like 30s, 5m or 1h)`}
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			args := []string{"template", "rel", chart}
			if !strings.HasPrefix(tc.set[0], "betterAuthURL=") {
				args = append(args, withAuthURL...)
			}
			for _, s := range tc.set {
				args = append(args, "--set", s)
			}
			_, err := helm(t, args...)
			if err == nil {
				t.Fatal("rendered")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not say %q:\n%v", tc.want, err)
			}
			_, said, _ := strings.Cut(err.Error(), "\nError: ") // what Helm printed, not the command line
			if strings.Contains(said, "pattern") || strings.Contains(said, "^") || strings.Contains(said, "hunter2") {
				t.Errorf("error shows a regular expression or a credential:\n%v", said)
			}
		})
	}
	// A bare 0 is a duration, to betterauthz and to the chart.
	if _, err := helm(t, append([]string{"template", "rel", chart, "--set", "config.clockSkew=0"}, withAuthURL...)...); err != nil {
		t.Errorf("clockSkew 0: %v", err)
	}
}

// configDurations are the paths of the config's durations in docs/config.schema.json: the
// chart's templates must check each one.
func configDurations(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../docs/config.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var paths []string
	var walk func(path string, s map[string]any)
	walk = func(path string, s map[string]any) {
		if s["pattern"] == schema.DurationPattern {
			paths = append(paths, path)
		}
		props, _ := s["properties"].(map[string]any)
		for k, v := range props {
			if sub, ok := v.(map[string]any); ok {
				walk(strings.TrimPrefix(path+"."+k, "."), sub)
			}
		}
	}
	walk("", doc)
	slices.Sort(paths)
	if len(paths) < 4 {
		t.Fatalf("config durations %v: the schema no longer marks them?", paths)
	}
	return paths
}

// nestedYAML is a YAML document setting the dotted path to value.
func nestedYAML(path, value string) string {
	var b strings.Builder
	keys := strings.Split(path, ".")
	for i, k := range keys {
		b.WriteString(strings.Repeat("  ", i) + k + ":")
		if i == len(keys)-1 {
			b.WriteString(" " + value)
		}
		b.WriteString("\n")
	}
	return b.String()
}
