// podnetd: the node daemon. Until its issue lands it only answers --help and --version.
#include <CLI/CLI.hpp>
#include <iostream>

int main(int argc, char** argv) {
  CLI::App app{"podnetd: programs routes to every node's pod CIDR"};
  app.set_version_flag("--version", std::string("podnetd ") + PODNET_VERSION);
  CLI11_PARSE(app, argc, argv);
  std::cerr << "podnetd: not implemented yet\n";
  return 1;
}
