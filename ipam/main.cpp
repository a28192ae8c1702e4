// podnet-ipam: the IPAM plugin binary. Parses nothing itself: the CNI
// dispatcher reads the environment and stdin and calls the ipam library.
#include <string_view>

#include "podnet/cni/plugin.hpp"
#include "podnet/ipam/ipam.hpp"

int main(int argc, char** argv) {
  using namespace podnet;
  const cni::About about{"podnet-ipam", PODNET_VERSION};
  if (argc > 1)  // a person at a terminal
    return cni::terminalMain(
        about, argv[1],
        "IPAM: host-local compatible (same config and dataDir layout); see conf/ipam-*.json.\n");
  return cni::runStdio(ipam::handlers(), about, cni::processGetenv());
}
