// cri: a minimal CRI v1 client (runtime.v1.RuntimeService) for tests, in the
// spirit of crictl. Debian ships no k8s.io/cri-api Go package, so the few
// messages needed are encoded by hand with protowire, field numbers taken from
// cri-api's pkg/apis/runtime/v1/api.proto, and sent as raw bytes through
// grpc.ClientConn.Invoke with a pass-through codec. It is a test client; the
// product is C++.
//
//	cri [-a SOCKET] [-t TIMEOUT] [-p CGROUP_PARENT] version
//	cri ... runp NAME UID NAMESPACE       -> {"id": ID, "ms": RPC milliseconds}
//	cri ... status ID                     -> {"id", "state", "ip", "additionalIps", "netns", "cniResult"}
//	cri ... stopp ID | rmp ID
//	cri ... create SANDBOX NAME UID NAMESPACE CNAME IMAGE CMD... -> container ID
//	cri ... start CID | stop CID | rm CID
//	cri ... exec CID TIMEOUT_S CMD...     -> the command's stdout/stderr, its exit status
//
// NAME UID NAMESPACE are the Pod's metadata; create repeats them because CRI
// passes the sandbox config again with every container.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protowire"
)

const service = "/runtime.v1.RuntimeService/"

// rawCodec sends and receives already-encoded protobuf bytes. Its name is
// "proto" so that the content type is the one every CRI server expects.
type rawCodec struct{}

func (rawCodec) Marshal(v interface{}) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

// msg builds one protobuf message; empty scalars are left out as proto3 does.
type msg []byte

func (m msg) str(n protowire.Number, s string) msg {
	if s == "" {
		return m
	}
	return protowire.AppendString(protowire.AppendTag(m, n, protowire.BytesType), s)
}

func (m msg) sub(n protowire.Number, s msg) msg {
	return protowire.AppendBytes(protowire.AppendTag(m, n, protowire.BytesType), s)
}

func (m msg) uint(n protowire.Number, v uint64) msg {
	if v == 0 {
		return m
	}
	return protowire.AppendVarint(protowire.AppendTag(m, n, protowire.VarintType), v)
}

// fields decodes one message level: bytes fields and varints by number, in order.
type fields struct {
	bytes   map[protowire.Number][][]byte
	varints map[protowire.Number]uint64
}

func decode(b []byte) (fields, error) {
	f := fields{bytes: map[protowire.Number][][]byte{}, varints: map[protowire.Number]uint64{}}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return f, protowire.ParseError(n)
		}
		b = b[n:]
		switch typ {
		case protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return f, protowire.ParseError(m)
			}
			f.bytes[num] = append(f.bytes[num], v)
			n = m
		case protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return f, protowire.ParseError(m)
			}
			f.varints[num] = v
			n = m
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return f, protowire.ParseError(n)
			}
		}
		b = b[n:]
	}
	return f, nil
}

func (f fields) str(n protowire.Number) string {
	if v := f.bytes[n]; len(v) > 0 {
		return string(v[len(v)-1])
	}
	return ""
}

func (f fields) sub(n protowire.Number) fields {
	g, _ := decode([]byte(f.str(n)))
	return g
}

// strMap decodes a map<string, string> field.
func (f fields) strMap(n protowire.Number) map[string]string {
	out := map[string]string{}
	for _, e := range f.bytes[n] {
		kv, err := decode(e)
		if err == nil {
			out[kv.str(1)] = kv.str(2)
		}
	}
	return out
}

type client struct {
	conn         *grpc.ClientConn
	timeout      time.Duration
	cgroupParent string
}

func (c client) call(method string, req msg) (fields, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	in := []byte(req)
	var out []byte
	if err := c.conn.Invoke(ctx, service+method, &in, &out, grpc.ForceCodec(rawCodec{})); err != nil {
		return fields{}, fmt.Errorf("%s: %w", method, err)
	}
	return decode(out)
}

// sandboxConfig is PodSandboxConfig: metadata (1: name 1, uid 2, namespace 3,
// attempt 4), hostname (2), linux (8: cgroup_parent 1). Namespace modes stay
// POD (0), the default.
func sandboxConfig(name, uid, namespace, cgroupParent string) msg {
	meta := msg{}.str(1, name).str(2, uid).str(3, namespace)
	return msg{}.sub(1, meta).str(2, name).sub(8, msg{}.str(1, cgroupParent))
}

// netnsOf returns the network namespace path from containerd's verbose
// sandbox info (runtimeSpec.linux.namespaces[type=network].path).
func netnsOf(info string) (string, json.RawMessage) {
	var v struct {
		RuntimeSpec struct {
			Linux struct {
				Namespaces []struct{ Type, Path string }
			}
		}
		CNIResult json.RawMessage `json:"cniResult"`
	}
	if json.Unmarshal([]byte(info), &v) != nil {
		return "", nil
	}
	for _, ns := range v.RuntimeSpec.Linux.Namespaces {
		if ns.Type == "network" {
			return ns.Path, v.CNIResult
		}
	}
	return "", v.CNIResult
}

func printJSON(v interface{}) {
	out, _ := json.Marshal(v)
	fmt.Println(string(out))
}

func run(c client, args []string) error {
	need := func(n int) error {
		if len(args) < n {
			return errors.New("missing arguments (see the header of tests/cri/main.go)")
		}
		return nil
	}
	if err := need(1); err != nil {
		return err
	}
	switch args[0] {
	case "version":
		r, err := c.call("Version", msg{}.str(1, "v1"))
		if err != nil {
			return err
		}
		printJSON(map[string]string{"version": r.str(1), "runtimeName": r.str(2),
			"runtimeVersion": r.str(3), "runtimeApiVersion": r.str(4)})
	case "runp":
		if err := need(4); err != nil {
			return err
		}
		start := time.Now()
		r, err := c.call("RunPodSandbox", msg{}.sub(1, sandboxConfig(args[1], args[2], args[3], c.cgroupParent)))
		if err != nil {
			return err
		}
		ms := float64(time.Since(start).Microseconds()) / 1000
		printJSON(map[string]interface{}{"id": r.str(1), "ms": ms})
	case "status":
		if err := need(2); err != nil {
			return err
		}
		r, err := c.call("PodSandboxStatus", msg{}.str(1, args[1]).uint(2, 1))
		if err != nil {
			return err
		}
		st := r.sub(1)
		network := st.sub(5)
		extra := []string{}
		for _, b := range network.bytes[2] {
			ip, _ := decode(b)
			extra = append(extra, ip.str(1))
		}
		state := "SANDBOX_READY"
		if st.varints[3] == 1 {
			state = "SANDBOX_NOTREADY"
		}
		netns, cniResult := netnsOf(r.strMap(2)["info"])
		printJSON(map[string]interface{}{"id": st.str(1), "state": state, "ip": network.str(1),
			"additionalIps": extra, "netns": netns, "cniResult": cniResult})
	case "stopp", "rmp":
		if err := need(2); err != nil {
			return err
		}
		method := map[string]string{"stopp": "StopPodSandbox", "rmp": "RemovePodSandbox"}[args[0]]
		if _, err := c.call(method, msg{}.str(1, args[1])); err != nil {
			return err
		}
	case "create":
		if err := need(8); err != nil {
			return err
		}
		// ContainerConfig: metadata (1: name 1), image (2: ImageSpec image 1), command (3).
		conf := msg{}.sub(1, msg{}.str(1, args[5])).sub(2, msg{}.str(1, args[6]))
		for _, a := range args[7:] {
			conf = protowire.AppendString(protowire.AppendTag(conf, 3, protowire.BytesType), a)
		}
		req := msg{}.str(1, args[1]).sub(2, conf).sub(3, sandboxConfig(args[2], args[3], args[4], c.cgroupParent))
		r, err := c.call("CreateContainer", req)
		if err != nil {
			return err
		}
		fmt.Println(r.str(1))
	case "start", "stop", "rm":
		if err := need(2); err != nil {
			return err
		}
		method := map[string]string{"start": "StartContainer", "stop": "StopContainer",
			"rm": "RemoveContainer"}[args[0]]
		if _, err := c.call(method, msg{}.str(1, args[1])); err != nil {
			return err
		}
	case "exec":
		if err := need(4); err != nil {
			return err
		}
		timeout, err := strconv.ParseUint(args[2], 10, 32)
		if err != nil {
			return fmt.Errorf("exec timeout: %w", err)
		}
		// ExecSyncRequest: container_id 1, cmd 2, timeout 3.
		req := msg{}.str(1, args[1])
		for _, a := range args[3:] {
			req = protowire.AppendString(protowire.AppendTag(req, 2, protowire.BytesType), a)
		}
		r, err := c.call("ExecSync", req.uint(3, timeout))
		if err != nil {
			return err
		}
		// ExecSyncResponse: stdout 1, stderr 2, exit_code 3.
		os.Stdout.WriteString(r.str(1))
		os.Stderr.WriteString(r.str(2))
		if code := int32(r.varints[3]); code != 0 {
			os.Exit(int(code))
		}
	default:
		return fmt.Errorf("unknown command %q", args[0])
	}
	return nil
}

func main() {
	sock := flag.String("a", "/run/containerd/containerd.sock", "CRI socket")
	timeout := flag.Duration("t", 60*time.Second, "timeout of each call")
	cgroupParent := flag.String("p", "", "cgroup parent of the Pods (cgroupfs syntax)")
	flag.Parse()
	dial := func(ctx context.Context, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", *sock)
	}
	conn, err := grpc.Dial("cri", grpc.WithInsecure(), grpc.WithContextDialer(dial))
	if err != nil {
		fmt.Fprintln(os.Stderr, "cri:", err)
		os.Exit(1)
	}
	defer conn.Close()
	if err := run(client{conn: conn, timeout: *timeout, cgroupParent: *cgroupParent}, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "cri:", err)
		conn.Close()
		os.Exit(1)
	}
}
