package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/stead-io/stead/internal/testsshd"
)

// env is everything one benchmark run sets up: the SSH hosts, the Stead
// server and worker, and Ansible's files, all under one directory.
type env struct {
	cfg   config
	dir   string
	sshd  *testsshd.Server
	procs procs

	hosts      []string // loopback addresses, one per posing host
	knownHosts string
	stead      string // address of the Temporal frontend
	server     *proc
	worker     *proc
	ansible    ansibleFiles
}

// hostAddr is the address of host i: 127.1.0.1 and up, skipping .0 and
// .255 in the last octet so no address looks like a network or broadcast.
func hostAddr(i int) string {
	return fmt.Sprintf("127.1.%d.%d", i/250, i%250+1)
}

// nodeID is the Stead node id of host i.
func nodeID(i int) string { return fmt.Sprintf("h%04d", i+1) }

// subsets are the host groups the cases select, each a tag on the node
// and a group in Ansible's inventory: the first n hosts.
var subsets = []int{20, 50, 200, 1000}

// subsetTag names the tag (and Ansible group) of the first n hosts.
func subsetTag(n int) string { return "in" + strconv.Itoa(n) }

// setupHosts starts one sshd posing as cfg.hosts hosts and writes the
// files every client reads: a known_hosts for all of them and a list of
// their addresses per subset.
func (e *env) setupHosts() error {
	s, err := testsshd.Launch(filepath.Join(e.dir, "sshd"))
	if err != nil {
		return fmt.Errorf("start sshd: %w", err)
	}
	e.sshd = s
	for i := range e.cfg.hosts {
		e.hosts = append(e.hosts, hostAddr(i))
	}
	e.knownHosts = filepath.Join(e.dir, "known_hosts")
	if err := s.WriteKnownHosts(e.knownHosts, e.hosts...); err != nil {
		return err
	}
	for _, n := range subsets {
		if n > len(e.hosts) {
			continue
		}
		if err := os.WriteFile(e.hostList(n), []byte(strings.Join(e.hosts[:n], "\n")+"\n"), 0o644); err != nil {
			return fmt.Errorf("write host list: %w", err)
		}
	}
	return nil
}

// hostList is the file listing the first n hosts' addresses.
func (e *env) hostList(n int) string {
	return filepath.Join(e.dir, fmt.Sprintf("hosts.%d", n))
}

// startStead starts the server (`stead dev` without a worker), unless
// -temporal-address names one, and the worker, as processes of their own,
// so each one's memory and CPU can be read.
func (e *env) startStead(ctx context.Context) error {
	if e.cfg.temporalAddress != "" {
		if err := e.useServer(); err != nil {
			return err
		}
		return e.startWorker()
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	e.stead = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := []string{e.cfg.stead, "dev", "--no-local-node", "--no-worker", "--data-dir", filepath.Join(e.dir, "data"),
		"--port", strconv.Itoa(port), "--ui-port", "-1", "--log-level", "warn"}
	if e.cfg.serverPprof != "" {
		args = append(args, "--pprof", e.cfg.serverPprof)
	}
	e.server, err = e.procs.start("server", filepath.Join(e.dir, "server.log"), nil, args...)
	if err != nil {
		return err
	}
	if err := waitFor(ctx, 3*time.Minute, func() bool { return logHas(e.server.log, "Ready.") || !e.server.alive() }); err != nil {
		return fmt.Errorf("wait for stead dev: %w: %s", err, e.server.tail())
	}
	if !e.server.alive() {
		return fmt.Errorf("stead dev exited: %s", e.server.tail())
	}
	return e.startWorker()
}

// useServer adopts the server of -temporal-address and -server-pid, which
// the benchmark measures but neither starts nor stops.
func (e *env) useServer() error {
	if e.cfg.serverPID <= 0 {
		return fmt.Errorf("-temporal-address %s needs -server-pid, the server's process id", e.cfg.temporalAddress)
	}
	p, err := os.FindProcess(e.cfg.serverPID)
	if err != nil {
		return fmt.Errorf("find server process %d: %w", e.cfg.serverPID, err)
	}
	e.stead = e.cfg.temporalAddress
	e.server = &proc{name: "server", cmd: &exec.Cmd{Process: p}, exited: make(chan struct{})}
	return nil
}

// startWorker starts the worker process against e.stead.
func (e *env) startWorker() error {
	args := []string{e.cfg.stead, "worker", "--address", e.stead,
		"--credential", "default=" + e.sshd.KeyFile, "--known-hosts", e.knownHosts, "--log-level", "warn"}
	if e.cfg.pprof != "" {
		args = append(args, "--pprof", e.cfg.pprof)
	}
	var err error
	e.worker, err = e.procs.start("worker", filepath.Join(e.dir, "worker.log"), nil, args...)
	if err != nil {
		return err
	}
	time.Sleep(2 * time.Second)
	if !e.worker.alive() {
		return fmt.Errorf("stead worker exited: %s", e.worker.tail())
	}
	return nil
}

// steadCmd runs the stead CLI against the benchmark's server.
func (e *env) steadCmd(ctx context.Context, timeout time.Duration, args ...string) (runResult, error) {
	full := append([]string{e.cfg.stead}, args...)
	return runCmd(ctx, timeout, []string{"TEMPORAL_ADDRESS=" + e.stead}, full...)
}

// importNodes registers every host as a node with its host key pinned,
// tagged with the subsets it belongs to. Several imports run at once,
// since each registration waits for visibility.
func (e *env) importNodes(ctx context.Context) (time.Duration, error) {
	type yamlNode struct {
		ID      string            `yaml:"id"`
		Address string            `yaml:"address"`
		Port    int               `yaml:"port"`
		User    string            `yaml:"user"`
		HostKey string            `yaml:"hostKey"`
		Tags    map[string]string `yaml:"tags"`
	}
	// One file: node import registers concurrently by itself, and several
	// imports at once would each poll the full node listing.
	const parts = 1
	files := make([][]yamlNode, parts)
	for i, a := range e.hosts {
		tags := map[string]string{}
		for _, n := range subsets {
			if i < n {
				tags[subsetTag(n)] = "yes"
			}
		}
		files[i%parts] = append(files[i%parts], yamlNode{ID: nodeID(i), Address: a, Port: e.sshd.Port, User: e.sshd.User, HostKey: e.sshd.HostKey, Tags: tags})
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, parts)
	for p, nodes := range files {
		if len(nodes) == 0 {
			continue
		}
		b, err := yaml.Marshal(nodes)
		if err != nil {
			return 0, fmt.Errorf("encode nodes: %w", err)
		}
		path := filepath.Join(e.dir, fmt.Sprintf("nodes.%d.yaml", p))
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return 0, fmt.Errorf("write nodes: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[p] = e.steadCmd(ctx, 10*time.Minute, "node", "import", path)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return 0, fmt.Errorf("import nodes: %w", err)
		}
	}
	return time.Since(start), nil
}

// waitFor polls cond until it holds, ctx ends or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// logHas reports whether the file at path contains s.
func logHas(path, s string) bool {
	b, _ := os.ReadFile(path)
	return strings.Contains(string(b), s)
}

// freePort asks the kernel for a loopback port nobody listens on.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
