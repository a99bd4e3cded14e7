// Command benchhost is the Go host of `nox -s bench` (bench/): one go-plugin host binary for
// every Go-host row, so the rows differ only in the plugin on the other side.
//
//	benchhost -contract kv|streaming|greeter|none [-lazy] -- PLUGIN ARGV...
//
// It loads the plugin through go-plugin and the generated glue (greeter: go-plugin's own
// examples/basic shared package, net/rpc), prints {"ready":true}, then answers one JSON line
// per command read from stdin. The Python host driver (bench/drivers/pyhost.py) speaks the
// same commands, so the runner drives both alike and interleaves them round by round:
//
//	unary N           N small calls one after another      -> {"lat_ns":[...]}
//	echo SIZE N       N Streamer.Echo calls of SIZE bytes   -> {"lat_ns":[...]}
//	bidi N SIZE       one Exchange stream of N messages     -> {"elapsed_ns":...}
//	gen N SIZE        one Generate stream of N messages     -> {"elapsed_ns":...}
//	conc C N          N calls, C in flight                  -> {"elapsed_ns":..., "lat_ns":[...]}
//	launch            new client, first call done, kill     -> {"first_call_ns":...}
//	scale N           N plugins launched, called, killed    -> {"wall_ns":..., "rss_*":...}
//	scalec N          the same, all N at once (goroutines)  -> {"wall_ns":..., "rss_*":...}
//	pingpong N SIZE   raw unix socketpair round trips       -> {"lat_ns":[...]}
//	quit
//
// With a plugin loaded, every reply also carries "plugin_cpu_ns": the CPU time the plugin
// process (all its threads) used during the command.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/hashicorp/go-plugin"
)

type reply = map[string]any

func main() {
	if len(os.Args) > 1 && os.Args[1] == pingpongChild {
		servePingpong()
		return
	}
	contract := flag.String("contract", "kv", "kv, streaming, greeter or none")
	lazy := flag.Bool("lazy", false, "do not load a plugin at start (launch/scale only)")
	autoMTLS := flag.Bool("automtls", false, "go-plugin AutoMTLS")
	flag.Parse()

	// The runner stops us with SIGTERM when something failed: plugins must not outlive us.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-signals
		plugin.CleanupClients()
		os.Exit(1)
	}()

	h := &host{contract: *contract, cmd: flag.Args(), autoMTLS: *autoMTLS}
	if *contract != "none" && !*lazy {
		if err := h.open(); err != nil {
			fail(err)
		}
	}
	defer h.close()
	emit(reply{"ready": true})

	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fields := strings.Fields(in.Text())
		if len(fields) == 0 {
			continue
		}
		if fields[0] == "quit" {
			return
		}
		out, err := h.dispatch(fields[0], ints(fields[1:]))
		if err != nil {
			out = reply{"error": err.Error()}
		}
		emit(out)
	}
}

func (h *host) dispatch(cmd string, args []int) (reply, error) {
	need := map[string]int{
		"unary": 1, "echo": 2, "bidi": 2, "gen": 2, "conc": 2, "launch": 0, "scale": 1, "scalec": 1, "pingpong": 2,
	}
	n, known := need[cmd]
	if !known {
		return nil, fmt.Errorf("unknown command %q", cmd)
	}
	if len(args) != n {
		return nil, fmt.Errorf("%s takes %d numbers", cmd, n)
	}
	pid := 0
	if h.client != nil {
		if rc := h.client.ReattachConfig(); rc != nil {
			pid = rc.Pid
		}
	}
	cpuBefore := pluginCPUNanos(pid)
	out, err := h.run(cmd, args)
	if cpuAfter := pluginCPUNanos(pid); err == nil && cpuBefore >= 0 && cpuAfter >= 0 {
		out["plugin_cpu_ns"] = cpuAfter - cpuBefore
	}
	return out, err
}

func (h *host) run(cmd string, args []int) (reply, error) {
	switch cmd {
	case "unary":
		return h.unary(args[0])
	case "echo":
		return h.echo(args[0], args[1])
	case "bidi":
		return h.bidi(args[0], args[1])
	case "gen":
		return h.gen(args[0], args[1])
	case "conc":
		return h.conc(args[0], args[1])
	case "launch":
		return h.launch()
	case "scale":
		return h.scale(args[0], false)
	case "scalec":
		return h.scale(args[0], true)
	default:
		return pingpong(args[0], args[1])
	}
}

func ints(fields []string) []int {
	out := make([]int, 0, len(fields))
	for _, f := range fields {
		n, err := strconv.Atoi(f)
		if err != nil {
			n = -1
		}
		out = append(out, n)
	}
	return out
}

func emit(r reply) {
	line, err := json.Marshal(r)
	if err != nil {
		fail(err)
	}
	os.Stdout.Write(append(line, '\n'))
}

func fail(err error) {
	emit(reply{"error": err.Error()})
	plugin.CleanupClients()
	os.Exit(1)
}
