#include "podnet/ipam/disk_store.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "helpers.hpp"
#include "podnet/ipam/allocator.hpp"

using namespace podnet;
using namespace podnet::ipam;
using podnet::ipam::test::addr;
namespace fs = std::filesystem;

namespace {

// A fresh temporary parent directory, removed afterwards.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "podnet-ipam-test.XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() { fs::remove_all(path); }
  std::string net() const { return (path / "net1").string(); }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void spit(const fs::path& p, const std::string& content) { std::ofstream(p, std::ios::binary) << content; }

std::unique_ptr<DiskStore> openStore(const std::string& dir) {
  auto s = DiskStore::open(dir, DiskStore::Mode::kCreate);
  REQUIRE_MESSAGE(s.ok(), (s.ok() ? std::string() : s.error().msg + ": " + s.error().details));
  return std::move(s).value();
}

// One lease as ADD writes it: a lookup (which makes the index trusted), the
// lease, and, with `finish`, the flush that seals the index.
void leaseAsAdd(const std::string& dir, const Lease& lease, bool finish = true) {
  auto store = openStore(dir);
  CHECK(store->leasesOf(lease.containerId, lease.ifname).value().empty());
  REQUIRE(store->reserve(lease).value());
  if (finish) REQUIRE(store->flush().ok());
}

}  // namespace

TEST_CASE("ipam store: lease encoding as host-local writes and reads it") {
  CHECK(encodeLease("ctr1", "eth0") == "ctr1\r\neth0");
  CHECK(decodeLease(addr("10.0.0.2"), "ctr1\r\neth0") == Lease{addr("10.0.0.2"), "ctr1", "eth0"});
  CHECK(decodeLease(addr("10.0.0.2"), "ctr1\n") == Lease{addr("10.0.0.2"), "ctr1", ""});  // ID only
  CHECK_FALSE(decodeLease(addr("10.0.0.2"), " \r\n").has_value());
  CHECK(leaseFileName(addr("fd00::5")) == "fd00::5");
  CHECK(leaseFileName(addr("fd00:0:0:1::")) == "fd00:0:0:1::");
  CHECK(leaseFileName(addr("fd00:0:1:0:1:0:0:5")) == "fd00:0:1:0:1::5");
  CHECK(leaseFileName(addr("::1.2.3.4")) == "::102:304");  // Go never embeds a dotted quad
  CHECK(leaseFileName(addr("::ffff:10.0.0.1")) == "10.0.0.1");
}

TEST_CASE("ipam store: file format round trip, modes, last_reserved_ip") {
  TempDir tmp;
  {
    auto store = openStore(tmp.net());
    REQUIRE(store->reserve({addr("10.0.0.2"), "ctr1", "eth0"}).value());
    REQUIRE(store->reserve({addr("fd00::5"), "ctr1", "eth0"}).value());
    REQUIRE(store->setLastReserved(0, addr("10.0.0.2")).ok());
    REQUIRE(store->setLastReserved(1, addr("fd00::5")).ok());
    REQUIRE(store->flush().ok());
  }
  const fs::path dir = tmp.net();
  CHECK(slurp(dir / "10.0.0.2") == "ctr1\r\neth0");
  CHECK(slurp(dir / "fd00::5") == "ctr1\r\neth0");
  CHECK(slurp(dir / "last_reserved_ip.0") == "10.0.0.2");
  CHECK(slurp(dir / "last_reserved_ip.1") == "fd00::5");
  CHECK(fs::exists(dir / "lock"));
  struct stat st {};
  REQUIRE(::stat(dir.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  REQUIRE(::stat((dir / "10.0.0.2").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  // Files another host-local wrote, including an ID-only one, read back.
  spit(dir / "10.0.0.9", "old-ctr");
  spit(dir / "notes.txt", "not a lease");
  auto store = openStore(tmp.net());
  auto snap = store->load().value();
  CHECK(snap.taken == std::vector<ip::Address>{addr("10.0.0.2"), addr("10.0.0.9"), addr("fd00::5")});
  CHECK(snap.leases.size() == 3);
  CHECK(std::count(snap.leases.begin(), snap.leases.end(), Lease{addr("10.0.0.9"), "old-ctr", ""}) == 1);
  CHECK(store->lastReserved(1).value() == addr("fd00::5"));
  CHECK_FALSE(store->lastReserved(7).value().has_value());
  CHECK(store->release({addr("10.0.0.9"), "old-ctr", ""}).value());
  CHECK_FALSE(store->release({addr("10.0.0.9"), "old-ctr", ""}).value());
  CHECK(fs::exists(dir / "notes.txt"));
}

TEST_CASE("ipam store: an existing entry is never overwritten nor followed") {
  TempDir tmp;
  openStore(tmp.net());
  const fs::path dir = tmp.net();
  spit(tmp.path / "victim", "precious");
  fs::create_symlink(tmp.path / "victim", dir / "10.0.0.3");
  spit(dir / "10.0.0.4", "someone-else\r\neth0");
  auto store = openStore(tmp.net());
  CHECK_FALSE(store->reserve({addr("10.0.0.3"), "ctr1", "eth0"}).value());
  CHECK_FALSE(store->reserve({addr("10.0.0.4"), "ctr1", "eth0"}).value());
  CHECK(slurp(tmp.path / "victim") == "precious");
  CHECK(slurp(dir / "10.0.0.4") == "someone-else\r\neth0");
  auto snap = store->load().value();
  CHECK(snap.isTaken(addr("10.0.0.3")));  // taken, but never read through the link
  CHECK(snap.leases.size() == 1);
  // The allocator goes around both.
  auto got = allocate({test::sets(R"({"subnet":"10.0.0.0/29","rangeStart":"10.0.0.3"})")[0]},
                      {"ctr1", "eth0"}, {}, *store);
  REQUIRE(got.ok());
  CHECK((*got)[0].address.str() == "10.0.0.5/29");
}

TEST_CASE("ipam store: a dataDir or network directory that is a symlink is refused") {
  TempDir tmp;
  fs::create_directory(tmp.path / "real");
  fs::create_directory_symlink(tmp.path / "real", tmp.path / "net1");
  auto s = DiskStore::open(tmp.net(), DiskStore::Mode::kCreate);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == code::kIo);
  CHECK(s.error().msg.find("symlink") != std::string::npos);

  fs::create_directory_symlink(tmp.path / "real", tmp.path / "link");
  auto viaLink = DiskStore::open((tmp.path / "link" / "net2").string(), DiskStore::Mode::kCreate);
  REQUIRE_FALSE(viaLink.ok());
  CHECK_FALSE(fs::exists(tmp.path / "real" / "net2"));
}

TEST_CASE("ipam store: a missing directory is not created for DEL-like opens") {
  TempDir tmp;
  auto s = DiskStore::open(tmp.net(), DiskStore::Mode::kExisting);
  REQUIRE(s.ok());
  CHECK(*s == nullptr);
  CHECK_FALSE(fs::exists(tmp.net()));
}

TEST_CASE("ipam store: temporary files of a crashed writer are removed, leases kept") {
  TempDir tmp;
  {
    auto store = openStore(tmp.net());
    REQUIRE(store->reserve({addr("10.0.0.2"), "ctr1", "eth0"}).value());
  }
  const fs::path dir = tmp.net();
  CHECK(fs::is_empty(dir / kTempDir));                // a finished write leaves nothing there
  spit(dir / kTempDir / "deadbeef", "ctr2\r\neth0");  // died before rename
  auto store = openStore(tmp.net());
  CHECK(fs::is_empty(dir / kTempDir));
  auto snap = store->load().value();
  CHECK(snap.leases == std::vector<Lease>{{addr("10.0.0.2"), "ctr1", "eth0"}});
}

TEST_CASE("ipam store: the lease index answers lookups and follows foreign writers") {
  TempDir tmp;
  const fs::path dir = tmp.net();
  {
    auto store = openStore(tmp.net());
    CHECK(store->leasesOf("ctr1", "eth0").value().empty());
    REQUIRE(store->reserve({addr("10.0.0.2"), "ctr1", "eth0"}).value());
    REQUIRE(store->reserve({addr("10.0.0.3"), "ctr2", "eth0"}).value());
    REQUIRE(store->flush().ok());
  }
  const auto bucketWith = [&](const std::string& entry) {
    for (const auto& f : fs::directory_iterator(dir / ".podnet-index")) {
      if (slurp(f.path()).find(entry + "\n") != std::string::npos) return f.path();
    }
    return fs::path();
  };
  CHECK_FALSE(bucketWith("ctr1:eth0 10.0.0.2").empty());
  {
    auto store = openStore(tmp.net());
    CHECK(store->leasesOf("ctr1", "eth0").value() == std::vector<Lease>{{addr("10.0.0.2"), "ctr1", "eth0"}});
    // The index is trusted while the store directory is unchanged: an entry
    // removed behind its back is not seen (the documented cost of staleness).
    const auto bucket = bucketWith("ctr2:eth0 10.0.0.3");
    REQUIRE_FALSE(bucket.empty());
    spit(bucket, "");
    CHECK(store->leasesOf("ctr2", "eth0").value().empty());
  }
  // A foreign writer (host-local) changes the directory: the index is rebuilt.
  spit(dir / "10.0.0.9", "ctr9\r\neth1");
  {
    auto store = openStore(tmp.net());
    CHECK(store->leasesOf("ctr9", "eth1").value() == std::vector<Lease>{{addr("10.0.0.9"), "ctr9", "eth1"}});
    CHECK(store->leasesOf("ctr2", "eth0").value().size() == 1);
  }
  // A lease file rewritten for another owner (mtime untouched) fails verification.
  spit(dir / "10.0.0.2", "ctr7\r\neth0");
  {
    auto store = openStore(tmp.net());
    CHECK(store->leasesOf("ctr1", "eth0").value().empty());
    CHECK(store->leasesOf("ctr7", "eth0").value() == std::vector<Lease>{{addr("10.0.0.2"), "ctr7", "eth0"}});
  }
  // Releases update it (after a lookup, as DEL does).
  {
    auto store = openStore(tmp.net());
    const auto held = store->leasesOf("ctr9", "eth1").value();
    REQUIRE(held.size() == 1);
    REQUIRE(store->release(held[0]).value());
    REQUIRE(store->flush().ok());
  }
  CHECK(bucketWith("ctr9:eth1 10.0.0.9").empty());
  CHECK_FALSE(bucketWith("ctr2:eth0 10.0.0.3").empty());
}

TEST_CASE(
    "ipam store: the index is built with all its buckets; ADD and DEL then create or delete no index file") {
  TempDir tmp;
  const fs::path dir = tmp.net();
  const auto indexFiles = [&] {  // name -> inode: a file replaced by another is a new inode
    std::map<std::string, ino_t> files;
    for (const auto& f : fs::directory_iterator(dir / ".podnet-index")) {
      struct stat st {};
      REQUIRE(::stat(f.path().c_str(), &st) == 0);
      files[f.path().filename()] = st.st_ino;
    }
    return files;
  };
  leaseAsAdd(tmp.net(), {addr("10.0.0.2"), "ctr1", "eth0"});
  const auto built = indexFiles();
  CHECK(built.size() == 257);  // "00".."ff" and the state
  CHECK(built.count("00") == 1);
  CHECK(built.count("ff") == 1);
  for (int i = 3; i < 40; ++i)
    leaseAsAdd(tmp.net(), {addr(("10.0.0." + std::to_string(i)).c_str()), "ctr" + std::to_string(i), "eth0"});
  {
    auto store = openStore(tmp.net());
    const auto held = store->leasesOf("ctr7", "eth0").value();
    REQUIRE(held.size() == 1);
    REQUIRE(store->release(held[0]).value());
    REQUIRE(store->flush().ok());
  }
  CHECK(indexFiles() == built);
}

TEST_CASE("ipam store: an index update that fails keeps the lease and leaves the index to be rebuilt") {
  TempDir tmp;
  const fs::path dir = tmp.net();
  leaseAsAdd(tmp.net(), {addr("10.0.0.2"), "ctr1", "eth0"});
  // ctr2's bucket reads as empty but cannot be written: a FIFO without a reader.
  const fs::path bucket = dir / ".podnet-index" / indexBucket("ctr2", "eth0");
  const std::string before = slurp(bucket);
  fs::remove(bucket);
  REQUIRE(::mkfifo(bucket.c_str(), 0600) == 0);
  leaseAsAdd(tmp.net(), {addr("10.0.0.3"), "ctr2", "eth0"});  // the ADD itself succeeds
  CHECK(fs::exists(dir / "10.0.0.3"));
  // The bucket comes back as it was, without ctr2's entry: only a rebuild finds the lease.
  fs::remove(bucket);
  spit(bucket, before);
  auto store = openStore(tmp.net());
  CHECK(store->leasesOf("ctr2", "eth0").value() == std::vector<Lease>{{addr("10.0.0.3"), "ctr2", "eth0"}});
}

TEST_CASE("ipam store: an attachment whose names cannot be indexed is found by a full scan") {
  TempDir tmp;
  const fs::path dir = tmp.net();
  leaseAsAdd(tmp.net(), {addr("10.0.0.2"), "ctr1", "eth0"});
  CHECK(indexBucket("ctr9", "odd\nname").empty());
  {
    auto store = openStore(tmp.net());
    REQUIRE(store->leasesOf("ctr1", "eth0").value().size() == 1);  // the index is in use
    REQUIRE(store->reserve({addr("10.0.0.9"), "ctr9", "odd\nname"}).value());
    REQUIRE(store->flush().ok());
  }
  auto store = openStore(tmp.net());
  CHECK(store->leasesOf("ctr9", "odd\nname").value() ==
        std::vector<Lease>{{addr("10.0.0.9"), "ctr9", "odd\nname"}});
}

TEST_CASE("ipam store: a change killed before its seal leaves the index stale, whatever the mtime") {
  TempDir tmp;
  const fs::path dir = tmp.net();
  leaseAsAdd(tmp.net(), {addr("10.0.0.2"), "ctr1", "eth0"});
  struct stat sealed {};
  REQUIRE(::stat(dir.c_str(), &sealed) == 0);
  leaseAsAdd(tmp.net(), {addr("10.0.0.3"), "ctr2", "eth0"}, false);  // killed before its flush and seal
  // The kill also garbled ctr2's bucket.
  for (const auto& f : fs::directory_iterator(dir / ".podnet-index")) {
    if (slurp(f.path()).find("ctr2:eth0") != std::string::npos) spit(f.path(), "ctr2:et");
  }
  // A directory mtime that did not move (a coarse clock: both changes in one
  // tick) must not make the index look fresh.
  const timespec times[2] = {sealed.st_atim, sealed.st_mtim};
  REQUIRE(::utimensat(AT_FDCWD, dir.c_str(), times, 0) == 0);
  auto store = openStore(tmp.net());
  CHECK(store->leasesOf("ctr2", "eth0").value() == std::vector<Lease>{{addr("10.0.0.3"), "ctr2", "eth0"}});
  CHECK(store->leasesOf("ctr1", "eth0").value() == std::vector<Lease>{{addr("10.0.0.2"), "ctr1", "eth0"}});
}

TEST_CASE("ipam store: an index of the older layout (a file per attachment) is rebuilt, its files removed") {
  TempDir tmp;
  const fs::path dir = tmp.net();
  leaseAsAdd(tmp.net(), {addr("10.0.0.2"), "ctr1", "eth0"});
  // What podnet 0.x left: "<sec> <nsec>" of the directory's mtime, and a file per attachment.
  struct stat st {};
  REQUIRE(::stat(dir.c_str(), &st) == 0);
  for (const auto& f : fs::directory_iterator(dir / ".podnet-index")) fs::remove(f.path());
  spit(dir / ".podnet-index" / "state",
       std::to_string(st.st_mtim.tv_sec) + " " + std::to_string(st.st_mtim.tv_nsec));
  spit(dir / ".podnet-index" / "ctr1:eth0", "10.0.0.2\n");
  auto store = openStore(tmp.net());
  CHECK(store->leasesOf("ctr1", "eth0").value() == std::vector<Lease>{{addr("10.0.0.2"), "ctr1", "eth0"}});
  CHECK_FALSE(fs::exists(dir / ".podnet-index" / "ctr1:eth0"));
}

TEST_CASE("ipam store: exists() sees an entry of any kind without following or opening it") {
  TempDir tmp;
  openStore(tmp.net());
  const fs::path dir = tmp.net();
  fs::create_symlink(tmp.path / "nowhere", dir / "10.0.0.3");  // dangling
  REQUIRE(::mkfifo((dir / "10.0.0.4").c_str(), 0600) == 0);
  fs::create_directory(dir / "10.0.0.5");
  spit(dir / "10.0.0.6", "");                      // empty: unreadable as a lease
  spit(dir / "fd00:0:0:0::7", "someone\r\neth0");  // not the name host-local gives fd00::7
  auto store = openStore(tmp.net());
  REQUIRE(store->reserve({addr("10.0.0.2"), "ctr1", "eth0"}).value());
  for (const char* a : {"10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"})
    CHECK_MESSAGE(store->exists(addr(a)).value(), a);
  CHECK_FALSE(store->exists(addr("10.0.0.7")).value());
  CHECK_FALSE(store->exists(addr("fd00::8")).value());
  // Another spelling is seen by the listing, and by lookups from then on.
  CHECK_FALSE(store->exists(addr("fd00::7")).value());
  const auto taken = store->taken().value();
  CHECK(std::find(taken.begin(), taken.end(), addr("fd00::7")) != taken.end());
  CHECK(store->exists(addr("fd00::7")).value());

  // The allocator probes around all of them.
  auto got = allocate(test::sets(R"({"subnet":"10.0.0.0/28"})"), {"ctr2", "eth0"}, {}, *store);
  REQUIRE_MESSAGE(got.ok(), test::why(got));
  CHECK((*got)[0].address.str() == "10.0.0.7/28");
  auto requested =
      allocate(test::sets(R"({"subnet":"10.0.0.0/28"})"), {"ctr3", "eth0"}, {addr("10.0.0.4")}, *store);
  REQUIRE_FALSE(requested.ok());
  CHECK(requested.error().code == code::kInvalidConfig);
}

TEST_CASE("ipam store: without syncLeases nothing is left to fsync") {
  TempDir tmp;
  auto store = openStore(tmp.net());
  REQUIRE(store->reserve({addr("10.0.0.2"), "ctr1", "eth0"}).value());
  REQUIRE(store->flush().ok());
  CHECK(store->finish().files() == 0);
  CHECK(slurp(fs::path(tmp.net()) / "10.0.0.2") == "ctr1\r\neth0");
}

TEST_CASE("ipam store: finish() releases the lock before the new leases are synced") {
  TempDir tmp;
  auto store = openStore(tmp.net());
  store->syncLeases(true);
  REQUIRE(store->reserve({addr("10.0.0.2"), "ctr1", "eth0"}).value());
  REQUIRE(store->reserve({addr("fd00::2"), "ctr1", "eth0"}).value());
  REQUIRE(store->setLastReserved(0, addr("10.0.0.2")).ok());  // a hint: never synced
  REQUIRE(store->release({addr("fd00::2"), "ctr1", "eth0"}).value());
  REQUIRE(store->flush().ok());
  const std::string lock = tmp.net() + "/lock";
  auto lockedByOther = [&] {
    const int fd = ::open(lock.c_str(), O_RDWR | O_CLOEXEC);
    REQUIRE(fd >= 0);
    const bool busy = ::flock(fd, LOCK_EX | LOCK_NB) != 0;
    ::close(fd);
    return busy;
  };
  CHECK(lockedByOther());  // nothing synced under the lock: all of it waits for finish()

  PendingSync durable = store->finish();
  CHECK_FALSE(lockedByOther());  // the next writer goes ahead while we sync
  CHECK(durable.files() == 2);   // both leases written this session
  PendingSync moved = std::move(durable);
  CHECK(durable.files() == 0);
  REQUIRE(moved.run().ok());
  CHECK(moved.files() == 0);  // once run, nothing is left
  CHECK(slurp(fs::path(tmp.net()) / "10.0.0.2") == "ctr1\r\neth0");

  // A session that only releases leaves nothing to sync.
  auto again = openStore(tmp.net());
  REQUIRE(again->release({addr("10.0.0.2"), "ctr1", "eth0"}).value());
  REQUIRE(again->flush().ok());
  CHECK(again->finish().files() == 0);
}
