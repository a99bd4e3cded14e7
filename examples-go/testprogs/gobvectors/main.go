// Command gobvectors is the Go side of goplugin's gob and net/rpc interop tests.
//
// It holds a table of gob test cases (one per supported kind) and real net/rpc exchanges shaped
// like go-plugin's own (Control, Dispenser, and the examples' Plugin services, using the
// examples' real shared packages), so that Python's codecs can be checked byte for byte against
// what Go writes, and Python's output can be checked by Go's own decoder.
//
// Modes:
//
//	cases              JSON list of {name, unordered}: the case table
//	encode             JSON {case: hex}: every case gob-encoded by a fresh Encoder in a fresh
//	                   process (gob type ids are process-global, so each case runs alone to get
//	                   the ids a fresh peer would use)
//	encode-one NAME    hex of one case (used by encode)
//	encode-stream      hex of all cases, in table order, from one Encoder (one stream: every
//	                   type defined once, with the ids one process hands out)
//	decode             reads JSON {case: hex} on stdin, decodes each with a fresh Decoder into the
//	                   case's Go type and compares with the expected value; prints JSON
//	                   {case: "ok" | "error: ..."}
//	decode-stream      reads the hex of one stream holding every case in table order, decodes
//	                   them with one Decoder; prints JSON {case: "ok" | "error: ..."}
//	rpc-capture SCEN   runs a net/rpc client here and a net/rpc server in a child process over
//	                   pipes; prints JSON {c2s, s2c (hex), results}
//	rpc-server SCEN    serves SCEN's services with net/rpc on stdin/stdout
//	rpc-client SCEN    runs SCEN's calls as a net/rpc client on stdin/stdout; prints the results
//	                   as JSON on stderr
//
// Scenarios: control (Control.Ping/Quit, Dispenser.Dispense), greeter (examples/basic's
// Plugin.Greet), kv (examples/grpc's net/rpc Plugin.Put/Get plus error cases).
package main

import (
	"bytes"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/rpc"
	"os"
	"os/exec"
	"reflect"
	"strings"

	basicshared "github.com/hashicorp/go-plugin/examples/basic/shared"
	kvshared "github.com/hashicorp/go-plugin/examples/grpc/shared"
)

// ---- types of the case table ----

type Args struct{ A, B int }

type Point struct{ X, Y int }

type Shape struct {
	Name    string
	Center  Point
	Corners []Point
	Origin  *Point
	Tags    map[string]Point
	Grid    [2]Point
}

type AllKinds struct {
	B      bool
	I      int
	I8     int8
	I16    int16
	I32    int32
	I64    int64
	U      uint
	U8     uint8
	U16    uint16
	U32    uint32
	U64    uint64
	Uptr   uintptr
	F32    float32
	F64    float64
	C64    complex64
	C128   complex128
	S      string
	Bs     []byte
	hidden int //nolint:unused // unexported: gob never sends it
}

type Base struct {
	ID   int
	Name string
}

type Derived struct {
	Base
	Extra string
}

type Ptrs struct {
	PI      *int
	PS      *string
	PZ      *int
	PNil    *int
	PP      **int
	PStruct *Point
}

type Node struct {
	Val  int
	Next *Node
}

type Tree struct {
	Name string
	Kids []Tree
}

type Holder struct {
	V interface{}
	W interface{}
}

type (
	MyInt   int
	Celsius float64
	Names   []string
	Table   map[string]int
	Matrix  [2][2]int
	Flag    bool
	Label   string
	MyBytes []byte
)

type Defs struct {
	I MyInt
	C Celsius
	N Names
	T Table
	M Matrix
	F Flag
	L Label
	B MyBytes
}

// Funcs has fields gob cannot send (chan, func): they are skipped, like unexported ones.
type Funcs struct {
	F func()
	C chan int
	N int
}

// GobThing encodes itself with GobEncode: on the wire it is a GobEncoder type carrying bytes.
type GobThing struct{ v string }

func (g GobThing) GobEncode() ([]byte, error) { return []byte("G:" + g.v), nil }
func (g *GobThing) GobDecode(b []byte) error {
	if !bytes.HasPrefix(b, []byte("G:")) {
		return errors.New("GobThing: bad prefix")
	}
	g.v = string(b[2:])
	return nil
}

// BinThing encodes itself with MarshalBinary (encoding.BinaryMarshaler).
type BinThing struct{ v string }

func (b BinThing) MarshalBinary() ([]byte, error) { return []byte("B:" + b.v), nil }
func (b *BinThing) UnmarshalBinary(data []byte) error {
	if !bytes.HasPrefix(data, []byte("B:")) {
		return errors.New("BinThing: bad prefix")
	}
	b.v = string(data[2:])
	return nil
}

type WithThings struct {
	G GobThing
	B BinThing
	N int
}

func init() {
	gob.Register(Point{})
	gob.Register(map[string]interface{}{})
	gob.Register([]interface{}{})
}

// ---- the case table ----

type gcase struct {
	name string
	// value points to the value to encode; its element type is the case's Go type.
	value interface{}
	// want points to the value a decoder must produce, when it differs from *value (gob does
	// not keep nil-vs-empty, pointers to zero values, ...). nil means *value.
	want interface{}
	// unordered: the encoding depends on Go's random map order, so bytes cannot be compared.
	unordered bool
}

func p[T any](v T) *T { return &v }

func cases() []gcase {
	five, zero, hello := 5, 0, "hi"
	pfive := &five
	node := &Node{1, &Node{2, &Node{3, nil}}}
	return []gcase{
		{name: "bool_true", value: p(true)},
		{name: "bool_false", value: p(false)},
		{name: "int_0", value: p(0)},
		{name: "int_1", value: p(1)},
		{name: "int_neg1", value: p(-1)},
		{name: "int_129", value: p(129)},
		{name: "int_min", value: p(math.MinInt64)},
		{name: "int_max", value: p(math.MaxInt64)},
		{name: "int8_min", value: p(int8(math.MinInt8))},
		{name: "int16", value: p(int16(-12345))},
		{name: "int32_max", value: p(int32(math.MaxInt32))},
		{name: "int64", value: p(int64(1) << 40)},
		{name: "uint_0", value: p(uint(0))},
		{name: "uint_127", value: p(uint(127))},
		{name: "uint_128", value: p(uint(128))},
		{name: "uint_256", value: p(uint(256))},
		{name: "uint64_max", value: p(uint64(math.MaxUint64))},
		{name: "uint8", value: p(uint8(255))},
		{name: "uint16", value: p(uint16(65535))},
		{name: "uint32", value: p(uint32(1))},
		{name: "uintptr", value: p(uintptr(0xdeadbeef))},
		{name: "float64_0", value: p(0.0)},
		{name: "float64_1_5", value: p(1.5)},
		{name: "float64_neg", value: p(-2.25)},
		{name: "float64_pi", value: p(math.Pi)},
		{name: "float64_inf", value: p(math.Inf(1))},
		{name: "float64_neginf", value: p(math.Inf(-1))},
		{name: "float64_tiny", value: p(5e-324)},
		{name: "float64_big", value: p(1e308)},
		{name: "float32", value: p(float32(0.1))},
		{name: "float32_big", value: p(float32(3.4e38))},
		{name: "complex128", value: p(complex(1.5, -2))},
		{name: "complex64", value: p(complex64(complex(0.5, 0.25)))},
		{name: "string_empty", value: p("")},
		{name: "string_hello", value: p("hello")},
		{name: "string_unicode", value: p("héllo, 世界 ✓")},
		{name: "string_invalid_utf8", value: p("\xff\xfeab")},
		{name: "string_long", value: p(strings.Repeat("x", 300))},
		{name: "bytes_nil", value: p([]byte(nil))},
		{name: "bytes", value: p([]byte{0, 1, 2, 255})},
		{name: "bytes_300", value: p(bytes.Repeat([]byte{7}, 300))},
		{name: "slice_int", value: p([]int{1, -2, 3})},
		{name: "slice_string", value: p([]string{"a", "", "c"})},
		{name: "slice_bool", value: p([]bool{true, false})},
		{name: "slice_float64", value: p([]float64{1.5, 0, -1})},
		{name: "slice_nil", value: p([]int(nil))},
		{name: "slice_slice_int", value: p([][]int{{1}, nil, {2, 3}})},
		{name: "slice_bytes", value: p([][]byte{[]byte("a"), nil})},
		{name: "slice_array", value: p([][2]int{{1, 2}, {3, 4}})},
		{name: "array_int", value: p([3]int{1, 2, 3})},
		{name: "array_string", value: p([2]string{"x", ""})},
		{name: "array_byte", value: p([4]byte{1, 2, 3, 4})},
		{name: "array_empty", value: p([0]int{})},
		{name: "map_string_int_1", value: p(map[string]int{"a": 1})},
		{name: "map_string_int_3", value: p(map[string]int{"a": 1, "b": 2, "c": 3}), unordered: true},
		{name: "map_int_string", value: p(map[int]string{-1: "minus one"})},
		{name: "map_empty", value: p(map[string]int{})},
		{name: "map_string_slice", value: p(map[string][]string{"k": {"a", "b"}})},
		{name: "map_array_key", value: p(map[[2]int]string{{1, 2}: "x"})},
		{name: "map_string_iface", value: p(map[string]interface{}{"key": "hello"})},
		{name: "map_put_args", value: p(map[string]interface{}{"key": "hello", "value": []byte("world")}), unordered: true},
		{name: "struct_args", value: p(Args{7, 8})},
		{name: "struct_zero", value: p(Args{})},
		{name: "struct_empty", value: p(struct{}{})},
		{name: "struct_all_kinds", value: p(AllKinds{
			B: true, I: -1, I8: -8, I16: 16, I32: -32, I64: 1 << 62,
			U: 1, U8: 8, U16: 16, U32: 32, U64: math.MaxUint64, Uptr: 99,
			F32: 1.25, F64: -0.5, C64: complex(1, 2), C128: complex(-3, 4),
			S: "s", Bs: []byte{1, 2}, hidden: 42,
		}), want: p(AllKinds{
			B: true, I: -1, I8: -8, I16: 16, I32: -32, I64: 1 << 62,
			U: 1, U8: 8, U16: 16, U32: 32, U64: math.MaxUint64, Uptr: 99,
			F32: 1.25, F64: -0.5, C64: complex(1, 2), C128: complex(-3, 4),
			S: "s", Bs: []byte{1, 2},
		})},
		{name: "struct_nested", value: p(Shape{
			Name:    "sq",
			Center:  Point{1, 2},
			Corners: []Point{{0, 0}, {2, 4}},
			Origin:  &Point{-1, -1},
			Tags:    map[string]Point{"t": {5, 6}},
			Grid:    [2]Point{{1, 1}, {}},
		})},
		{name: "struct_nested_zero", value: p(Shape{})},
		{name: "struct_embedded", value: p(Derived{Base{3, "base"}, "extra"})},
		{name: "struct_ptrs", value: p(Ptrs{PI: &five, PS: &hello, PZ: &zero, PP: &pfive, PStruct: &Point{}}),
			want: p(Ptrs{PI: &five, PS: &hello, PP: &pfive, PStruct: &Point{}})},
		{name: "struct_recursive", value: p(*node)},
		{name: "struct_tree", value: p(Tree{"root", []Tree{{"a", nil}, {"b", []Tree{{"c", nil}}}}})},
		{name: "struct_defs", value: p(Defs{7, 21.5, Names{"n"}, Table{"t": 1}, Matrix{{1, 2}, {3, 4}}, true, "l", MyBytes("b")})},
		{name: "struct_funcs", value: p(Funcs{F: func() {}, C: make(chan int), N: 3}), want: p(Funcs{N: 3})},
		{name: "struct_iface_string", value: p(Holder{V: "str"})},
		{name: "struct_iface_point", value: p(Holder{V: Point{1, 2}, W: int32(5)})},
		{name: "struct_iface_nested", value: p(Holder{
			V: map[string]interface{}{"n": []interface{}{"x", 1.5, map[string]interface{}{"deep": Point{7, 8}}}},
			W: []string{"w"},
		})},
		{name: "struct_marshalers", value: p(WithThings{GobThing{"g"}, BinThing{"b"}, 1})},
		{name: "defined_int", value: p(MyInt(-3))},
		{name: "defined_slice", value: p(Names{"a", "b"})},
		{name: "defined_map", value: p(Table{"k": 2})},
		{name: "defined_array", value: p(Matrix{{1, 2}, {3, 4}})},
		{name: "defined_bytes", value: p(MyBytes("xyz"))},
		{name: "ptr_int", value: p(&five)},
		{name: "ptr_struct", value: p(&Point{3, 4})},
		{name: "iface_nil", value: new(interface{})},
		{name: "iface_string", value: p[interface{}]("hello")},
		{name: "iface_bytes", value: p[interface{}]([]byte("world"))},
		{name: "iface_int", value: p[interface{}](42)},
		{name: "iface_int32", value: p[interface{}](int32(-7))},
		{name: "iface_uint8", value: p[interface{}](uint8(3))},
		{name: "iface_float64", value: p[interface{}](2.5)},
		{name: "iface_bool", value: p[interface{}](true)},
		{name: "iface_complex128", value: p[interface{}](complex(1, 1))},
		{name: "iface_point", value: p[interface{}](Point{1, 2})},
		{name: "iface_ptr_point", value: p[interface{}](&Point{3, 4}), want: p[interface{}](Point{3, 4})},
		{name: "iface_slice_string", value: p[interface{}]([]string{"a"})},
		{name: "iface_map", value: p[interface{}](map[string]interface{}{"a": "b"})},
		{name: "iface_slice_iface", value: p[interface{}]([]interface{}{"x", 1, nil})},
		{name: "iface_nested", value: p[interface{}](map[string]interface{}{
			"inner": map[string]interface{}{"deep": []interface{}{int64(1), Point{5, 6}}},
		})},
		{name: "gobencoder", value: p(GobThing{"abc"})},
		{name: "binarymarshaler", value: p(BinThing{"xyz"})},
	}
}

func findCase(name string) gcase {
	for _, c := range cases() {
		if c.name == name {
			return c
		}
	}
	fail("unknown case %q", name)
	return gcase{}
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "gobvectors: "+format+"\n", args...)
	os.Exit(2)
}

func printJSON(v interface{}) {
	out, err := json.Marshal(v)
	if err != nil {
		fail("json: %v", err)
	}
	os.Stdout.Write(append(out, '\n'))
}

func encodeOne(name string) string {
	var buf bytes.Buffer
	encodeCase(gob.NewEncoder(&buf), findCase(name))
	return hex.EncodeToString(buf.Bytes())
}

func encodeCase(enc *gob.Encoder, c gcase) {
	// Encode the value itself, not the pointer to it: a top-level *pointer* to a GobEncoder type
	// gets an empty type name in Go's type table. Interface cases keep the pointer, which is the
	// only way to send a value whose static type is an interface.
	v := reflect.ValueOf(c.value)
	if v.Elem().Kind() != reflect.Interface {
		v = v.Elem()
	}
	if err := enc.EncodeValue(v); err != nil {
		fail("encode %s: %v", c.name, err)
	}
}

func decodeCheck(c gcase, data []byte) string {
	r := bytes.NewReader(data)
	result := decodeNext(c, gob.NewDecoder(r))
	if result == "ok" && r.Len() != 0 {
		return fmt.Sprintf("error: %d bytes left over", r.Len())
	}
	return result
}

func decodeNext(c gcase, dec *gob.Decoder) (result string) {
	defer func() {
		if r := recover(); r != nil {
			result = fmt.Sprintf("error: panic: %v", r)
		}
	}()
	want := c.want
	if want == nil {
		want = c.value
	}
	dst := reflect.New(reflect.TypeOf(c.value).Elem())
	if err := dec.Decode(dst.Interface()); err != nil {
		return "error: " + err.Error()
	}
	got := dst.Elem().Interface()
	if !reflect.DeepEqual(got, reflect.ValueOf(want).Elem().Interface()) {
		return fmt.Sprintf("error: got %#v, want %#v", got, reflect.ValueOf(want).Elem().Interface())
	}
	return "ok"
}

// ---- net/rpc scenarios ----

// controlServer and dispenseServer have the method signatures of go-plugin's (unexported)
// control and dispenser services in rpc_server.go.
type controlServer struct{}

func (c *controlServer) Ping(null bool, response *struct{}) error {
	*response = struct{}{}
	return nil
}

func (c *controlServer) Quit(null bool, response *struct{}) error {
	*response = struct{}{}
	return nil
}

type dispenseServer struct{ next uint32 }

func (d *dispenseServer) Dispense(name string, response *uint32) error {
	if name != "kv" && name != "greeter" {
		return fmt.Errorf("unknown plugin type: %s", name)
	}
	d.next++
	*response = d.next
	return nil
}

type greeter struct{}

func (greeter) Greet() string { return "Hello!" }

// memKV stores in memory what examples/grpc's plugin-go-netrpc stores in files.
type memKV struct{ m map[string][]byte }

func (k *memKV) Put(key string, value []byte) error {
	k.m[key] = value
	return nil
}

func (k *memKV) Get(key string) ([]byte, error) {
	v, ok := k.m[key]
	if !ok {
		return nil, fmt.Errorf("open kv_%s: no such file or directory", key)
	}
	return v, nil
}

func newServer(scen string) *rpc.Server {
	s := rpc.NewServer()
	var err error
	switch scen {
	case "control":
		if err = s.RegisterName("Control", &controlServer{}); err == nil {
			err = s.RegisterName("Dispenser", &dispenseServer{})
		}
	case "greeter":
		var impl interface{}
		impl, err = (&basicshared.GreeterPlugin{Impl: greeter{}}).Server(nil)
		if err == nil {
			err = s.RegisterName("Plugin", impl)
		}
	case "kv":
		var impl interface{}
		impl, err = (&kvshared.KVPlugin{Impl: &memKV{map[string][]byte{}}}).Server(nil)
		if err == nil {
			err = s.RegisterName("Plugin", impl)
		}
	default:
		fail("unknown scenario %q", scen)
	}
	if err != nil {
		fail("register: %v", err)
	}
	return s
}

type result struct {
	Call  string      `json:"call"`
	Reply interface{} `json:"reply"`
	Error string      `json:"error"`
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// runClient makes SCEN's calls one after another, the way go-plugin's hosts make them.
func runClient(scen string, c *rpc.Client) []result {
	var out []result
	switch scen {
	case "control":
		var empty struct{}
		err := c.Call("Control.Ping", true, &empty)
		out = append(out, result{"Control.Ping", empty, errString(err)})
		var id uint32
		err = c.Call("Dispenser.Dispense", "kv", &id)
		out = append(out, result{"Dispenser.Dispense", id, errString(err)})
		id = 0
		err = c.Call("Dispenser.Dispense", "nope", &id)
		out = append(out, result{"Dispenser.Dispense", id, errString(err)})
		err = c.Call("Control.Quit", true, &empty)
		out = append(out, result{"Control.Quit", empty, errString(err)})
	case "greeter":
		raw, _ := (basicshared.GreeterPlugin{}).Client(nil, c)
		out = append(out, result{"Plugin.Greet", raw.(basicshared.Greeter).Greet(), ""})
	case "kv":
		raw, _ := (&kvshared.KVPlugin{}).Client(nil, c)
		kv := raw.(kvshared.KV)
		err := kv.Put("hello", []byte("world"))
		out = append(out, result{"Plugin.Put", nil, errString(err)})
		v, err := kv.Get("hello")
		out = append(out, result{"Plugin.Get", string(v), errString(err)})
		v, err = kv.Get("missing")
		out = append(out, result{"Plugin.Get", string(v), errString(err)})
		var s string
		err = c.Call("Nope.Foo", true, &s)
		out = append(out, result{"Nope.Foo", s, errString(err)})
		err = c.Call("Plugin.Nope", true, &s)
		out = append(out, result{"Plugin.Nope", s, errString(err)})
		err = c.Call("bad", true, &s)
		out = append(out, result{"bad", s, errString(err)})
		var b []byte
		err = c.Call("Plugin.Get", 42, &b)
		out = append(out, result{"Plugin.Get", string(b), errString(err)})
	default:
		fail("unknown scenario %q", scen)
	}
	return out
}

// stdio is this process's stdin/stdout as one connection.
type stdio struct{}

func (stdio) Read(p []byte) (int, error)  { return os.Stdin.Read(p) }
func (stdio) Write(p []byte) (int, error) { return os.Stdout.Write(p) }
func (stdio) Close() error                { return os.Stdout.Close() }

// recorder is the client's end of the pipes to the child server, keeping a copy of every byte.
type recorder struct {
	r        io.Reader
	w        io.WriteCloser
	c2s, s2c bytes.Buffer
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.s2c.Write(p[:n])
	return n, err
}

func (r *recorder) Write(p []byte) (int, error) {
	r.c2s.Write(p)
	return r.w.Write(p)
}

func (r *recorder) Close() error { return r.w.Close() }

func rpcCapture(scen string) {
	self, err := os.Executable()
	if err != nil {
		fail("executable: %v", err)
	}
	cmd := exec.Command(self, "rpc-server", scen)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		fail("pipe: %v", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		fail("pipe: %v", err)
	}
	if err := cmd.Start(); err != nil {
		fail("start: %v", err)
	}
	rec := &recorder{r: stdout, w: stdin}
	client := rpc.NewClient(rec)
	results := runClient(scen, client)
	client.Close()
	if err := cmd.Wait(); err != nil {
		fail("server: %v", err)
	}
	printJSON(map[string]interface{}{
		"c2s":     hex.EncodeToString(rec.c2s.Bytes()),
		"s2c":     hex.EncodeToString(rec.s2c.Bytes()),
		"results": results,
	})
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: gobvectors cases|encode|encode-one NAME|decode|rpc-capture SCEN|rpc-server SCEN|rpc-client SCEN")
	}
	arg := func() string {
		if len(os.Args) < 3 {
			fail("%s needs an argument", os.Args[1])
		}
		return os.Args[2]
	}
	switch os.Args[1] {
	case "cases":
		type info struct {
			Name      string `json:"name"`
			Unordered bool   `json:"unordered"`
		}
		var out []info
		for _, c := range cases() {
			out = append(out, info{c.name, c.unordered})
		}
		printJSON(out)
	case "encode":
		self, err := os.Executable()
		if err != nil {
			fail("executable: %v", err)
		}
		out := map[string]string{}
		for _, c := range cases() {
			hexed, err := exec.Command(self, "encode-one", c.name).Output()
			if err != nil {
				fail("encode-one %s: %v", c.name, err)
			}
			out[c.name] = strings.TrimSpace(string(hexed))
		}
		printJSON(out)
	case "encode-one":
		fmt.Println(encodeOne(arg()))
	case "encode-stream":
		var buf bytes.Buffer
		enc := gob.NewEncoder(&buf)
		for _, c := range cases() {
			encodeCase(enc, c)
		}
		fmt.Println(hex.EncodeToString(buf.Bytes()))
	case "decode-stream":
		in, err := io.ReadAll(os.Stdin)
		if err != nil {
			fail("reading input: %v", err)
		}
		data, err := hex.DecodeString(strings.TrimSpace(string(in)))
		if err != nil {
			fail("hex: %v", err)
		}
		r := bytes.NewReader(data)
		dec := gob.NewDecoder(r)
		out := map[string]string{}
		for _, c := range cases() {
			out[c.name] = decodeNext(c, dec)
		}
		if r.Len() != 0 {
			out["(end)"] = fmt.Sprintf("error: %d bytes left over", r.Len())
		}
		printJSON(out)
	case "decode":
		var in map[string]string
		if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
			fail("reading input: %v", err)
		}
		out := map[string]string{}
		for name, hexed := range in {
			data, err := hex.DecodeString(hexed)
			if err != nil {
				fail("hex of %s: %v", name, err)
			}
			out[name] = decodeCheck(findCase(name), data)
		}
		printJSON(out)
	case "rpc-capture":
		rpcCapture(arg())
	case "rpc-server":
		newServer(arg()).ServeConn(stdio{})
	case "rpc-client":
		client := rpc.NewClient(stdio{})
		results := runClient(arg(), client)
		client.Close()
		out, _ := json.Marshal(results)
		os.Stderr.Write(append(out, '\n'))
	default:
		fail("unknown mode %q", os.Args[1])
	}
}
