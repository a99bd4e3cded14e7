// Command streaming-host loads a Streamer plugin (Go or Python) and makes one call of each
// kind: streams are Go iterators on this side too, and ctx deadlines reach the plugin.
//
//	streaming-host "<plugin command>"
package main

import (
	"context"
	"fmt"
	"iter"
	"os"
	"os/exec"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/goplugin-py/goplugin/examples-go/gen/common"
	"github.com/goplugin-py/goplugin/examples-go/gen/streaming"
)

func events(n uint64) iter.Seq[*streaming.Event] {
	return func(yield func(*streaming.Event) bool) {
		for seq := range n {
			ev := &streaming.Event{Seq: seq, Body: &streaming.Event_Text{Text: fmt.Sprint("event ", seq)}}
			if !yield(ev) {
				return
			}
		}
	}
}

func run(command string) error {
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			ProtocolVersion: 1, MagicCookieKey: "STREAMING_PLUGIN", MagicCookieValue: "events",
		},
		Plugins:          plugin.PluginSet{"streamer": &streaming.StreamerPlugin{}},
		Cmd:              exec.Command("sh", "-c", command),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "plugin", Level: hclog.Warn}),
	})
	defer client.Kill()
	rpc, err := client.Client()
	if err != nil {
		return err
	}
	streamer, err := streaming.DispenseStreamer(rpc, "streamer")
	if err != nil {
		return err
	}
	ctx := context.Background()

	echoed, err := streamer.Echo(ctx, &streaming.Event{
		Seq: 1, Time: timestamppb.Now(), Severity: common.Severity_SEVERITY_INFO,
		Labels: map[string]string{"from": "go"},
		Body:   &streaming.Event_Metric_{Metric: &streaming.Event_Metric{Name: "latency", Value: 0.25}},
	})
	if err != nil {
		return err
	}
	fmt.Println("echo:", echoed.GetMetric().GetName(), echoed.Labels)

	n := 0
	for ev, err := range streamer.Generate(ctx, &streaming.GenerateRequest{Count: 1000, BlobSize: 32}) {
		if err != nil {
			return err
		}
		n += len(ev.GetBlob())
	}
	fmt.Println("generate: received", n, "blob bytes")

	summary, err := streamer.Collect(ctx, events(500))
	if err != nil {
		return err
	}
	fmt.Println("collect: plugin counted", summary.Count, "events, in order:", summary.InOrder)

	for ev, err := range streamer.Exchange(ctx, events(3)) {
		if err != nil {
			return err
		}
		fmt.Println("exchange:", ev.GetText())
	}

	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err = streamer.Wait(short, &streaming.WaitRequest{Duration: durationpb.New(time.Minute)})
	fmt.Println("wait with a 200ms deadline:", status.Code(err))
	return nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, `usage: streaming-host "<plugin command>"`)
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "streaming-host:", err)
		os.Exit(1)
	}
}
