// The IPAM store's file reader: a lease file, last_reserved_ip.0 and a lease
// index entry written from the input into a throwaway store directory, then
// read back through decodeLease and DiskStore as ADD, DEL and GC read them.
//
// Input: up to four parts split by kPartSeparator: the lease file's content,
// last_reserved_ip.0's content, the index entry's content (sealed as fresh),
// and the lease file's name (used when it is an address, e.g. "fd00::0005").

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "fuzz_check.hpp"
#include "podnet/cni/env.hpp"
#include "podnet/ipam/disk_store.hpp"

namespace podnet::fuzz {
namespace {

namespace fs = std::filesystem;

std::string_view trimmed(std::string_view s) {
  const char* ws = " \t\r\n\v\f";
  const auto b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// One directory for the whole process, removed at exit.
const fs::path& root() {
  static const fs::path dir = [] {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(base != nullptr ? base : (fs::is_directory("/dev/shm") ? "/dev/shm" : "/tmp")) +
        "/podnet-lease-fuzz.XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) violated(__FILE__, __LINE__, "mkdtemp failed", tmpl);
    std::atexit([] { fs::remove_all(root()); });
    return fs::path(tmpl);
  }();
  return dir;
}

void writeFile(const fs::path& path, std::string_view content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) violated(__FILE__, __LINE__, "cannot write", path.native());
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n <= 0) violated(__FILE__, __LINE__, "short write", path.native());
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
}

// The pure reader: what podnet writes, it reads back.
void checkDecode(const ip::Address& address, std::string_view content) {
  const auto lease = ipam::decodeLease(address, content);
  if (!lease) {
    PODNET_FUZZ_CHECK(trimmed(content).empty());
    return;
  }
  PODNET_FUZZ_CHECK(lease->address == address && !lease->containerId.empty());
  PODNET_FUZZ_CHECK(lease->containerId.find("\r\n") == std::string::npos);
  if (cni::validateContainerId(lease->containerId).ok() && cni::validateIfname(lease->ifname).ok()) {
    const auto again = ipam::decodeLease(address, ipam::encodeLease(lease->containerId, lease->ifname));
    PODNET_FUZZ_CHECK(again && *again == *lease);
  }
}

std::unique_ptr<ipam::DiskStore> openStore(const fs::path& dir) {
  auto opened = ipam::DiskStore::open(dir.native(), ipam::DiskStore::Mode::kExisting);
  if (!opened) violated(__FILE__, __LINE__, "cannot open the store", opened.error().msg);
  if (!*opened) violated(__FILE__, __LINE__, "store directory missing", dir.native());
  return std::move(opened).value();
}

}  // namespace
}  // namespace podnet::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace podnet;
  using namespace podnet::fuzz;
  const auto parts = splitParts(asText(data, size), 4);
  const auto leaseText = parts[0], lastText = parts[1], indexText = parts[2], nameText = parts[3];

  std::string fileName = "10.0.0.5";
  if (!nameText.empty() && nameText.size() < 64 &&
      nameText.find_first_of(std::string_view("/\0", 2)) == std::string_view::npos &&
      nameText.front() != '.' && ip::Address::parse(nameText))
    fileName = std::string(nameText);
  const auto address = *ip::Address::parse(fileName);
  checkDecode(address, leaseText);

  // A fresh store directory: the lease, last_reserved_ip.0, and an index that
  // claims the lease's attachment holds what the input lists, sealed fresh.
  const fs::path dir = root() / "net";
  fs::remove_all(dir);
  fs::create_directory(dir);
  fs::permissions(dir, fs::perms::owner_all);
  fs::create_directory(dir / ipam::kTempDir);
  fs::create_directory(dir / ipam::kIndexDir);
  writeFile(dir / fileName, leaseText);
  writeFile(dir / "last_reserved_ip.0", lastText);
  const auto onDisk = ipam::decodeLease(address, leaseText.substr(0, 4096));
  ipam::Lease who{address, "ctr", "eth0"};
  if (onDisk && !ipam::indexBucket(onDisk->containerId, onDisk->ifname).empty()) who = *onDisk;
  // Its bucket: an entry of the attachment for each input line, then the input raw.
  std::string bucket;
  for (std::string_view rest = indexText; !rest.empty();) {
    const auto eol = rest.find('\n');
    bucket += fmt::format("{}:{} {}\n", who.containerId, who.ifname, rest.substr(0, eol));
    rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 1);
  }
  bucket += indexText;
  writeFile(dir / ipam::kIndexDir / ipam::indexBucket(who.containerId, who.ifname), bucket);
  {
    const int dirFd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    auto index = ipam::LeaseIndex::open(dirFd);
    if (!index || !index->seal(dirFd).ok())
      violated(__FILE__, __LINE__, "cannot seal the index", dir.native());
    ::close(dirFd);
  }

  // Session 1, through the (fresh, possibly lying) index: only leases that are on disk.
  {
    auto store = openStore(dir);
    auto viaIndex = store->leasesOf(who.containerId, who.ifname);
    PODNET_FUZZ_CHECK(viaIndex.ok());
    auto snapshot = store->load();
    PODNET_FUZZ_CHECK(snapshot.ok());
    PODNET_FUZZ_CHECK(snapshot->taken == std::vector<ip::Address>{address});
    PODNET_FUZZ_CHECK(snapshot->leases.size() == (onDisk ? 1U : 0U));
    if (onDisk) PODNET_FUZZ_CHECK(snapshot->leases.front() == *onDisk);
    for (const auto& l : *viaIndex)
      PODNET_FUZZ_CHECK(std::find(snapshot->leases.begin(), snapshot->leases.end(), l) !=
                        snapshot->leases.end());
  }

  // Session 2, the index stale: rebuilt from the files, it answers exactly what they say.
  fs::remove(dir / ipam::kIndexDir / "state");
  auto store = openStore(dir);
  auto found = store->leasesOf(who.containerId, who.ifname);
  const std::vector<ipam::Lease> onDiskList = onDisk ? std::vector{*onDisk} : std::vector<ipam::Lease>{};
  PODNET_FUZZ_CHECK(found.ok() && *found == ipam::leasesOf(onDiskList, who.containerId, who.ifname));

  auto last = store->lastReserved(0);
  PODNET_FUZZ_CHECK(last.ok() && *last == ip::Address::parse(trimmed(lastText.substr(0, 64))));

  // DEL finds and removes the entry under whatever name it has on disk.
  PODNET_FUZZ_CHECK(store->taken().ok());
  auto present = store->exists(address);
  PODNET_FUZZ_CHECK(present.ok() && *present);
  if (onDisk) {
    auto released = store->release(*onDisk);
    PODNET_FUZZ_CHECK(released.ok() && *released);
    auto gone = store->exists(address);
    PODNET_FUZZ_CHECK(gone.ok() && !*gone);
    PODNET_FUZZ_CHECK(store->flush().ok());
  }
  return 0;
}
