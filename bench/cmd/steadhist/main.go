// Command steadhist prints a workflow's history with each event's time
// relative to the first, to see where a Stead run waits: on Stead's own
// code (activities, workflow tasks) or on Temporal's dispatch.
//
//	go run ./bench/cmd/steadhist -address 127.0.0.1:7233 execution/NAME/ID/NODE
//
// With -largest it instead names the workflow with the longest history in
// the namespace, every run of it counted apart, to check that no history
// grows with the fleet.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "steadhist: "+err.Error())
		os.Exit(1)
	}
}

func run() error {
	address := flag.String("address", "localhost:7233", "Temporal frontend host:port")
	namespace := flag.String("namespace", "default", "Temporal namespace")
	largest := flag.Bool("largest", false, "print the longest history in the namespace instead")
	flag.Parse()
	if !*largest && flag.NArg() != 1 {
		return fmt.Errorf("want one workflow id")
	}
	c, err := client.Dial(client.Options{HostPort: *address, Namespace: *namespace})
	if err != nil {
		return fmt.Errorf("connect to temporal: %w", err)
	}
	defer c.Close()
	if *largest {
		return printLargest(c, *namespace)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	it := c.GetWorkflowHistory(ctx, flag.Arg(0), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var first, prev time.Time
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return fmt.Errorf("read history: %w", err)
		}
		t := ev.GetEventTime().AsTime()
		if first.IsZero() {
			first, prev = t, t
		}
		name := strings.TrimPrefix(ev.GetEventType().String(), "EVENT_TYPE_")
		fmt.Printf("%4d %9.1f ms  +%8.1f ms  %s\n", ev.GetEventId(), float64(t.Sub(first))/1e6, float64(t.Sub(prev))/1e6, name)
		prev = t
	}
	return nil
}

// printLargest lists every workflow run in the namespace and prints the
// one with the most history events, and how many runs it looked at.
func printLargest(c client.Client, namespace string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var token []byte
	var runs int
	var most int64
	var which string
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: namespace, PageSize: 100, NextPageToken: token})
		if err != nil {
			return fmt.Errorf("list workflows: %w", err)
		}
		for _, e := range resp.Executions {
			runs++
			if e.GetHistoryLength() > most {
				most, which = e.GetHistoryLength(), e.GetExecution().GetWorkflowId()
			}
		}
		if token = resp.NextPageToken; len(token) == 0 {
			break
		}
	}
	fmt.Printf("%d workflow runs; the longest history is %d events: %s\n", runs, most, which)
	return nil
}
