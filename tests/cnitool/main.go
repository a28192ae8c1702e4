// cnitool: a test client over the real libcni (Debian's golang-github-appc-cni-dev),
// with the interface of the reference cnitool. Tests drive podnet exactly as a
// container runtime does. It is a test client; the product is C++.
//
//	cnitool add|check|del NETNAME NETNS_PATH
//	cnitool version PLUGIN_TYPE
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
	"context"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"fmt"
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
	fmt.Fprintln(os.Stderr, "usage: cnitool add|check|del NETNAME NETNS_PATH | cnitool version PLUGIN_TYPE")
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
	if len(os.Args) < 4 {
		usage()
	}
	confDir := os.Getenv("NETCONFPATH")
	if confDir == "" {
		confDir = "/etc/cni/net.d"
	}
	netconf, err := libcni.LoadConfList(confDir, os.Args[2])
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
