package devserver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uioptions "github.com/temporalio/ui-server/v2/server/server_options"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/common/primitives/timestamp"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"

	"github.com/stead-io/stead/internal/hostguard"
	"github.com/stead-io/stead/internal/namespace"
)

const (
	// dbFileName is the SQLite database inside Config.DataDir.
	dbFileName = "temporal.db"
	// lockFileName guards Config.DataDir against a second server.
	lockFileName = "temporal.lock"
	// clusterName is persisted on first start and must never change.
	clusterName = "active"
	// retentionDays keeps closed histories around long enough to audit a month of runs.
	retentionDays = 30
	// startTimeout bounds how long Start waits for the server to answer when
	// the caller's context has no deadline of its own.
	startTimeout = 2 * time.Minute
	// pollInterval paces the readiness checks in Start.
	pollInterval = 50 * time.Millisecond
	// loopback is where the internal services listen and what clients dial
	// when the frontend binds every interface.
	loopback = "127.0.0.1"
)

// Config says where the server keeps its data, which ports it answers on and
// what the namespace must contain, so that `stead dev` and integration tests
// get the same server from one call.
type Config struct {
	// DataDir holds the SQLite database (DataDir/temporal.db), created with
	// its schema on first start and reused after, so nodes, associations and
	// histories survive a restart.
	DataDir string
	// IP is the address the frontend and the Web UI bind to; default "127.0.0.1".
	IP string
	// Port is the frontend gRPC port; 0 picks a free port.
	Port int
	// UIPort is the Web UI HTTP port; 0 picks a free port, -1 runs no UI.
	UIPort int
	// Namespace is created if missing, with a 30-day retention; default "default".
	Namespace string
	// SearchAttributes are registered in the namespace if missing. Registering
	// is idempotent; a name already registered with another type is an error.
	SearchAttributes map[string]enumspb.IndexedValueType
	// UIWrite lets the Web UI change things: start, signal, update, cancel,
	// terminate and reset workflows. Off, the UI only reads, so a page that
	// gets past the host check still cannot run anything on the nodes.
	UIWrite bool
	// CodecEndpoint, when set, is the remote codec (scheme://host:port,
	// serving /encode and /decode) the Web UI sends payloads to, so that
	// encrypted histories show decoded in the browser.
	CodecEndpoint string
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
	// LogLevel is the least severe server record passed to Logger; nil means
	// slog.LevelWarn, since the server is chatty at info.
	LogLevel slog.Leveler
	// SuggestContinueAsNewAfter, when positive, makes the server suggest
	// continue-as-new to a workflow once its history holds this many events,
	// instead of Temporal's 4,096: the way to see long-lived workflows
	// continue as new, with their carried state, in a short run.
	SuggestContinueAsNewAfter int
}

// Server is a running Temporal server (frontend, history, matching and
// worker services in this process) with its Web UI. Stop it to release its
// ports and data directory.
type Server struct {
	frontendAddress string
	uiURL           string

	lock     *os.File
	logger   *serverLogger
	temporal temporal.Server
	ui       *uiserver.Server
	uiGuard  *http.Server

	stopOnce sync.Once
	stopErr  error
}

// ports are the TCP ports of one start: the user-facing frontend and UI, and
// the internal services, which are picked afresh each time.
type ports struct {
	frontend, history, matching, worker, ui int
}

// Start runs a Temporal server persisted under cfg.DataDir and, unless
// cfg.UIPort is -1, its Web UI. It returns once the frontend answers, the
// namespace exists and the search attributes are registered.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, startTimeout)
		defer cancel()
	}

	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s := &Server{lock: lock, logger: newServerLogger(cfg.Logger, cfg.LogLevel)}
	if err := s.start(ctx, cfg); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return s, nil
}

// withDefaults fills in the documented defaults and rejects what cannot work.
func (c Config) withDefaults() (Config, error) {
	if c.DataDir == "" {
		return c, errors.New("data dir is required")
	}
	dir, err := filepath.Abs(c.DataDir)
	if err != nil {
		return c, fmt.Errorf("resolve data dir %s: %w", c.DataDir, err)
	}
	c.DataDir = dir
	if c.IP == "" {
		c.IP = loopback
	}
	if net.ParseIP(c.IP) == nil {
		return c, fmt.Errorf("ip %q is not an IP address", c.IP)
	}
	if c.Port < 0 || c.Port > 65535 {
		return c, fmt.Errorf("port %d is out of range", c.Port)
	}
	if c.UIPort < -1 || c.UIPort > 65535 {
		return c, fmt.Errorf("ui port %d is out of range", c.UIPort)
	}
	if c.SuggestContinueAsNewAfter < 0 {
		return c, fmt.Errorf("suggest continue-as-new after %d events: want 0 (Temporal's default) or more", c.SuggestContinueAsNewAfter)
	}
	if c.Namespace == "" {
		c.Namespace = "default"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.LogLevel == nil {
		c.LogLevel = slog.LevelWarn
	}
	return c, nil
}

// lockDataDir creates dir if needed and locks it for this server; failing to
// write there is reported as such, before anything else starts.
func lockDataDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir %s is not writable: %w", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, lockFileName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data dir %s is not writable: %w", dir, err)
	}
	if err := lockFile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("data dir %s is in use by another server: %w", dir, err)
	}
	db := filepath.Join(dir, dbFileName)
	if dbf, err := os.OpenFile(db, os.O_RDWR, 0); err == nil {
		_ = dbf.Close()
	} else if !errors.Is(err, fs.ErrNotExist) {
		_ = f.Close()
		return nil, fmt.Errorf("database %s is not writable: %w", db, err)
	}
	return f, nil
}

// start brings up, in order, the ports, the database, the server, the
// namespace and the UI; Start stops whatever came up if a step fails.
func (s *Server) start(ctx context.Context, cfg Config) error {
	p, err := reservePorts(cfg)
	if err != nil {
		return err
	}
	host := dialHost(cfg.IP)
	s.frontendAddress = net.JoinHostPort(host, strconv.Itoa(p.frontend))

	sqlCfg := sqlConfig(filepath.Join(cfg.DataDir, dbFileName))
	if err := prepareDatabase(sqlCfg, cfg); err != nil {
		return err
	}

	s.temporal, err = startTemporal(
		temporal.WithConfig(serverConfig(cfg, p, sqlCfg, s.frontendAddress)),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(staticHosts(p, s.frontendAddress)),
		temporal.WithLogger(s.logger),
		temporal.WithDynamicConfigClient(dynamicConfig(cfg)),
	)
	if err != nil {
		return err
	}

	if err := s.prepareNamespace(ctx, cfg); err != nil {
		return err
	}

	if cfg.UIPort != -1 {
		return s.startUI(ctx, cfg, p.ui, host)
	}
	return nil
}

// reservePorts checks the requested ports are free and picks free ones for
// the rest. All are held at once so no two picks collide, then released for
// the server to bind.
func reservePorts(cfg Config) (ports, error) {
	var held []net.Listener
	defer func() {
		for _, l := range held {
			_ = l.Close()
		}
	}()
	listen := func(what, ip string, port int) (int, error) {
		addr := net.JoinHostPort(ip, strconv.Itoa(port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return 0, fmt.Errorf("%s address %s is not available: %w", what, addr, err)
		}
		held = append(held, l)
		return l.Addr().(*net.TCPAddr).Port, nil
	}

	var p ports
	var err error
	if p.frontend, err = listen("frontend", cfg.IP, cfg.Port); err != nil {
		return p, err
	}
	if cfg.UIPort != -1 {
		if p.ui, err = listen("web ui", cfg.IP, cfg.UIPort); err != nil {
			return p, err
		}
	}
	for _, internal := range []*int{&p.history, &p.matching, &p.worker} {
		if *internal, err = listen("internal", loopback, 0); err != nil {
			return p, err
		}
	}
	return p, nil
}

// dialHost is the host clients use to reach a service bound to ip.
func dialHost(ip string) string {
	if net.ParseIP(ip).IsUnspecified() {
		return loopback
	}
	return ip
}

// sqlConfig is the one SQLite store behind both persistence and visibility.
// WAL with synchronous=normal keeps commits cheap; a crash can lose the last
// transactions but never corrupts the file.
func sqlConfig(path string) *config.SQL {
	return &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: path,
		ConnectAttributes: map[string]string{
			"mode":         "rwc",
			"journal_mode": "wal",
			"synchronous":  "normal",
		},
	}
}

// prepareDatabase creates the schema in a new database and the namespace
// if missing. A namespace created here already carries the search
// attributes, so the first start needs no registration round trip.
func prepareDatabase(sqlCfg *config.SQL, cfg Config) error {
	if _, err := os.Stat(sqlCfg.DatabaseName); errors.Is(err, fs.ErrNotExist) {
		if err := sqliteschema.SetupSchema(sqlCfg); err != nil {
			return fmt.Errorf("set up schema in %s: %w", sqlCfg.DatabaseName, err)
		}
	} else if err != nil {
		return fmt.Errorf("inspect database %s: %w", sqlCfg.DatabaseName, err)
	}
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, cfg.Namespace, false, cfg.SearchAttributes)
	if err != nil {
		return fmt.Errorf("plan namespace %s: %w", cfg.Namespace, err)
	}
	ns.Detail.Config.Retention = timestamp.DurationFromDays(retentionDays)
	if err := sqliteschema.CreateNamespaces(sqlCfg, ns); err != nil {
		return fmt.Errorf("create namespace %s: %w", cfg.Namespace, err)
	}
	return nil
}

// serverConfig is the whole static configuration of a single-node server.
// No metrics or pprof listener is configured: the only ports are the ones
// reservePorts picked.
func serverConfig(cfg Config, p ports, sqlCfg *config.SQL, frontendAddress string) *config.Config {
	rpc := func(ip string, port int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: port, BindOnIP: ip}}
	}
	return &config.Config{
		Persistence: config.Persistence{
			DefaultStore:     sqliteplugin.PluginName,
			VisibilityStore:  sqliteplugin.PluginName,
			NumHistoryShards: 1,
			DataStores: map[string]config.DataStore{
				sqliteplugin.PluginName: {SQL: sqlCfg},
			},
		},
		ClusterMetadata: &cluster.Config{
			FailoverVersionIncrement: 10,
			MasterClusterName:        clusterName,
			CurrentClusterName:       clusterName,
			ClusterInformation: map[string]cluster.ClusterInformation{
				clusterName: {
					Enabled:                true,
					InitialFailoverVersion: 1,
					RPCAddress:             frontendAddress,
				},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services: map[string]config.Service{
			string(primitives.FrontendService): rpc(cfg.IP, p.frontend),
			string(primitives.HistoryService):  rpc(loopback, p.history),
			string(primitives.MatchingService): rpc(loopback, p.matching),
			string(primitives.WorkerService):   rpc(loopback, p.worker),
		},
		Archival: config.Archival{
			History:    config.HistoryArchival{State: "disabled"},
			Visibility: config.VisibilityArchival{State: "disabled"},
		},
		NamespaceDefaults: config.NamespaceDefaults{
			Archival: config.ArchivalNamespaceDefaults{
				History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
				Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
			},
		},
		PublicClient: config.PublicClient{HostPort: frontendAddress},
	}
}

// staticHosts gives every service a fixed single-member ring. A single node
// needs no gossip: this saves the membership ports and the propagation waits
// ringpop adds to every stop.
func staticHosts(p ports, frontendAddress string) map[primitives.ServiceName]static.Hosts {
	local := func(port int) static.Hosts {
		return static.SingleLocalHost(net.JoinHostPort(loopback, strconv.Itoa(port)))
	}
	return map[primitives.ServiceName]static.Hosts{
		primitives.FrontendService: static.SingleLocalHost(frontendAddress),
		primitives.HistoryService:  local(p.history),
		primitives.MatchingService: local(p.matching),
		primitives.WorkerService:   local(p.worker),
	}
}

// dynamicConfig tunes the server for one node serving a developer or a test
// suite with up to about a thousand concurrent workflows.
func dynamicConfig(cfg Config) dynamicconfig.Client {
	dc := dynamicconfig.StaticClient{
		// One partition per task queue: with more, a task can sit in a
		// partition no poller is on and dispatch stalls for seconds.
		dynamicconfig.MatchingNumTaskqueueReadPartitions.Key():  1,
		dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(): 1,
		// Search attributes registered while the server runs are usable at
		// once instead of after the next cache refresh.
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
		// Room for bursts of workflow starts and task completions.
		dynamicconfig.FrontendRPS.Key():                        10000,
		dynamicconfig.FrontendMaxNamespaceRPSPerInstance.Key(): 10000,
		dynamicconfig.MatchingRPS.Key():                        10000,
		dynamicconfig.HistoryRPS.Key():                         10000,
		// Targeting is a visibility query and the Web UI polls visibility;
		// the default of 10 per second throttles both.
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 1000,
		// A node's memo holds a compliance record per association that
		// reached it, past 2 KiB (the default warning) at about ten: warn
		// where Stead's clients do (64 KiB).
		dynamicconfig.MemoSizeLimitWarn.Key(): 64 << 10,
	}
	if cfg.SuggestContinueAsNewAfter > 0 {
		dc[dynamicconfig.HistoryCountSuggestContinueAsNew.Key()] = cfg.SuggestContinueAsNewAfter
	}
	return dc
}

// startTemporal builds and starts the server. The server reports unusable
// settings (a port taken in the meantime, say) through the logger's Fatal,
// which panics with a fatalError; that becomes the returned error.
func startTemporal(opts ...temporal.ServerOption) (srv temporal.Server, err error) {
	defer func() {
		if r := recover(); r != nil {
			fatal, ok := r.(fatalError)
			if !ok {
				panic(r)
			}
			srv, err = nil, fmt.Errorf("start temporal server: %w", fatal)
		}
	}()
	srv, err = temporal.NewServer(opts...)
	if err != nil {
		return nil, fmt.Errorf("create temporal server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("start temporal server: %w", err), srv.Stop())
	}
	return srv, nil
}

// prepareNamespace waits for the frontend to serve the namespace and then
// registers any search attribute it still lacks, as `stead namespace setup`
// does against any server.
func (s *Server) prepareNamespace(ctx context.Context, cfg Config) error {
	c, err := client.NewLazyClient(client.Options{
		HostPort:  s.frontendAddress,
		Namespace: cfg.Namespace,
		Logger:    sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	if err != nil {
		return fmt.Errorf("create client for %s: %w", s.frontendAddress, err)
	}
	defer c.Close()

	err = poll(ctx, func() error {
		_, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: cfg.Namespace})
		return err
	})
	if err != nil {
		return fmt.Errorf("wait for frontend %s to serve namespace %s: %w", s.frontendAddress, cfg.Namespace, err)
	}
	_, err = namespace.Setup(ctx, c.WorkflowService(), c.OperatorService(), namespace.Spec{Name: cfg.Namespace, SearchAttributes: cfg.SearchAttributes})
	return err
}

// startUI serves the Web UI, pointed at the frontend, and waits until it
// answers. The UI itself listens on a loopback port of its own; the user's
// port is a guard in front of it that answers only to this server's own
// names (see hostguard), so no other web site can drive the UI through the
// user's browser.
func (s *Server) startUI(ctx context.Context, cfg Config, port int, host string) error {
	addr := net.JoinHostPort(cfg.IP, strconv.Itoa(port))
	front, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("web ui address %s is not available: %w", addr, err)
	}
	// The UI exits the process when it cannot bind, so its inner port is
	// picked right before it binds.
	inner, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
	if err != nil {
		_ = front.Close()
		return fmt.Errorf("reserve a loopback port for the web ui: %w", err)
	}
	innerPort := inner.Addr().(*net.TCPAddr).Port
	if err := inner.Close(); err != nil {
		_ = front.Close()
		return fmt.Errorf("release the web ui's loopback port: %w", err)
	}
	s.ui = uiserver.NewServer(uioptions.WithConfigProvider(&uiconfig.Config{
		TemporalGRPCAddress: s.frontendAddress,
		Host:                loopback,
		Port:                innerPort,
		EnableUI:            true,
		DefaultNamespace:    cfg.Namespace,
		HideLogs:            true,
		DisableNewsFetch:    true,
		DisableWriteActions: !cfg.UIWrite,
		// Served over plain HTTP, so the CSRF cookie must not require HTTPS.
		CORS:  uiconfig.CORS{CookieInsecure: true},
		Codec: uiconfig.Codec{Endpoint: cfg.CodecEndpoint},
	}))
	go func() {
		if err := s.ui.Start(); err != nil {
			cfg.Logger.Error("web ui stopped", "error", err)
		}
	}()
	target := &url.URL{Scheme: "http", Host: net.JoinHostPort(loopback, strconv.Itoa(innerPort))}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		// The UI checks CSRF and CORS against the names the browser used.
		r.Out.Host = r.In.Host
	}}
	policy := hostguard.Policy{IP: net.ParseIP(cfg.IP), Port: port}
	s.uiGuard = &http.Server{Handler: policy.Wrap(proxy), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.uiGuard.Serve(front); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cfg.Logger.Error("web ui stopped", "error", err)
		}
	}()

	s.uiURL = "http://" + net.JoinHostPort(host, strconv.Itoa(port))
	health := s.uiURL + "/healthz"
	err = poll(ctx, func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, health, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %s", resp.Status)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("wait for web ui at %s: %w", s.uiURL, err)
	}
	return nil
}

// poll calls check until it succeeds or ctx ends, and then returns the
// last error check gave.
func poll(ctx context.Context, check func() error) error {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w; last attempt: %w", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// FrontendAddress is the host:port clients and workers dial, e.g. "127.0.0.1:7233".
func (s *Server) FrontendAddress() string { return s.frontendAddress }

// UIURL is the Web UI's base URL, e.g. "http://127.0.0.1:8233", or "" when
// the server runs without a UI.
func (s *Server) UIURL() string { return s.uiURL }

// Stop shuts the UI and the server down and unlocks the data directory, so
// the same directory can be started again in this process or another.
// Calling it again returns the first result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		var errs []error
		s.logger.stopping.Store(true)
		if s.uiGuard != nil {
			_ = s.uiGuard.Close()
		}
		if s.ui != nil {
			s.ui.Stop()
		}
		if s.temporal != nil {
			if err := s.temporal.Stop(); err != nil {
				errs = append(errs, fmt.Errorf("stop temporal server: %w", err))
			}
		}
		if err := s.lock.Close(); err != nil {
			errs = append(errs, fmt.Errorf("unlock data dir: %w", err))
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}
