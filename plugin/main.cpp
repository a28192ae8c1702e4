// Placeholder until the plugin lands: answers VERSION only.
#include "podnet/cni/plugin.hpp"

int main(int argc, char** argv) {
  return podnet::cni::pluginMain({}, {"podnet", PODNET_VERSION}, argc, argv);
}
