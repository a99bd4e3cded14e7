// Command capacityhost is a go-plugin host for the capacity tests: it saturates a plugin the
// way busy hosts do, then checks that a quick call still runs, that calls past the plugin's
// limit fail fast, and that Kill stays graceful. It prints one JSON object (stdout).
//
//	capacityhost -protocol grpc   -hold N -extra K plugin-command [args...]
//	capacityhost -protocol netrpc -hold N -extra K plugin-command [args...]
//
// gRPC (handshake STREAMING_PLUGIN=events, plugin "streamer"): holds N Exchange streams open
// (each has echoed one event back), calls Echo with a 5 s deadline, opens K more streams, then
// Kill(). net/rpc (handshake BASIC_PLUGIN=hello, plugin "greeter"): N concurrent Plugin.Sleep
// calls of 60 s, Plugin.Greet, K more Plugin.Sleep calls, then Kill(). Every wait is bounded,
// so a plugin that starves reports failures instead of hanging the test.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/rpc"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/goplugin-py/goplugin/examples-go/gen/streaming"
)

const wait = 5 * time.Second

// Outcome is one call: "OK", a gRPC code name, "timeout", or a net/rpc error text.
type Outcome struct {
	Result string  `json:"result"`
	Ms     float64 `json:"ms"`
}

// Report is what the tests read.
type Report struct {
	Held     int       `json:"held"`      // calls/streams the plugin runs now
	HeldErrs []string  `json:"held_errs"` // why the others did not run
	Quick    Outcome   `json:"quick"`     // the unary call made while saturated
	Extra    []Outcome `json:"extra"`     // the calls past the held ones
	KillMs   float64   `json:"kill_ms"`
	// Graceful: Kill did not log go-plugin's "plugin failed to exit gracefully".
	Graceful bool   `json:"graceful"`
	KillHung bool   `json:"kill_hung"`
	Error    string `json:"error,omitempty"`
}

// rawGRPC hands out the connection itself.
type rawGRPC struct{ plugin.NetRPCUnsupportedPlugin }

func (rawGRPC) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return errors.New("host only") }
func (rawGRPC) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return c, nil
}

// rawRPC hands out the net/rpc client itself.
type rawRPC struct{}

func (rawRPC) Server(*plugin.MuxBroker) (any, error)                  { return nil, errors.New("host only") }
func (rawRPC) Client(_ *plugin.MuxBroker, c *rpc.Client) (any, error) { return c, nil }

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	os.Stderr.Write(p)
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func ms(since time.Time) float64 { return float64(time.Since(since).Microseconds()) / 1000 }

func grpcOutcome(err error, start time.Time) Outcome {
	if err == nil {
		return Outcome{"OK", ms(start)}
	}
	return Outcome{status.Code(err).String(), ms(start)}
}

// openStream opens an Exchange stream and waits (bounded) for its first echo.
func openStream(ctx context.Context, c streaming.StreamerClient, seq uint64) (grpc.BidiStreamingClient[streaming.Event, streaming.Event], Outcome) {
	start := time.Now()
	stream, err := c.Exchange(ctx)
	if err != nil {
		return nil, grpcOutcome(err, start)
	}
	done := make(chan error, 1)
	go func() {
		// A Send error is io.EOF when the plugin ended the stream: Recv says why.
		_ = stream.Send(&streaming.Event{Seq: seq, Body: &streaming.Event_Text{Text: "hold"}})
		_, err := stream.Recv()
		done <- err
	}()
	select {
	case err := <-done:
		return stream, grpcOutcome(err, start)
	case <-time.After(wait):
		return stream, Outcome{"timeout", ms(start)}
	}
}

func runGRPC(ctx context.Context, client *plugin.Client, hold, extra int, r *Report) error {
	proto, err := client.Client()
	if err != nil {
		return err
	}
	raw, err := proto.Dispense("streamer")
	if err != nil {
		return err
	}
	c := streaming.NewStreamerClient(raw.(*grpc.ClientConn))
	// Open the held streams concurrently: a starving plugin answers none past its workers,
	// and waiting for each in turn would take hold*5 s.
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range hold {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, out := openStream(ctx, c, uint64(i))
			mu.Lock()
			defer mu.Unlock()
			if out.Result == "OK" {
				r.Held++
			} else {
				r.HeldErrs = append(r.HeldErrs, out.Result)
			}
		}()
	}
	wg.Wait()
	start := time.Now()
	uctx, ucancel := context.WithTimeout(ctx, wait)
	_, err = c.Echo(uctx, &streaming.Event{Seq: 1, Body: &streaming.Event_Text{Text: "quick"}})
	ucancel()
	r.Quick = grpcOutcome(err, start)
	for i := range extra {
		_, out := openStream(ctx, c, uint64(hold+i))
		r.Extra = append(r.Extra, out)
	}
	return nil
}

func runNetRPC(client *plugin.Client, hold, extra int, r *Report) error {
	proto, err := client.Client()
	if err != nil {
		return err
	}
	raw, err := proto.Dispense("greeter")
	if err != nil {
		return err
	}
	c := raw.(*rpc.Client)
	// net/rpc has no deadlines: every call is a Go whose Done is awaited with a timer.
	call := func(method string, args any, reply any) Outcome {
		start := time.Now()
		select {
		case done := <-c.Go(method, args, reply, nil).Done:
			if done.Error != nil {
				return Outcome{done.Error.Error(), ms(start)}
			}
			return Outcome{"OK", ms(start)}
		case <-time.After(wait):
			return Outcome{"timeout", ms(start)}
		}
	}
	for range hold {
		var ok bool
		c.Go("Plugin.Sleep", 60.0, &ok, nil) // held: never awaited
	}
	r.Held = hold
	var greeting string
	r.Quick = call("Plugin.Greet", new(any), &greeting)
	for range extra {
		var ok bool
		r.Extra = append(r.Extra, call("Plugin.Sleep", 60.0, &ok))
	}
	return nil
}

func main() {
	protocol := flag.String("protocol", "grpc", "grpc or netrpc")
	hold := flag.Int("hold", 40, "calls/streams to hold open")
	extra := flag.Int("extra", 0, "calls to make past the held ones")
	flag.Parse()
	if flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "usage: capacityhost [-protocol grpc|netrpc] [-hold N] [-extra K] plugin-command [args...]")
		os.Exit(2)
	}
	log := &lockedBuffer{}
	config := &plugin.ClientConfig{
		Cmd:    exec.Command(flag.Arg(0), flag.Args()[1:]...),
		Logger: hclog.New(&hclog.LoggerOptions{Name: "capacityhost", Output: log, Level: hclog.Debug}),
	}
	if *protocol == "grpc" {
		config.HandshakeConfig = plugin.HandshakeConfig{ProtocolVersion: 1, MagicCookieKey: "STREAMING_PLUGIN", MagicCookieValue: "events"}
		config.Plugins = plugin.PluginSet{"streamer": rawGRPC{}}
		config.AllowedProtocols = []plugin.Protocol{plugin.ProtocolGRPC}
	} else {
		config.HandshakeConfig = plugin.HandshakeConfig{ProtocolVersion: 1, MagicCookieKey: "BASIC_PLUGIN", MagicCookieValue: "hello"}
		config.Plugins = plugin.PluginSet{"greeter": rawRPC{}}
	}
	client := plugin.NewClient(config)
	report := Report{HeldErrs: []string{}, Extra: []Outcome{}}
	// The streams stay open through Kill, as a busy host's would.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var err error
	if *protocol == "grpc" {
		err = runGRPC(ctx, client, *hold, *extra, &report)
	} else {
		err = runNetRPC(client, *hold, *extra, &report)
	}
	if err != nil {
		report.Error = err.Error()
	}
	start := time.Now()
	killed := make(chan struct{})
	go func() {
		client.Kill()
		close(killed)
	}()
	select {
	case <-killed:
	case <-time.After(15 * time.Second):
		report.KillHung = true
	}
	report.KillMs = ms(start)
	report.Graceful = !report.KillHung && !strings.Contains(log.String(), "plugin failed to exit gracefully")
	out, _ := json.Marshal(report)
	fmt.Println(string(out))
	if report.KillHung {
		os.Exit(3) // the plugin process may still be alive: do not wait for it
	}
}
