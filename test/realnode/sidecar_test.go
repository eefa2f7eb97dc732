package realnode_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/yaml"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
	"github.com/betterauthz/betterauthz/internal/testenv/kubeapi"
	"github.com/betterauthz/betterauthz/internal/testenv/realnode"
)

const (
	sidecarNS = "sidecar"
	appImage  = "betterauthz.test/sidecarapp:1"
)

// testSidecar applies manifests/sidecar as kustomize would (app.yaml with deployment-patch.yaml,
// and configmap.yaml), with the stand-in app replaced by one that asks betterauthz about each
// request over the pod's loopback, then with unix-socket-patch.yaml on top: betterauthz
// answers beside the app in one pod, through both of its APIs.
func testSidecar(t *testing.T, node *realnode.Node, ba *betterauth.Server, image string) {
	tarball, err := realnode.BuildImage(t.TempDir(), "./test/realnode/sidecarapp", appImage, "1000:1000")
	if err != nil {
		t.Fatal(err)
	}
	if err := node.ImportImage(tarball); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cs := node.Clientset
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: sidecarNS}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cm, err := os.ReadFile("../../manifests/sidecar/configmap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cm), "betterAuthURL: https://auth.example.com\n") {
		t.Fatal("manifests/sidecar/configmap.yaml no longer sets betterAuthURL: https://auth.example.com")
	}
	cm = []byte(strings.Replace(string(cm), "https://auth.example.com", ba.URL, 1))
	if err := kubeapi.Apply(ctx, node.API.Admin, withNamespace(t, cm)); err != nil {
		t.Fatal(err)
	}
	minted, err := ba.Mint(betterauth.MintOptions{})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("loopback", func(t *testing.T) {
		d := sidecarDeployment(t, image, "deployment-patch.yaml")
		apply(t, node, d)
		pod := sidecarPod(t, node, d)
		assertLockedDown(t, node, pod, "betterauthz")
		for _, path := range []string{"/api/orders", "/grpc/api/orders"} {
			assertAppAnswers(t, node, pod, path, minted)
		}
	})
	t.Run("unix socket", func(t *testing.T) {
		d := sidecarDeployment(t, image, "deployment-patch.yaml", "unix-socket-patch.yaml")
		// What the patch says a proxy in the pod does: mount the socket's volume, and call
		// betterauthz there. The app runs as 1000, in the pod's fsGroup only as a supplementary
		// group: the socket's group permission is what lets it in.
		app := container(t, d, "app")
		app.Env = append(app.Env, corev1.EnvVar{Name: "AUTHZ_GRPC", Value: "unix:///var/run/betterauthz/grpc.sock"})
		app.VolumeMounts = append(app.VolumeMounts, corev1.VolumeMount{Name: "betterauthz-socket", MountPath: "/var/run/betterauthz"})
		apply(t, node, d)
		pod := sidecarPod(t, node, d)
		assertAppAnswers(t, node, pod, "/grpc/api/orders", minted)
	})
	if err := cs.CoreV1().Namespaces().Delete(ctx, sidecarNS, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		tasks, err := node.Tasks(sidecarNS)
		if err == nil && len(tasks) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("containers of namespace %s still run: %v %v", sidecarNS, tasks, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// sidecarDeployment is manifests/sidecar/app.yaml with the patches merged as kustomize merges
// them (strategic merge), the stand-in app image replaced by the test's.
func sidecarDeployment(t *testing.T, image string, patches ...string) *appsv1.Deployment {
	t.Helper()
	read := func(f string) []byte {
		b, err := os.ReadFile("../../manifests/sidecar/" + f)
		if err != nil {
			t.Fatal(err)
		}
		js, err := yaml.YAMLToJSON(b)
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
	merged := read("app.yaml")
	for _, p := range patches {
		var err error
		if merged, err = strategicpatch.StrategicMergePatch(merged, read(p), appsv1.Deployment{}); err != nil {
			t.Fatal(err)
		}
	}
	var d appsv1.Deployment
	if err := json.Unmarshal(merged, &d); err != nil {
		t.Fatal(err)
	}
	d.Namespace = sidecarNS
	if len(d.Spec.Template.Spec.Containers) != 2 {
		t.Fatalf("containers %v, want app and betterauthz", d.Spec.Template.Spec.Containers)
	}
	if b := container(t, &d, "betterauthz"); b.Image != image {
		t.Fatalf("the sidecar patch runs %s, want the image of this version, %s", b.Image, image)
	}
	app := container(t, &d, "app")
	app.Image, app.ImagePullPolicy = appImage, corev1.PullNever
	return &d
}

func container(t *testing.T, d *appsv1.Deployment, name string) *corev1.Container {
	t.Helper()
	for i, c := range d.Spec.Template.Spec.Containers {
		if c.Name == name {
			return &d.Spec.Template.Spec.Containers[i]
		}
	}
	t.Fatalf("no container %s in %s", name, d.Name)
	return nil
}

func apply(t *testing.T, node *realnode.Node, d *appsv1.Deployment) {
	t.Helper()
	d.APIVersion, d.Kind = "apps/v1", "Deployment"
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if err := kubeapi.Apply(context.Background(), node.API.Admin, b); err != nil {
		t.Fatal(err)
	}
}

// withNamespace puts the objects of a manifest in the sidecar test's namespace.
func withNamespace(t *testing.T, manifest []byte) []byte {
	t.Helper()
	objs, err := kubeapi.DecodeObjects(manifest)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		o.SetNamespace(sidecarNS)
		b, err := json.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return []byte(strings.Join(out, "\n"))
}

// sidecarPod waits for the one Ready pod of the Deployment's latest template.
func sidecarPod(t *testing.T, node *realnode.Node, d *appsv1.Deployment) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		cur, err := node.Clientset.AppsV1().Deployments(sidecarNS).Get(ctx, d.Name, metav1.GetOptions{})
		done := err == nil && cur.Status.ObservedGeneration >= cur.Generation && cur.Status.UpdatedReplicas == 1 &&
			cur.Status.AvailableReplicas == 1 && cur.Status.Replicas == 1
		if done {
			l, err := node.Clientset.CoreV1().Pods(sidecarNS).List(ctx, metav1.ListOptions{LabelSelector: "app=my-api"})
			if err == nil && len(l.Items) == 1 && allReady(l.Items) {
				return &l.Items[0]
			}
		}
		if time.Now().After(deadline) {
			l, _ := node.Clientset.CoreV1().Pods(sidecarNS).List(ctx, metav1.ListOptions{})
			var states []string
			for _, p := range l.Items {
				states = append(states, fmt.Sprintf("%s %s %+v", p.Name, p.Status.Phase, p.Status.ContainerStatuses))
			}
			t.Fatalf("the sidecar Deployment is not Ready after 3 minutes: %v", states)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// assertAppAnswers: the app, asking betterauthz beside it, lets the token's user in and
// refuses a request without one.
func assertAppAnswers(t *testing.T, node *realnode.Node, pod *corev1.Pod, path string, m *betterauth.Minted) {
	t.Helper()
	url := "http://" + net.JoinHostPort(pod.Status.PodIP, "8080") + path
	get := func(token string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Host = "api.example.com"
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := node.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(m.Token); code != 200 || body != "hello "+m.UserID+"\n" {
		t.Errorf("GET %s with a token: %d %q, want 200 hello %s", path, code, body, m.UserID)
	}
	if code, body := get(""); code != 401 {
		t.Errorf("GET %s without a token: %d %q, want 401", path, code, body)
	}
}
