package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// steadRun is one timed Stead command with the memory peaks of the
// worker and the server while it ran.
type steadRun struct {
	seconds            float64
	workerKB, serverKB int64
	// serverCPU is the Temporal server's CPU time during the run, in seconds.
	serverCPU float64
}

// steadTimed runs one stead command (an association create or start with
// --wait) and samples the worker's and the server's memory meanwhile.
func (e *env) steadTimed(ctx context.Context, args ...string) (steadRun, error) {
	e.clearRuns()
	w := samplePeak(100*time.Millisecond, func() int64 { return rssKB(e.worker.pid()) })
	s := samplePeak(100*time.Millisecond, func() int64 { return rssKB(e.server.pid()) })
	cpu0, _ := cpuTicks(e.server.pid())
	res, err := e.steadCmd(ctx, 15*time.Minute, args...)
	cpu1, _ := cpuTicks(e.server.pid())
	run := steadRun{seconds: res.elapsed.Seconds(), workerKB: w.end(), serverKB: s.end(), serverCPU: float64(cpu1-cpu0) / clockTicks}
	if err != nil {
		return run, fmt.Errorf("%w; first failures: %s", err, failedLines(res.stdout, 3))
	}
	return run, nil
}

// clearRuns empties the run directories Stead leaves on the nodes. Every
// posing host shares the test user's home, so without this one directory
// would collect the runs of all hosts and cases (over 10,000 in a full
// run), and each step's prune of week-old runs would scan them all: a cost
// no single real host has.
// Only finished runs go: the test user may be running the tests' own steps
// meanwhile.
func (e *env) clearRuns() {
	u, err := user.Lookup(e.sshd.User)
	if err != nil {
		return
	}
	runs := filepath.Join(u.HomeDir, ".stead", "runs")
	ents, err := os.ReadDir(runs)
	if err != nil {
		return
	}
	for _, d := range ents {
		if _, err := os.Stat(filepath.Join(runs, d.Name(), "exitcode")); err == nil {
			_ = os.RemoveAll(filepath.Join(runs, d.Name()))
		}
	}
}

// cleanHome removes what the cases left in the test user's home: the
// files the no-change case writes, Ansible's remote state and Stead's
// finished run directories.
func (e *env) cleanHome() {
	e.clearRuns()
	if u, err := user.Lookup(e.sshd.User); err == nil {
		for _, d := range []string{"bench-stead", "bench-ansible", ".ansible"} {
			_ = os.RemoveAll(filepath.Join(u.HomeDir, d))
		}
	}
}

// failedLines returns up to n lines of a target table that name a target
// that neither succeeded nor was skipped, which say why a run failed.
func failedLines(out string, n int) string {
	var keep []string
	for line := range strings.SplitSeq(out, "\n") {
		if len(keep) < n && (strings.Contains(line, "Failed") || strings.Contains(line, "Undeliverable") || strings.Contains(line, "TimedOut")) {
			keep = append(keep, strings.Join(strings.Fields(line), " "))
		}
	}
	return strings.Join(keep, " | ")
}

// restartWorker replaces the worker with a fresh process: no pooled SSH
// connection and no cached workflow survive, as for a run that meets a
// worker idle for longer than the pool keeps connections.
func (e *env) restartWorker(ctx context.Context) error {
	e.procs.stop(e.worker)
	args := e.worker.cmd.Args
	w, err := e.procs.start("worker", e.worker.log, nil, args...)
	if err != nil {
		return err
	}
	e.worker = w
	// The worker is polling once its pprof endpoint (or, without one, a
	// short while) says it is up.
	if e.cfg.pprof != "" {
		return waitFor(ctx, 30*time.Second, func() bool {
			r, err := http.Get("http://" + e.cfg.pprof + "/debug/pprof/")
			if err == nil {
				r.Body.Close()
			}
			return err == nil
		})
	}
	time.Sleep(2 * time.Second)
	return nil
}

// floorRun runs the floor program once.
func (e *env) floorRun(ctx context.Context, hosts, sessions int, command string) (float64, int64, error) {
	res, err := runCmd(ctx, 15*time.Minute, nil, e.cfg.floor,
		"-hosts", e.hostList(hosts), "-port", strconv.Itoa(e.sshd.Port), "-user", e.sshd.User,
		"-key", e.sshd.KeyFile, "-known-hosts", e.knownHosts,
		"-concurrency", strconv.Itoa(e.cfg.concurrency), "-sessions", strconv.Itoa(sessions), "-command", command)
	if err != nil {
		return 0, 0, fmt.Errorf("floor: %w", err)
	}
	var out struct{ Seconds float64 }
	if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
		return 0, 0, fmt.Errorf("read floor result: %w", err)
	}
	return out.Seconds, res.maxRSSKB, nil
}

// firstStart returns when the earliest target of an association's latest
// execution started.
func (e *env) firstStart(ctx context.Context, name string) (time.Time, error) {
	res, err := e.steadCmd(ctx, 5*time.Minute, "association", "targets", name, "--output", "json")
	if err != nil {
		return time.Time{}, err
	}
	var ts []struct {
		StartedAt time.Time `json:"startedAt"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &ts); err != nil {
		return time.Time{}, fmt.Errorf("read targets of %s: %w", name, err)
	}
	var first time.Time
	for _, t := range ts {
		if !t.StartedAt.IsZero() && (first.IsZero() || t.StartedAt.Before(first)) {
			first = t.StartedAt
		}
	}
	if first.IsZero() {
		return first, fmt.Errorf("no target of %s started", name)
	}
	return first, nil
}

// core records what issue 2 asks besides the fan-out: the binary's size
// and the idle memory of the server and the worker.
func (e *env) core(ctx context.Context, r *report) error {
	st, err := os.Stat(e.cfg.stead)
	if err != nil {
		return fmt.Errorf("stat stead binary: %w", err)
	}
	r.binaryBytes = st.Size()
	if res, err := runCmd(ctx, 30*time.Second, nil, e.cfg.stead, "--version"); err == nil {
		r.version = strings.TrimSpace(res.stdout)
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(5 * time.Second):
	}
	r.idleWorkerKB, r.idleServerKB = rssKB(e.worker.pid()), rssKB(e.server.pid())
	return nil
}

// fanOut runs `true` on the first n hosts: Stead cold (fresh worker) then
// warm (pooled connections), Ansible cold (no control master) then warm,
// and the floor.
func (e *env) fanOut(ctx context.Context, r *report, n int) error {
	cold := &row{name: fmt.Sprintf("fan-out `true`, N=%d, cold", n)}
	warm := &row{name: fmt.Sprintf("fan-out `true`, N=%d, warm", n)}
	conc := strconv.Itoa(e.cfg.concurrency)
	steadReps := e.cfg.reps
	if n >= 1000 {
		steadReps = min(steadReps, e.cfg.bigReps)
	}
	for rep := range steadReps {
		if err := e.restartWorker(ctx); err != nil {
			return err
		}
		name := fmt.Sprintf("fan%d-%d", n, rep+1)
		logf("stead: fan-out %d, run %d: cold", n, rep+1)
		var profs []func() error
		if n == 1000 && rep == 0 && e.cfg.profileDir != "" {
			for who, addr := range map[string]string{"worker": e.cfg.pprof, "server": e.cfg.serverPprof} {
				if addr != "" {
					profs = append(profs, profile(addr, filepath.Join(e.cfg.profileDir, who+"-fanout-1000.pprof")))
				}
			}
		}
		var eventsBefore int64
		if n == 200 && rep == 0 {
			var err error
			if eventsBefore, err = e.nodeEvents(ctx, subsetTag(n)); err != nil {
				return err
			}
		}
		before := time.Now()
		sr, err := e.steadTimed(ctx, "association", "create", "--name", name, "--document", "Stead-RunShellScript",
			"--targets", "Key=tag:"+subsetTag(n)+",Values=yes", "--parameters", `{"commands":["true"]}`,
			"--max-concurrency", conc, "--wait")
		if err != nil {
			return fmt.Errorf("stead fan-out %d: %w", n, err)
		}
		for _, end := range profs {
			if err := end(); err != nil {
				logf("profile: %v", err)
			}
		}
		cold.addStead(sr)
		if n == 200 {
			first, err := e.firstStart(ctx, name)
			if err != nil {
				return err
			}
			r.firstStart = append(r.firstStart, first.Sub(before).Seconds())
			r.wait200 = append(r.wait200, sr.seconds)
			r.peakWorkerKB, r.peakServerKB = max(r.peakWorkerKB, sr.workerKB), max(r.peakServerKB, sr.serverKB)
			if rep == 0 {
				h, err := e.historyStats(ctx, name, n)
				if err != nil {
					logf("history statistics: %v", err)
				} else {
					after, err := e.nodeEvents(ctx, subsetTag(n))
					if err != nil {
						return err
					}
					h.nodeEvents, h.serverCPU = int(after-eventsBefore), sr.serverCPU
					r.history = h
				}
			}
		}
		logf("stead: fan-out %d, run %d: %.2f s cold, server CPU %.1f ms per target; warm run", n, rep+1, sr.seconds, sr.serverCPU*1000/float64(n))
		sr, err = e.steadTimed(ctx, "association", "start", name, "--wait")
		if err != nil {
			return fmt.Errorf("stead fan-out %d (warm): %w", n, err)
		}
		warm.addStead(sr)
		logf("stead: fan-out %d, run %d: %.2f s warm, server CPU %.1f ms per target", n, rep+1, sr.seconds, sr.serverCPU*1000/float64(n))
		if n == 200 && rep == 0 && r.history != nil {
			// The warm run changes no node's compliance: what it costs.
			h, err := e.historyStats(ctx, name, n)
			if err != nil {
				return err
			}
			after, err := e.nodeEvents(ctx, subsetTag(n))
			if err != nil {
				return err
			}
			h.nodeEvents, h.serverCPU = int(after-eventsBefore)-r.history.nodeEvents, sr.serverCPU
			r.historyWarm = h
		}
		if _, err := e.steadCmd(ctx, time.Minute, "association", "delete", name); err != nil {
			return err
		}

		secs, kb, err := e.floorRun(ctx, n, 1, "true")
		if err != nil {
			return err
		}
		cold.addFloor(secs, kb)
		warm.addFloor(secs, kb)
		logf("floor: fan-out %d, run %d: %.2f s", n, rep+1, secs)
	}
	if !e.cfg.skipAnsible {
		// At the largest N a single cold run takes minutes: it runs once
		// and cold only, as a scheduled run meets it.
		reps, kinds := e.cfg.ansibleReps, []struct {
			r    *row
			kind string
		}{{cold, "cold"}, {warm, "warm"}}
		if n >= 1000 {
			reps, kinds = 1, kinds[:1]
			warm.note = "Ansible ran cold only at this size, once"
		}
		for rep := range reps {
			e.dropControlMasters()
			for _, t := range kinds {
				d, kb, err := e.runAnsible(ctx, "ansible", subsetTag(n), "-m", "command", "-a", "true", "-f", conc, "-o")
				if err != nil {
					return fmt.Errorf("ansible fan-out %d (%s): %w", n, t.kind, err)
				}
				t.r.addAnsible(d.Seconds(), kb)
				logf("ansible: fan-out %d, run %d: %.2f s %s", n, rep+1, d.Seconds(), t.kind)
			}
		}
		e.dropControlMasters()
	}
	r.rows = append(r.rows, cold, warm)
	return nil
}

// profile starts a 60 s CPU profile of the process serving pprof on addr
// and returns a function that waits for it and saves it at path.
func profile(addr, path string) func() error {
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		resp, err := http.Get("http://" + addr + "/debug/pprof/profile?seconds=60")
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			done <- err
			return
		}
		f, err := os.Create(path)
		if err != nil {
			done <- err
			return
		}
		defer f.Close()
		_, err = f.ReadFrom(resp.Body)
		done <- err
	}()
	return func() error {
		// The profile covers a fixed 60 s; the run usually ends sooner.
		logf("waiting for a profile (%s left)", (60*time.Second - time.Since(start)).Round(time.Second))
		return <-done
	}
}

// hasDocumentCreate reports whether this stead can register documents.
func (e *env) hasDocumentCreate(ctx context.Context) bool {
	res, err := e.steadCmd(ctx, 30*time.Second, "document", "create", "--help")
	return err == nil && strings.Contains(res.stdout, "--file")
}

// steps measures the warm cost of a step: a document of stepCount steps of
// `true` on 20 hosts, against as many Ansible tasks and the floor running
// as many sessions over one connection per host.
func (e *env) steps(ctx context.Context, r *report) error {
	rw := &row{name: fmt.Sprintf("%d steps of `true`, 20 hosts, warm", stepCount)}
	r.rows = append(r.rows, rw)
	if !e.hasDocumentCreate(ctx) {
		rw.steadText = "not measured"
		rw.note = "this stead has no `document create`, so a " + strconv.Itoa(stepCount) + "-step document cannot be registered"
	} else {
		var doc strings.Builder
		doc.WriteString("schemaVersion: \"2.2\"\ndescription: Steps that each run true, to measure the cost of a step.\nmainSteps:\n")
		for i := range stepCount {
			fmt.Fprintf(&doc, "  - action: aws:runShellScript\n    name: step%02d\n    inputs:\n      runCommand:\n        - \"true\"\n", i+1)
		}
		path := filepath.Join(e.dir, "steps.yaml")
		if err := os.WriteFile(path, []byte(doc.String()), 0o644); err != nil {
			return fmt.Errorf("write steps document: %w", err)
		}
		if _, err := e.steadCmd(ctx, time.Minute, "document", "create", "--name", "Bench-Steps", "--file", path); err != nil {
			return fmt.Errorf("register steps document: %w", err)
		}
		logf("stead: %d steps on 20 hosts, warm-up run", stepCount)
		if _, err := e.steadTimed(ctx, "association", "create", "--name", "steps", "--document", "Bench-Steps",
			"--targets", "Key=tag:"+subsetTag(20)+",Values=yes", "--max-concurrency", strconv.Itoa(e.cfg.concurrency), "--wait"); err != nil {
			return fmt.Errorf("stead steps: %w", err)
		}
		for rep := range e.cfg.reps {
			sr, err := e.steadTimed(ctx, "association", "start", "steps", "--wait")
			if err != nil {
				return fmt.Errorf("stead steps: %w", err)
			}
			rw.addStead(sr)
			logf("stead: steps, run %d: %.2f s", rep+1, sr.seconds)
		}
	}
	for rep := range e.cfg.reps {
		secs, kb, err := e.floorRun(ctx, 20, stepCount, "true")
		if err != nil {
			return err
		}
		rw.addFloor(secs, kb)
		logf("floor: steps, run %d: %.2f s", rep+1, secs)
	}
	if !e.cfg.skipAnsible {
		if err := e.warmAnsible(ctx, 20); err != nil {
			return err
		}
		for rep := range e.cfg.ansibleReps {
			d, kb, err := e.runAnsible(ctx, "ansible-playbook", e.ansible.steps)
			if err != nil {
				return fmt.Errorf("ansible steps: %w", err)
			}
			rw.addAnsible(d.Seconds(), kb)
			logf("ansible: steps, run %d: %.2f s", rep+1, d.Seconds())
		}
		e.dropControlMasters()
	}
	rw.perStep = stepCount
	return nil
}

// noChangeScript writes fileCount files under ~/bench-stead, each only if
// its content differs; on a second run it writes nothing.
func noChangeScript() []string {
	cmds := []string{`mkdir -p "$HOME/bench-stead"`}
	for i := range fileCount {
		c := strings.TrimSuffix(fileContent(i), "\n")
		f := fmt.Sprintf(`"$HOME/bench-stead/f%02d"`, i+1)
		cmds = append(cmds, fmt.Sprintf(`printf '%%s\n' '%s' | cmp -s - %s || printf '%%s\n' '%s' > %s`, c, f, c, f))
	}
	return cmds
}

// ansibleFilesScript writes the files of Ansible's copy tasks.
func ansibleFilesScript() string {
	cmds := []string{`mkdir -p "$HOME/bench-ansible"`}
	for i := range fileCount {
		cmds = append(cmds, fmt.Sprintf(`printf '%%s\n' '%s' > "$HOME/bench-ansible/f%02d"`, strings.TrimSuffix(fileContent(i), "\n"), i+1))
	}
	return strings.Join(cmds, "\n")
}

// noChange runs the file-writing document twice on 50 hosts and times the
// second run (and the ones after it), against an Ansible playbook of copy
// tasks run the same way and the floor running the same script.
func (e *env) noChange(ctx context.Context, r *report) error {
	rw := &row{name: fmt.Sprintf("no-change re-run, %d files, 50 hosts", fileCount)}
	r.rows = append(r.rows, rw)
	cmds := noChangeScript()
	params, err := json.Marshal(map[string][]string{"commands": cmds})
	if err != nil {
		return fmt.Errorf("encode parameters: %w", err)
	}
	logf("stead: no-change, first run")
	if _, err := e.steadTimed(ctx, "association", "create", "--name", "files", "--document", "Stead-RunShellScript",
		"--targets", "Key=tag:"+subsetTag(50)+",Values=yes", "--parameters", string(params),
		"--max-concurrency", strconv.Itoa(e.cfg.concurrency), "--wait"); err != nil {
		return fmt.Errorf("stead no-change (first run): %w", err)
	}
	for rep := range e.cfg.reps {
		sr, err := e.steadTimed(ctx, "association", "start", "files", "--wait")
		if err != nil {
			return fmt.Errorf("stead no-change: %w", err)
		}
		rw.addStead(sr)
		logf("stead: no-change, re-run %d: %.2f s", rep+1, sr.seconds)
	}
	script := strings.Join(cmds, "\n")
	for rep := range e.cfg.reps {
		secs, kb, err := e.floorRun(ctx, 50, 1, script)
		if err != nil {
			return err
		}
		rw.addFloor(secs, kb)
		logf("floor: no-change, run %d: %.2f s", rep+1, secs)
	}
	if !e.cfg.skipAnsible {
		// Ansible's first run would take minutes only to write files:
		// they are written as it would write them, and its one run is
		// the no-change run.
		if _, _, err := e.floorRun(ctx, 50, 1, ansibleFilesScript()); err != nil {
			return fmt.Errorf("write ansible's files: %w", err)
		}
		if err := e.warmAnsible(ctx, 50); err != nil {
			return err
		}
		out, d, kb, err := e.runAnsibleOut(ctx, "ansible-playbook", e.ansible.copies)
		if err != nil {
			return fmt.Errorf("ansible no-change: %w", err)
		}
		if !strings.Contains(out, "changed=0") || strings.Contains(out, "changed=1") {
			rw.note = "Ansible reported changes on its no-change run"
		}
		rw.addAnsible(d.Seconds(), kb)
		logf("ansible: no-change run: %.2f s", d.Seconds())
		e.dropControlMasters()
		if rw.note == "" {
			rw.note = "Ansible's files were written beforehand over plain SSH with the content its copy tasks set, and its one timed run changed nothing (changed=0)"
		}
	}
	return nil
}

// idleCost creates many associations on a 30-minute rate, waits for their
// first runs to end, then reads the worker's and the server's CPU time and
// memory over the idle window.
func (e *env) idleCost(ctx context.Context, r *report) error {
	n := e.cfg.idleAssocs
	logf("stead: creating %d associations on rate(30 minutes)", n)
	start := time.Now()
	var (
		next   atomic.Int64
		wg     sync.WaitGroup
		mu     sync.Mutex
		errOne error
	)
	for range 4 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				var err error
				// A busy server can miss the CLI's 5 s connect timeout;
				// nothing was created then, so trying again is safe.
				for try := 0; try < 5; try++ {
					_, err = e.steadCmd(ctx, 2*time.Minute, "association", "create", "--name", fmt.Sprintf("idle-%04d", i+1),
						"--document", "Stead-RunShellScript", "--targets", "Key=InstanceIds,Values="+nodeID(i%len(e.hosts)),
						"--parameters", `{"commands":["true"]}`, "--schedule", "rate(30 minutes)")
					if err == nil || !strings.Contains(err.Error(), "connect to Temporal") {
						break
					}
					time.Sleep(time.Second)
				}
				if err != nil {
					mu.Lock()
					errOne = err
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if errOne != nil {
		return fmt.Errorf("create idle associations: %w", errOne)
	}
	logf("created %d associations in %s; waiting for their first runs", n, time.Since(start).Round(time.Second))
	if err := e.waitExecutionsDone(ctx, 10*time.Minute); err != nil {
		return err
	}
	r.idleSetup = time.Since(start)
	// Let the last completions settle before the window opens.
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(10 * time.Second):
	}
	logf("measuring idle cost for %s", e.cfg.idle)
	w0, err := cpuTicks(e.worker.pid())
	if err != nil {
		return err
	}
	s0, err := cpuTicks(e.server.pid())
	if err != nil {
		return err
	}
	ws := samplePeak(time.Second, func() int64 { return rssKB(e.worker.pid()) })
	ss := samplePeak(time.Second, func() int64 { return rssKB(e.server.pid()) })
	t0 := time.Now()
	select {
	case <-ctx.Done():
		ws.end()
		ss.end()
		return ctx.Err()
	case <-time.After(e.cfg.idle):
	}
	el := time.Since(t0).Seconds()
	w1, err := cpuTicks(e.worker.pid())
	if err != nil {
		return err
	}
	s1, err := cpuTicks(e.server.pid())
	if err != nil {
		return err
	}
	r.idle = &idleResult{
		associations: n,
		seconds:      el,
		workerCPU:    float64(w1-w0) / clockTicks / el * 100,
		serverCPU:    float64(s1-s0) / clockTicks / el * 100,
		workerKB:     ws.end(),
		serverKB:     ss.end(),
	}
	return nil
}
