// Placeholder until the IPAM module lands: answers VERSION only.
#include "podnet/cni/plugin.hpp"

int main(int argc, char** argv) {
  return podnet::cni::pluginMain({}, {"podnet-ipam", PODNET_VERSION}, argc, argv);
}
