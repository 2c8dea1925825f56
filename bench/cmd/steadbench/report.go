package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// row is one case of the table: each tool's run times in seconds and the
// memory peaks seen while they ran.
type row struct {
	name                  string
	stead, ansible, floor []float64
	steadWorkerKB         int64
	steadServerKB         int64
	ansibleKB, floorKB    int64
	steadText, note       string
	perStep               int // if set, the row also reports Stead's cost per step over the floor
}

func (r *row) addStead(s steadRun) {
	r.stead = append(r.stead, s.seconds)
	r.steadWorkerKB, r.steadServerKB = max(r.steadWorkerKB, s.workerKB), max(r.steadServerKB, s.serverKB)
}

func (r *row) addAnsible(secs float64, kb int64) {
	r.ansible = append(r.ansible, secs)
	r.ansibleKB = max(r.ansibleKB, kb)
}

func (r *row) addFloor(secs float64, kb int64) {
	r.floor = append(r.floor, secs)
	r.floorKB = max(r.floorKB, kb)
}

// idleResult is the idle case: CPU in percent of one core, memory peaks.
type idleResult struct {
	associations         int
	seconds              float64
	workerCPU, serverCPU float64
	workerKB, serverKB   int64
}

// report gathers everything one run measured.
type report struct {
	cfg                        config
	started                    time.Time
	rows                       []*row
	binaryBytes                int64
	idleWorkerKB, idleServerKB int64
	peakWorkerKB, peakServerKB int64
	firstStart, wait200        []float64
	history                    *historyResult
	historyWarm                *historyResult // the run again, compliance unchanged
	idle                       *idleResult
	idleSetup                  time.Duration
	load                       []int64 // one-minute load averages, in hundredths
	loadBefore                 int64   // the one-minute load average before the bench started anything
	version                    string  // what `stead --version` printed
	failed                     string  // the case that ended the run early, and why
}

// median returns the median of xs; 0 if empty.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// cell formats a series as "median (min–max)".
func cell(xs []float64) string {
	if len(xs) == 0 {
		return "—"
	}
	if len(xs) == 1 {
		return fmt.Sprintf("%.2f s", xs[0])
	}
	return fmt.Sprintf("%.2f s (%.2f–%.2f)", median(xs), slices.Min(xs), slices.Max(xs))
}

// ratio formats a/b of two series' medians.
func ratio(a, b []float64) string {
	if len(a) == 0 || len(b) == 0 || median(b) == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", median(a)/median(b))
}

// mb formats kB as MB.
func mb(kb int64) string {
	if kb == 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f MB", float64(kb)/1024)
}

// table is the results as a Markdown table, the one the benchmark prints
// and writes.
func (r *report) table() string {
	var b strings.Builder
	b.WriteString("| case | Stead median (min–max) | Ansible median (min–max) | floor median (min–max) | Stead/Ansible | Stead/floor | peak RSS Stead worker / server | peak RSS Ansible | peak RSS floor |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, rw := range r.rows {
		st := cell(rw.stead)
		if rw.steadText != "" {
			st = rw.steadText
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s / %s | %s | %s |\n", rw.name, st, cell(rw.ansible), cell(rw.floor),
			ratio(rw.stead, rw.ansible), ratio(rw.stead, rw.floor), mb(rw.steadWorkerKB), mb(rw.steadServerKB), mb(rw.ansibleKB), mb(rw.floorKB))
	}
	if i := r.idle; i != nil {
		fmt.Fprintf(&b, "| idle %.0f s, %d associations on rate(30 minutes) | worker %.2f%% of a core, server %.2f%% | — | — | — | — | %s / %s | — | — |\n",
			i.seconds, i.associations, i.workerCPU, i.serverCPU, mb(i.workerKB), mb(i.serverKB))
	}
	return b.String()
}

// machine describes the host the run measured.
func machine() string {
	mem := "unknown memory"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(strings.SplitN(string(b), "\n", 2)[0], "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf("%.1f GB memory", float64(kb)/1024/1024)
		}
	}
	cpu := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = ", " + strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("%d cores%s, %s, %s/%s", runtime.NumCPU(), cpu, mem, runtime.GOOS, runtime.GOARCH)
}

// markdown is the benchmark's section of BENCHMARKS.md.
func (r *report) markdown() string {
	var b strings.Builder
	b.WriteString("## Stead, Ansible and the SSH floor (`make bench`)\n\n")
	fmt.Fprintf(&b, "Measured %s on %s. Command: `%s`.\n", r.started.UTC().Format("2006-01-02 15:04 MST"), machine(), r.cfg.command)
	fmt.Fprintf(&b, "%d loopback hosts (one OpenSSH sshd on 127.1.x.y), concurrency %d for every tool. Runs per case: Stead and the floor %d (Stead at N=1000: %d), Ansible %d (once at N=1000 and in the no-change case: Ansible is CPU-bound on this machine and a run takes minutes).\n\n",
		r.cfg.hosts, r.cfg.concurrency, r.cfg.reps, min(r.cfg.reps, r.cfg.bigReps), r.cfg.ansibleReps)
	if len(r.load) > 0 {
		ls := make([]float64, len(r.load))
		for i, v := range r.load {
			ls[i] = float64(v) / 100
		}
		fmt.Fprintf(&b, "One-minute load average before the bench started anything: %.1f; during the run: median %.1f, max %.1f on %d cores. The tools' own processes raise the load during the run (every host's sessions run on this machine, and Ansible forks a process per host); a load well above the core count before the run means other work shared the machine and inflated every tool's times.\n\n",
			float64(r.loadBefore)/100, median(ls), slices.Max(ls), runtime.NumCPU())
	}
	if r.failed != "" {
		fmt.Fprintf(&b, "**This run stopped early** (%s); the table holds the cases measured before.\n\n", oneLine(r.failed))
	}
	b.WriteString(r.table())
	b.WriteString("\n")
	for _, rw := range r.rows {
		if rw.perStep > 0 && len(rw.stead) > 0 && len(rw.floor) > 0 {
			fmt.Fprintf(&b, "- %s: Stead costs %.1f ms per step over the floor ((Stead − floor) / %d steps).\n",
				rw.name, (median(rw.stead)-median(rw.floor))*1000/float64(rw.perStep), rw.perStep)
		}
		if rw.note != "" {
			fmt.Fprintf(&b, "- %s: %s.\n", rw.name, rw.note)
		}
	}
	b.WriteString("\n### Core numbers\n\n")
	fmt.Fprintf(&b, "- `bin/stead` size: %.0f MB (%d bytes); measured build: %s.\n", float64(r.binaryBytes)/1024/1024, r.binaryBytes, r.version)
	if len(r.firstStart) > 0 {
		fmt.Fprintf(&b, "- `association create` to the first target starting (200 targets): median %.0f ms (%.0f–%.0f).\n",
			median(r.firstStart)*1000, slices.Min(r.firstStart)*1000, slices.Max(r.firstStart)*1000)
		fmt.Fprintf(&b, "- `association create --wait`, `true` on 200 targets at --max-concurrency %d: %s.\n", r.cfg.concurrency, cell(r.wait200))
	}
	fmt.Fprintf(&b, "- Resident memory idle (%d nodes registered, before any run): worker %s, server %s; peak during the 200-target runs: worker %s, server %s.\n",
		r.cfg.hosts, mb(r.idleWorkerKB), mb(r.idleServerKB), mb(r.peakWorkerKB), mb(r.peakServerKB))
	for _, run := range []struct {
		h     *historyResult
		title string
	}{{r.history, "first cold 200-target run, every node's compliance new"}, {r.historyWarm, "the same 200 targets again, compliance unchanged"}} {
		h := run.h
		if h == nil {
			continue
		}
		per := func(v float64) float64 { return v / float64(max(h.targets, 1)) }
		fmt.Fprintf(&b, "\n### What one execution costs Temporal (%s, from Temporal's histories)\n\n", run.title)
		fmt.Fprintf(&b, "- %d targets in %d batches, %d workflow run(s): %d execution events (%.3f per target).\n",
			h.targets, h.batches, h.runs, h.executionEvents, per(float64(h.executionEvents)))
		fmt.Fprintf(&b, "- Compliance reports added %d events to the node workflows (%.2f per target); in all %.2f events per target.\n",
			h.nodeEvents, per(float64(h.nodeEvents)), per(float64(h.executionEvents+h.nodeEvents)))
		fmt.Fprintf(&b, "- Temporal server CPU during the run: %.2f s, %.1f ms per target.\n", h.serverCPU, per(h.serverCPU*1000))
		fmt.Fprintf(&b, "- Execution start → first batch scheduled (document prepared, first page resolved): %.0f ms; last batch done → execution closed: %.0f ms.\n\n",
			h.firstBatch, h.lastBatch)
		b.WriteString("| span, over batches | median | p95 |\n|---|---|---|\n")
		fmt.Fprintf(&b, "| batch scheduled → picked up by the worker (dispatch) | %.0f ms | %.0f ms |\n", h.batchQueue[0], h.batchQueue[1])
		fmt.Fprintf(&b, "| batch running: SSH, the detached protocol, `true` on its nodes | %.0f ms | %.0f ms |\n", h.batchRun[0], h.batchRun[1])
	}
	if r.idle != nil {
		fmt.Fprintf(&b, "\nIdle case: %d associations were created and their first runs ended in %s before the %.0f s window.\n",
			r.idle.associations, r.idleSetup.Round(time.Second), r.idle.seconds)
	}
	b.WriteString("\nCold: Stead's worker is restarted before the run (no pooled SSH connection, no cached workflow); Ansible has no SSH control master alive. " +
		"Warm: the same run again at once (Stead's pool and Ansible's ControlPersist masters alive). The floor always dials afresh. " +
		"Ansible runs with host key checking on, `pipelining = True` and no fact gathering. " +
		"Peak RSS: Stead's worker and server sampled from /proc every 100 ms; Ansible's whole process tree every 250 ms; the floor's from getrusage.\n\n")
	return b.String()
}

// oneLine folds whitespace and newlines so an error fits in a sentence,
// and cuts it short.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
