#include "plugin.hpp"

int main(int argc, char** argv) {
  return podnet::cni::pluginMain(podnet::plugin::handlers(), {"podnet", PODNET_VERSION}, argc, argv);
}
