// Command protoprobe asks go-plugin v1.8.0's own host code what it makes of what a plugin says.
// The tests of docs/protocol.md use it as the oracle: the same inputs go through our Python
// host code, and the two verdicts must agree.
//
//	protoprobe host < cases.json    runs one go-plugin Client per case, prints one JSON result per case
//	protoprobe emit                 the fake plugin a case launches (driven by PROBE_* variables)
//
// A case says what the fake plugin writes on stdout and stderr (base64, any bytes) and how the
// host is configured. For each case the result holds Start()'s error (or a panic), what the
// host read from the handshake when it accepted it, the PLUGIN_* environment the host gave the
// plugin, and every line the host logged on the plugin's behalf (level, message, fields).
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

type hostConfig struct {
	Versions []int    `json:"versions"`
	Allowed  []string `json:"allowed"` // nil: go-plugin's default (net/rpc only)
	Mux      bool     `json:"mux"`
	AutoMTLS bool     `json:"automtls"`
	MinPort  int      `json:"min_port"`
	MaxPort  int      `json:"max_port"`
}

type probeCase struct {
	Stdout string     `json:"stdout"` // base64 of what the plugin writes on stdout
	Stderr string     `json:"stderr"` // base64 of what it writes on stderr, before stdout
	Exit   bool       `json:"exit"`   // exit after writing, instead of waiting to be killed
	Config hostConfig `json:"config"`
}

type result struct {
	Error    string            `json:"error,omitempty"`
	Panic    string            `json:"panic,omitempty"`
	Accepted bool              `json:"accepted"`
	Protocol string            `json:"protocol,omitempty"`
	Version  int               `json:"version,omitempty"`
	Network  string            `json:"network,omitempty"`
	Address  string            `json:"address,omitempty"`
	Env      map[string]string `json:"env"`
	Logs     []map[string]any  `json:"logs"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: protoprobe host|emit")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "emit":
		emit()
	case "host":
		host()
	default:
		fmt.Fprintln(os.Stderr, "usage: protoprobe host|emit")
		os.Exit(2)
	}
}

// emit is the fake plugin: record the environment, write the bytes, then exit or wait.
func emit() {
	if path := os.Getenv("PROBE_ENV_FILE"); path != "" {
		env := map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			if strings.HasPrefix(k, "PLUGIN_") || k == "PROBE_COOKIE" {
				env[k] = v
			}
		}
		data, _ := json.Marshal(env)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			os.Exit(5)
		}
	}
	for _, pair := range []struct {
		name string
		out  *os.File
	}{{"PROBE_STDERR", os.Stderr}, {"PROBE_STDOUT", os.Stdout}} {
		data, err := base64.StdEncoding.DecodeString(os.Getenv(pair.name))
		if err != nil {
			os.Exit(6)
		}
		_, _ = pair.out.Write(data)
		_ = pair.out.Sync()
	}
	if os.Getenv("PROBE_EXIT") == "1" {
		os.Exit(0)
	}
	time.Sleep(60 * time.Second)
}

func host() {
	var cases []probeCase
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		fmt.Fprintln(os.Stderr, "bad cases:", err)
		os.Exit(2)
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	dir, err := os.MkdirTemp("", "protoprobe")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer os.RemoveAll(dir)
	out := json.NewEncoder(os.Stdout)
	for i, c := range cases {
		r := runCase(self, fmt.Sprintf("%s/env%d.json", dir, i), c)
		if err := out.Encode(r); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
}

func runCase(self, envFile string, c probeCase) (r result) {
	var logs bytes.Buffer
	logger := hclog.New(&hclog.LoggerOptions{
		Name: "host", Level: hclog.Trace, Output: &logs, JSONFormat: true,
	})
	sets := map[int]plugin.PluginSet{}
	for _, v := range c.Config.Versions {
		sets[v] = plugin.PluginSet{}
	}
	var allowed []plugin.Protocol
	for _, p := range c.Config.Allowed {
		allowed = append(allowed, plugin.Protocol(p))
	}
	cmd := exec.Command(self, "emit")
	exit := "0"
	if c.Exit {
		exit = "1"
	}
	cmd.Env = []string{
		"PROBE_STDOUT=" + c.Stdout,
		"PROBE_STDERR=" + c.Stderr,
		"PROBE_EXIT=" + exit,
		"PROBE_ENV_FILE=" + envFile,
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:     plugin.HandshakeConfig{ProtocolVersion: 1, MagicCookieKey: "PROBE_COOKIE", MagicCookieValue: "probe"},
		VersionedPlugins:    sets,
		AllowedProtocols:    allowed,
		GRPCBrokerMultiplex: c.Config.Mux,
		AutoMTLS:            c.Config.AutoMTLS,
		MinPort:             uint(c.Config.MinPort),
		MaxPort:             uint(c.Config.MaxPort),
		StartTimeout:        20 * time.Second,
		Cmd:                 cmd,
		Logger:              logger,
	})
	defer func() {
		r.Env = readEnv(envFile)
		r.Logs = pluginLines(logs.Bytes())
	}()
	defer func() {
		if p := recover(); p != nil {
			r.Panic = fmt.Sprint(p)
			client.Kill() // Start killed the process; this waits for the stderr reader
		}
	}()
	addr, err := client.Start()
	if err != nil {
		r.Error = err.Error()
		client.Kill() // the process is gone already; this waits for the stderr reader
		return r
	}
	r.Accepted = true
	r.Protocol = string(client.Protocol())
	r.Version = client.NegotiatedVersion()
	r.Network = addr.Network()
	r.Address = addr.String()
	// Not client.Kill(): it would dial the made-up address. The fake plugin just goes.
	if rc := client.ReattachConfig(); rc != nil && rc.Pid > 0 {
		_ = syscall.Kill(rc.Pid, syscall.SIGKILL)
	}
	return r
}

func readEnv(path string) map[string]string {
	env := map[string]string{}
	if data, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(data, &env)
	}
	return env
}

// pluginLines keeps what the host logged on the plugin's behalf: go-plugin logs those through
// a sub-logger named after the plugin binary ("host.<basename>", or whatever @module a JSON
// line carried, which overrides it), its own lines as "host" and "host.stdio".
func pluginLines(data []byte) []map[string]any {
	lines := []map[string]any{}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var entry map[string]any
		if err := json.Unmarshal(line, &entry); err != nil {
			continue
		}
		module, _ := entry["@module"].(string)
		if module == "host" || module == "host.stdio" {
			continue // go-plugin's own lines
		}
		delete(entry, "@timestamp")
		lines = append(lines, entry)
	}
	return lines
}
