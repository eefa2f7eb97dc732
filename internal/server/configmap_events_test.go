package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/betterauthz/betterauthz/internal/server"
)

// TestRefusedConfigMapGetsAWarningEvent: a refused config from the watched ConfigMap is
// recorded as a Warning Event InvalidConfig on that ConfigMap (beside the log and the metric),
// naming the problem, on a real API server.
func TestRefusedConfigMapGetsAWarningEvent(t *testing.T) {
	k := newKube(t)
	k.configMap(t, "betterauthz", map[string]string{"config.yaml": baseConfig(ba) + "defaultPolicy: deny\n"})
	r := run(t, "", func(o *server.Options) {
		o.ConfigPath = ""
		o.ConfigMap = k.ns + "/betterauthz"
		o.Kubeconfig = k.kubeconfig
	})
	r.waitReady(t, 15*time.Second)
	k.configMap(t, "betterauthz", map[string]string{"config.yaml": baseConfig(ba) + "defaultPolicy: maybe\nclockskew: 1s\n"})
	cm, err := k.cs.CoreV1().ConfigMaps(k.ns).Get(context.Background(), "betterauthz", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	event := func(want string) func() string {
		return func() string {
			evs, err := k.cs.CoreV1().Events(k.ns).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.kind=ConfigMap,involvedObject.name=betterauthz"})
			if err != nil {
				return err.Error()
			}
			for _, e := range evs.Items {
				if e.Reason == "InvalidConfig" && e.Type == corev1.EventTypeWarning && e.Source.Component == "betterauthz" &&
					e.InvolvedObject.UID == cm.UID && strings.Contains(e.Message, want) {
					return ""
				}
			}
			return fmt.Sprintf("no InvalidConfig event saying %q on the ConfigMap (%d events)", want, len(evs.Items))
		}
	}
	eventually(t, 10*time.Second, event(`clockskew: unknown key (did you mean "clockSkew"?) (line 9); defaultPolicy: "maybe" is not a policy (public, authenticated, deny) (line 8)`))
	if got := r.hostCheck(t, "GET", "h", "/", nil); got != "denied 403" {
		t.Errorf("after the refused update: %s, want the last good (deny)", got)
	}

	k.configMap(t, "betterauthz", map[string]string{"other.yaml": "x"})
	eventually(t, 10*time.Second, event(`has no "config.yaml" key`))
}
