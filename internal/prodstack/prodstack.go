package prodstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	sdkclient "go.temporal.io/sdk/client"
)

// EnvBinDir names the environment variable holding the directory with the
// temporal-server and temporal-sql-tool binaries (`make temporal-bin`
// builds them there).
const EnvBinDir = "STEAD_TEMPORAL_BIN"

// Binaries in Config.BinDir.
const (
	ServerBinary  = "temporal-server"
	SQLToolBinary = "temporal-sql-tool"
)

// pgUser is the PostgreSQL superuser initdb creates and Temporal logs in as.
const pgUser = "temporal"

// Config says where the binaries are and how the server is shaped.
type Config struct {
	// BinDir holds ServerBinary and SQLToolBinary.
	BinDir string
	// Dir is where the PostgreSQL cluster, the server's configuration and
	// both logs live; it must be empty or missing, and the directories
	// above it searchable by the postgres user.
	Dir string
	// HistoryShards is the server's number of history shards; fixed for
	// the life of a cluster. Default 4.
	HistoryShards int
}

// Stack is a PostgreSQL cluster and a Temporal server on it, each a process
// of its own that can be restarted.
type Stack struct {
	cfg      Config
	pgBin    string
	pgData   string
	pgPort   int
	frontend string
	server   *exec.Cmd
	// serverExited receives the server's exit once it ends.
	serverExited chan error
	// runAs is the user PostgreSQL runs as: initdb refuses root.
	runAs *user.User
}

// Missing says what this machine lacks to run a stack with cfg, or "" when
// nothing is missing: the binaries, and PostgreSQL's server programs.
func Missing(cfg Config) string {
	var miss []string
	if cfg.BinDir == "" {
		miss = append(miss, EnvBinDir+" is not set (make test-prod sets it)")
	} else {
		for _, b := range []string{ServerBinary, SQLToolBinary} {
			if _, err := os.Stat(filepath.Join(cfg.BinDir, b)); err != nil {
				miss = append(miss, b+" is not in "+cfg.BinDir+" (make temporal-bin builds it)")
			}
		}
	}
	if _, err := postgresBin(); err != nil {
		miss = append(miss, err.Error())
	}
	return strings.Join(miss, "; ")
}

// postgresBin finds the newest PostgreSQL server programs Debian installed.
func postgresBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(dirs) == 0 {
		return "", errors.New("PostgreSQL is not installed (apt-get install postgresql)")
	}
	slices.SortFunc(dirs, func(a, b string) int { return versionOf(a) - versionOf(b) })
	return filepath.Dir(dirs[len(dirs)-1]), nil
}

// versionOf is the major version in /usr/lib/postgresql/<major>/bin/postgres.
func versionOf(path string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return v
}

// Start creates a PostgreSQL cluster in cfg.Dir, sets up Temporal's
// schemas with temporal-sql-tool, starts the server and returns once it
// serves the system namespace.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	if m := Missing(cfg); m != "" {
		return nil, errors.New("start production stack: " + m)
	}
	if cfg.HistoryShards == 0 {
		cfg.HistoryShards = 4
	}
	pgBin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	s := &Stack{cfg: cfg, pgBin: pgBin, pgData: filepath.Join(cfg.Dir, "pg")}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", cfg.Dir, err)
	}
	// PostgreSQL's user must reach its data directory.
	if err := os.Chmod(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("open %s to postgres: %w", cfg.Dir, err)
	}
	if os.Geteuid() == 0 {
		if s.runAs, err = user.Lookup("postgres"); err != nil {
			return nil, fmt.Errorf("find the postgres user: %w", err)
		}
	}
	if s.pgPort, err = freePort(); err != nil {
		return nil, err
	}
	if err := s.initPostgres(ctx); err != nil {
		return nil, err
	}
	if err := s.StartPostgres(ctx); err != nil {
		return nil, err
	}
	if err := s.setupSchemas(ctx); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	if err := s.writeServerConfig(); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	if err := s.StartServer(ctx); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return s, nil
}

// Frontend is the host:port clients and workers dial.
func (s *Stack) Frontend() string { return s.frontend }

// ServerPID is the temporal-server process id, for measuring it; 0 while
// the server is stopped.
func (s *Stack) ServerPID() int {
	if s.server == nil {
		return 0
	}
	return s.server.Process.Pid
}

// HistoryShards is the server's number of history shards.
func (s *Stack) HistoryShards() int { return s.cfg.HistoryShards }

// pg runs a PostgreSQL program as PostgreSQL's user.
func (s *Stack) pg(ctx context.Context, prog string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(s.pgBin, prog), args...)
	if s.runAs != nil {
		uid, _ := strconv.Atoi(s.runAs.Uid)
		gid, _ := strconv.Atoi(s.runAs.Gid)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	cmd.Dir = s.cfg.Dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("run %s: %w: %s", prog, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// initPostgres creates the cluster: trust on loopback only, for the test.
func (s *Stack) initPostgres(ctx context.Context) error {
	if err := os.Mkdir(s.pgData, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", s.pgData, err)
	}
	if s.runAs != nil {
		uid, _ := strconv.Atoi(s.runAs.Uid)
		gid, _ := strconv.Atoi(s.runAs.Gid)
		if err := os.Chown(s.pgData, uid, gid); err != nil {
			return fmt.Errorf("give %s to postgres: %w", s.pgData, err)
		}
	}
	return s.pg(ctx, "initdb", "-D", s.pgData, "-U", pgUser, "--auth=trust", "--no-sync", "-E", "UTF8")
}

// StartPostgres starts the cluster and waits until it accepts connections.
func (s *Stack) StartPostgres(ctx context.Context) error {
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s -c max_connections=200 -c fsync=off", s.pgPort, s.pgData)
	return s.pg(ctx, "pg_ctl", "-D", s.pgData, "-o", opts, "-l", filepath.Join(s.pgData, "postgres.log"), "-w", "-t", "60", "start")
}

// StopPostgres stops the cluster at once, cutting every connection: as a
// crash or a failover looks to the server.
func (s *Stack) StopPostgres(ctx context.Context) error {
	return s.pg(ctx, "pg_ctl", "-D", s.pgData, "-m", "immediate", "-w", "stop")
}

// setupSchemas does what an operator does once per cluster: create both
// databases, then set up and update each schema to the server's version.
func (s *Stack) setupSchemas(ctx context.Context) error {
	for _, db := range []struct{ name, schema string }{
		{"temporal", "postgresql/v12/temporal"},
		{"temporal_visibility", "postgresql/v12/visibility"},
	} {
		for _, step := range [][]string{
			{"create-database"},
			{"setup-schema", "--version", "0.0"},
			{"update-schema", "--schema-name", db.schema},
		} {
			args := append([]string{"--plugin", "postgres12", "--endpoint", "127.0.0.1", "--port", strconv.Itoa(s.pgPort),
				"--user", pgUser, "--database", db.name}, step...)
			cmd := exec.CommandContext(ctx, filepath.Join(s.cfg.BinDir, SQLToolBinary), args...)
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("%s %s of %s: %w: %s", SQLToolBinary, step[0], db.name, err, lastLines(out, 5))
			}
		}
	}
	return nil
}

// serverConfig is the server's static configuration: the shape of the
// module's config/development-postgres12.yaml, on free ports.
var serverConfig = template.Must(template.New("config").Parse(`log:
  stdout: true
  level: warn
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: {{.Shards}}
  datastores:
    default:
      sql:
        pluginName: postgres12
        databaseName: temporal
        connectAddr: "127.0.0.1:{{.PG}}"
        connectProtocol: tcp
        user: ` + pgUser + `
        maxConns: 20
        maxIdleConns: 20
        maxConnLifetime: 1h
    visibility:
      sql:
        pluginName: postgres12
        databaseName: temporal_visibility
        connectAddr: "127.0.0.1:{{.PG}}"
        connectProtocol: tcp
        user: ` + pgUser + `
        maxConns: 10
        maxIdleConns: 10
        maxConnLifetime: 1h
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
services:
{{- range .Services}}
  {{.Name}}:
    rpc:
      grpcPort: {{.GRPC}}
      membershipPort: {{.Membership}}
      bindOnLocalHost: true
{{- end}}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: 127.0.0.1:{{.Frontend}}
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: {{.DynamicConfig}}
  pollInterval: 10s
`))

// dynamicConfig has one partition per task queue: with a single matching
// host, more partitions only delay dispatch.
const dynamicConfig = `matching.numTaskqueueReadPartitions:
  - value: 1
matching.numTaskqueueWritePartitions:
  - value: 1
`

// writeServerConfig picks the server's ports and writes its configuration.
func (s *Stack) writeServerConfig() error {
	type service struct {
		Name             string
		GRPC, Membership int
	}
	var services []service
	for _, name := range []string{"frontend", "history", "matching", "worker"} {
		g, err := freePort()
		if err != nil {
			return err
		}
		m, err := freePort()
		if err != nil {
			return err
		}
		services = append(services, service{name, g, m})
	}
	s.frontend = net.JoinHostPort("127.0.0.1", strconv.Itoa(services[0].GRPC))
	dc := filepath.Join(s.cfg.Dir, "dynamicconfig.yaml")
	if err := os.WriteFile(dc, []byte(dynamicConfig), 0o644); err != nil {
		return fmt.Errorf("write dynamic config: %w", err)
	}
	var b bytes.Buffer
	err := serverConfig.Execute(&b, map[string]any{
		"Shards": s.cfg.HistoryShards, "PG": s.pgPort, "Services": services,
		"Frontend": services[0].GRPC, "DynamicConfig": dc,
	})
	if err != nil {
		return fmt.Errorf("render server config: %w", err)
	}
	if err := os.WriteFile(s.configFile(), b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write server config: %w", err)
	}
	return nil
}

func (s *Stack) configFile() string { return filepath.Join(s.cfg.Dir, "temporal.yaml") }

// StartServer starts the Temporal server and waits until it serves the
// system namespace.
func (s *Stack) StartServer(ctx context.Context) error {
	log, err := os.OpenFile(filepath.Join(s.cfg.Dir, "temporal.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open server log: %w", err)
	}
	cmd := exec.Command(filepath.Join(s.cfg.BinDir, ServerBinary), "--config-file", s.configFile(), "--allow-no-auth", "start")
	cmd.Stdout, cmd.Stderr = log, log
	err = cmd.Start()
	_ = log.Close()
	if err != nil {
		return fmt.Errorf("start %s: %w", ServerBinary, err)
	}
	s.server = cmd
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	c, err := sdkclient.NewLazyClient(sdkclient.Options{HostPort: s.frontend, Namespace: "temporal-system", Logger: quiet{}})
	if err != nil {
		return fmt.Errorf("create client for %s: %w", s.frontend, err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		_, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "temporal-system"})
		if err == nil {
			s.serverExited = exited
			return nil
		}
		select {
		case werr := <-exited:
			s.server = nil
			return fmt.Errorf("%s exited: %v: %s", ServerBinary, werr, s.serverLogTail())
		case <-ctx.Done():
			return fmt.Errorf("wait for %s at %s: %w; last answer: %w", ServerBinary, s.frontend, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// StopServer stops the server as an orchestrator does (SIGTERM, then
// SIGKILL after 30 seconds) and waits for it to exit.
func (s *Stack) StopServer() error {
	if s.server == nil {
		return nil
	}
	defer func() { s.server = nil }()
	if err := s.server.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop %s: %w", ServerBinary, err)
	}
	select {
	case <-s.serverExited:
	case <-time.After(30 * time.Second):
		_ = s.server.Process.Kill()
		<-s.serverExited
	}
	return nil
}

// Stop stops the server and PostgreSQL; the data stays in Config.Dir.
func (s *Stack) Stop() error {
	err := s.StopServer()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return errors.Join(err, s.StopPostgres(ctx))
}

// serverLogTail is the end of the server's log, to say why it failed.
func (s *Stack) serverLogTail() string {
	b, _ := os.ReadFile(filepath.Join(s.cfg.Dir, "temporal.log"))
	return lastLines(b, 5)
}

// lastLines is the last n lines of out, each cut to 300 bytes (the
// server's lines carry stack traces), joined on one line.
func lastLines(out []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		if len(l) > 300 {
			lines[i] = l[:300] + "..."
		}
	}
	return strings.Join(lines, " | ")
}

// freePort is a TCP port free on loopback at the time of the call, below
// 32768: Temporal's SQL schemas keep a member's port as a smallint, so a
// port from the kernel's ephemeral range stops the server at start.
func freePort() (int, error) {
	var err error
	for range 100 {
		port := 10000 + rand.IntN(32768-10000)
		var l net.Listener
		if l, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
			_ = l.Close()
			return port, nil
		}
	}
	return 0, fmt.Errorf("find a free port below 32768: %w", err)
}

// quiet drops the SDK client's logs while the stack waits for the server.
type quiet struct{}

func (quiet) Debug(string, ...any) {}
func (quiet) Info(string, ...any)  {}
func (quiet) Warn(string, ...any)  {}
func (quiet) Error(string, ...any) {}
