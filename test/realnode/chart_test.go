package realnode_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
	"github.com/betterauthz/betterauthz/internal/testenv/kubeapi"
	"github.com/betterauthz/betterauthz/internal/testenv/realnode"
)

const (
	release   = "rel"
	namespace = "authz"
	selector  = "app.kubernetes.io/instance=" + release
)

// helm runs the pinned Helm CLI inside the node's namespaces, against its API server.
func helm(t *testing.T, node *realnode.Node, args ...string) string {
	t.Helper()
	bins, err := kubeapi.Binaries("helm")
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := node.Command(root, bins["helm"], append(args, "--kubeconfig", node.Kubeconfig)...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// testChart installs the chart as the README says, with the image `make image` built, and
// proves what kwok's fake nodes cannot: the containers run and do their job.
func testChart(t *testing.T, node *realnode.Node, ba *betterauth.Server, image string) {
	ctx := context.Background()
	cs := node.Clientset
	start := time.Now()
	// The chart's defaults, but for where Better Auth is: the image is the chart's appVersion,
	// already on the node (IfNotPresent never pulls it).
	helm(t, node, "install", release, "charts/betterauthz", "--namespace", namespace, "--create-namespace",
		"--set", "betterAuthURL="+ba.URL, "--wait", "--timeout", "5m")
	t.Logf("helm install --wait: %s", time.Since(start).Round(100*time.Millisecond))

	pods := runningPods(t, cs, 2)
	for i := range pods {
		p := &pods[i]
		if p.Spec.Containers[0].Image != image {
			t.Errorf("pod %s runs %s, want %s", p.Name, p.Spec.Containers[0].Image, image)
		}
		assertLockedDown(t, node, p, "betterauthz")
	}
	running, err := node.Tasks(namespace)
	if err != nil {
		t.Fatal(err)
	}
	if len(running) < 4 { // two sandboxes and two betterauthz containers
		t.Errorf("containerd runs %d containers of namespace %s, want at least 4", len(running), namespace)
	}

	svc, err := cs.CoreV1().Services(namespace).Get(ctx, "rel-betterauthz", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort(svc.Spec.ClusterIP, "9000")
	minted, err := ba.Mint(betterauth.MintOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := checkClient(t, node, addr)
	if bad := check(ctx, c, minted.Token, minted.UserID); bad != "" {
		t.Fatalf("a check with a Better Auth token through Service %s: %s", addr, bad)
	}
	if bad := check(ctx, c, "", ""); bad != "" {
		t.Fatalf("a check without a token through Service %s: %s", addr, bad)
	}

	t.Run("helm test", func(t *testing.T) {
		out := helm(t, node, "test", release, "--namespace", namespace, "--timeout", "2m")
		if !strings.Contains(out, "Phase:          Succeeded") {
			t.Errorf("helm test:\n%s", out)
		}
	})
	t.Run("rolling restart under load", func(t *testing.T) {
		s := startStream(t, node, addr, minted.Token, minted.UserID, 4)
		s.waitAnswered(t, 100)
		before := podNames(pods)
		restart(t, cs)
		after := podNames(runningPods(t, cs, 2))
		if slices.ContainsFunc(after, func(n string) bool { return slices.Contains(before, n) }) {
			t.Errorf("pods %v after the restart, %v before: not all replaced", after, before)
		}
		s.waitAnswered(t, 100)
		s.stop(t, "rolling restart")
	})
	t.Run("pod deletion under load", func(t *testing.T) {
		s := startStream(t, node, addr, minted.Token, minted.UserID, 4)
		s.waitAnswered(t, 100)
		pods := runningPods(t, cs, 2)
		victim := busiest(t, node, pods)
		if err := cs.CoreV1().Pods(namespace).Delete(ctx, victim.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitGone(t, cs, victim.Name)
		runningPods(t, cs, 2)
		s.waitAnswered(t, 100)
		s.stop(t, "pod deletion")
	})
	t.Run("uninstall", func(t *testing.T) {
		helm(t, node, "uninstall", release, "--namespace", namespace, "--wait", "--timeout", "2m")
		assertUninstalled(t, node)
	})
}

// runningPods waits for want Ready pods of the release, and no other (terminating) ones.
func runningPods(t *testing.T, cs kubernetes.Interface, want int) []corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		l, err := cs.CoreV1().Pods(namespace).List(context.Background(), metav1.ListOptions{LabelSelector: selector + ",app.kubernetes.io/name=betterauthz"})
		if err == nil && len(l.Items) == want && allReady(l.Items) {
			return l.Items
		}
		if time.Now().After(deadline) {
			var got []string
			if l != nil {
				for _, p := range l.Items {
					got = append(got, fmt.Sprintf("%s %s ready=%v deleting=%v", p.Name, p.Status.Phase, allReady([]corev1.Pod{p}), p.DeletionTimestamp != nil))
				}
			}
			t.Fatalf("want %d Ready pods of %s, have %v (%v)", want, release, got, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// allReady: Running, Ready, every container started and ready, none restarted, none leaving.
func allReady(pods []corev1.Pod) bool {
	for _, p := range pods {
		ready := p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady {
				ready = ready && c.Status == corev1.ConditionTrue
			}
		}
		for _, c := range p.Status.ContainerStatuses {
			ready = ready && c.Ready && c.State.Running != nil && c.RestartCount == 0
		}
		if !ready || len(p.Status.ContainerStatuses) != len(p.Spec.Containers) {
			return false
		}
	}
	return true
}

func podNames(pods []corev1.Pod) []string {
	var names []string
	for _, p := range pods {
		names = append(names, p.Name)
	}
	return names
}

// restart does `kubectl rollout restart` and waits for the rollout to finish: new pods Ready,
// the old ones gone (drained).
func restart(t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":%q}}}}}`, time.Now().Format(time.RFC3339))
	if _, err := cs.AppsV1().Deployments(namespace).Patch(context.Background(), "rel-betterauthz", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		d, err := cs.AppsV1().Deployments(namespace).Get(context.Background(), "rel-betterauthz", metav1.GetOptions{})
		if err == nil && d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == *d.Spec.Replicas &&
			d.Status.AvailableReplicas == *d.Spec.Replicas && d.Status.Replicas == *d.Spec.Replicas {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rollout did not finish in 3 minutes: %+v (%v)", d.Status, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// busiest is the pod that has answered the most checks (its betterauthz_checks_total), so that
// deleting it interrupts the stream for sure.
func busiest(t *testing.T, node *realnode.Node, pods []corev1.Pod) corev1.Pod {
	t.Helper()
	var best corev1.Pod
	most := -1.0
	for _, p := range pods {
		resp, err := node.HTTPClient().Get("http://" + net.JoinHostPort(p.Status.PodIP, "8080") + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		n := 0.0
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) == 2 && strings.HasPrefix(f[0], "betterauthz_checks_total{") {
				v, _ := strconv.ParseFloat(f[1], 64)
				n += v
			}
		}
		resp.Body.Close()
		if n > most {
			best, most = p, n
		}
	}
	if most <= 0 {
		t.Fatalf("no pod has answered a check (%v)", podNames(pods))
	}
	t.Logf("deleting %s, which answered %.0f checks", best.Name, most)
	return best
}

func waitGone(t *testing.T, cs kubernetes.Interface, pod string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, err := cs.CoreV1().Pods(namespace).Get(context.Background(), pod, metav1.GetOptions{})
		if err != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s still exists 2 minutes after its deletion", pod)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// assertUninstalled: none of the release's objects remain, and no container of its namespace
// runs on the node any more.
func assertUninstalled(t *testing.T, node *realnode.Node) {
	t.Helper()
	ctx := context.Background()
	cs := node.Clientset
	sel := metav1.ListOptions{LabelSelector: selector}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		lists := map[string]func() (runtime.Object, error){
			"Deployments":          func() (runtime.Object, error) { return cs.AppsV1().Deployments(namespace).List(ctx, sel) },
			"Pods":                 func() (runtime.Object, error) { return cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{}) },
			"Services":             func() (runtime.Object, error) { return cs.CoreV1().Services(namespace).List(ctx, sel) },
			"ConfigMaps":           func() (runtime.Object, error) { return cs.CoreV1().ConfigMaps(namespace).List(ctx, sel) },
			"ServiceAccounts":      func() (runtime.Object, error) { return cs.CoreV1().ServiceAccounts(namespace).List(ctx, sel) },
			"Roles":                func() (runtime.Object, error) { return cs.RbacV1().Roles(namespace).List(ctx, sel) },
			"RoleBindings":         func() (runtime.Object, error) { return cs.RbacV1().RoleBindings(namespace).List(ctx, sel) },
			"ClusterRoles":         func() (runtime.Object, error) { return cs.RbacV1().ClusterRoles().List(ctx, sel) },
			"ClusterRoleBindings":  func() (runtime.Object, error) { return cs.RbacV1().ClusterRoleBindings().List(ctx, sel) },
			"PodDisruptionBudgets": func() (runtime.Object, error) { return cs.PolicyV1().PodDisruptionBudgets(namespace).List(ctx, sel) },
		}
		var left []string
		for kind, list := range lists {
			l, err := list()
			if err != nil {
				left = append(left, kind+": "+err.Error())
			} else if n := meta.LenList(l); n > 0 {
				left = append(left, fmt.Sprintf("%d %s", n, kind))
			}
		}
		if tasks, err := node.Tasks(namespace); err != nil || len(tasks) > 0 {
			left = append(left, fmt.Sprintf("running containers %v %v", tasks, err))
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after helm uninstall, these remain: %v", left)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
