package proxies

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
)

// IngressNginx runs nginx with the config ingress-nginx would generate (IngressNginxSite).
const IngressNginx Kind = "ingress-nginx"

// ExampleKinds are the proxies with a shipped example config that runs here.
var ExampleKinds = []Kind{Nginx, IngressNginx, Caddy, Traefik}

// ExamplesDir is examples/proxies in the module.
func ExamplesDir() (string, error) {
	root, err := betterauth.ModuleRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "examples", "proxies"), nil
}

// Example returns the shipped config of a proxy (examples/proxies), ready for Start: nginx.conf,
// Caddyfile, traefik.yml with traefik-dynamic.yml, and for ingress-nginx the nginx config the
// controller generates from ingress-nginx.yaml, its auth-url pointed at BETTERAUTHZ_CHECK_ADDR.
func Example(kind Kind) (Config, error) {
	dir, err := ExamplesDir()
	if err != nil {
		return Config{}, err
	}
	read := func(name string) (string, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		return string(b), err
	}
	var cfg Config
	switch kind {
	case Nginx:
		cfg.Main, err = read("nginx.conf")
	case Caddy:
		cfg.Main, err = read("Caddyfile")
	case Traefik:
		if cfg.Main, err = read("traefik.yml"); err == nil {
			var dyn string
			dyn, err = read("traefik-dynamic.yml")
			cfg.Files = map[string]string{"traefik-dynamic.yml": dyn}
		}
	case IngressNginx:
		cfg.Main, err = ingressNginxExample(filepath.Join(dir, "ingress-nginx.yaml"))
	default:
		err = fmt.Errorf("proxies: no example for %q", kind)
	}
	return cfg, err
}

func ingressNginxExample(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var ing *networkingv1.Ingress
	configMaps := map[string]map[string]string{}
	for _, doc := range bytes.Split(b, []byte("\n---\n")) {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return "", err
		}
		switch meta.Kind {
		case "Ingress":
			ing = &networkingv1.Ingress{}
			err = yaml.UnmarshalStrict(doc, ing)
		case "ConfigMap":
			var cm corev1.ConfigMap
			err = yaml.UnmarshalStrict(doc, &cm)
			configMaps[cm.Namespace+"/"+cm.Name] = cm.Data
		}
		if err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
	}
	if ing == nil {
		return "", fmt.Errorf("%s: no Ingress", path)
	}
	auth, err := ParseIngressAuth(ing.Annotations, ing.Namespace, func(ns, name string) (map[string]string, error) {
		data, ok := configMaps[ns+"/"+name]
		if !ok {
			return nil, fmt.Errorf("no ConfigMap %s/%s in %s", ns, name, path)
		}
		return data, nil
	})
	if err != nil {
		return "", err
	}
	u, err := url.Parse(auth.URL)
	if err != nil {
		return "", err
	}
	host := u.Hostname()
	u.Host = CheckPlaceholder
	auth.URL = u.String()
	return IngressNginxSite(auth, ing.Spec.Rules[0].HTTP.Paths[0].Path, host)
}
