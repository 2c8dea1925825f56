package cli_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/stead-io/stead/cli"
	"github.com/stead-io/stead/contract"
)

// A node's memo holds a compliance record per association that reached it,
// by design; past about ten associations it is over the Temporal SDK's
// default memo warning (2 KiB), which `stead dev`'s worker (TMPRL1103) and
// server once logged at every change. Stead's own bound is far above it.
func TestNodeMemoOfManyAssociationsIsNoWarning(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv(cli.EnvCodecKeyFile, "")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	frontendAddr := freeAddr(t)
	_, fport, _ := net.SplitHostPort(frontendAddr)
	dev := startDev(t, "--port", fport, "--ui-port", "-1", "--log-level", "warn")

	for i := range 14 {
		ok(t, "association", "create", "--address", frontendAddr, "--name", fmt.Sprintf("memo-association-number-%02d", i),
			"--document", "Stead-RunShellScript", "--targets", "Key=InstanceIds,Values="+cli.LocalNodeID,
			"--parameters", "commands=true", "--wait")
	}
	raw, err := client.Dial(client.Options{HostPort: frontendAddr, Logger: quiet{}})
	require.NoError(t, err)
	defer raw.Close()
	size := 0
	require.Eventually(t, func() bool {
		d, err := raw.DescribeWorkflowExecution(context.Background(), contract.NodeWorkflowID(cli.LocalNodeID), "")
		if err != nil {
			return false
		}
		size = 0
		for k, p := range d.GetWorkflowExecutionInfo().GetMemo().GetFields() {
			size += len(k) + len(p.GetData())
		}
		return size > 2<<10
	}, 30*time.Second, 200*time.Millisecond, "memo of node/local: %d bytes", size)
	require.NotContains(t, dev.errb.String(), "TMPRL1103", "memo of %d bytes", size)
	require.NotContains(t, dev.errb.String(), "exceeds the warning limit", "the server warns where the SDK does")
}
