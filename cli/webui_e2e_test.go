package cli_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stead-io/stead/cli"
	"github.com/stead-io/stead/contract"
)

// EnvUIScreenshot names where TestWebUIShowsFailedRun keeps its screenshot
// of the failed run (make ui-screenshot sets it to the README's picture);
// unset, the screenshot goes to a temporary directory the test logs.
const EnvUIScreenshot = "STEAD_UI_SCREENSHOT"

// chromium is the headless browser that looks at the Web UI, or a skip
// (a failure in CI, which installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium on PATH: CI installs Debian's chromium (see .ci/run)")
	}
	t.Skip("no chromium on PATH: install it (apt-get install chromium) to look at the Web UI")
	return ""
}

// browse loads url in headless chromium, lets its scripts run for up to
// budget of virtual time, and returns the DOM they built; with a
// screenshot path it writes a picture of the page there as well.
func browse(t *testing.T, browser, url string, budget time.Duration, screenshot string) string {
	t.Helper()
	args := []string{
		"--headless=new", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
		"--window-size=1440,900", "--user-data-dir=" + t.TempDir(),
		fmt.Sprintf("--virtual-time-budget=%d", budget.Milliseconds()),
	}
	if os.Geteuid() == 0 {
		args = append(args, "--no-sandbox") // chromium's sandbox refuses root
	}
	if screenshot != "" {
		args = append(args, "--screenshot="+screenshot)
	} else {
		args = append(args, "--dump-dom")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, append(args, url)...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var stderr syncBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "chromium %s: %s", url, stderr.String())
	return string(out)
}

// statusBadge is the status the Web UI's workflow list shows in a row.
var statusBadge = regexp.MustCompile(`data-testid="execution-status"[^>]*>(?:\s*<[^>]+>)*\s*([A-Za-z]+)`)

// rowStatus is the status the list in dom shows for the workflow id: the
// badge in the table row whose link names it.
func rowStatus(dom, id string) string {
	i := strings.Index(dom, ">"+id+"<")
	if i < 0 {
		i = strings.Index(dom, " "+id+"<")
	}
	if i < 0 {
		return ""
	}
	start, end := strings.LastIndex(dom[:i], "<tr"), strings.Index(dom[i:], "</tr>")
	if start < 0 || end < 0 {
		return ""
	}
	if m := statusBadge.FindStringSubmatch(dom[start : i+end]); m != nil {
		return m[1]
	}
	return ""
}

// TestWebUIShowsFailedRun runs `stead dev` as the quick start does, runs
// an association whose step fails on this machine (node "local") and one
// that succeeds, then looks at the Web UI in headless chromium: the failed
// execution's row says Failed (not Completed, as it once did for every
// run) and the other Completed, and its page names the failed node and why.
// A screenshot of the list is kept (see EnvUIScreenshot).
func TestWebUIShowsFailedRun(t *testing.T) {
	browser := chromium(t)
	devDir := t.TempDir()
	t.Chdir(devDir)
	t.Setenv(cli.EnvCodecKeyFile, "")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	frontendAddr, uiAddr := freeAddr(t), freeAddr(t)
	_, fport, _ := net.SplitHostPort(frontendAddr)
	_, uport, _ := net.SplitHostPort(uiAddr)
	dev := startDev(t, "--port", fport, "--ui-port", uport, "--log-level", "error")
	require.Empty(t, dev.errb.String())

	run := func(name, command string, want int) string {
		o, e, code := stead(t, "association", "create", "--address", frontendAddr, "--name", name,
			"--document", "Stead-RunShellScript", "--targets", "Key=InstanceIds,Values="+cli.LocalNodeID,
			"--parameters", fmt.Sprintf(`{"commands":[%q]}`, command), "--wait")
		require.Equal(t, want, code, "stead association create %s\n%s%s", name, o, e)
		return execID(t, o)
	}
	failedID := contract.ExecutionWorkflowID("ui-failed", run("ui-failed", "echo checking the disk; exit 3", 1))
	passedID := contract.ExecutionWorkflowID("ui-passed", run("ui-passed", "echo all good", 0))

	list := "http://" + uiAddr + "/namespaces/default/workflows?query=" +
		url.QueryEscape(`WorkflowId STARTS_WITH "execution/ui-"`)
	var dom string
	deadline := time.Now().Add(3 * time.Minute)
	for {
		dom = browse(t, browser, list, 10*time.Second, "")
		if rowStatus(dom, failedID) != "" && rowStatus(dom, passedID) != "" || time.Now().After(deadline) {
			break
		}
	}
	require.Equal(t, "Failed", rowStatus(dom, failedID), "the failed run's row in the Web UI:\n%s", dom)
	require.Equal(t, "Completed", rowStatus(dom, passedID), "the successful run's row in the Web UI:\n%s", dom)

	// The failed run's page: its failure, decoded through the dev codec
	// endpoint, names the node and why.
	link := regexp.MustCompile(`href="(/namespaces/default/workflows/` + regexp.QuoteMeta(url.PathEscape(failedID)) + `/[0-9a-f-]+)/`).FindStringSubmatch(dom)
	require.NotNil(t, link, "no link to %s in the list", failedID)
	detail := browse(t, browser, "http://"+uiAddr+link[1]+"/history", 15*time.Second, "")
	require.Contains(t, detail, "local Failed (step runShellScript: exit code 3)", detail)

	shot := os.Getenv(EnvUIScreenshot)
	if shot == "" {
		shot = filepath.Join(t.TempDir(), "webui-failed-run.png")
	}
	browse(t, browser, list, 10*time.Second, shot)
	fi, err := os.Stat(shot)
	require.NoError(t, err)
	require.Positive(t, fi.Size())
	t.Logf("screenshot of the Web UI's list with the failed run: %s (%d bytes)", shot, fi.Size())
}
