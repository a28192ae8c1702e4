// podnet-ipam: the IPAM plugin binary. Parses nothing itself: the CNI
// dispatcher reads the environment and stdin and calls the ipam library.
#include <iostream>
#include <string_view>

#include "podnet/cni/plugin.hpp"
#include "podnet/ipam/ipam.hpp"

int main(int argc, char** argv) {
  using namespace podnet;
  const cni::About about{"podnet-ipam", PODNET_VERSION};
  if (argc > 1) {  // a person at a terminal
    const std::string_view arg = argv[1];
    if (arg == "--version") {
      std::cout << about.name << ' ' << about.version << '\n';
      return 0;
    }
    std::cout << cni::usage(about)
              << "IPAM: host-local compatible (same config and dataDir layout); see conf/ipam-*.json.\n";
    return arg == "--help" || arg == "-h" ? 0 : 2;
  }
  return cni::runPlugin(ipam::handlers(), about, std::cin, std::cout, cni::processGetenv());
}
