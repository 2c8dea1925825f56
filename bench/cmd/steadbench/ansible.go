package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// ansibleFiles are Ansible's configuration, inventory and playbooks for
// the benchmark's hosts.
type ansibleFiles struct {
	dir       string
	cfg       string
	inventory string
	control   string // SSH control socket directory (ControlMaster)
	steps     string // playbook: 20 tasks running true
	copies    string // playbook: 20 copy tasks
}

// fileCount is how many files the no-change case writes per host, and
// stepCount how many steps the per-step case runs.
const (
	fileCount = 20
	stepCount = 20
)

// setupAnsible writes ansible.cfg, the inventory (one group per subset)
// and the playbooks. Host key checking stays on, against the same
// known_hosts file Stead's worker and the floor use. Pipelining is on and
// facts are not gathered: Ansible's fastest ordinary settings, so the
// comparison is against Ansible at its best rather than its defaults.
// ControlPersist is long enough that a warm run finds the masters of the
// run before it still alive.
func (e *env) setupAnsible() error {
	a := ansibleFiles{dir: filepath.Join(e.dir, "ansible")}
	a.cfg = filepath.Join(a.dir, "ansible.cfg")
	a.inventory = filepath.Join(a.dir, "inventory")
	a.control = filepath.Join(a.dir, "cp")
	a.steps = filepath.Join(a.dir, "steps.yml")
	a.copies = filepath.Join(a.dir, "copies.yml")
	if err := os.MkdirAll(filepath.Join(a.dir, "tmp"), 0o755); err != nil {
		return fmt.Errorf("create ansible directory: %w", err)
	}
	cfg := fmt.Sprintf(`[defaults]
inventory = %s
host_key_checking = True
gathering = explicit
interpreter_python = /usr/bin/python3
local_tmp = %s
forks = 50
timeout = 60
deprecation_warnings = False

[ssh_connection]
pipelining = True
ssh_args = -o ControlMaster=auto -o ControlPersist=600s -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes
control_path_dir = %s
`, a.inventory, filepath.Join(a.dir, "tmp"), e.knownHosts, a.control)
	var inv strings.Builder
	fmt.Fprintf(&inv, "[all:vars]\nansible_port=%d\nansible_user=%s\nansible_ssh_private_key_file=%s\n\n", e.sshd.Port, e.sshd.User, e.sshd.KeyFile)
	for _, n := range subsets {
		if n > len(e.hosts) {
			continue
		}
		fmt.Fprintf(&inv, "[%s]\n", subsetTag(n))
		for i := range n {
			fmt.Fprintf(&inv, "%s ansible_host=%s\n", nodeID(i), e.hosts[i])
		}
		inv.WriteString("\n")
	}
	var steps, copies strings.Builder
	fmt.Fprintf(&steps, "- hosts: %s\n  gather_facts: false\n  tasks:\n", subsetTag(20))
	for i := range stepCount {
		fmt.Fprintf(&steps, "    - name: step %02d\n      command: \"true\"\n", i+1)
	}
	fmt.Fprintf(&copies, "- hosts: %s\n  gather_facts: false\n  tasks:\n", subsetTag(50))
	for i := range fileCount {
		fmt.Fprintf(&copies, "    - name: file %02d\n      copy:\n        dest: \"~/bench-ansible/f%02d\"\n        content: %q\n", i+1, i+1, fileContent(i))
	}
	// copy does not create the parent directory: a first task does.
	copiesYAML := strings.Replace(copies.String(), "  tasks:\n", "  tasks:\n    - name: directory\n      file:\n        path: \"~/bench-ansible\"\n        state: directory\n", 1)
	for path, content := range map[string]string{a.cfg: cfg, a.inventory: inv.String(), a.steps: steps.String(), a.copies: copiesYAML} {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", filepath.Base(path), err)
		}
	}
	e.ansible = a
	return nil
}

// fileContent is the content of file i in the no-change case.
func fileContent(i int) string {
	return fmt.Sprintf("setting-%02d = value %02d, kept by the benchmark\n", i+1, i+1)
}

// ansibleEnv points Ansible at the benchmark's configuration and keeps its
// local state out of the user's home.
func (e *env) ansibleEnv() []string {
	return []string{
		"ANSIBLE_CONFIG=" + e.ansible.cfg,
		"ANSIBLE_HOME=" + filepath.Join(e.ansible.dir, "home"),
		"ANSIBLE_NOCOLOR=1",
	}
}

// dropControlMasters kills the SSH control masters Ansible left alive, so
// the next run is cold, as a scheduled run that meets no live master is.
func (e *env) dropControlMasters() {
	killMatching(e.ansible.control)
	_ = os.RemoveAll(e.ansible.control)
	time.Sleep(300 * time.Millisecond)
}

// runAnsible runs one Ansible command line, sampling the memory of its
// whole process tree (the controller and its forks).
func (e *env) runAnsible(ctx context.Context, args ...string) (time.Duration, int64, error) {
	_, d, kb, err := e.runAnsibleOut(ctx, args...)
	return d, kb, err
}

// warmAnsible opens SSH control masters to the first n hosts with a cheap
// ad-hoc command, so the timed run after it is warm.
func (e *env) warmAnsible(ctx context.Context, n int) error {
	e.dropControlMasters()
	if _, _, err := e.runAnsible(ctx, "ansible", subsetTag(n), "-m", "command", "-a", "true", "-f", strconv.Itoa(e.cfg.concurrency), "-o"); err != nil {
		return fmt.Errorf("warm ansible up: %w", err)
	}
	return nil
}

// runAnsibleOut is runAnsible that also returns Ansible's output.
func (e *env) runAnsibleOut(ctx context.Context, args ...string) (string, time.Duration, int64, error) {
	var root atomic.Int64
	s := samplePeak(250*time.Millisecond, func() int64 {
		if pid := root.Load(); pid != 0 {
			return treeRSSKB(int(pid))
		}
		return 0
	})
	res, err := runCmdWatched(ctx, 20*time.Minute, e.ansibleEnv(), func(pid int) { root.Store(int64(pid)) }, args...)
	peak := s.end()
	if err != nil {
		return "", 0, 0, err
	}
	if strings.Contains(res.stdout, "UNREACHABLE") || strings.Contains(res.stdout, "FAILED") {
		return "", 0, 0, fmt.Errorf("ansible reported failures: %s", lastLines(res.stdout, 4))
	}
	return res.stdout, res.elapsed, max(peak, res.maxRSSKB), nil
}
