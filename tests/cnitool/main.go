// cnitool: a test client over the real libcni (Debian's golang-github-appc-cni-dev),
// with the interface of the reference cnitool. Tests drive podnet exactly as a
// container runtime does. It is a test client; the product is C++.
//
//	cnitool add|check|del NETNAME NETNS_PATH
//	cnitool version PLUGIN_TYPE
//	cnitool serve SOCKET_PATH
//
// serve keeps one libcni client alive, as containerd and CRI-O do, and takes
// one request per connection on a unix socket: a line "add|del NETNAME
// NETNS_PATH CONTAINER_ID", answered with "ok" or "err MESSAGE". The
// benchmark uses it to time the plugins without a Go process start per call.
//
// Environment: NETCONFPATH (config dir, default /etc/cni/net.d), CNI_PATH,
// CNI_IFNAME (default eth0), CNI_ARGS ("K=V;..."), CAP_ARGS (JSON capability
// args), CNI_CONTAINERID (default: derived from the netns path),
// CNI_CACHE_DIR (libcni's result cache, default /var/lib/cni).
//
// Errors are printed as the plugin's error JSON when it sent one, so tests can
// check the code; the exit status is 1 on any error.
package main

import (
	"bufio"
	"context"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
)

func fail(err error) {
	// libcni wraps the plugin's error ("plugin type=... failed (add): %w").
	var e *types.Error
	if errors.As(err, &e) {
		out, _ := json.Marshal(e)
		fmt.Println(string(out))
	} else {
		fmt.Fprintln(os.Stderr, "cnitool:", err)
	}
	os.Exit(1)
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: cnitool add|check|del NETNAME NETNS_PATH | cnitool version PLUGIN_TYPE | cnitool serve SOCKET")
	os.Exit(2)
}

func main() {
	if len(os.Args) < 3 {
		usage()
	}
	paths := filepath.SplitList(os.Getenv("CNI_PATH"))
	cacheDir := os.Getenv("CNI_CACHE_DIR")
	cninet := libcni.NewCNIConfigWithCacheDir(paths, cacheDir, nil)
	ctx := context.Background()

	if os.Args[1] == "version" {
		info, err := cninet.GetVersionInfo(ctx, os.Args[2])
		if err != nil {
			fail(err)
		}
		out, _ := json.Marshal(map[string]interface{}{"supportedVersions": info.SupportedVersions()})
		fmt.Println(string(out))
		return
	}
	if os.Args[1] == "serve" {
		serve(ctx, cninet, os.Args[2])
		return
	}
	if len(os.Args) < 4 {
		usage()
	}
	netconf, err := libcni.LoadConfList(confDir(), os.Args[2])
	if err != nil {
		fail(err)
	}

	var capArgs map[string]interface{}
	if s := os.Getenv("CAP_ARGS"); s != "" {
		if err := json.Unmarshal([]byte(s), &capArgs); err != nil {
			fail(fmt.Errorf("CAP_ARGS: %v", err))
		}
	}
	var cniArgs [][2]string
	if s := os.Getenv("CNI_ARGS"); s != "" {
		for _, pair := range strings.Split(s, ";") {
			kv := strings.SplitN(pair, "=", 2)
			if len(kv) != 2 {
				fail(fmt.Errorf("CNI_ARGS: invalid pair %q", pair))
			}
			cniArgs = append(cniArgs, [2]string{kv[0], kv[1]})
		}
	}
	ifName, ok := os.LookupEnv("CNI_IFNAME")
	if !ok {
		ifName = "eth0"
	}
	netns := os.Args[3]
	containerID := os.Getenv("CNI_CONTAINERID")
	if containerID == "" {
		containerID = fmt.Sprintf("cnitool-%x", sha512.Sum512([]byte(netns)))[:20]
	}
	rt := &libcni.RuntimeConf{
		ContainerID:    containerID,
		NetNS:          netns,
		IfName:         ifName,
		Args:           cniArgs,
		CapabilityArgs: capArgs,
	}

	switch os.Args[1] {
	case "add":
		result, err := cninet.AddNetworkList(ctx, netconf, rt)
		if err != nil {
			fail(err)
		}
		if result != nil {
			_ = result.Print()
		}
	case "check":
		if err := cninet.CheckNetworkList(ctx, netconf, rt); err != nil {
			fail(err)
		}
	case "del":
		if err := cninet.DelNetworkList(ctx, netconf, rt); err != nil {
			fail(err)
		}
	default:
		usage()
	}
}

func confDir() string {
	if d := os.Getenv("NETCONFPATH"); d != "" {
		return d
	}
	return "/etc/cni/net.d"
}

// serve answers requests until stdin closes (the caller's end of our life).
func serve(ctx context.Context, cninet *libcni.CNIConfig, socket string) {
	ln, err := net.Listen("unix", socket)
	if err != nil {
		fail(err)
	}
	defer ln.Close()
	confs := map[string]*libcni.NetworkConfigList{}
	files, err := libcni.ConfFiles(confDir(), []string{".conflist"})
	if err != nil {
		fail(err)
	}
	for _, f := range files {
		c, err := libcni.ConfListFromFile(f)
		if err != nil {
			fail(err)
		}
		confs[c.Name] = c
	}
	go func() {
		_, _ = bufio.NewReader(os.Stdin).ReadString(0)
		ln.Close()
	}()
	fmt.Println("ready")
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go func(conn net.Conn) {
			defer conn.Close()
			line, err := bufio.NewReader(conn).ReadString('\n')
			if err != nil {
				return
			}
			f := strings.Fields(line)
			if len(f) != 4 || confs[f[1]] == nil {
				fmt.Fprintf(conn, "err bad request %q\n", line)
				return
			}
			rt := &libcni.RuntimeConf{ContainerID: f[3], NetNS: f[2], IfName: "eth0"}
			switch f[0] {
			case "add":
				_, err = cninet.AddNetworkList(ctx, confs[f[1]], rt)
			case "del":
				err = cninet.DelNetworkList(ctx, confs[f[1]], rt)
			default:
				err = fmt.Errorf("unknown verb %q", f[0])
			}
			if err != nil {
				fmt.Fprintf(conn, "err %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
				return
			}
			fmt.Fprintln(conn, "ok")
		}(conn)
	}
}
