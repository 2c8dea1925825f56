package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/stead-io/stead/activities"
	"github.com/stead-io/stead/contract"
	"github.com/stead-io/stead/internal/events"
	"github.com/stead-io/stead/internal/secrets"
	"github.com/stead-io/stead/internal/testhost"
)

// eventLog keeps every event a worker publishes, as JSON, to search.
type eventLog struct {
	mu  sync.Mutex
	all strings.Builder
}

func (l *eventLog) Publish(_ context.Context, evs ...events.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range evs {
		b, _ := json.Marshal(e)
		l.all.Write(b)
	}
}

func (l *eventLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all.String()
}

// Stead-JoinDomain on a real Samba AD domain controller: Validate reports
// a node out of the domain and changes nothing; Enforce joins it through
// adcli over SSH (the controller lists the computer, and adcli testjoin
// passes with the machine's keytab); a rerun changes nothing and says
// so; a wrong password fails with adcli's reason and leaks the password
// nowhere; Rejoin gives the machine a new password; Leave deletes the
// account.
func TestJoinDomainOnASambaDomainController(t *testing.T) {
	testhost.Require(t)
	const adminPassword, wrongPassword = "Stead-Adm1n-pw", "Wr0ng-Stead-pw"
	dc := testhost.StartDomainController(t, "dc1", "10.204.1.1", "10.204.1.2", "stead.test", adminPassword)
	h := testhost.Start(t, "dj1", "10.204.2.1", "10.204.2.2", testhost.Options{})
	dc.Admit(t, h, "dj", "10.204.3.1", "10.204.3.2")

	file := filepath.Join(t.TempDir(), "secrets")
	require.NoError(t, os.WriteFile(file, []byte("join_password="+adminPassword+"\nwrong_password="+wrongPassword+"\n"), 0o600))
	store, err := secrets.Load(file, nil)
	require.NoError(t, err)
	evs := &eventLog{}
	startLocalWorker(t, h.KeyFile, func(a *activities.Activities) { a.Secrets, a.Events = store, evs })
	hostNode(t, "dom-1", h, "domain=stead")
	computers := func() string { t.Helper(); return dc.Exec(t, "samba-tool", "computer", "list") }
	target := []string{"--document", "Stead-JoinDomain", "--targets", "Key=tag:domain,Values=stead"}
	join := `{"DomainName":"stead.test","Password":"{{ssm-secure:join_password}}"`

	o, success := runAssociation(t, "dom-check", append(target, "--parameters", `{"DomainName":"stead.test","Mode":"Validate"}`)...)
	require.False(t, success)
	require.Equal(t, contract.StatusFailed, o.Status, o.DetailedStatus)
	require.Contains(t, o.Output[0].Stdout, "drift: domain: not joined to stead.test, wanted joined")
	require.Contains(t, o.Output[0].Stdout, "nothing changed (Mode Validate)")
	require.NotContains(t, computers(), "DJ1$", "Validate joins nothing")
	requireCompliance(t, "dom-1", "dom-check", contract.NonCompliant)

	// A wrong password: adcli's reason, and the password nowhere.
	o, success = runAssociation(t, "dom-wrong", append(target, "--parameters", `{"DomainName":"stead.test","Password":"{{ssm-secure:wrong_password}}"}`)...)
	require.False(t, success)
	require.Contains(t, o.Output[0].Stderr, "joining stead.test failed: ")
	require.Contains(t, o.Output[0].Stderr, "Administrator@STEAD.TEST")
	require.NotContains(t, computers(), "DJ1$")
	requireCompliance(t, "dom-1", "dom-wrong", contract.NonCompliant)

	o, success = runAssociation(t, "dom-join", append(target, "--parameters", join+`}`)...)
	require.True(t, success, "%s\n%s\n%s", o.DetailedStatus, o.Output[0].Stdout, o.Output[0].Stderr)
	require.Contains(t, o.Output[0].Stdout, "changed: joined stead.test as DJ1$ (adcli testjoin passes); COMPLIANT")
	require.Contains(t, computers(), "DJ1$", "the controller has the computer account")
	h.Exec(t, "adcli", "testjoin", "--domain=stead.test")
	require.Contains(t, h.Exec(t, "klist", "-k"), "DJ1$@STEAD.TEST")
	requireCompliance(t, "dom-1", "dom-join", contract.Compliant)
	keytab := h.ReadFile(t, "etc/krb5.keytab")

	o, success = runAssociation(t, "dom-join")
	require.True(t, success, o.DetailedStatus)
	require.Contains(t, o.Output[0].Stdout, "COMPLIANT: joined to stead.test (adcli testjoin passes); nothing to change")
	require.Equal(t, keytab, h.ReadFile(t, "etc/krb5.keytab"), "an already joined node keeps its machine password")

	_, success = runAssociation(t, "dom-check")
	require.True(t, success)
	requireCompliance(t, "dom-1", "dom-check", contract.Compliant)

	o, success = runAssociation(t, "dom-rejoin", append(target, "--parameters", join+`,"Action":"Rejoin"}`)...)
	require.True(t, success, "%s\n%s", o.Output[0].Stdout, o.Output[0].Stderr)
	require.Contains(t, o.Output[0].Stdout, "drift: domain: rejoin to stead.test requested (now joined)")
	require.NotEqual(t, keytab, h.ReadFile(t, "etc/krb5.keytab"), "a rejoin sets a new machine password")
	h.Exec(t, "adcli", "testjoin", "--domain=stead.test")

	o, success = runAssociation(t, "dom-leave", append(target, "--parameters", join+`,"Action":"Leave"}`)...)
	require.True(t, success, "%s\n%s", o.Output[0].Stdout, o.Output[0].Stderr)
	require.Contains(t, o.Output[0].Stdout, "changed: left stead.test; COMPLIANT")
	require.NotContains(t, computers(), "DJ1$", "the computer account is gone")
	require.NoFileExists(t, filepath.Join(h.Root, "etc/krb5.keytab"))
	o, success = runAssociation(t, "dom-leave")
	require.True(t, success)
	require.Contains(t, o.Output[0].Stdout, "COMPLIANT: not joined to stead.test; nothing to change")

	// A plain password is refused before anything runs.
	fails(t, "parameter Password: value does not match allowedPattern", "association", "create", "--name", "dom-plain",
		"--document", "Stead-JoinDomain", "--targets", "Key=tag:domain,Values=stead", "--parameters", `{"DomainName":"stead.test","Password":"`+adminPassword+`"}`)

	// Neither password is in anything Stead keeps or shows.
	raw, err := client.Dial(client.Options{HostPort: frontend, Logger: quiet{}})
	require.NoError(t, err)
	defer raw.Close()
	keyed := dialTest(t)
	defer keyed.Close()
	var all strings.Builder
	for _, assoc := range []string{"dom-check", "dom-wrong", "dom-join", "dom-rejoin", "dom-leave"} {
		var list []struct {
			ExecutionID string `json:"executionId"`
		}
		execs := ok(t, "association", "executions", assoc, "--output", "json")
		require.NoError(t, json.Unmarshal([]byte(execs), &list), execs)
		all.WriteString(execs + ok(t, "association", "describe", assoc, "--output", "json"))
		for _, e := range list {
			all.WriteString(ok(t, "association", "targets", assoc, "--execution", e.ExecutionID, "--output", "json"))
			for _, wf := range []string{contract.AssociationWorkflowID(assoc), contract.ExecutionWorkflowID(assoc, e.ExecutionID)} {
				all.WriteString(rawHistory(t, raw, wf) + decodedHistory(t, keyed, wf))
			}
		}
	}
	all.WriteString(rawHistory(t, raw, "node/dom-1") + decodedHistory(t, keyed, "node/dom-1"))
	all.WriteString(ok(t, "compliance", "list", "--node", "dom-1", "--output", "json"))
	all.WriteString(evs.String())
	require.Contains(t, all.String(), "joining stead.test failed", "the failure was searched")
	require.Contains(t, evs.String(), "dom-join", "events were published and searched")
	require.NotContains(t, all.String(), adminPassword)
	require.NotContains(t, all.String(), wrongPassword)
}
