// Runs every file of the corpus directories (or files) named on the command
// line through the fuzz target once: the corpus as a regression test, built
// with any compiler and no libFuzzer. Each input runs in its own child
// process, so that one crash (an abort, a sanitizer report, a leak at exit)
// names its input and the others still run; any failure fails the test.

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    const fs::path arg = argv[i];
    if (fs::is_directory(arg)) {
      for (const auto& e : fs::recursive_directory_iterator(arg))
        if (e.is_regular_file()) inputs.push_back(e.path());
    } else {
      inputs.push_back(arg);
    }
  }
  std::sort(inputs.begin(), inputs.end());
  if (inputs.empty()) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...: no inputs found\n", argv[0]);
    return 2;
  }
  std::vector<std::string> failed;
  for (const auto& path : inputs) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "cannot read %s\n", path.c_str());
      return 2;
    }
    const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::fflush(nullptr);
    const pid_t child = ::fork();
    if (child < 0) {
      std::perror("fork");
      return 2;
    }
    if (child == 0) {
      LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
      std::exit(0);  // runs the leak check and the target's atexit cleanup
    }
    int status = 0;
    while (::waitpid(child, &status, 0) < 0) {
    }
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    std::fprintf(stderr, "%s %s (%zu bytes)\n", ok ? "ok  " : "FAIL", path.c_str(), data.size());
    if (!ok) failed.push_back(path.string());
  }
  if (!failed.empty()) {
    std::fprintf(stderr, "%zu of %zu inputs failed:\n", failed.size(), inputs.size());
    for (const auto& f : failed) std::fprintf(stderr, "  %s\n", f.c_str());
    return 1;
  }
  std::printf("%zu inputs replayed without a crash\n", inputs.size());
  return 0;
}
