// Command steadbench measures Stead against Ansible and the raw-SSH floor
// on the same loopback hosts, and writes the results into BENCHMARKS.md.
//
// One sshd poses as many hosts on distinct 127.1.x.y addresses. The Stead
// server (`stead dev --no-worker`) and the worker run as separate processes
// so each one's memory and CPU can be read from /proc. Every case runs
// several times and reports the median with its range. `make bench` runs
// it; see bench/run.sh for the command line.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// config holds the command line.
type config struct {
	stead       string
	floor       string
	out         string
	hosts       int
	concurrency int
	reps        int
	bigReps     int
	ansibleReps int
	idleAssocs  int
	idle        time.Duration
	pprof       string
	serverPprof string
	profileDir  string
	skipAnsible bool
	command     string
	hold        bool
	cases       string
	// temporalAddress and serverPID point the benchmark at a Temporal
	// server it did not start (bench/cmd/steadprod runs one on PostgreSQL).
	temporalAddress string
	serverPID       int
}

func main() {
	var cfg config
	flag.StringVar(&cfg.stead, "stead", "bin/stead", "the stead binary")
	flag.StringVar(&cfg.floor, "floor", "", "the sshfloor binary")
	flag.StringVar(&cfg.out, "out", "BENCHMARKS.md", "file whose benchmark section is rewritten with the results; empty writes none")
	flag.IntVar(&cfg.hosts, "hosts", 1000, "loopback hosts to pose as (the largest fan-out)")
	flag.IntVar(&cfg.concurrency, "concurrency", 50, "hosts worked on at once, for every tool")
	flag.IntVar(&cfg.reps, "reps", 3, "runs of each case with Stead and the floor")
	flag.IntVar(&cfg.bigReps, "big-reps", 2, "runs of the largest fan-out with Stead (cold and warm each)")
	flag.IntVar(&cfg.ansibleReps, "ansible-reps", 2, "runs of each case with Ansible, which is CPU-bound here and takes the most time; at the largest fan-out and in the no-change case Ansible runs once")
	flag.IntVar(&cfg.idleAssocs, "idle-associations", 1000, "associations on rate(30 minutes) in the idle case")
	flag.DurationVar(&cfg.idle, "idle", 60*time.Second, "how long the idle case measures")
	flag.StringVar(&cfg.pprof, "pprof", "127.0.0.1:6061", "where the worker serves pprof; empty for none")
	flag.StringVar(&cfg.serverPprof, "server-pprof", "127.0.0.1:6062", "where the server serves pprof; empty for none")
	flag.StringVar(&cfg.profileDir, "profile-dir", "", "if set, keep CPU profiles of the worker and the server during the largest Stead fan-out here")
	flag.BoolVar(&cfg.skipAnsible, "skip-ansible", false, "measure Stead and the floor only")
	flag.StringVar(&cfg.command, "command", "make bench", "the command line reported in BENCHMARKS.md")
	flag.StringVar(&cfg.cases, "cases", "fanout200,fanout1000,steps,nochange,idle", "the cases to run, comma-separated")
	flag.BoolVar(&cfg.hold, "hold", false, "set up the hosts, server and worker, print how to reach them and wait for Ctrl-C, to profile by hand")
	flag.StringVar(&cfg.temporalAddress, "temporal-address", "", "run against this Temporal frontend instead of starting `stead dev` (its namespace prepared by `stead namespace setup`); -server-pid names its process")
	flag.IntVar(&cfg.serverPID, "server-pid", 0, "with -temporal-address: the server's process id, whose memory and CPU are reported as the server's")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "steadbench: "+err.Error())
		os.Exit(1)
	}
}

// run sets everything up, runs the cases and reports them. Its deferred
// calls stop every process and remove every file it made, on success and
// on failure alike.
func run(ctx context.Context, cfg config) error {
	if cfg.floor == "" {
		return errors.New("-floor is required")
	}
	if cfg.hosts < 200 {
		return errors.New("-hosts must be at least 200")
	}
	// The load before anything starts tells whether other work shared
	// the machine; during the run the tools' own processes raise it.
	loadBefore := loadAvg()
	dir, err := os.MkdirTemp("", "stead-bench-")
	if err != nil {
		return fmt.Errorf("create work directory: %w", err)
	}
	defer os.RemoveAll(dir)
	// sshd reads authorized_keys below it as the test user.
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("make work directory traversable: %w", err)
	}
	e := &env{cfg: cfg, dir: dir}
	defer e.procs.stopAll()
	logf("setting up %d loopback hosts", cfg.hosts)
	if err := e.setupHosts(); err != nil {
		return err
	}
	defer e.sshd.Stop()
	defer e.cleanHome()
	if !cfg.skipAnsible {
		if err := e.setupAnsible(); err != nil {
			return err
		}
		defer e.dropControlMasters()
	}
	logf("starting stead server and worker")
	if err := e.startStead(ctx); err != nil {
		return err
	}
	took, err := e.importNodes(ctx)
	if err != nil {
		return err
	}
	logf("registered %d nodes in %s", len(e.hosts), took.Round(time.Millisecond))

	if cfg.hold {
		logf("holding: TEMPORAL_ADDRESS=%s, worker pprof on %s, server pprof on %s, worker pid %d, server pid %d, hosts tagged %s..%s; Ctrl-C ends",
			e.stead, cfg.pprof, cfg.serverPprof, e.worker.pid(), e.server.pid(), subsetTag(subsets[0]), subsetTag(subsets[len(subsets)-1]))
		<-ctx.Done()
		return nil
	}
	r := &report{cfg: cfg, started: time.Now(), loadBefore: loadBefore}
	// Other work on the machine slows every tool: the load is reported
	// beside the numbers so a reader can tell a quiet run from a busy one.
	load := samplePeakAll(5*time.Second, loadAvg)
	defer func() { r.load = load.end() }()
	if err := e.core(ctx, r); err != nil {
		return err
	}
	// A case that fails ends the run, but what the cases before it
	// measured is still reported.
	cases := []struct {
		name string
		run  func(context.Context, *report) error
	}{
		{"fanout200", func(ctx context.Context, r *report) error { return e.fanOut(ctx, r, 200) }},
		{"fanout1000", func(ctx context.Context, r *report) error { return e.fanOut(ctx, r, 1000) }},
		{"steps", e.steps},
		{"nochange", e.noChange},
		{"idle", e.idleCost},
	}
	want := strings.Split(cfg.cases, ",")
	var failed error
	for _, c := range cases {
		if !slices.Contains(want, c.name) || c.name == "fanout1000" && cfg.hosts < 1000 {
			continue
		}
		if err := c.run(ctx, r); err != nil {
			failed = fmt.Errorf("case %s: %w", c.name, err)
			r.failed = failed.Error()
			break
		}
	}
	r.load = load.end()
	table := r.table()
	fmt.Println()
	fmt.Println(table)
	if cfg.out != "" {
		if err := writeReport(cfg.out, r.markdown()); err != nil {
			return err
		}
		logf("wrote %s", cfg.out)
	}
	return failed
}

// logf prints progress to stderr with a timestamp.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// writeReport replaces the benchmark's section of the file at path (between
// its markers), keeping everything else in it, or appends the section.
func writeReport(path, section string) error {
	const begin, end = "<!-- steadbench:begin -->", "<!-- steadbench:end -->"
	block := begin + "\n" + section + end + "\n"
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	s := string(old)
	switch i, j := strings.Index(s, begin), strings.Index(s, end); {
	case i >= 0 && j > i:
		s = s[:i] + block + strings.TrimPrefix(s[j+len(end):], "\n")
	case s == "":
		s = "# Benchmarks\n\n" + block
	default:
		s = strings.TrimRight(s, "\n") + "\n\n" + block
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
