// Command sshfloor is the floor Stead's benchmark compares against: the
// least a program must do to run a command on many hosts over SSH. It
// dials each host with golang.org/x/crypto/ssh (host keys checked against a
// known_hosts file, as Stead and Ansible check them), runs the command in
// one or more sessions over that connection, and prints the wall time as
// JSON. Whatever Stead or Ansible take beyond this is their own overhead.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// result is what sshfloor prints: how long the run took and how many hosts
// failed (any failure also makes it exit 1).
type result struct {
	Hosts    int     `json:"hosts"`
	Sessions int     `json:"sessions"`
	Seconds  float64 `json:"seconds"`
	Failures int     `json:"failures"`
	FirstErr string  `json:"firstError,omitempty"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "sshfloor: "+err.Error())
		os.Exit(1)
	}
}

func run() error {
	hostsFile := flag.String("hosts", "", "file with one host address per line")
	port := flag.Int("port", 22, "SSH port of every host")
	user := flag.String("user", "", "login user")
	keyFile := flag.String("key", "", "private key file")
	knownHosts := flag.String("known-hosts", "", "known_hosts file every host key is checked against")
	concurrency := flag.Int("concurrency", 50, "hosts worked on at once")
	sessions := flag.Int("sessions", 1, "sessions per host, one after another over one connection")
	command := flag.String("command", "true", "command each session runs")
	timeout := flag.Duration("timeout", 10*time.Minute, "bound on the whole run")
	flag.Parse()
	if *hostsFile == "" || *user == "" || *keyFile == "" || *knownHosts == "" {
		return errors.New("-hosts, -user, -key and -known-hosts are required")
	}
	hosts, err := readLines(*hostsFile)
	if err != nil {
		return err
	}
	pem, err := os.ReadFile(*keyFile)
	if err != nil {
		return fmt.Errorf("read key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		return fmt.Errorf("parse key: %w", err)
	}
	check, err := knownhosts.New(*knownHosts)
	if err != nil {
		return fmt.Errorf("read known_hosts: %w", err)
	}
	cfg := &ssh.ClientConfig{
		User:            *user,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: check,
		Timeout:         30 * time.Second,
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	start := time.Now()
	var (
		mu       sync.Mutex
		failures int
		firstErr error
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, max(*concurrency, 1))
	for _, h := range hosts {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return fmt.Errorf("run: %w", ctx.Err())
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := onHost(cfg, net.JoinHostPort(h, strconv.Itoa(*port)), *sessions, *command); err != nil {
				mu.Lock()
				failures++
				if firstErr == nil {
					firstErr = fmt.Errorf("host %s: %w", h, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res := result{Hosts: len(hosts), Sessions: *sessions, Seconds: time.Since(start).Seconds(), Failures: failures}
	if firstErr != nil {
		res.FirstErr = firstErr.Error()
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		return fmt.Errorf("print result: %w", err)
	}
	if failures > 0 {
		return fmt.Errorf("%d of %d hosts failed, first: %w", failures, len(hosts), firstErr)
	}
	return nil
}

// onHost opens one connection to addr and runs command in n sessions, one
// after another, failing on a non-zero exit.
func onHost(cfg *ssh.ClientConfig, addr string, n int, command string) error {
	c, err := ssh.Dial("tcp", addr, cfg)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	for i := range n {
		s, err := c.NewSession()
		if err != nil {
			return fmt.Errorf("open session %d: %w", i+1, err)
		}
		err = s.Run(command)
		s.Close()
		if err != nil {
			return fmt.Errorf("session %d: %w", i+1, err)
		}
	}
	return nil
}

// readLines returns the non-empty lines of path.
func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open hosts file: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read hosts file: %w", err)
	}
	return out, nil
}
