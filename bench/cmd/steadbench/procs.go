package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// procs tracks the long-running processes the benchmark starts, so that
// every one of them is stopped however the run ends.
type procs struct {
	mu   sync.Mutex
	list []*proc
}

// proc is a background process in a process group of its own.
type proc struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{}
	log    string
}

// start runs a background process whose output goes to logPath.
func (p *procs) start(name, logPath string, env []string, args ...string) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create %s log: %w", name, err)
	}
	defer f.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	pr := &proc{name: name, cmd: cmd, exited: make(chan struct{}), log: logPath}
	go func() { _ = cmd.Wait(); close(pr.exited) }()
	p.mu.Lock()
	p.list = append(p.list, pr)
	p.mu.Unlock()
	return pr, nil
}

// pid is the process id, for /proc sampling.
func (pr *proc) pid() int { return pr.cmd.Process.Pid }

// alive reports whether the process still runs.
func (pr *proc) alive() bool {
	select {
	case <-pr.exited:
		return false
	default:
		return true
	}
}

// tail returns the end of the process's log, for error messages.
func (pr *proc) tail() string {
	b, _ := os.ReadFile(pr.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(bytes.TrimSpace(b))
}

// stopAll stops every process, newest first: TERM to its group, then KILL
// after a grace period.
func (p *procs) stopAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.list) - 1; i >= 0; i-- {
		pr := p.list[i]
		_ = syscall.Kill(-pr.pid(), syscall.SIGTERM)
		select {
		case <-pr.exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-pr.pid(), syscall.SIGKILL)
			<-pr.exited
		}
	}
	p.list = nil
}

// runResult is a finished command: its output, wall time and resources.
type runResult struct {
	stdout, stderr string
	elapsed        time.Duration
	maxRSSKB       int64
}

// runCmd runs a command to completion in its own process group, killing
// the group when ctx ends or timeout passes. A non-zero exit is an error
// carrying the end of stderr.
func runCmd(ctx context.Context, timeout time.Duration, env []string, args ...string) (runResult, error) {
	return runCmdWatched(ctx, timeout, env, nil, args...)
}

// runCmdWatched is runCmd that tells started the process id once it runs,
// so its resources can be sampled while it works.
func runCmdWatched(ctx context.Context, timeout time.Duration, env []string, started func(pid int), args ...string) (runResult, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Start()
	if err == nil {
		if started != nil {
			started(cmd.Process.Pid)
		}
		err = cmd.Wait()
	}
	res := runResult{stdout: out.String(), stderr: errb.String(), elapsed: time.Since(start)}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			res.maxRSSKB = ru.Maxrss
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", err, ctx.Err())
		}
		return res, fmt.Errorf("%s: %w: %s", filepath.Base(args[0])+" "+strings.Join(args[1:min(len(args), 3)], " "), err, lastLines(res.stderr+res.stdout, 6))
	}
	return res, nil
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// statusKB reads a "Vm...:  N kB" field of /proc/PID/status.
func statusKB(pid int, field string) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// rssKB is a process's resident set size in kB; 0 if it is gone.
func rssKB(pid int) int64 { return statusKB(pid, "VmRSS") }

// cpuTicks is a process's user plus system CPU time in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("read stat of %d: %w", pid, err)
	}
	// The command name may hold spaces; fields count from after its ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return ut + st, nil
}

// clockTicks is USER_HZ, which is 100 on every Linux architecture Go
// supports.
const clockTicks = 100

// treeRSSKB sums the resident memory of root and all its descendants, so
// a tool that forks workers (Ansible) is measured whole.
func treeRSSKB(root int) int64 {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	children := map[int][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], pid)
	}
	var sum int64
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		sum += rssKB(pid)
		queue = append(queue, children[pid]...)
	}
	return sum
}

// peakSampler records the highest value a measure takes while it runs.
type peakSampler struct {
	stop chan struct{}
	done chan int64
}

// samplePeak polls measure every interval until stopped.
func samplePeak(interval time.Duration, measure func() int64) *peakSampler {
	s := &peakSampler{stop: make(chan struct{}), done: make(chan int64, 1)}
	go func() {
		var peak int64
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			peak = max(peak, measure())
			select {
			case <-s.stop:
				s.done <- max(peak, measure())
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// end stops sampling and returns the peak.
func (s *peakSampler) end() int64 {
	close(s.stop)
	return <-s.done
}

// killMatching kills (by pid) every process whose command line contains
// marker: the SSH control masters Ansible leaves behind, which detach from
// it, carry their control directory in their arguments.
func killMatching(marker string) int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	n := 0
	self := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !bytes.Contains(b, []byte(marker)) {
			continue
		}
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}

// stop stops one process and forgets it.
func (p *procs) stop(pr *proc) {
	_ = syscall.Kill(-pr.pid(), syscall.SIGTERM)
	select {
	case <-pr.exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-pr.pid(), syscall.SIGKILL)
		<-pr.exited
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, q := range p.list {
		if q == pr {
			p.list = append(p.list[:i], p.list[i+1:]...)
			break
		}
	}
}

// loadAvg is the one-minute load average, in hundredths.
func loadAvg() int64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return int64(v * 100)
}

// seriesSampler keeps every value a measure takes while it runs.
type seriesSampler struct {
	stop chan struct{}
	done chan []int64
	once sync.Once
	vals []int64
}

// samplePeakAll polls measure every interval until stopped.
func samplePeakAll(interval time.Duration, measure func() int64) *seriesSampler {
	s := &seriesSampler{stop: make(chan struct{}), done: make(chan []int64, 1)}
	go func() {
		var vals []int64
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			vals = append(vals, measure())
			select {
			case <-s.stop:
				s.done <- vals
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// end stops sampling and returns the values; later calls return the same.
func (s *seriesSampler) end() []int64 {
	s.once.Do(func() {
		close(s.stop)
		s.vals = <-s.done
	})
	return s.vals
}
