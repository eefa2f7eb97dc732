package proxies

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// nginxConf wraps a site config: one process (no master: nothing to drop privileges to, and
// one pid to stop), everything it writes under the test's directory, logs to the harness.
const nginxConf = `daemon off;
master_process off;
worker_processes 1;
pid DIR/nginx.pid;
error_log stderr notice;
events { worker_connections 256; }
http {
	access_log /dev/stdout;
	client_body_temp_path DIR/tmp/client_body;
	proxy_temp_path DIR/tmp/proxy;
	fastcgi_temp_path DIR/tmp/fastcgi;
	uwsgi_temp_path DIR/tmp/uwsgi;
	scgi_temp_path DIR/tmp/scgi;
	include DIR/site.conf;
}
`

func prepareNginx(dir, site string) ([]string, error) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nginx"); serr != nil {
			return nil, errors.New("proxies: nginx is not installed (apt-get install nginx; .ci/run installs it)")
		}
		bin = "/usr/sbin/nginx"
	}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "site.conf"), []byte(site), 0o644); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(strings.ReplaceAll(nginxConf, "DIR", dir)), 0o644); err != nil {
		return nil, err
	}
	// -e: the startup error log too (the compiled-in /var/log/nginx/error.log may not be
	// writable); -p: relative paths resolve in the test's directory.
	return []string{bin, "-e", "stderr", "-p", dir + "/", "-c", conf}, nil
}

// caddyGlobal precedes the imported Caddyfile: no admin endpoint (every instance would want
// localhost:2019), no automatic HTTPS, storage in the test's directory, loopback only.
const caddyGlobal = `{
	admin off
	auto_https off
	default_bind 127.0.0.1
	storage file_system DIR/data
}

import DIR/site.Caddyfile
`

func prepareCaddy(dir, site string) ([]string, error) {
	bin, err := binary("caddy")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "site.Caddyfile"), []byte(site), 0o644); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(conf, []byte(strings.ReplaceAll(caddyGlobal, "DIR", dir)), 0o644); err != nil {
		return nil, err
	}
	return []string{bin, "run", "--config", conf, "--adapter", "caddyfile"}, nil
}

func prepareTraefik(dir, static string) ([]string, error) {
	bin, err := binary("traefik")
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "traefik.yml")
	if err := os.WriteFile(conf, []byte(static), 0o644); err != nil {
		return nil, err
	}
	return []string{bin, "--configFile=" + conf}, nil
}
