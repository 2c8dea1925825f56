package devserver

import (
	"log/slog"
	"net"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/server/temporal"
)

// A port taken between reservePorts and the server binding it makes the
// server call Fatal; Start must turn that into an error, not exit.
func TestStartTemporalTurnsFatalIntoError(t *testing.T) {
	cfg, err := Config{DataDir: t.TempDir(), UIPort: -1}.withDefaults()
	require.NoError(t, err)
	p, err := reservePorts(cfg)
	require.NoError(t, err)
	taken, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
	require.NoError(t, err)
	defer func() { _ = taken.Close() }()
	p.history = taken.Addr().(*net.TCPAddr).Port

	sqlCfg := sqlConfig(filepath.Join(cfg.DataDir, dbFileName))
	require.NoError(t, prepareDatabase(sqlCfg, cfg))
	frontend := net.JoinHostPort(loopback, "0")
	_, err = startTemporal(
		temporal.WithConfig(serverConfig(cfg, p, sqlCfg, frontend)),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(staticHosts(p, frontend)),
		temporal.WithLogger(newServerLogger(slog.New(slog.DiscardHandler), slog.LevelError)),
		temporal.WithDynamicConfigClient(dynamicConfig(cfg)),
	)
	require.ErrorContains(t, err, "Failed to start gRPC listener")
}
